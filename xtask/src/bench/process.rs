//! The processes the bench starts, and what it reads about them from `/proc`: CPU time
//! (utime + stime) and resident memory.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// A child process stopped (SIGTERM, then SIGKILL after 30 s) when dropped.
pub struct Process {
    pub child: Child,
    name: String,
}

impl Process {
    pub fn spawn(name: &str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start the {name}"))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line the process prints on its stdout (its address), within `timeout`.
    pub fn first_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let stdout = self.child.stdout.take().context("stdout is not piped")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        match receiver.recv_timeout(timeout) {
            Ok(line) if !line.trim().is_empty() => Ok(line.trim().to_owned()),
            _ => bail!("the {} printed no address within {timeout:?}", self.name),
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.running() {
            return;
        }
        // SIGTERM: the server drains and stops cleanly.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `command` with stdin closed and stdout discarded, its stderr passed through.
pub fn quiet(mut command: Command) -> Command {
    command.stdin(Stdio::null()).stdout(Stdio::null());
    command
}

/// CPU seconds (user + system) the process has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: state is the
    // first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) as f64 / ticks)
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Samples a process's RSS every 20 ms in the background; windows read the CPU time used and
/// the highest RSS seen between their start and end.
pub struct Watch {
    pid: u32,
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

/// The start of a measured window.
pub struct Mark {
    at: Instant,
    cpu: f64,
}

/// What a process used during a window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// CPU cores busy on average (CPU seconds / wall seconds): 1.0 is one core.
    pub cores: f64,
    pub cpu_seconds: f64,
    /// The highest RSS sampled in the window, MiB.
    pub peak_rss_mib: f64,
    /// RSS at the end of the window, MiB.
    pub rss_mib: f64,
}

impl Watch {
    pub fn start(pid: u32) -> Self {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = std::thread::spawn({
            let (peak_kib, stop) = (peak_kib.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_kib(pid, "VmRSS:") {
                        peak_kib.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        Self {
            pid,
            peak_kib,
            stop,
            sampler: Some(sampler),
        }
    }

    /// Starts a window: resets the peak.
    pub fn mark(&self) -> Mark {
        self.peak_kib
            .store(status_kib(self.pid, "VmRSS:").unwrap_or(0), Ordering::Relaxed);
        Mark {
            at: Instant::now(),
            cpu: cpu_seconds(self.pid).unwrap_or(0.0),
        }
    }

    /// What was used since `mark`.
    pub fn usage_since(&self, mark: &Mark) -> Usage {
        let wall = mark.at.elapsed().as_secs_f64().max(1e-9);
        let cpu_seconds = (cpu_seconds(self.pid).unwrap_or(mark.cpu) - mark.cpu).max(0.0);
        let rss = status_kib(self.pid, "VmRSS:").unwrap_or(0);
        let peak = self.peak_kib.load(Ordering::Relaxed).max(rss);
        Usage {
            cores: cpu_seconds / wall,
            cpu_seconds,
            peak_rss_mib: peak as f64 / 1024.0,
            rss_mib: rss as f64 / 1024.0,
        }
    }

    /// The kernel's high-water mark of the process's RSS, MiB.
    pub fn high_water_mib(&self) -> f64 {
        status_kib(self.pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
    }
}
