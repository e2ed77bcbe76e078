//! `lantern serve` and `--device remote:...`, as separate processes on 127.0.0.1 only: remote maps
//! equal local ones, a wrong or missing token is refused while others are served, a server killed
//! mid-run is an error (exit 1) within a bounded time, an abandoned session is cleaned up, and
//! four clients at once each get correct results, an evaluation equals the local one, and SIGTERM
//! stops the server cleanly.

#[path = "common/serve.rs"]
mod serve;

use serve::{Server, demo_model, lantern, s, star};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec::<f32>().unwrap()
}

fn assert_same_maps(local: &Path, remote: &Path, methods: &[&str]) {
    for method in methods {
        let a = read_npy(&local.join(format!("star.{method}.map.npy")));
        let b = read_npy(&remote.join(format!("star.{method}.map.npy")));
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{method}: remote map differs from the local one by {worst}");
    }
}

fn ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
}

const METHODS: &str = "gradcam,rise";
const RISE: [&str; 4] = ["--masks", "64", "--batch", "16"];

fn local_maps(dir: &Path) -> PathBuf {
    let out = dir.join("local");
    let mut args = vec![
        "explain",
        s(&star()).to_owned().leak(),
        "--model",
        s(&demo_model()).to_owned().leak(),
        "--method",
        METHODS,
        "--device",
        "cpu",
        "--out",
        s(&out).to_owned().leak(),
    ];
    args.extend_from_slice(&RISE);
    ok(&lantern(&args));
    out
}

#[test]
fn remote_maps_equal_local_ones_over_websocket_and_iroh() {
    let dir = tempfile::tempdir().unwrap();
    let local = local_maps(dir.path());
    for server in [Server::websocket(dir.path()), Server::iroh(dir.path())] {
        let out = dir.path().join(format!("remote-{}", server.device.len()));
        let mut extra = vec!["--method", METHODS];
        extra.extend_from_slice(&RISE);
        ok(&server.explain(&out, &extra));
        assert_same_maps(&local, &out, &["gradcam", "rise"]);
        // Over Iroh (UDP) the server notices a client that exited without closing only when the
        // connection times out.
        assert!(server.wait_for("session closed", 1, Duration::from_secs(60)), "no session line: {}", server.log());
    }
}

#[test]
fn a_wrong_or_missing_token_is_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::websocket(dir.path());
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let out = dir.path().join("wrong");
    let refused = lantern(&[
        "explain",
        s(&star()),
        "--model",
        s(&demo_model()),
        "--device",
        &server.device,
        "--token-file",
        s(&wrong),
        "--out",
        s(&out),
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused the token"));
    // No token at all: refused by the CLI before dialing (bad input), and by the server when a
    // client presents none.
    let none =
        lantern(&["explain", s(&star()), "--model", s(&demo_model()), "--device", &server.device, "--out", s(&out)]);
    assert_eq!(none.status.code(), Some(2), "{}", String::from_utf8_lossy(&none.stderr));
    let address: lantern::device::RemoteAddress = server.device.trim_start_matches("remote:").parse().unwrap();
    let empty = lantern::device::connect(&address, "", Duration::from_secs(20));
    assert!(empty.is_err(), "a client without a token was let in");
    assert!(server.wait_for("refused", 2, Duration::from_secs(10)), "refusals not logged: {}", server.log());
    assert!(server.still_running());
    let good = dir.path().join("good");
    ok(&server.explain(&good, &["--method", "gradcam"]));
}

#[test]
fn a_server_killed_mid_explanation_is_an_error_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::websocket(dir.path());
    let out = dir.path().join("out");
    let client = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["explain", s(&star()), "--model", s(&demo_model()), "--method", "rise", "--masks", "20000"])
        .args(["--batch", "16", "--device", &server.device, "--token-file", s(&server.token), "--out", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(server.wait_for("session opened", 1, Duration::from_secs(30)), "{}", server.log());
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap();
    let killed = Instant::now();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(client.wait_with_output());
    });
    let output = rx.recv_timeout(Duration::from_secs(60)).expect("the client hung after its server died").unwrap();
    let waited = killed.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("client ended {waited:?} after the server was killed: {stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("remote server"), "{stderr}");
    assert!(!stderr.contains("panicked"), "a panic reached the user: {stderr}");
}

#[test]
fn an_abandoned_session_frees_its_server_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::websocket(dir.path());
    // Warm up: one complete run, so the allocator's pools exist before measuring.
    ok(&server.explain(&dir.path().join("warm"), &["--method", "rise", "--masks", "256", "--batch", "64"]));
    assert!(server.wait_for("session closed", 1, Duration::from_secs(10)));
    let base = server.settled_rss_kb(Duration::from_secs(2));
    let mut peaks = Vec::new();
    let mut afters = Vec::new();
    for round in 1..=6 {
        let mut client = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["explain", s(&star()), "--model", s(&demo_model()), "--method", "rise", "--masks", "20000"])
            .args(["--batch", "64", "--device", &server.device, "--token-file", s(&server.token)])
            .args(["--out", s(&dir.path().join("abandoned"))])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(server.wait_for("session opened", round + 1, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(1500));
        peaks.push(server.rss_kb());
        client.kill().unwrap();
        client.wait().unwrap();
        assert!(
            server.wait_for("session closed", round + 1, Duration::from_secs(20)),
            "the server kept a dead client's session: {}",
            server.log()
        );
        afters.push(server.settled_rss_kb(Duration::from_secs(4)));
    }
    eprintln!(
        "server RSS: {base} kB after a warm-up run; during abandoned runs {peaks:?} kB; after each {afters:?} kB"
    );
    // Abandoned sessions must not pile up. glibc keeps a session's freed pages now and then (a
    // round may settle at its peak, ~50-65 MB above the base, and come down in a later round), so
    // one sample proves nothing; a session that kept its tensors (~30 MB per batch in flight) would
    // leave every one of the last three rounds at least ~120 MB above the base. So the lowest of
    // the last three must come back within 96 MB of the base.
    let lowest_late = *afters[3..].iter().min().unwrap();
    assert!(
        lowest_late <= base + 96 * 1024,
        "server memory grows with abandoned sessions: {afters:?} kB (base {base} kB)"
    );
    assert!(server.still_running());
    ok(&server.explain(&dir.path().join("after"), &["--method", "gradcam"]));
}

#[test]
fn four_concurrent_clients_each_get_the_local_maps() {
    let dir = tempfile::tempdir().unwrap();
    let local = local_maps(dir.path());
    let server = Server::websocket(dir.path());
    let outs: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("client{i}"))).collect();
    let children: Vec<Child> = outs
        .iter()
        .map(|out| {
            Command::new(env!("CARGO_BIN_EXE_lantern"))
                .args(["explain", s(&star()), "--model", s(&demo_model()), "--method", METHODS])
                .args(RISE)
                .args(["--device", &server.device, "--token-file", s(&server.token), "--out", s(out)])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    for out in &outs {
        assert_same_maps(&local, out, &["gradcam", "rise"]);
    }
    assert!(server.wait_for("session closed", 4, Duration::from_secs(10)), "{}", server.log());
}

#[test]
fn an_evaluation_on_the_server_gives_the_local_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", "6", "--seed", "77", "--size", "64"]));
    let eval = |device: &str, token: Option<&Path>, out: &Path| {
        let mut args = vec!["eval", "--data", s(&data), "--format", "synth", "--methods", "cam,gradcam", "--no-timing"];
        args.extend(["--device", device, "--out", s(out)]);
        if let Some(token) = token {
            args.extend(["--token-file", s(token)]);
        }
        ok(&lantern(&args));
    };
    let local = dir.path().join("local");
    eval("cpu", None, &local);
    let server = Server::websocket(dir.path());
    let remote = dir.path().join("remote");
    eval(&server.device, Some(&server.token), &remote);
    // The same report, number for number: on this machine's CPU the forward passes run the
    // planned path (models/plan), on the server burn's, and their maps agree to about 1e-6
    // relative; a pixel that crosses a CAM threshold moves the pixel-level scores by a few 1e-6
    // (PxAP here: 52.29700 locally, 52.29655 remotely), so each number must agree to 1e-4
    // relative (or one unit of the last digit printed), which a wrong map would be far beyond.
    for file in ["summary.json", "summary.md", "per_image.csv"] {
        let (a, b) = (read_text(&local.join(file)), read_text(&remote.join(file)));
        assert_same_numbers(&strip_device(&a), &strip_device(&b), file);
    }
}

/// `a` and `b` have the same text around their numbers, and each pair of numbers agrees to 1e-4
/// relative or to one unit of the last digit either prints.
fn assert_same_numbers(a: &str, b: &str, file: &str) {
    fn split(t: &str) -> Vec<(bool, &str)> {
        let mut parts = Vec::new();
        let mut start = 0;
        let bytes = t.as_bytes();
        let number = |c: u8| c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'-';
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let begin = if i > 0 && bytes[i - 1] == b'-' { i - 1 } else { i };
                parts.push((false, &t[start..begin]));
                let mut end = i;
                while end < bytes.len() && number(bytes[end]) {
                    end += 1;
                }
                parts.push((true, &t[begin..end]));
                start = end;
                i = end;
            } else {
                i += 1;
            }
        }
        parts.push((false, &t[start..]));
        parts
    }
    let (pa, pb) = (split(a), split(b));
    assert_eq!(pa.len(), pb.len(), "{file}: the local and the remote report differ in shape");
    for ((na, ta), (_, tb)) in pa.iter().zip(&pb) {
        if !na {
            assert_eq!(ta, tb, "{file}: the local and the remote report differ in text");
            continue;
        }
        let (x, y): (f64, f64) = match (ta.parse(), tb.parse()) {
            (Ok(x), Ok(y)) if f64::is_finite(x) && f64::is_finite(y) => (x, y),
            _ => {
                assert_eq!(ta, tb, "{file}: the local and the remote report differ");
                continue;
            }
        };
        let unit = |t: &str| t.split_once('.').map_or(1.0, |(_, f)| 10f64.powi(-(f.len() as i32)));
        let allowed = (1e-4 * x.abs().max(y.abs())).max(unit(ta).max(unit(tb)) * 1.000_001);
        assert!((x - y).abs() <= allowed, "{file}: {ta} locally, {tb} on the server");
    }
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The report without the lines that name the device (they differ by design).
fn strip_device(text: &str) -> String {
    text.lines().filter(|l| !l.to_ascii_lowercase().contains("device")).collect::<Vec<_>>().join("\n")
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::websocket(dir.path());
    // Once it has served a client: burn installs its signal handlers when serving starts, just
    // after the "connect with" line (a SIGTERM in between ends the process by the default action).
    ok(&server.explain(&dir.path().join("before"), &["--method", "gradcam"]));
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "lantern serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}: {}", server.log());
    assert!(server.log().contains("lantern serve: stopped"), "{}", server.log());
}

#[test]
fn training_on_the_server_gives_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::websocket(dir.path());
    let train = |name: &str, device: &[&str]| -> String {
        let out = dir.path().join(format!("{name}.safetensors"));
        let mut args = vec!["train", "embedding", "--out", s(&out).to_owned().leak()];
        args.extend(["--count", "48", "--val-count", "16", "--epochs", "2", "--batch", "16"]);
        args.extend_from_slice(device);
        ok(&lantern(&args));
        read_text(&out.with_extension("log.csv"))
    };
    let local = train("local", &["--device", "cpu"]);
    let remote = train("remote", &["--device", &server.device, "--token-file", s(&server.token)]);
    assert_eq!(local, remote, "the per-epoch losses and scores differ between local and remote training");
}
