//! Scratch databases on the Postgres server the bench is given, created empty and dropped
//! afterwards (through `psql`, which comes with `pgbench`).

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// A database created for this run; dropped (with its connections) when this is dropped.
pub struct Scratch {
    admin_url: String,
    pub name: String,
    /// The URL of the scratch database (the admin URL with its database name replaced).
    pub url: String,
}

impl Scratch {
    /// Creates `<prefix>_<pid>`, dropping a leftover of that name first.
    pub fn create(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        let mut url = url::Url::parse(admin_url).context("the database URL is not a URL")?;
        url.set_path(&format!("/{name}"));
        psql(
            admin_url,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )?;
        psql(admin_url, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.into(),
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = psql(&self.admin_url, &drop) {
            eprintln!("could not drop the scratch database {}: {error:#}", self.name);
        }
    }
}

/// Runs one SQL statement as the admin URL's user.
fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .context("cannot run psql (install the PostgreSQL client)")?;
    if !output.status.success() {
        bail!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
