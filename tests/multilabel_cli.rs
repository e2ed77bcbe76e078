//! Multi-label models from the command line: `lantern synth --multilabel` writes the benchmark,
//! `lantern train multilabel` trains with each scheme, with and without BoostLU, and reports mAP
//! and per-label MaxBoxAccV2; `lantern explain --target present` explains every present label, and
//! `--method boostcam --boost-alpha` re-weights the CAM; bad flags give one line and exit code 2.

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

const TINY: [&str; 16] = [
    "--widths",
    "4,8",
    "--size",
    "32",
    "--images",
    "40",
    "--epochs",
    "2",
    "--batch",
    "8",
    "--test-count",
    "12",
    "--lr",
    "0.01",
    "--seed",
    "5",
];

fn train(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "multilabel", "--out", s(out)];
    args.extend(TINY);
    args.extend(extra);
    lantern(&args)
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.with_extension("report.json")).unwrap()).unwrap()
}

#[test]
fn every_scheme_trains_with_and_without_boostlu_and_reports_map_and_localization() {
    let dir = tempfile::tempdir().unwrap();
    for (scheme, boost) in [("an", false), ("ll-r", true), ("ll-ct", false), ("ll-cp", true)] {
        let out = dir.path().join(format!("{scheme}-{boost}.safetensors"));
        let extra: &[&str] = if boost { &["--scheme", scheme, "--boostlu"] } else { &["--scheme", scheme] };
        let o = train(&out, extra);
        assert!(o.status.success(), "{scheme}: {}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("best epoch") && stdout.contains("test (12 images): mAP"), "{stdout}");
        let r = report(&out);
        assert_eq!(r["config"]["scheme"], scheme);
        assert_eq!(r["config"]["alpha"], if boost { 5.0 } else { 1.0 });
        let map = r["test"]["map"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&map), "{r}");
        let labels = r["test"]["labels"].as_array().unwrap();
        assert_eq!(labels.len(), 6);
        let mean_ap = labels.iter().map(|l| l["ap"].as_f64().unwrap()).sum::<f64>() / 6.0;
        assert!((mean_ap - map).abs() < 1e-9, "mAP is the mean of the label APs");
        assert!(labels.iter().all(|l| (0.0..=100.0).contains(&l["max_box_acc_v2"].as_f64().unwrap())));
        let log = std::fs::read_to_string(out.with_extension("log.csv")).unwrap();
        assert_eq!(log.lines().next(), Some("epoch,loss,modified,val_map"));
        assert_eq!(log.lines().count(), 3);
        // The file says how it runs: sigmoid outputs and BoostLU's alpha.
        let layers = lantern(&["layers", "--model", s(&out)]);
        assert!(layers.status.success(), "{}", String::from_utf8_lossy(&layers.stderr));
    }
}

#[test]
fn explain_writes_one_file_set_per_present_label_and_boostcam_follows_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ml.safetensors");
    let o = train(&model, &["--boostlu"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let data = dir.path().join("data");
    let o = lantern(&["synth", "--multilabel", "--out", s(&data), "--count", "2", "--size", "32", "--seed", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let image = data.join("images/000000.png");

    // With a threshold of 0 every label is present: six file sets, one per label name.
    let out = dir.path().join("present");
    let o = lantern(&[
        "explain",
        s(&image),
        "--model",
        s(&model),
        "--target",
        "present",
        "--label-threshold",
        "0",
        "--method",
        "cam",
        "--out",
        s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(records.len(), 6);
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for shape in lantern::datasets::synth::SHAPES {
        assert!(names.iter().any(|n| n.starts_with(&format!("000000-{shape}"))), "{shape}: {names:?}");
    }

    // BoostLU CAM: a larger alpha never lowers the map and raises it somewhere.
    let map_at = |alpha: &str| {
        let out = dir.path().join(format!("boost-{alpha}"));
        let o = lantern(&[
            "explain",
            s(&image),
            "--model",
            s(&model),
            "--target",
            "top1",
            "--method",
            "boostcam",
            "--boost-alpha",
            alpha,
            "--out",
            s(&out),
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let npy = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "npy"))
            .unwrap();
        let bytes = std::fs::read(npy).unwrap();
        let reader = npyz::NpyFile::new(&bytes[..]).unwrap();
        reader.into_vec::<f32>().unwrap()
    };
    let (one, twenty) = (map_at("1"), map_at("20"));
    assert!(one.iter().zip(&twenty).all(|(a, b)| b + 1e-6 >= *a));
    assert!(one.iter().chain(&twenty).all(|v| (0.0..=1.0).contains(v)));
    // Where the class activation map is positive (sigmoid above one half), alpha 20 raises it;
    // a map negative everywhere (a label the small model finds absent) stays as it is.
    if one.iter().any(|&a| a > 0.55) {
        assert!(one.iter().zip(&twenty).any(|(a, b)| b - a > 1e-3), "alpha 20 raises the positive evidence");
    } else {
        assert!(one.iter().zip(&twenty).all(|(a, b)| (b - a).abs() < 1e-6), "nothing positive to boost");
    }
}

#[test]
fn bad_multilabel_flags_give_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    for (flags, needle) in [
        (&["--val-fraction", "1.5"][..], "--val-fraction"),
        (&["--boostlu", "--alpha", "0.5"][..], "--alpha"),
        (&["--size", "8"][..], "--size"),
        (&["--scheme", "bogus"][..], "scheme"),
    ] {
        let o = train(&out, flags);
        assert_eq!(o.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{flags:?}: {err}");
    }
    let o = lantern(&[
        "explain",
        "x.png",
        "--model",
        "m",
        "--target",
        "present",
        "--label-threshold",
        "2",
        "--out",
        s(dir.path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
