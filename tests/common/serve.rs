#![allow(dead_code)] // each test binary uses a part of the shared harness
//! A `lantern serve` child process on the loopback address, for the remote tests of the CLI and
//! of the app: started, its connect string read from its output, its log kept in a file, killed
//! when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_model() -> PathBuf {
    root().join("assets/demo/lantern_cnn.safetensors")
}

pub fn star() -> PathBuf {
    root().join("assets/demo/images/star.png")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run the `lantern` binary with `args`.
pub fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern")).args(args).env("XDG_RUNTIME_DIR", "/tmp").output().unwrap()
}

/// A `lantern serve` child on the loopback address, killed when dropped.
pub struct Server {
    pub child: Child,
    /// What `--device` takes: `remote:ws://127.0.0.1:PORT` or `remote:<id>@127.0.0.1:PORT`.
    pub device: String,
    pub token: PathBuf,
    log: PathBuf,
}

impl Server {
    pub fn websocket(dir: &Path) -> Server {
        Server::start(dir, &["--websocket", "127.0.0.1:0"])
    }

    pub fn iroh(dir: &Path) -> Server {
        Server::start(dir, &["--relays", "off"])
    }

    pub fn start(dir: &Path, transport: &[&str]) -> Server {
        let token = dir.join("serve.token");
        let log = dir.join(format!("serve-{}.log", transport[0].trim_start_matches('-')));
        let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["serve", "--devices", "cpu", "--token-file", s(&token)])
            .args(transport)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("connect with: --device ") {
                    let device = rest.split_whitespace().next().unwrap().replace("<host>", "127.0.0.1");
                    let _ = tx.send(device);
                }
            }
        });
        let device = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("lantern serve did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        let token_mode = std::fs::metadata(&token).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(token_mode.permissions().mode() & 0o777, 0o600, "the token file is private");
        }
        let _ = token_mode;
        Server { child, device, token, log }
    }

    pub fn explain(&self, out: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "explain",
            s(&star()).to_owned().leak(),
            "--model",
            s(&demo_model()).to_owned().leak(),
            "--device",
            &self.device,
            "--token-file",
            s(&self.token),
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        lantern(&args)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The lowest resident set seen while sampling for `window`: work already queued when a session
    /// closes may still run for a moment, so one sample can catch it mid-batch.
    pub fn settled_rss_kb(&self, window: Duration) -> u64 {
        let start = Instant::now();
        let mut low = self.rss_kb();
        while start.elapsed() < window {
            std::thread::sleep(Duration::from_millis(200));
            low = low.min(self.rss_kb());
        }
        low
    }

    /// Wait until the server's log holds `count` lines containing `needle`.
    pub fn wait_for(&self, needle: &str, count: usize, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
