//! A private PostgreSQL cluster for local use when `DATABASE_URL` is unset.
//!
//! The cluster lives in `<data dir>/postgres` (see [`default_data_dir`]), is created with
//! `initdb` on first use, listens on 127.0.0.1 only, on a free port chosen at each start, with
//! `trust` authentication (it is reachable from this machine only). A cluster already running in
//! that folder (started by another `qubital` process) is reused as it is.
//!
//! The cluster is reference-counted, so `serve --dev` and a worker role run with `--dev` can share it: every
//! process using it holds a lock on its own file in `<data dir>/attached/`, and the last one to
//! leave stops the cluster, whichever started it. Attaching and the leaving decision both happen
//! under `<data dir>/attach.lock`, so a process cannot attach between the last one's check and
//! its `pg_ctl stop`. A process that died without leaving holds no lock: its file is skipped and
//! removed.
//!
//! Postgres refuses to run as root; when we are root the cluster runs as the `postgres` system
//! user, which then owns the folder.

use std::{
    ffi::OsStr,
    fs::File,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{anyhow, bail, Context};

/// Where the private cluster lives when `QUBITAL_DATA_DIR` is unset.
pub fn default_data_dir(configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = configured {
        return Ok(dir.to_path_buf());
    }
    if running_as_root() {
        return Ok(PathBuf::from("/var/lib/qubital"));
    }
    if let Some(data_home) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data_home).join("qubital"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set; set QUBITAL_DATA_DIR"))?;
    Ok(PathBuf::from(home).join(".local/share/qubital"))
}

/// A running private cluster. Dropping it stops the cluster if no other process uses it.
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    port: u16,
    run_as: Option<SystemUser>,
    /// This process's registration as a user of the cluster (`None` once it left).
    attachment: Option<Attachment>,
}

/// A file in `attached/`, locked for as long as this process uses the cluster.
struct Attachment {
    path: PathBuf,
    _locked: File,
}

impl Attachment {
    fn take(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("attached");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(Self { path, _locked: file })
    }

    fn leave(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether another live process is attached to the cluster; files of dead ones are removed.
fn others_attached(data_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(data_dir.join("attached")) else {
        return false;
    };
    let mut others = false;
    for entry in entries.flatten() {
        let Ok(file) = File::open(entry.path()) else {
            continue;
        };
        match file.try_lock() {
            // Nobody holds it: its process is gone.
            Ok(()) => {
                let _ = std::fs::remove_file(entry.path());
            }
            Err(_) => others = true,
        }
    }
    others
}

/// The exclusive lock under which processes attach to and leave the cluster.
fn attach_lock(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join("attach.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

#[derive(Clone, Copy, Debug)]
struct SystemUser {
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Creates the cluster if needed and starts it (or attaches to the one already running).
    pub async fn start(data_dir: PathBuf) -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(move || Self::start_blocking(&data_dir)).await?
    }

    fn start_blocking(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir().ok_or_else(|| {
            anyhow!(
                "no PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or in the usual \
                 install folders; install PostgreSQL or set DATABASE_URL to a database you run"
            )
        })?;
        let run_as = if running_as_root() {
            Some(system_user("postgres").ok_or_else(|| {
                anyhow!("running as root, and Postgres refuses to; there is no `postgres` system user to run it as")
            })?)
        } else {
            None
        };
        let cluster_dir = data_dir.join("postgres");
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let _attaching = attach_lock(data_dir)?;
        let mut this = Self {
            bin_dir,
            data_dir: data_dir.to_owned(),
            cluster_dir,
            port: 0,
            run_as,
            attachment: None,
        };

        if !this.cluster_dir.join("PG_VERSION").exists() {
            this.init()?;
        }
        if let Some(port) = this.running_port() {
            tracing::info!(dir = %this.cluster_dir.display(), port, "reusing the private Postgres cluster");
            this.port = port;
            this.attachment = Some(Attachment::take(data_dir)?);
            return Ok(this);
        }
        this.port = free_port()?;
        tracing::info!(dir = %this.cluster_dir.display(), port = this.port, "starting the private Postgres cluster");
        let log = this.cluster_dir.join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -p {}",
            this.port
        );
        let args: [&OsStr; 10] = [
            "-D".as_ref(),
            this.cluster_dir.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
            "-w".as_ref(),
            "-t".as_ref(),
            "60".as_ref(),
            "start".as_ref(),
        ];
        this.pg_ctl(args.into_iter())
            .with_context(|| format!("pg_ctl start failed; see {}", log.display()))?;
        this.attachment = Some(Attachment::take(data_dir)?);
        Ok(this)
    }

    /// `postgres://` URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn init(&self) -> anyhow::Result<()> {
        tracing::info!(dir = %self.cluster_dir.display(), "creating the private Postgres cluster");
        std::fs::create_dir_all(&self.cluster_dir)?;
        if let Some(user) = self.run_as {
            std::os::unix::fs::chown(&self.cluster_dir, Some(user.uid), Some(user.gid))?;
            // The server user must be able to reach its folder.
            let parent = self.cluster_dir.parent().expect("cluster dir has a parent");
            let mut perms = std::fs::metadata(parent)?.permissions();
            perms.set_mode(perms.mode() | 0o711);
            std::fs::set_permissions(parent, perms)?;
        }
        std::fs::set_permissions(&self.cluster_dir, std::fs::Permissions::from_mode(0o700))?;
        let output = self
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-instructions",
                "-D",
            ])
            .arg(&self.cluster_dir)
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The port of a server already running on this cluster, from its `postmaster.pid`.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.cluster_dir)
            .arg("status")
            .output()
            .ok()?;
        if !status.status.success() {
            return None;
        }
        let pid_file = std::fs::read_to_string(self.cluster_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg_ctl<'a>(&self, args: impl Iterator<Item = &'a OsStr>) -> anyhow::Result<()> {
        let output = self.command("pg_ctl").args(args).stdin(Stdio::null()).output()?;
        if !output.status.success() {
            bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some(user) = self.run_as {
            command.uid(user.uid).gid(user.gid).current_dir("/");
        }
        command
    }

    /// Leaves the cluster, and stops it when no other process uses it.
    pub fn stop(&mut self) {
        let Some(attachment) = self.attachment.take() else {
            return;
        };
        let _leaving = match attach_lock(&self.data_dir) {
            Ok(lock) => lock,
            Err(error) => {
                tracing::warn!(%error, "leaving the private Postgres cluster running");
                return;
            }
        };
        attachment.leave();
        if others_attached(&self.data_dir) {
            tracing::info!(dir = %self.cluster_dir.display(), "leaving the private Postgres cluster running: another process uses it");
            return;
        }
        tracing::info!(dir = %self.cluster_dir.display(), "stopping the private Postgres cluster");
        let args: [&OsStr; 6] = [
            "-D".as_ref(),
            self.cluster_dir.as_os_str(),
            "-m".as_ref(),
            "fast".as_ref(),
            "-w".as_ref(),
            "stop".as_ref(),
        ];
        if let Err(error) = self.pg_ctl(args.into_iter()) {
            tracing::warn!(%error, "the private Postgres cluster did not stop cleanly");
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `initdb`'s folder: PATH first, then the usual install locations (newest version first).
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir)) {
            return Some(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for pattern_root in [
        "/usr/lib/postgresql",
        "/usr/local/opt",
        "/opt/homebrew/opt",
        "/usr/pgsql",
    ] {
        if let Ok(entries) = std::fs::read_dir(pattern_root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if pattern_root.ends_with("postgresql") || name.starts_with("postgresql") {
                    candidates.push(entry.path().join("bin"));
                }
            }
        }
    }
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    // Highest version first: compare the numeric part of the folder names.
    candidates.sort_by_key(|dir| std::cmp::Reverse(version_of(dir)));
    candidates.into_iter().find(|dir| has_tools(dir))
}

fn version_of(bin_dir: &Path) -> u32 {
    bin_dir
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .filter_map(|s| {
            s.trim_start_matches(|c: char| !c.is_ascii_digit())
                .split('.')
                .next()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

fn system_user(name: &str) -> Option<SystemUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| {
                Some(SystemUser {
                    uid: fields[2].parse().ok()?,
                    gid: fields[3].parse().ok()?,
                })
            })
            .flatten()
    })
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?.port())
}
