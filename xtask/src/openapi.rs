//! `cargo xtask openapi [--check]`: the committed spec is generated from the code, never edited.

use anyhow::{bail, Context};

pub const SPEC_PATH: &str = "openapi/openapi.json";

pub fn run(check: bool) -> anyhow::Result<()> {
    let output = crate::cargo()
        .args(["run", "--quiet", "--package", "qubital", "--", "openapi"])
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!(
            "`qubital openapi` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let generated = String::from_utf8(output.stdout).context("the spec is not UTF-8")?;
    let path = crate::root().join(SPEC_PATH);
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            bail!("{SPEC_PATH} differs from the code; run `cargo xtask openapi` and commit the result");
        }
        println!("{SPEC_PATH} matches the code");
    } else {
        std::fs::create_dir_all(path.parent().expect("a parent folder"))?;
        std::fs::write(&path, generated)?;
        println!("wrote {SPEC_PATH}");
    }
    Ok(())
}
