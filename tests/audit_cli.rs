//! `lantern audit` end to end through the real binary: creating, recording, stats, exports and
//! merges; bad input with exit code 2; and the reliability evidence: verdicts acknowledged
//! before a SIGKILL are all in the file, two processes writing at once lose nothing, a dataset
//! that moved still opens, and damaged, foreign or newer files are refused and left untouched.

use lantern::audit::{Audit, VerdictId};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lantern binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}; stderr: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Exit code 2 and one `lantern:` line on standard error that mentions every needle.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reason.len(), 1, "one reason line expected: {stderr}");
    for needle in needles {
        assert!(reason[0].contains(needle), "'{}' should mention '{needle}'", reason[0]);
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A procedural dataset of `count` 32-pixel images and a new audit of it by "ana".
fn dataset_and_audit(dir: &Path, count: usize) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", &count.to_string(), "--seed", "7", "--size", "32"]));
    let audit = dir.join("a.db");
    ok(&lantern(&[
        "audit",
        "new",
        s(&audit),
        "--data",
        s(&data),
        "--format",
        "synth",
        "--method",
        "gradcam",
        "--annotator",
        "ana",
    ]));
    (data, audit)
}

fn id(i: usize) -> String {
    format!("{i:06}")
}

#[test]
fn new_record_stats_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", "6", "--seed", "7", "--size", "32"]));
    let model = dir.path().join("model.safetensors");
    std::fs::write(&model, b"weights").unwrap();
    let audit = dir.path().join("a.db");
    let created = ok(&lantern(&[
        "audit",
        "new",
        s(&audit),
        "--data",
        s(&data),
        "--format",
        "synth",
        "--model",
        s(&model),
        "--method",
        "gradcam",
        "--threshold",
        "0.3",
        "--annotator",
        "ana",
    ]));
    assert!(created.contains("6 images of 6 classes"), "{created}");
    assert!(
        created.contains("sha256 9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c"),
        "sha256 of b\"weights\": {created}"
    );

    let first = ok(&lantern(&["audit", "record", s(&audit), &id(0), "accept", "--iou", "0.8"]));
    let second = ok(&lantern(&[
        "audit",
        "record",
        s(&audit),
        &id(1),
        "reject",
        "--box",
        "2,3,20,25",
        "--comment",
        "too far left, \"really\"",
    ]));
    let third = ok(&lantern(&["audit", "record", s(&audit), &id(1), "flag", "--annotator", "ben"]));
    let ids: Vec<i64> =
        [&first, &second, &third].iter().map(|o| o.trim().parse().expect("record prints the row id")).collect();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");

    let stats = ok(&lantern(&["audit", "stats", s(&audit)]));
    assert!(
        stats.contains("2/6 images audited (33.3%): 1 accepted, 0 rejected, 1 flagged; 3 verdicts recorded"),
        "{stats}"
    );
    assert!(stats.contains("method     gradcam, threshold 0.3"), "{stats}");
    assert!(stats.contains(&format!("next       {}", id(2))), "{stats}");
    assert!(!stats.contains("changed since"), "{stats}");
    std::fs::write(&model, b"other weights").unwrap();
    assert!(ok(&lantern(&["audit", "stats", s(&audit)])).contains("the file has changed since"));

    let csv_path = dir.path().join("verdicts.csv");
    ok(&lantern(&["audit", "export", s(&audit), "--format", "csv", "--all", "--out", s(&csv_path)]));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "verdict_id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "every verdict with --all");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[1][col("comment")], "too far left, \"really\"", "quotes and commas survive");
    assert_eq!((&rows[1][col("corrected_x0")], &rows[1][col("corrected_y1")]), ("2", "25"));
    assert_eq!(&rows[0][col("iou")], "0.8");
    assert_eq!(&rows[2][col("annotator")], "ben");
    let latest = ok(&lantern(&["audit", "export", s(&audit), "--format", "csv"]));
    assert_eq!(latest.lines().count(), 1 + 2, "a header and the latest verdict of each judged image");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&lantern(&["audit", "export", s(&audit), "--format", "json"]))).unwrap();
    assert_eq!(json["progress"]["audited"], 2);
    assert_eq!(json["settings"]["method"], "gradcam");
    assert_eq!(json["settings"]["format"], "synth");
    assert_eq!(json["images"].as_array().unwrap().len(), 6);
    assert_eq!(json["verdicts"][1]["verdict"], "flag");

    let coco: serde_json::Value =
        serde_json::from_str(&ok(&lantern(&["audit", "export", s(&audit), "--format", "coco"]))).unwrap();
    assert_eq!(coco["images"].as_array().unwrap().len(), 6);
    assert_eq!(
        coco["annotations"].as_array().unwrap().len(),
        0,
        "image 0 has no predicted boxes and image 1 is flagged"
    );
}

#[test]
fn bad_input_gives_one_line_and_exit_code_2_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, audit) = dataset_and_audit(dir.path(), 3);
    ok(&lantern(&["audit", "record", s(&audit), &id(0), "accept"]));
    let before = std::fs::read(&audit).unwrap();
    assert_bad_input(&lantern(&["audit", "record", s(&audit), "nope", "accept"]), &["unknown image id 'nope'"]);
    for bad in ["1,2,3", "1,2,x,4", "5,2,3,4", "-1,0,3,4"] {
        assert_bad_input(
            &lantern(&["audit", "record", s(&audit), &id(0), "reject", "--box", bad]),
            &["malformed box", bad],
        );
    }
    assert_bad_input(
        &lantern(&["audit", "record", s(&audit), &id(0), "reject", "--box", "0,0,32,5"]),
        &["outside image 000000 (32x32"],
    );
    assert_bad_input(&lantern(&["audit", "record", s(&audit), &id(0), "maybe"]), &["unknown verdict 'maybe'"]);
    assert_bad_input(
        &lantern(&["audit", "record", s(&audit), &id(0), "accept", "--iou", "2"]),
        &["IoU must be in [0, 1]"],
    );
    assert_bad_input(
        &lantern(&["audit", "new", s(&audit), "--data", s(&data), "--format", "synth"]),
        &["already exists", "never overwritten"],
    );
    assert_bad_input(&lantern(&["audit", "stats", s(&dir.path().join("none.db"))]), &["no such audit file"]);
    assert_bad_input(
        &lantern(&[
            "audit",
            "new",
            s(&dir.path().join("b.db")),
            "--data",
            s(&dir.path().join("nowhere")),
            "--format",
            "synth",
        ]),
        &["nowhere"],
    );
    assert!(!dir.path().join("b.db").exists(), "a failed `new` leaves no file");
    assert_eq!(std::fs::read(&audit).unwrap(), before);
    let stream = dir.path().join("v.jsonl");
    std::fs::write(
        &stream,
        format!(
            "{{\"image\":\"{}\",\"verdict\":\"accept\"}}\n{{\"image\":\"{}\",\"verdict\":\"accept\",\"colour\":1}}\n",
            id(1),
            id(2)
        ),
    )
    .unwrap();
    let out = lantern(&["audit", "record", s(&audit), "--jsonl", s(&stream)]);
    assert_bad_input(&out, &["v.jsonl:2", "unknown field `colour`"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "the good line before was saved and acknowledged"
    );
}

/// A verdict line of the streams below: cycling images and verdicts, a unique comment.
fn stream_line(i: usize, images: usize, annotator: &str) -> String {
    let verdict = ["accept", "reject", "flag"][i % 3];
    let corrected =
        if i % 3 == 1 { format!(",\"box\":[{},{},{},{}]", i % 5, i % 7, 20 + i % 11, 25) } else { String::new() };
    format!(
        "{{\"image\":\"{}\",\"verdict\":\"{verdict}\",\"comment\":\"{annotator} {i}\",\"iou\":{},\"annotator\":\"{annotator}\"{corrected}}}\n",
        id(i % images),
        (i % 100) as f64 / 100.0
    )
}

/// Stream `lines` into `lantern audit record --jsonl -` and SIGKILL it once `kill_after` row ids
/// were acknowledged (never, for `None`). Returns the acknowledged (row id, line index) pairs,
/// counting ids already in the pipe when the process died.
fn stream(audit: &Path, lines: &[(usize, String)], kill_after: Option<usize>) -> Vec<(VerdictId, usize)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["audit", "record", s(audit), "--jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text: String = lines.iter().map(|(_, l)| l.as_str()).collect();
    // The writer blocks on the full pipe and fails once the process is killed.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut acked = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        acked.push((VerdictId(line.trim().parse().unwrap()), lines[acked.len()].0));
        line.clear();
        if Some(acked.len()) == kill_after {
            child.kill().unwrap(); // SIGKILL
        }
    }
    let status = child.wait().unwrap();
    writer.join().unwrap();
    match kill_after {
        Some(_) => assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by SIGKILL"),
        None => assert!(status.success(), "{status}"),
    }
    acked
}

/// 1,000 verdicts streamed in rounds, the process SIGKILLed in the middle of each of the first
/// three; each round resumes after the last verdict found in the file.
#[test]
fn every_verdict_acknowledged_before_a_sigkill_is_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, audit) = dataset_and_audit(dir.path(), 20);
    let lines: Vec<(usize, String)> = (0..1000).map(|i| (i, stream_line(i, 20, "ana"))).collect();
    let mut next = 0;
    for (round, kill_after) in [Some(137), Some(401), Some(262), None].into_iter().enumerate() {
        let acked = stream(&audit, &lines[next..], kill_after);
        let a = Audit::open(&audit).expect("the audit opens after the kill");
        assert_eq!(a.integrity_check().unwrap(), ["ok"]);
        for (id, i) in &acked {
            let v =
                a.verdict(*id).unwrap().unwrap_or_else(|| panic!("acknowledged verdict {id} (line {i}) is missing"));
            assert_eq!((v.comment.as_str(), v.image_id.as_str()), (format!("ana {i}").as_str(), id_of(*i).as_str()));
        }
        let found = a.progress().unwrap().verdicts;
        eprintln!(
            "round {round}: {} verdicts acknowledged, {} in the file after the kill (from line {next})",
            acked.len(),
            found - next
        );
        assert!(
            found - next >= acked.len() && found - next <= acked.len() + 1,
            "at most the verdict in flight is saved unacknowledged"
        );
        next = found;
    }
    let a = Audit::open(&audit).unwrap();
    let all = a.verdicts().unwrap();
    assert_eq!(all.len(), 1000);
    for (i, v) in all.iter().enumerate() {
        assert_eq!(v.comment, format!("ana {i}"), "every line once, in order");
    }
}

fn id_of(line: usize) -> String {
    id(line % 20)
}

/// Two `record --jsonl -` processes on one file: each acknowledges a first verdict before either
/// gets the rest, so both hold the file open and write at the same time.
#[test]
fn two_processes_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, audit) = dataset_and_audit(dir.path(), 10);
    let mut writers: Vec<_> = ["ana", "ben"]
        .into_iter()
        .map(|who| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
                .args(["audit", "record", s(&audit), "--jsonl", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(stream_line(0, 10, who).as_bytes()).unwrap();
            stdin.flush().unwrap();
            let out = BufReader::new(child.stdout.take().unwrap());
            (who, child, Some(stdin), out)
        })
        .collect();
    let mut acked: Vec<i64> = Vec::new();
    for (_, _, _, out) in &mut writers {
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        acked.push(first.trim().parse().unwrap());
    }
    let feeders: Vec<_> = writers
        .iter_mut()
        .map(|(who, _, stdin, _)| {
            let (who, mut stdin) = (who.to_string(), stdin.take().unwrap());
            std::thread::spawn(move || {
                stdin.write_all((1..500).map(|i| stream_line(i, 10, &who)).collect::<String>().as_bytes()).unwrap()
            })
        })
        .collect();
    for (_, mut child, _, out) in writers {
        let ids: Vec<i64> = out.lines().map(|l| l.unwrap().parse().unwrap()).collect();
        assert_eq!(ids.len(), 499);
        acked.extend(ids);
        assert!(child.wait().unwrap().success());
    }
    feeders.into_iter().for_each(|f| f.join().unwrap());
    acked.sort();
    let a = Audit::open(&audit).unwrap();
    let stored = a.verdicts().unwrap();
    assert_eq!(stored.iter().map(|v| v.id.0).collect::<Vec<_>>(), acked, "1,000 distinct ids, all stored");
    for who in ["ana", "ben"] {
        let mine: Vec<&str> = stored.iter().filter(|v| v.annotator == who).map(|v| v.comment.as_str()).collect();
        assert_eq!(
            mine,
            (0..500).map(|i| format!("{who} {i}")).collect::<Vec<_>>(),
            "each writer's verdicts in its own order"
        );
    }
    let turns = stored.windows(2).filter(|w| w[0].annotator != w[1].annotator).count();
    eprintln!("the two writers' commits alternated {turns} times");
    assert_eq!(a.integrity_check().unwrap(), ["ok"]);
}

#[test]
fn a_dataset_that_moved_is_reported_per_image_and_the_audit_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (data, audit) = dataset_and_audit(dir.path(), 4);
    ok(&lantern(&["audit", "record", s(&audit), &id(1), "accept"]));
    let lost = std::fs::read_dir(data.join("images"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .find(|p| p.ends_with(format!("{}.png", id(2))))
        .unwrap();
    std::fs::remove_file(&lost).unwrap();
    let out = lantern(&["audit", "stats", s(&audit)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ok(&out).contains("1/4 images audited"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("image {}: {} is missing", id(2), lost.display())), "{stderr}");

    std::fs::rename(&data, dir.path().join("moved")).unwrap();
    let out = lantern(&["audit", "stats", s(&audit)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ok(&out).contains("1/4 images audited"), "the audit opens and reports progress");
    for i in 0..4 {
        assert!(
            stderr.contains(&format!("lantern: warning: image {}: ", id(i)))
                && stderr.contains("the dataset moved or lost the file"),
            "{stderr}"
        );
    }
    let recorded = ok(&lantern(&["audit", "record", s(&audit), &id(3), "flag"]));
    assert!(recorded.trim().parse::<i64>().is_ok_and(|v| v > 0), "verdicts can still be recorded: {recorded}");
    assert_eq!(ok(&lantern(&["audit", "export", s(&audit), "--format", "csv"])).lines().count(), 3);
}

/// Failing commands on `file`: every one exits 2 naming `needle` and leaves the bytes as they were.
fn assert_refused_untouched(file: &Path, needle: &str) {
    let before = std::fs::read(file).unwrap();
    for args in [
        vec!["audit", "stats", s(file)],
        vec!["audit", "record", s(file), "000000", "accept", "--annotator", "ana"],
        vec!["audit", "export", s(file), "--format", "json"],
    ] {
        assert_bad_input(&lantern(&args), &[needle, "left untouched"]);
        assert_eq!(std::fs::read(file).unwrap(), before, "{} was modified by {args:?}", file.display());
    }
}

#[test]
fn damaged_foreign_and_newer_files_are_refused_and_never_modified() {
    let dir = tempfile::tempdir().unwrap();
    let (_, audit) = dataset_and_audit(dir.path(), 40);
    let lines: String = (0..300).map(|i| stream_line(i, 40, "ana")).collect();
    let stream_file = dir.path().join("v.jsonl");
    std::fs::write(&stream_file, lines).unwrap();
    ok(&lantern(&["audit", "record", s(&audit), "--jsonl", s(&stream_file)]));
    let good = std::fs::read(&audit).unwrap();
    assert!(good.len() > 8 * 4096, "the audit spans several pages: {} bytes", good.len());

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()).unwrap();
    assert_refused_untouched(&garbage, "not an SQLite database (damaged, or another kind of file)");

    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert_refused_untouched(&truncated, "damaged");

    let scribbled = dir.path().join("scribbled.db");
    let mut bytes = good.clone();
    for b in &mut bytes[3 * 4096 + 100..5 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&scribbled, bytes).unwrap();
    assert_refused_untouched(&scribbled, "damaged");

    let foreign = dir.path().join("shop.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('x');")
        .unwrap();
    assert_refused_untouched(&foreign, "another program, with tables customers");

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert_refused_untouched(&empty, "an empty SQLite database");

    let newer = dir.path().join("newer.db");
    std::fs::write(&newer, &good).unwrap();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 3).unwrap();
    assert_refused_untouched(&newer, "newer Lantern (audit schema v3");

    assert_eq!(std::fs::read(&audit).unwrap(), good);
    assert!(
        ok(&lantern(&["audit", "stats", s(&audit)])).contains("40/40 images audited"),
        "the intact audit still opens"
    );
}

/// Two annotators audit the same images with the labels of a scikit-learn fixture case; the
/// merge prints and stores scikit-learn's kappa.
#[test]
fn merge_prints_and_stores_agreement() {
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit/kappa.json")).unwrap(),
    )
    .unwrap();
    let case = fixture["cases"].as_array().unwrap().iter().find(|c| c["a"].as_array().unwrap().len() == 20).unwrap();
    let expected = case["kappa"].as_f64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&lantern(&["synth", "--out", s(&data), "--count", "21", "--seed", "7", "--size", "32"]));
    let mut files = Vec::new();
    for (who, labels) in [("ana", &case["a"]), ("ben", &case["b"])] {
        let audit = dir.path().join(format!("{who}.db"));
        ok(&lantern(&["audit", "new", s(&audit), "--data", s(&data), "--format", "synth", "--annotator", who]));
        let lines: String = labels
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{{\"image\":\"{}\",\"verdict\":{l},\"box\":[0,0,{},9]}}\n",
                    id(i),
                    if who == "ana" { 9 } else { 4 }
                )
            })
            .collect();
        let file = dir.path().join(format!("{who}.jsonl"));
        std::fs::write(&file, lines).unwrap();
        ok(&lantern(&["audit", "record", s(&audit), "--jsonl", s(&file)]));
        files.push(audit);
    }
    ok(&lantern(&["audit", "record", s(&files[0]), &id(20), "flag"]));
    let merged = dir.path().join("m.db");
    let out = ok(&lantern(&["audit", "merge", s(&files[0]), s(&files[1]), "--out", s(&merged)]));
    assert!(out.contains("41 verdicts by 2 annotators (ana, ben), 21/21 images audited"), "{out}");
    assert!(out.contains(&format!("Cohen's kappa {expected:.3} on 20 accept/reject images")), "{out}");
    assert!(out.contains("mean IoU of corrected boxes 0.500 on 20"), "{out}");
    let a = Audit::open(&merged).unwrap();
    let pairs = a.agreement().unwrap();
    assert_eq!(pairs.len(), 1);
    assert!(
        (pairs[0].kappa.unwrap() - expected).abs() < 1e-12,
        "{} vs scikit-learn {expected}",
        pairs[0].kappa.unwrap()
    );
    assert!(ok(&lantern(&["audit", "stats", s(&merged)])).contains(&format!("Cohen's kappa {expected:.3}")));
    assert_bad_input(
        &lantern(&["audit", "merge", s(&files[0]), s(&files[1]), "--out", s(&merged)]),
        &["already exists"],
    );
    let other = dir.path().join("other");
    ok(&lantern(&["synth", "--out", s(&other), "--count", "21", "--seed", "8", "--size", "32"]));
    let c = dir.path().join("c.db");
    ok(&lantern(&["audit", "new", s(&c), "--data", s(&other), "--format", "synth"]));
    assert_bad_input(
        &lantern(&["audit", "merge", s(&files[0]), s(&c), "--out", s(&dir.path().join("m2.db"))]),
        &["different datasets"],
    );
}

/// The commands of tests/reference/make_audit_fixtures.py give the COCO export it checked with
/// pycocotools.
#[test]
fn the_coco_export_is_the_one_pycocotools_loaded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit");
    let commands: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("coco_commands.json")).unwrap()).unwrap();
    let checked: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("coco_export.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (data, audit, out) = (dir.path().join("data"), dir.path().join("a.db"), dir.path().join("coco.json"));
    for cmd in commands["commands"].as_array().unwrap() {
        let args: Vec<String> = cmd
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str().unwrap().replace("{data}", s(&data)).replace("{audit}", s(&audit)).replace("{out}", s(&out))
            })
            .collect();
        ok(&Command::new(env!("CARGO_BIN_EXE_lantern")).args(&args).output().unwrap());
    }
    let mine: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for key in ["images", "annotations", "categories"] {
        assert_eq!(mine[key], checked[key], "{key}");
    }
    assert_eq!(mine["annotations"].as_array().unwrap().len(), 3);
}
