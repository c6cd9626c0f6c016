//! Links every enabled feature crate into the host without the host's code naming any.
//!
//! A feature is one optional dependency plus one Cargo feature `<name> = ["dep:<crate>"]` in this
//! crate's manifest. For each such Cargo feature that is enabled, this script emits
//! `extern crate <crate>;` into `linked_features.rs`, which `lib.rs` includes; without a use of
//! the crate the linker would drop its `inventory` registration. It also sets the cfg
//! `all_default_features` when every default feature is on (the OpenAPI drift test needs the
//! full set).

use std::{env, fs, path::Path};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(all_default_features)");
    println!("cargo::rerun-if-changed=Cargo.toml");
    let manifest: toml::Table = fs::read_to_string("Cargo.toml")
        .expect("read Cargo.toml")
        .parse()
        .expect("parse Cargo.toml");
    let features = manifest
        .get("features")
        .and_then(|f| f.as_table())
        .cloned()
        .unwrap_or_default();
    let enabled = |name: &str| {
        env::var_os(format!("CARGO_FEATURE_{}", name.to_uppercase().replace('-', "_"))).is_some()
    };

    let mut linked = String::new();
    for (name, value) in &features {
        let deps = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str()?.strip_prefix("dep:"));
        for dep in deps {
            if enabled(name) {
                linked.push_str(&format!("extern crate {};\n", dep.replace('-', "_")));
            }
        }
    }
    let defaults = features
        .get("default")
        .and_then(|d| d.as_array())
        .cloned()
        .unwrap_or_default();
    if defaults.iter().filter_map(|d| d.as_str()).all(enabled) {
        println!("cargo::rustc-cfg=all_default_features");
    }
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("linked_features.rs");
    fs::write(out, linked).expect("write linked_features.rs");
}
