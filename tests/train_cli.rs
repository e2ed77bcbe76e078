//! `lantern train classifier` end to end on a tiny configuration: the weights file loads as the
//! demo architecture, the log has one row per epoch under named columns, a second run finds its
//! checkpoints and ends with the same weights, and checkpoints of another configuration are
//! refused with one line and exit code 2.

use lantern::models::StateDict;
use std::path::Path;
use std::process::{Command, Output};

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

const TINY: [&str; 14] = [
    "--widths",
    "4,8",
    "--count",
    "48",
    "--val-count",
    "16",
    "--epochs",
    "2",
    "--batch",
    "16",
    "--min-size",
    "40",
    "--max-size",
    "56",
];

fn train(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "classifier", "--out", s(out)];
    args.extend(TINY);
    args.extend(extra);
    lantern(&args)
}

#[test]
fn training_writes_weights_log_and_checkpoints_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn.safetensors");
    let first = train(&out, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("epoch 2: loss"), "{stdout}");

    let log = std::fs::read_to_string(dir.path().join("cnn.log.csv")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "epoch,loss,train_accuracy,val_accuracy");
    assert_eq!(lines.len(), 3, "{log}");
    for (i, line) in lines[1..].iter().enumerate() {
        let values: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(values[0], (i + 1) as f64);
        assert!(values[1] > 0.0 && values[1] < 10.0, "a cross-entropy over 6 classes: {line}");
        assert!((0.0..=1.0).contains(&values[2]) && (0.0..=1.0).contains(&values[3]), "{line}");
    }
    let layers = lantern(&["layers", "--model", s(&out)]);
    let text = String::from_utf8_lossy(&layers.stdout);
    assert!(layers.status.success() && text.contains("lantern_cnn") && text.contains("blocks.1"), "{text}");
    let checkpoints: Vec<String> = std::fs::read_dir(dir.path().join("cnn.checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(checkpoints.contains(&"step-00000006-epoch-0002".to_string()), "{checkpoints:?}");

    let weights = StateDict::load(&out).unwrap().tensors;
    std::fs::remove_file(&out).unwrap();
    let again = train(&out, &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stderr).contains("continuing after 6 of 6 steps"));
    assert!(StateDict::load(&out).unwrap().tensors == weights, "the finished run's weights, from its checkpoint");
    assert_eq!(std::fs::read_to_string(dir.path().join("cnn.log.csv")).unwrap(), log);
}

#[test]
fn checkpoints_of_another_configuration_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn.safetensors");
    assert!(train(&out, &[]).status.success());
    let other = train(&out, &["--lr", "0.1"]);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reason.len(), 1, "{stderr}");
    assert!(
        reason[0].contains("cnn.checkpoints") && reason[0].contains("task.learning_rate: 0.002 there, 0.1 now"),
        "{}",
        reason[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
