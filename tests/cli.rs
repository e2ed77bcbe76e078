//! The `lantern` binary end to end: `explain` on the bundled demo, the one-line errors with exit
//! code 2 on bad input, and a CI-sized `lantern eval` on the procedural benchmark, interrupted and
//! resumed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_model() -> PathBuf {
    root().join("assets/demo/lantern_cnn.safetensors")
}

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern")).args(args).env("NO_COLOR", "1").output().expect("the lantern binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Exit code 2 and a one-line reason on standard error that mentions `needle`.
fn assert_bad_input(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reason.len(), 1, "one reason line expected: {stderr}");
    assert!(reason[0].contains(needle), "'{}' should mention '{needle}'", reason[0]);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn explain_writes_overlay_raw_map_and_record_for_each_method() {
    let dir = tempfile::tempdir().unwrap();
    let star = root().join("assets/demo/images/star.png");
    let out = lantern(&["explain", s(&star), "--model", s(&demo_model()), "--method", "gradcam,cam", "--device", "cpu", "--out", s(dir.path()), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for method in ["gradcam", "cam"] {
        for suffix in ["overlay.png", "map.npy", "map.png", "json"] {
            let f = dir.path().join(format!("star.{method}.{suffix}"));
            assert!(f.metadata().map(|m| m.len() > 0).unwrap_or(false), "{} missing", f.display());
        }
        let overlay = image::open(dir.path().join(format!("star.{method}.overlay.png"))).unwrap();
        assert_eq!((overlay.width(), overlay.height()), (224, 224), "the overlay covers the full image");
        let map16 = image::open(dir.path().join(format!("star.{method}.map.png"))).unwrap();
        assert!(matches!(map16, image::DynamicImage::ImageLuma16(_)), "the raw map PNG is 16-bit grey");
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join(format!("star.{method}.json"))).unwrap()).unwrap();
        assert_eq!(record["method"], method);
        assert_eq!(record["predictions"].as_array().unwrap().len(), 5);
        assert_eq!(record["predictions"][0]["label"], "star", "the demo model recognises its demo star");
        assert_eq!(record["target"]["label"], "star");
        assert!(record["timing_ms"].is_object());
    }
}

#[test]
fn bad_images_give_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = demo_model();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let star = std::fs::read(root().join("assets/demo/images/star.png")).unwrap();
    let truncated = dir.path().join("truncated.png");
    std::fs::write(&truncated, &star[..star.len() / 2]).unwrap();
    let missing = dir.path().join("missing.jpg");
    let out = dir.path().join("out");
    for (image, needle) in [(&missing, "missing.jpg"), (&text, "notes.png"), (&truncated, "truncated.png")] {
        let run = lantern(&["explain", s(image), "--model", s(&model), "--device", "cpu", "--out", s(&out)]);
        assert_bad_input(&run, needle);
    }
    let several = lantern(&["explain", s(&missing), s(&root().join("assets/demo/images/ring.png")), "--model", s(&model), "--device", "cpu", "--out", s(&out)]);
    assert_bad_input(&several, "1 of 2 images could not be explained");
    assert!(out.join("ring.gradcam.overlay.png").exists(), "the good image is still explained");
}

#[test]
fn bad_models_layers_and_classes_give_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let star = root().join("assets/demo/images/star.png");
    let out = dir.path().join("out");
    let garbage = dir.path().join("garbage.pth");
    std::fs::write(&garbage, vec![0x5au8; 4096]).unwrap();
    let weights = std::fs::read(demo_model()).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &weights[..weights.len() / 3]).unwrap();
    for model in [&garbage, &truncated] {
        assert_bad_input(&lantern(&["layers", "--model", s(model)]), model.file_name().unwrap().to_str().unwrap());
    }
    let model = demo_model();
    assert_bad_input(&lantern(&["explain", s(&star), "--model", s(&model), "--layer", "layer9", "--out", s(&out)]), "layer9");
    assert_bad_input(&lantern(&["explain", s(&star), "--model", s(&model), "--target", "6", "--out", s(&out)]), "6");
    assert_bad_input(&lantern(&["layers", "--model", s(&model), "--arch", "resnet18"]), "resnet18");
}

#[test]
fn out_of_range_method_flags_are_refused_with_the_flag_and_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let star = root().join("assets/demo/images/star.png");
    let out = dir.path().join("out");
    let model = demo_model();
    for (flag, value) in [("--keep", "0"), ("--keep", "1.5"), ("--steps", "1"), ("--window", "0"), ("--masks", "0"), ("--cells", "0"), ("--sigma", "-1"), ("--batch", "0")] {
        let setting = format!("{flag}={value}");
        let run = lantern(&["explain", s(&star), "--model", s(&model), "--method", "rise", "--device", "cpu", "--out", s(&out), &setting]);
        assert_bad_input(&run, flag);
        assert!(String::from_utf8_lossy(&run.stderr).contains(" to "), "the range is given: {}", String::from_utf8_lossy(&run.stderr));
    }
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "nothing is written for a refused run");
}

#[test]
fn device_auto_keeps_the_vulkan_loaders_noise_off_the_terminal_without_a_gpu() {
    let run = Command::new(env!("CARGO_BIN_EXE_lantern")).args(["layers", "--model", s(&demo_model())]).env_remove("XDG_RUNTIME_DIR").output().unwrap();
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !lantern::device::gpu_possible() {
        assert!(stdout.contains("device: CPU"), "{stdout}");
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    }
}

#[test]
fn layers_and_methods_list_what_can_be_explained() {
    let layers = lantern(&["layers", "--model", s(&demo_model())]);
    assert!(layers.status.success());
    let text = String::from_utf8_lossy(&layers.stdout);
    assert!(text.contains("blocks.0") && text.contains("lantern_cnn"), "{text}");
    let methods = lantern(&["methods"]);
    let text = String::from_utf8_lossy(&methods.stdout);
    for name in ["cam", "gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam", "eigengradcam", "scorecam", "ablationcam", "saliency", "inputxgradient", "smoothgrad", "integratedgradients", "guidedbackprop", "guidedgradcam", "occlusion", "rise"] {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(name)), "{name} missing from:\n{text}");
    }
}

/// The CI-sized localisation benchmark: a small held-out split, two methods, the report files;
/// then the run is "interrupted" (its state cut mid-line) and resumed to the same summary.
#[test]
fn eval_reports_on_the_procedural_benchmark_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("heldout");
    let out = dir.path().join("eval");
    let synth = lantern(&["synth", "--out", s(&data), "--count", "12", "--seed", "4242", "--size", "128"]);
    assert!(synth.status.success(), "{}", String::from_utf8_lossy(&synth.stderr));
    let eval = || lantern(&["eval", "--data", s(&data), "--format", "synth", "--methods", "cam,gradcam", "--device", "cpu", "--out", s(&out)]);
    let first = eval();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    for f in ["per_image.csv", "summary.md", "summary.json", "state.jsonl"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let plots: Vec<_> = std::fs::read_dir(out.join("plots")).unwrap().filter_map(|e| e.ok()).collect();
    assert!(plots.iter().any(|e| e.file_name().to_string_lossy().ends_with(".png")), "plots are written");
    let csv = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 12 * 2, "a header and one row per image and method");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let methods = summary["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    for m in methods {
        let acc = m["max_box_acc"].as_f64().expect("MaxBoxAcc is measured on boxes");
        let pxap = m["pxap"].as_f64().expect("PxAP is measured on masks");
        assert!((0.0..=100.0).contains(&acc) && (0.0..=100.0).contains(&pxap), "{m}");
    }

    let state = std::fs::read_to_string(out.join("state.jsonl")).unwrap();
    let lines: Vec<&str> = state.lines().collect();
    let mut cut = lines[..lines.len() / 2].join("\n");
    cut.push('\n');
    cut.push_str(&lines[lines.len() / 2][..20]);
    std::fs::write(out.join("state.jsonl"), cut).unwrap();
    let second = eval();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let resumed = std::fs::read_to_string(out.join("state.jsonl")).unwrap();
    assert_eq!(resumed.lines().count(), 24, "the torn line is dropped and the missing pairs are redone");
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for (a, b) in again["methods"].as_array().unwrap().iter().zip(methods) {
        for key in ["max_box_acc", "pxap", "gt_known_loc", "pointing_game", "box_curve"] {
            assert_eq!(a[key], b[key], "{key} of {} after resuming", a["method"]);
        }
    }
}
