//! The `lantern` binary end to end: `explain` and `bench` on the bundled demo (`explain` also
//! without `--model`), `open` on an audit file, the one-line errors
//! with exit code 2 on bad input, and a CI-sized `lantern eval` on the procedural benchmark,
//! interrupted and resumed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_model() -> PathBuf {
    root().join("assets/demo/lantern_cnn.safetensors")
}

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
    let out = lantern(&[
        "explain",
        s(&star),
        "--model",
        s(&demo_model()),
        "--method",
        "gradcam,cam",
        "--device",
        "cpu",
        "--out",
        s(dir.path()),
        "--json",
    ]);
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
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("star.{method}.json"))).unwrap()).unwrap();
        assert_eq!(record["method"], method);
        assert_eq!(record["predictions"].as_array().unwrap().len(), 5);
        assert_eq!(record["predictions"][0]["label"], "star", "the demo model recognises its demo star");
        assert_eq!(record["target"]["label"], "star");
        assert!(record["timing_ms"].is_object());
    }
}

#[test]
fn explain_without_a_model_uses_the_bundled_demo_classifier_as_the_window_does() {
    let dir = tempfile::tempdir().unwrap();
    let star = root().join("assets/demo/images/star.png");
    let out = lantern(&[
        "explain",
        s(&star),
        "--method",
        "gradcam,generator",
        "--device",
        "cpu",
        "--out",
        s(dir.path()),
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for method in ["gradcam", "generator"] {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("star.{method}.json"))).unwrap()).unwrap();
        assert_eq!(record["predictions"][0]["label"], "star", "the demo model recognises its demo star");
    }
    let listed = lantern(&["layers"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("bundled demo classifier"));
    assert_bad_input(&lantern(&["layers", "--arch", "resnet18"]), "--arch");
}

#[test]
fn open_takes_an_audit_file_alone_for_audit_mode() {
    use lantern::cli::{Outcome, run_from};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    std::fs::write(&db, b"SQLite format 3\0").unwrap();
    let star = root().join("assets/demo/images/star.png");
    assert_eq!(
        run_from(["lantern", "open", s(&db)]),
        Outcome::Window { paths: vec![], model: None, audit: Some(db.clone()), camera: None }
    );
    assert_eq!(
        run_from(["lantern", "open", s(&star)]),
        Outcome::Window { paths: vec![star.clone()], model: None, audit: None, camera: None }
    );
    assert_bad_input(&lantern(&["open", s(&db), s(&star)]), "audit");
}

#[test]
fn open_with_a_camera_says_why_it_cannot_and_the_synthetic_scene_needs_none() {
    use lantern::camera::CameraChoice;
    use lantern::cli::{Outcome, run_from};
    // A build without the `camera` feature says so and how to get it; a build with it, on a
    // machine without a camera, says there is none. Either way no window opens and the exit is 2.
    let has_camera = lantern::camera::check(CameraChoice::Device(0)).is_ok();
    if !has_camera {
        let needle = if cfg!(feature = "camera") { "no camera" } else { "--features camera" };
        assert_bad_input(&lantern(&["open", "--camera"]), needle);
        assert_bad_input(&lantern(&["open", "--camera", "3"]), "camera");
    }
    let typo = lantern(&["open", "--camera", "webcam"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("'webcam' is not a camera"));
    assert_eq!(
        run_from(["lantern", "open", "--camera", "synthetic"]),
        Outcome::Window { paths: vec![], model: None, audit: None, camera: Some(CameraChoice::Synthetic) }
    );
}

#[test]
fn bench_reports_medians_and_skips_the_class_switch_when_asked() {
    let (star, model) = (root().join("assets/demo/images/star.png"), demo_model());
    let base = ["bench", s(&star), "--model", s(&model), "--device", "cpu", "--repeat", "2"];
    let both = lantern(&[&base[..], &["--method", "gradcam"]].concat());
    assert!(both.status.success(), "{}", String::from_utf8_lossy(&both.stderr));
    let report: serde_json::Value = serde_json::from_slice(&both.stdout).unwrap();
    assert_eq!((report["method"].as_str(), report["repeat"].as_u64()), (Some("gradcam"), Some(2)));
    assert!(
        report["explain_ms"].as_f64().unwrap() > 0.0 && report["switch_class_ms"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    let one = lantern(&[&base[..], &["--method", "rise", "--masks", "64", "--no-switch"]].concat());
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    let report: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert!(report["explain_ms"].as_f64().unwrap() > 0.0 && report.get("switch_class_ms").is_none(), "{report}");
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .arg("methods")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // As `lantern methods | head -0`: the reader closes before the first line is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
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
    let several = lantern(&[
        "explain",
        s(&missing),
        s(&root().join("assets/demo/images/ring.png")),
        "--model",
        s(&model),
        "--device",
        "cpu",
        "--out",
        s(&out),
    ]);
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
    assert_bad_input(
        &lantern(&["explain", s(&star), "--model", s(&model), "--layer", "layer9", "--out", s(&out)]),
        "layer9",
    );
    assert_bad_input(&lantern(&["explain", s(&star), "--model", s(&model), "--target", "6", "--out", s(&out)]), "6");
    assert_bad_input(&lantern(&["layers", "--model", s(&model), "--arch", "resnet18"]), "resnet18");
}

#[test]
fn out_of_range_method_flags_are_refused_with_the_flag_and_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let star = root().join("assets/demo/images/star.png");
    let out = dir.path().join("out");
    let model = demo_model();
    for (flag, value) in [
        ("--keep", "0"),
        ("--keep", "1.5"),
        ("--steps", "1"),
        ("--window", "0"),
        ("--masks", "0"),
        ("--cells", "0"),
        ("--sigma", "-1"),
        ("--batch", "0"),
    ] {
        let setting = format!("{flag}={value}");
        let run = lantern(&[
            "explain",
            s(&star),
            "--model",
            s(&model),
            "--method",
            "rise",
            "--device",
            "cpu",
            "--out",
            s(&out),
            &setting,
        ]);
        assert_bad_input(&run, flag);
        assert!(
            String::from_utf8_lossy(&run.stderr).contains(" to "),
            "the range is given: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "nothing is written for a refused run");
}

#[test]
fn device_auto_keeps_the_vulkan_loaders_noise_off_the_terminal_without_a_gpu() {
    let run = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["layers", "--model", s(&demo_model())])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
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
    for name in [
        "cam",
        "gradcam",
        "gradcam++",
        "xgradcam",
        "layercam",
        "hirescam",
        "eigencam",
        "eigengradcam",
        "scorecam",
        "ablationcam",
        "saliency",
        "inputxgradient",
        "smoothgrad",
        "integratedgradients",
        "guidedbackprop",
        "guidedgradcam",
        "occlusion",
        "rise",
    ] {
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
    let eval = || {
        lantern(&[
            "eval",
            "--data",
            s(&data),
            "--format",
            "synth",
            "--methods",
            "cam,gradcam",
            "--device",
            "cpu",
            "--out",
            s(&out),
        ])
    };
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

/// A procedural split of `count` images of `size` pixels in `dir`.
fn synth(dir: &Path, count: usize, size: u32) {
    let run = lantern(&[
        "synth",
        "--out",
        s(dir),
        "--count",
        &count.to_string(),
        "--seed",
        "77",
        "--size",
        &size.to_string(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The CSV's rows as maps from column name to text.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines.map(|l| header.iter().map(|h| h.to_string()).zip(l.split(',').map(str::to_string)).collect()).collect()
}

/// Images three times as wide as high with the object in the left third: wsolevaluation's
/// protocol (the whole image resized, no crop) keeps every box, the model's center crop keeps
/// only the empty middle third.
#[test]
fn eval_follows_wsolevaluations_protocol_by_default_and_states_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("wide");
    synth(&data, 3, 64);
    let mut annotations = json(&data.join("annotations.json"));
    for a in annotations["images"].as_array_mut().unwrap() {
        let image = image::open(data.join(a["file"].as_str().unwrap())).unwrap().into_rgb8();
        let mut wide = image::RgbImage::from_pixel(192, 64, image::Rgb([128, 128, 128]));
        image::imageops::replace(&mut wide, &image, 0, 0);
        wide.save(data.join(a["file"].as_str().unwrap())).unwrap();
        let mask = image::open(data.join(a["mask"].as_str().unwrap())).unwrap().into_luma8();
        let mut wide_mask = image::GrayImage::new(192, 64);
        image::imageops::replace(&mut wide_mask, &mask, 0, 0);
        wide_mask.save(data.join(a["mask"].as_str().unwrap())).unwrap();
        a["width"] = 192.into();
    }
    std::fs::write(data.join("annotations.json"), annotations.to_string()).unwrap();
    let eval = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--data",
            s(&data),
            "--format",
            "synth",
            "--methods",
            "gradcam",
            "--device",
            "cpu",
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        let run = lantern(&args);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    };
    let wsol = dir.path().join("wsol");
    eval(&wsol, &[]);
    let summary = json(&wsol.join("summary.json"));
    assert_eq!(summary["protocol"], "wsol");
    assert!(summary["protocol_description"].as_str().unwrap().contains("112x112 with no crop"), "{summary}");
    let md = std::fs::read_to_string(wsol.join("summary.md")).unwrap();
    assert!(md.contains("Protocol `wsol`") && md.contains("no crop"), "{md}");
    assert!(summary["methods"][0]["max_box_acc"].is_number(), "every box is in the frame: {summary}");
    assert!(csv_rows(&wsol.join("per_image.csv")).iter().all(|r| !r["max_iou_v1"].is_empty()));

    let crop = dir.path().join("crop");
    eval(&crop, &["--protocol", "crop"]);
    let summary = json(&crop.join("summary.json"));
    assert_eq!(summary["protocol"], "crop");
    assert!(summary["methods"][0]["max_box_acc"].is_null(), "the center crop holds no object: {summary}");
    assert!(csv_rows(&crop.join("per_image.csv")).iter().all(|r| r["max_iou_v1"].is_empty()));
    let unknown =
        lantern(&["eval", "--data", s(&data), "--format", "synth", "--protocol", "center", "--out", s(&crop)]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown protocol 'center' (choose wsol or crop)"));
}

/// A dataset with a seventh class the six-class demo model does not have: refused without a
/// class map; with one, the maps explain the mapped model class.
#[test]
fn eval_refuses_classes_that_do_not_fit_the_model_and_reads_a_class_map() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("seven");
    synth(&data, 4, 64);
    let mut annotations = json(&data.join("annotations.json"));
    annotations["classes"].as_array_mut().unwrap().push("hexagon".into());
    std::fs::write(data.join("annotations.json"), annotations.to_string()).unwrap();
    let out = dir.path().join("out");
    let eval = |extra: &[&str]| {
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        lantern(&args)
    };
    let refused = eval(&[]);
    assert_bad_input(&refused, "--class-map");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("7 classes"));
    assert!(!out.exists(), "nothing is written for a refused run");

    let shapes = ["circle", "square", "triangle", "star", "cross", "ring"];
    let mut map = String::from("# dataset class -> model class, shifted by one\n");
    for (i, name) in shapes.iter().enumerate() {
        map.push_str(&format!("{name} {}\n", (i + 1) % 6));
    }
    map.push_str("6 0\n");
    let map_file = dir.path().join("map.txt");
    std::fs::write(&map_file, &map).unwrap();
    let run = eval(&["--class-map", s(&map_file)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = csv_rows(&out.join("per_image.csv"));
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let class: usize = r["class"].parse().unwrap();
        assert_eq!(r["explained"], ((class + 1) % 6).to_string(), "{r:?}");
    }

    std::fs::write(&map_file, "circle 1\nsquare 9\n").unwrap();
    assert_bad_input(&eval(&["--class-map", s(&map_file), "--fresh"]), "map.txt:2");
    std::fs::write(&map_file, "circle 1\n").unwrap();
    assert_bad_input(&eval(&["--class-map", s(&map_file), "--fresh"]), "does not map dataset class");
}

/// A second run into the same folder with other settings is refused with what changed and
/// leaves the state as it was (a coarser --interval used to index past the end of the old rows);
/// --fresh starts over.
#[test]
fn eval_resume_is_keyed_on_the_settings_and_never_mixes_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 3, 64);
    let out = dir.path().join("out");
    let eval = |extra: &[&str]| {
        let mut args = vec![
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
        ];
        args.extend_from_slice(extra);
        lantern(&args)
    };
    let first = eval(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let state = std::fs::read_to_string(out.join("state.jsonl")).unwrap();
    let settings = json(&out.join("settings.json"));
    assert_eq!(settings["interval"], 0.01);
    assert_eq!(settings["model_sha256"].as_str().unwrap().len(), 64);

    for (extra, change) in [
        (&["--interval", "0.05"][..], "interval: 0.01 -> 0.05"),
        (&["--limit", "2"][..], "limit: null -> 2"),
        (&["--layer", "blocks.3"][..], "layer:"),
        (&["--protocol", "crop"][..], "protocol:"),
        (&["--seed", "5"][..], "params:"),
    ] {
        let refused = eval(extra);
        assert_bad_input(&refused, change);
        assert_bad_input(&refused, "--fresh");
        assert_eq!(std::fs::read_to_string(out.join("state.jsonl")).unwrap(), state, "{extra:?} left the state alone");
    }
    let again = eval(&[]);
    assert!(again.status.success(), "the same settings resume: {}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read_to_string(out.join("state.jsonl")).unwrap(), state, "nothing was left to do");

    let fresh = eval(&["--interval", "0.05", "--fresh"]);
    assert!(fresh.status.success(), "{}", String::from_utf8_lossy(&fresh.stderr));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("state.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r["v1_ious"].as_array().unwrap().len() == 20),
        "every row has the 20 thresholds of 0.05"
    );
    assert_eq!(json(&out.join("summary.json"))["thresholds"].as_array().unwrap().len(), 20);
}

#[test]
fn eval_numeric_flags_are_refused_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synth(&data, 2, 64);
    let out = dir.path().join("out");
    for (flag, value) in [
        ("--limit", "0"),
        ("--interval", "0"),
        ("--interval", "1"),
        ("--interval", "1.5"),
        ("--interval", "-0.1"),
        ("--interval", "NaN"),
        ("--interval", "0.00001"),
        ("--keep", "0"),
        ("--masks", "0"),
        ("--batch", "0"),
        ("--window", "0"),
    ] {
        let setting = format!("{flag}={value}");
        let run = lantern(&[
            "eval",
            "--data",
            s(&data),
            "--format",
            "synth",
            "--methods",
            "rise",
            "--device",
            "cpu",
            "--out",
            s(&out),
            &setting,
        ]);
        assert_bad_input(&run, flag);
    }
    assert!(!out.exists(), "nothing is written for a refused run");
}
