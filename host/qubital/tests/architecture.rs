//! The architecture invariants of `ARCHITECTURE.md`, checked (in the spirit of rust-analyzer's
//! tidy tests), and the generated docs kept equal to the code.
//!
//! - the host names no feature;
//! - a feature declares exactly the tables its migrations create, each with a retention rule;
//! - a feature's SQL touches only its own tables (or a declared allow-list entry), and lives in
//!   its `store` module;
//! - `docs/problems.md` and `docs/rbac.md` show the problem types and permissions linked into
//!   this binary (a stale page is rewritten and the test fails: commit the result).
//!
//! This test binary links every default feature, so the registry it reads is the product's.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

// Naming the host links it, and through its `extern crate`s every enabled feature crate: without
// it this binary would see no feature's registration, and the checks below would pass vacuously.
use qubital as _;
use qubital_plugin::{registered_features, Retention};
use regex::Regex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file below `dir` whose name ends in `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The feature crates of the workspace: folder name → crate name.
fn feature_crates() -> BTreeMap<String, String> {
    let mut crates = BTreeMap::new();
    for entry in fs::read_dir(root().join("features")).unwrap().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .expect("a package name")
            .to_owned();
        crates.insert(entry.file_name().to_string_lossy().into_owned(), name);
    }
    crates
}

#[test]
fn the_host_names_no_feature() {
    // Feature names that are also ordinary words of the contract or of English: `auth` is the
    // contract's authentication module (`qubital_plugin::auth`, `CookieAuth`), `users` appears in
    // Postgres's own messages. Their crate names are still checked.
    const CONTRACT_WORDS: &[&str] = &["auth", "users"];
    let crates = feature_crates();
    let mut words: Vec<String> = crates
        .keys()
        .filter(|name| !CONTRACT_WORDS.contains(&name.as_str()))
        .cloned()
        .collect();
    words.extend(crates.values().cloned());
    words.extend(crates.values().map(|c| c.replace('-', "_")));
    let patterns: Vec<(String, Regex)> = words
        .into_iter()
        .map(|word| {
            let pattern = Regex::new(&format!(
                r"(^|[^a-z0-9_-]){}([^a-z0-9_-]|$)",
                regex::escape(&word)
            ))
            .unwrap();
            (word, pattern)
        })
        .collect();
    let mut offences = Vec::new();
    // This file is the exception: its allow-lists name features, as data.
    let this_file = Path::new(file!()).file_name().unwrap();
    for path in files(&root().join("host"), ".rs") {
        if path.file_name() == Some(this_file) {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap().to_lowercase();
        for (number, line) in text.lines().enumerate() {
            for (word, pattern) in &patterns {
                if pattern.is_match(line) {
                    offences.push(format!(
                        "{}:{}: `{word}`: {}",
                        relative(&path),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the host must not name a feature (features register themselves):\n{}",
        offences.join("\n")
    );
}

/// Tables created by each feature's migrations (`migrations/<feature>/*.sql`).
fn migrated_tables() -> BTreeMap<String, BTreeSet<String>> {
    let create = Regex::new(r"(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)").unwrap();
    let mut tables = BTreeMap::new();
    for entry in fs::read_dir(root().join("migrations")).unwrap().flatten() {
        let feature = entry.file_name().to_string_lossy().into_owned();
        let set: &mut BTreeSet<String> = tables.entry(feature).or_default();
        for file in files(&entry.path(), ".sql") {
            let text = fs::read_to_string(&file).unwrap();
            set.extend(create.captures_iter(&text).map(|c| c[1].to_owned()));
        }
    }
    tables
}

#[test]
fn every_feature_declares_the_tables_its_migrations_create_with_a_retention_rule() {
    let migrated = migrated_tables();
    if cfg!(all_default_features) {
        for folder in migrated.keys() {
            assert!(
                registered_features().iter().any(|f| f.name == folder.as_str()),
                "migrations/{folder}/ belongs to no registered feature (is the feature linked?)"
            );
        }
    }
    for feature in registered_features() {
        let declared: BTreeSet<String> = feature.tables.iter().map(|t| t.name.to_owned()).collect();
        let created = migrated.get(feature.name).cloned().unwrap_or_default();
        assert_eq!(
            declared, created,
            "feature `{}`: `.tables(..)` must list exactly the tables of migrations/{}/",
            feature.name, feature.name
        );
        for table in feature.tables {
            let why = match table.retention {
                Retention::Prune { expired, why } => {
                    assert!(!expired.trim().is_empty(), "{}: empty condition", table.name);
                    why
                }
                Retention::Kept { why } => why,
            };
            assert!(why.len() > 10, "{}: say why the table stays bounded", table.name);
        }
    }
}

/// Tables a feature may touch although another feature owns them: (feature, table, why).
/// Keep it short; each entry is a coupling to justify.
const SHARED_TABLES: &[(&str, &str, &str)] = &[(
    "spaces",
    "organizations",
    "conference rooms and the people in them are reported by the organization's public id (the \
     usage metrics' label), read in the same query as the space so the LiveKit webhook makes one \
     query per event (spaces depends on auth, which owns organizations)",
)];

#[test]
fn a_feature_touches_only_its_own_tables_and_only_from_its_store() {
    let migrated = migrated_tables();
    let owner: BTreeMap<&str, &str> = migrated
        .iter()
        .flat_map(|(feature, tables)| tables.iter().map(move |t| (t.as_str(), feature.as_str())))
        .collect();
    let reference = Regex::new(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE)\s+([a-z_][a-z0-9_]*)").unwrap();
    let query = Regex::new(r"sqlx::query|query_as|query_scalar|\.execute\(").unwrap();
    let mut offences = Vec::new();
    for feature in feature_crates().keys() {
        for path in files(&root().join("features").join(feature).join("src"), ".rs") {
            let text = fs::read_to_string(&path).unwrap();
            let in_store = path.components().any(|c| c.as_os_str() == "store")
                || path.file_name().is_some_and(|n| n == "store.rs");
            if !in_store && query.is_match(&text) {
                offences.push(format!(
                    "{}: SQL outside the crate's `store` module",
                    relative(&path)
                ));
            }
            for captures in reference.captures_iter(&text) {
                let table = &captures[1];
                let Some(&owned_by) = owner.get(table) else {
                    continue;
                };
                let shared = SHARED_TABLES.iter().any(|(f, t, _)| f == feature && *t == table);
                if owned_by != feature && !shared {
                    offences.push(format!(
                        "{}: `{table}` belongs to `{owned_by}`: call its API (or justify an entry in SHARED_TABLES)",
                        relative(&path)
                    ));
                }
            }
        }
    }
    offences.dedup();
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

/// rust-analyzer's `ensure_file_contents`: a stale generated section is rewritten in place and
/// the test fails, so running the tests once updates the docs (commit the result).
fn ensure_generated_section(path: &str, name: &str, contents: &str) {
    let path = root().join(path);
    let page = fs::read_to_string(&path).unwrap();
    let (start, end) = (format!("<!-- {name}:start -->\n"), format!("<!-- {name}:end -->"));
    let from = page
        .find(&start)
        .unwrap_or_else(|| panic!("{}: no {start}", relative(&path)))
        + start.len();
    let to = page
        .find(&end)
        .unwrap_or_else(|| panic!("{}: no {end}", relative(&path)));
    if page[from..to] == *contents {
        return;
    }
    let updated = format!("{}{contents}{}", &page[..from], &page[to..]);
    fs::write(&path, updated).unwrap();
    panic!(
        "{} was stale and has been regenerated from the code: review and commit it",
        relative(&path)
    );
}

#[test]
#[cfg_attr(
    not(all_default_features),
    ignore = "the docs describe the default feature set"
)]
fn docs_problems_md_lists_every_problem_type() {
    ensure_generated_section(
        "docs/problems.md",
        "problem-types",
        &qubital_plugin::problem::catalogue_markdown(),
    );
}

#[test]
#[cfg_attr(
    not(all_default_features),
    ignore = "the docs describe the default feature set"
)]
fn docs_rbac_md_lists_every_permission() {
    ensure_generated_section(
        "docs/rbac.md",
        "permissions",
        &qubital_plugin::auth::permission_table_markdown(),
    );
}

/// Problem bodies are built by `Problem` alone, from declared types: no code spells a type URI.
#[test]
fn no_problem_type_is_spelled_outside_the_contract() {
    let mut offences = Vec::new();
    for dir in ["features", "host/qubital/src", "platform"] {
        for path in files(&root().join(dir), ".rs") {
            if path.components().any(|c| c.as_os_str() == "tests") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            if text.contains("qubital.app/errors/") {
                offences.push(relative(&path));
            }
        }
    }
    assert!(offences.is_empty(), "type URIs spelled by hand: {offences:?}");
}

/// The deployment guide's settings table is the one `qubital --help` is printed from.
#[test]
#[cfg_attr(
    not(all_default_features),
    ignore = "the docs describe the default feature set"
)]
fn docs_deploying_md_lists_every_setting() {
    ensure_generated_section(
        "docs/deploying.md",
        "settings",
        &qubital::cli::settings_table_markdown(),
    );
}

/// One TLS/crypto stack and one HTTP client in the build (issue 16, docs/deploying.md "Build
/// cost"): rustls on `aws-lc-rs` and `reqwest` 0.13 for every vendor, the SDKs included. Read
/// from `cargo tree` (this platform, every workspace crate, dev-dependencies too) rather than
/// `Cargo.lock`, which also lists optional dependencies no feature here enables.
#[test]
fn the_build_has_one_tls_stack_and_one_http_client() {
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "tree",
            "--workspace",
            "--locked",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(version)) = (words.next(), words.next()) {
            versions
                .entry(name.to_owned())
                .or_default()
                .insert(version.to_owned());
        }
    }
    assert!(
        versions.contains_key("aws-lc-rs"),
        "the one crypto stack is aws-lc-rs: {versions:?}"
    );
    for second_stack in ["ring", "openssl-sys", "native-tls"] {
        assert!(
            !versions.contains_key(second_stack),
            "`{second_stack}` is back in the build (`cargo tree -i {second_stack}` says who brings it)"
        );
    }
    for one in ["reqwest", "rustls", "hyper-rustls", "hyper"] {
        assert_eq!(
            versions.get(one).map(BTreeSet::len),
            Some(1),
            "{one}: versions {:?} in the build",
            versions.get(one)
        );
    }
}
