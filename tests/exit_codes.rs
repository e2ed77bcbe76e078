//! The CLI's exit codes, as documented in the README: 0 on success, 2 when the input is at fault
//! (a missing file, a flag out of range, a malformed annotation), 1 when something else failed
//! (an output that cannot be written, a device that fails, a cancelled run).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn lantern(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lantern"));
    c.args(args).env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    lantern(args).output().expect("the lantern binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The exit code and the one `lantern:` line on standard error.
fn failure(out: &Output) -> (Option<i32>, String) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let reasons: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reasons.len(), 1, "one reason line expected: {stderr}");
    (out.status.code(), reasons[0].to_string())
}

#[test]
fn input_at_fault_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-image.png");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/lantern_cnn.safetensors");
    let out = dir.path().join("out");
    let (code, why) = failure(&run(&["explain", s(&missing), "--model", s(&model), "--out", s(&out)]));
    assert_eq!(code, Some(2), "{why}");
    assert!(why.contains("no-such-image.png"), "{why}");

    let (code, why) = failure(&run(&["synth", "--out", s(&dir.path().join("d")), "--count", "2", "--size", "8"]));
    assert_eq!(code, Some(2), "{why}");
    assert!(why.contains("--size must be between 32 and 1024 pixels, got 8"), "{why}");

    let ann = dir.path().join("broken");
    std::fs::create_dir_all(&ann).unwrap();
    std::fs::write(ann.join("annotations.json"), "{ not json").unwrap();
    let (code, why) = failure(&run(&[
        "eval",
        "--data",
        s(&ann),
        "--format",
        "synth",
        "--methods",
        "cam",
        "--device",
        "cpu",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, Some(2), "{why}");
    assert!(why.contains("annotations.json"), "{why}");
}

#[test]
fn an_output_that_cannot_be_written_exits_1() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: this system has no /dev/full to make a write fail");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ok = |out: Output| assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ok(run(&["synth", "--out", s(&data), "--count", "3", "--seed", "7", "--size", "32"]));
    let audit = dir.path().join("a.db");
    ok(run(&["audit", "new", s(&audit), "--data", s(&data), "--format", "synth", "--method", "gradcam"]));

    // The same export succeeds into a pipe and fails on a full disk.
    let fine = run(&["audit", "export", s(&audit), "--format", "json", "--all"]);
    ok(fine.clone());
    let json: serde_json::Value = serde_json::from_slice(&fine.stdout).expect("the export is JSON");
    assert!(json.is_object(), "{json}");
    let full = lantern(&["audit", "export", s(&audit), "--format", "json", "--all"])
        .stdout(Stdio::from(File::create("/dev/full").unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let (code, why) = failure(&full);
    assert_eq!(code, Some(1), "{why}");
    assert!(why.contains("standard output: could not write"), "{why}");
}
