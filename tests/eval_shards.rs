//! Sharded evaluation end to end: a procedural set evaluated by one process, and in three shards
//! by three concurrent processes, merged with `lantern eval merge` into a report byte for byte the
//! single run's; the merge's refusals (a missing shard, a duplicate, a shard of other settings)
//! with exit code 2 and the problem named.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lantern"));
    c.args(args).env("NO_COLOR", "1");
    c
}

fn lantern(args: &[&str]) -> Output {
    command(args).output().expect("the lantern binary runs")
}

fn spawn(args: &[&str]) -> Child {
    command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the lantern binary starts")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Exit code 2 and a one-line reason on standard error that mentions every one of `needles`.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reason.len(), 1, "one reason line expected: {stderr}");
    for needle in needles {
        assert!(reason[0].contains(needle), "'{}' should mention '{needle}'", reason[0]);
    }
}

/// The report files a run writes: the summaries, the CSV and every plot.
fn report_files(dir: &Path) -> Vec<PathBuf> {
    let mut plots: Vec<PathBuf> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path().strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    plots.sort();
    let mut files: Vec<PathBuf> = ["summary.json", "summary.md", "per_image.csv"].iter().map(PathBuf::from).collect();
    files.extend(plots);
    files
}

#[test]
fn three_concurrent_shards_merge_to_the_single_runs_report_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", "10", "--seed", "4242", "--size", "64"]));
    let eval_args = |out: &Path| -> Vec<String> {
        ["eval", "--data", s(&data), "--format", "synth", "--methods", "cam,gradcam", "--device", "cpu"]
            .iter()
            .map(|a| a.to_string())
            .chain(["--no-timing".to_string(), "--out".to_string(), s(out).to_string()])
            .collect()
    };
    let single = dir.path().join("single");
    let args = eval_args(&single);
    ok(&lantern(&args.iter().map(String::as_str).collect::<Vec<_>>()));

    // Three shards as three processes at once.
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("shard{i}"))).collect();
    let children: Vec<Child> = shards
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let mut args = eval_args(out);
            args.extend(["--shard".to_string(), format!("{i}/3")]);
            spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    for child in children {
        ok(&child.wait_with_output().unwrap());
    }
    let sizes: Vec<usize> = shards
        .iter()
        .map(|d| {
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("shard.json")).unwrap()).unwrap();
            manifest["images"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 10, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n == 3 || n == 4), "balanced: {sizes:?}");

    let merged = dir.path().join("merged");
    // In another order than the shards' numbers: the order of the folders does not matter.
    let out = lantern(&["eval", "merge", s(&merged), s(&shards[2]), s(&shards[0]), s(&shards[1]), "--no-timing"]);
    ok(&out);
    let files = report_files(&single);
    assert!(files.len() >= 5, "summaries, CSV and at least two plots: {files:?}");
    assert_eq!(report_files(&merged), files, "the same plots");
    for f in &files {
        let (a, b) = (std::fs::read(single.join(f)).unwrap(), std::fs::read(merged.join(f)).unwrap());
        assert!(a == b, "{} differs between the single run and the merge", f.display());
    }
    // The merged folder is what the single run left: resuming it has nothing left to do.
    let state = std::fs::read(merged.join("state.jsonl")).unwrap();
    let args = eval_args(&merged);
    ok(&lantern(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(std::fs::read(merged.join("state.jsonl")).unwrap(), state, "a single run finds every row in the merge");
    let settings = |d: &Path| std::fs::read(d.join("settings.json")).unwrap();
    assert_eq!(settings(&merged), settings(&single));

    // A missing shard, a duplicate, an unfinished shard, a shard of other settings.
    let again = dir.path().join("again");
    assert_bad_input(&lantern(&["eval", "merge", s(&again), s(&shards[0]), s(&shards[2])]), &["shard 1/3 is missing"]);
    assert_bad_input(
        &lantern(&["eval", "merge", s(&again), s(&shards[0]), s(&shards[1]), s(&shards[2]), s(&shards[1])]),
        &["shard 1/3 is given twice", s(&shards[1])],
    );
    assert_bad_input(&lantern(&["eval", "merge", s(&again), s(&shards[0]), s(&single)]), &["single", "shard.json"]);
    let other = dir.path().join("other");
    let mut args = eval_args(&other);
    args.extend(["--shard".into(), "1/3".into(), "--interval".into(), "0.05".into()]);
    ok(&lantern(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_bad_input(
        &lantern(&["eval", "merge", s(&again), s(&shards[0]), s(&other), s(&shards[2])]),
        &["different settings", "interval: 0.01 -> 0.05", s(&other)],
    );
    assert!(!again.exists(), "a refused merge writes nothing");

    // A shard folder is never resumed as another shard.
    let mut args = eval_args(&shards[0]);
    args.extend(["--shard".into(), "1/3".into()]);
    assert_bad_input(&lantern(&args.iter().map(String::as_str).collect::<Vec<_>>()), &["shard: \"0/3\" -> \"1/3\""]);
}

#[test]
fn shard_flags_out_of_range_are_refused_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", "2", "--seed", "1", "--size", "64"]));
    let out = dir.path().join("out");
    for (shard, why) in [("3/3", "below N"), ("0/0", "at least 1"), ("1-3", "I/N")] {
        let run = lantern(&[
            "eval",
            "--data",
            s(&data),
            "--format",
            "synth",
            "--methods",
            "cam",
            "--device",
            "cpu",
            "--out",
            s(&out),
            "--shard",
            shard,
        ]);
        assert_bad_input(&run, &["--shard", why]);
    }
    assert!(!out.exists(), "nothing is written for a refused shard");
    // More shards than images: the empty shard finishes and says so.
    let run = lantern(&[
        "eval",
        "--data",
        s(&data),
        "--format",
        "synth",
        "--methods",
        "cam",
        "--device",
        "cpu",
        "--out",
        s(&out),
        "--shard",
        "2/3",
    ]);
    ok(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("has no images"));
    assert!(out.join("shard.json").is_file());
}
