//! `cargo xtask migration new <feature> <name>`: a correctly versioned, empty migration.

use anyhow::{bail, Context};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Action {
    /// Create `migrations/<feature>/<UTC timestamp>_<name>.sql`.
    New {
        /// The feature that owns the migration (its folder under `features/`).
        feature: String,
        /// What the migration does, in snake_case (e.g. `add_room_tags`).
        name: String,
    },
}

pub fn run(action: Action) -> anyhow::Result<()> {
    let Action::New { feature, name } = action;
    let root = crate::root();
    if !root.join("features").join(&feature).is_dir() {
        bail!("there is no feature `{feature}` (no folder features/{feature})");
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("the name must be snake_case: lower-case letters, digits and underscores");
    }
    let taken = existing_versions(&root.join("migrations"))?;
    // Versions order migrations across every feature, so they must be unique workspace-wide.
    let mut version: i64 = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string().parse()?;
    while taken.contains(&version) {
        version += 1;
    }
    let dir = root.join("migrations").join(&feature);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{version}_{name}.sql"));
    std::fs::write(&path, format!("-- {feature}: {}\n", name.replace('_', " ")))?;
    println!("created {}", path.strip_prefix(&root).unwrap_or(&path).display());
    println!("the feature needs `build.rs` watching its folder; see ARCHITECTURE.md");
    Ok(())
}

fn existing_versions(migrations: &std::path::Path) -> anyhow::Result<Vec<i64>> {
    let mut versions = Vec::new();
    let Ok(features) = std::fs::read_dir(migrations) else {
        return Ok(versions);
    };
    for feature in features.flatten() {
        for file in std::fs::read_dir(feature.path())
            .with_context(|| format!("{}", feature.path().display()))?
            .flatten()
        {
            let name = file.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.split('_').next().and_then(|v| v.parse().ok()) {
                versions.push(version);
            }
        }
    }
    Ok(versions)
}
