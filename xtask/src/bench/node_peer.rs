//! Issue 15's peer for `conference-token`: a LiveKit token server the way a LiveKit user writes
//! one — Node's `http` module and the official `livekit-server-sdk` (pinned), one process,
//! minting a token for the room in each request with the same grants and metadata shape as
//! ours, and no database or session. It answers what the SDK costs; `conference-token` also
//! authenticates the caller and reads the space and the member.
//!
//! The SDK is installed once with npm into `<target>/bench-node-peer` (`node_modules` is kept
//! and reused while its version is the pinned one). Without `node` and `npm` on the `PATH` the
//! bench skips this peer and says so.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};

use super::process::{quiet, Process};

/// The `livekit-server-sdk` release the peer runs.
pub const SDK_VERSION: &str = "2.19.2";

const SERVER_JS: &str = r#"// Written by `cargo xtask bench` (xtask/src/bench/node_peer.rs); do not edit.
const http = require('node:http');
const { AccessToken } = require('livekit-server-sdk');

const KEY = 'bench';
const SECRET = 'bench-secret-bench-secret-bench-secret';

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const { spaceId } = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      const token = new AccessToken(KEY, SECRET, {
        identity: '1',
        name: 'Bench Admin',
        metadata: JSON.stringify({ userId: '1', organizationId: 'bench', role: 'admin' }),
        ttl: '10m',
      });
      token.addGrant({
        room: String(spaceId),
        roomJoin: true,
        canPublish: true,
        canSubscribe: true,
        canPublishData: true,
        roomAdmin: true,
      });
      const body = JSON.stringify({
        token: await token.toJwt(),
        url: 'ws://127.0.0.1:7880',
        expiresAt: new Date(Date.now() + 600000).toISOString(),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } catch (error) {
      res.writeHead(400);
      res.end();
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}`);
});
"#;

/// Installs the pinned SDK under `target_dir` if needed and starts the peer: its process and
/// the URL of its token endpoint (`POST`, body `{"spaceId": …}`).
pub fn start(target_dir: &Path) -> anyhow::Result<(Process, String)> {
    let dir = target_dir.join("bench-node-peer");
    std::fs::create_dir_all(&dir)?;
    install(&dir)?;
    std::fs::write(dir.join("server.js"), SERVER_JS)?;
    let mut command = Command::new("node");
    command
        .arg("server.js")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut peer = Process::spawn("node peer", &mut command)?;
    let url = peer.first_line(Duration::from_secs(10))?;
    Ok((peer, format!("{url}/token")))
}

/// `npm install` of the pinned SDK, unless `node_modules` has it already.
fn install(dir: &Path) -> anyhow::Result<()> {
    let installed = std::fs::read_to_string(dir.join("node_modules/livekit-server-sdk/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|package| package["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(SDK_VERSION) {
        return Ok(());
    }
    let package = serde_json::json!({
        "private": true,
        "description": "The bench's Node peer (xtask/src/bench/node_peer.rs)",
        "dependencies": { "livekit-server-sdk": SDK_VERSION },
    });
    std::fs::write(dir.join("package.json"), serde_json::to_vec_pretty(&package)?)?;
    eprintln!("installing livekit-server-sdk {SDK_VERSION} for the Node peer…");
    let mut command = Command::new("npm");
    command
        .args(["install", "--no-audit", "--no-fund", "--silent"])
        .current_dir(dir);
    let status = quiet(command)
        .status()
        .context("npm is not available (the Node peer needs node and npm)")?;
    if !status.success() {
        bail!("npm install livekit-server-sdk@{SDK_VERSION} failed");
    }
    Ok(())
}
