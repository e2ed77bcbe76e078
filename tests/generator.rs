//! The weight-map generator end to end: one forward on the wgpu device (lavapipe here) against
//! the CPU; `lantern train generator` for a few steps on a tiny procedural set, then `lantern
//! explain` and `lantern eval` with the generator it wrote, and the errors when none fits.

use burn::tensor::{Device, Tensor, TensorData};
use lantern::device::{self, DeviceChoice};
use lantern::models::generator::{Decoder, Generator, GeneratorMeta, GeneratorShape};
use lantern::models::lantern_cnn::LanternCnn;
use lantern::models::network::host_values;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern")).args(args).output().expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A tiny classifier (three blocks, six classes) saved in `dir`.
fn tiny_classifier(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let device = Device::flex().autodiff();
    let cnn = lantern::models::init::seeded(&device, seed, || LanternCnn::new(&[4, 6, 8], 6, &device));
    let path = dir.join(name);
    cnn.save(&path).unwrap();
    path
}

#[test]
fn a_generator_forward_on_wgpu_matches_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let classifier = tiny_classifier(dir.path(), "tiny.safetensors", 1);
    let cpu = Device::flex();
    let net = lantern::models::load(&classifier, None, &cpu).unwrap();
    let shape = GeneratorShape::for_network(&net, None, Some(&[4, 4, 4])).unwrap();
    let decoder = lantern::models::init::seeded(&cpu, 2, || Decoder::new(&shape, &cpu));
    let meta = GeneratorMeta {
        classifier_sha256: lantern::digest::sha256_file(&classifier).unwrap(),
        classifier_arch: net.arch.clone(),
        input_size: 16,
        shape,
        objective: "classifier".into(),
        training: serde_json::json!({}),
    };
    let file = dir.path().join("tiny.generator.safetensors");
    Generator::save(&decoder, &meta, &file).unwrap();

    let gpu = device::choose(DeviceChoice::Wgpu).expect("a wgpu adapter (lavapipe: mesa-vulkan-drivers)");
    let values: Vec<f32> = (0..3 * 16 * 16).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    let run = |device: &Device| {
        let net = lantern::models::load(&classifier, None, device).unwrap();
        let g = Generator::load_for(&file, &meta.classifier_sha256, device).unwrap();
        let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 3, 16, 16]), device);
        host_values(g.forward(&net, x).unwrap())
    };
    let (on_cpu, on_gpu) = (run(&cpu), run(&gpu.device));
    assert_eq!(on_cpu.len(), 16 * 16);
    let spread = on_cpu.iter().fold(f32::MIN, |m, &v| m.max(v)) - on_cpu.iter().fold(f32::MAX, |m, &v| m.min(v));
    assert!(spread > 1e-3, "the map is not flat: spread {spread}");
    let diff = on_cpu.iter().zip(&on_gpu).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff <= 1e-4, "CPU and {} differ by {diff}", gpu.description);
}

#[test]
fn train_a_generator_from_the_cli_then_explain_and_evaluate_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let synth = lantern(&["synth", "--out", s(&data), "--count", "14", "--seed", "3", "--size", "64"]);
    assert!(synth.status.success(), "{}", text(&synth));
    let classifier = tiny_classifier(dir.path(), "tiny.safetensors", 4);
    let beside = dir.path().join("tiny.generator.safetensors");
    let args = [
        "train",
        "generator",
        "--classifier",
        s(&classifier),
        "--data",
        s(&data),
        "--format",
        "synth",
        "--val-count",
        "6",
        "--epochs",
        "2",
        "--batch",
        "4",
        "--widths",
        "4,4,4",
        "--seed",
        "5",
        "--device",
        "cpu",
    ];
    let train = lantern(&args);
    assert!(train.status.success(), "{}", text(&train));
    let out = text(&train);
    assert!(out.contains("epoch 2: loss") && out.contains("val_maxboxacc_v2"), "{out}");
    assert!(beside.is_file(), "the generator is written beside the classifier by default");
    let log = std::fs::read_to_string(dir.path().join("tiny.generator.log.csv")).unwrap();
    assert!(log.starts_with("epoch,loss,ce,area,tv,val_loss,val_area,val_fg_accuracy,val_maxboxacc_v2"), "{log}");
    assert_eq!(log.lines().count(), 3);
    assert!(dir.path().join("tiny.generator.plots").join("loss.png").is_file());
    // Run again: the finished run is found in its checkpoints, nothing is retrained.
    let again = lantern(&args);
    assert!(again.status.success() && text(&again).contains("continuing after 4 of 4 steps"), "{}", text(&again));

    // Explain: found beside the model without --generator.
    let image = data.join("images").join("circle");
    let image = std::fs::read_dir(&image).unwrap().next().unwrap().unwrap().path();
    let explained = dir.path().join("explained");
    let run = lantern(&[
        "explain",
        s(&image),
        "--model",
        s(&classifier),
        "--method",
        "generator,gradcam",
        "--out",
        s(&explained),
        "--json",
        "--device",
        "cpu",
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let records: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(records[0]["method"], "generator");
    let stem = image.file_stem().unwrap().to_str().unwrap();
    let npy = std::fs::read_dir(&explained)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("{stem}.generator.")))
        .count();
    assert!(npy >= 2, "overlay, map and record files for the generator");

    // Evaluate it next to CAM.
    let eval = lantern(&[
        "eval",
        "--data",
        s(&data),
        "--format",
        "synth",
        "--model",
        s(&classifier),
        "--methods",
        "cam,generator",
        "--out",
        s(&dir.path().join("eval")),
        "--limit",
        "4",
        "--device",
        "cpu",
    ]);
    assert!(eval.status.success(), "{}", text(&eval));
    assert!(text(&eval).contains("| generator |"), "{}", text(&eval));

    // Another classifier: the generator beside it does not fit, and the reason is given.
    let other = tiny_classifier(dir.path(), "other.safetensors", 9);
    let wrong = lantern(&[
        "explain",
        s(&image),
        "--model",
        s(&other),
        "--method",
        "generator",
        "--generator",
        s(&beside),
        "--out",
        s(&explained),
    ]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    assert!(text(&wrong).contains("was trained for another classifier"), "{}", text(&wrong));
    let none = lantern(&["explain", s(&image), "--model", s(&other), "--method", "generator", "--out", s(&explained)]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    assert!(text(&none).contains("Generator cannot explain this model: no weight-map generator"), "{}", text(&none));
}
