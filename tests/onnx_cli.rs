//! ONNX models from the command line: a ViT, a Swin and a ConvNeXt open and explain with no
//! flag beyond the model file, `lantern layers` lists the graph's tensors by module, and
//! unsupported or hostile files (unknown operators, truncated or random bytes, out-of-order nodes,
//! huge declared shapes, external data outside the model's folder) are refused with exit code 2
//! and one line saying why.

mod common;

use common::fixtures;
use onnx_ir::{Message, ModelProto};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lantern binary runs")
}

fn model(name: &str) -> PathBuf {
    fixtures().join("onnx").join(format!("{name}.onnx"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn photo() -> PathBuf {
    fixtures().join("photos").join("chelsea_224.png")
}

/// Exit code 2 and the reason, containing `needle`, in one line on standard error (after the
/// device line `explain` prints first; clap's own errors add a usage line).
fn assert_refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().filter(|l| l.contains(needle)).count(), 1, "'{needle}' in one line: {err}");
    assert!(
        err.lines().filter(|l| l.starts_with("lantern:") || l.starts_with("error:")).count() == 1,
        "one error line: {err}"
    );
}

#[test]
fn transformers_and_convnets_explain_with_only_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["vit", "swin", "convnext"] {
        let out_dir = dir.path().join(name);
        let out =
            lantern(&["explain", "--model", s(&model(name)), "--method", "gradcam", "--out", s(&out_dir), s(&photo())]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let written: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(written.iter().any(|f| f.ends_with(".png")), "{name}: {written:?}");
    }
}

#[test]
fn layers_lists_tensors_by_module_with_shapes_and_layouts() {
    let out = lantern(&["layers", "--model", s(&model("vit"))]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("default blocks.1.norm1"), "{text}");
    assert!(text.contains("tokens 1+4x4"), "{text}");
    assert!(text.contains("/blocks/blocks.1/norm1/LayerNormalization_output_0"), "{text}");
    assert!(text.contains("attention: 2 blocks"), "{text}");
    let swin = String::from_utf8_lossy(&lantern(&["layers", "--model", s(&model("swin"))]).stdout).into_owned();
    assert!(swin.contains("NHWC"), "{swin}");
}

#[test]
fn the_token_layout_can_be_overridden_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ok = lantern(&[
        "explain",
        "--model",
        s(&model("vit")),
        "--method",
        "gradcam",
        "--tokens",
        "1:4x4",
        "--out",
        s(dir.path()),
        s(&photo()),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_refused(&lantern(&["layers", "--model", s(&model("vit")), "--tokens", "3:5x5"]), "no layer");
    assert_refused(&lantern(&["layers", "--model", s(&model("vit")), "--tokens", "5x5"]), "PREFIX:HxW");
}

#[test]
fn methods_that_cannot_apply_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = lantern(&[
        "explain",
        "--model",
        s(&model("vit")),
        "--method",
        "guidedbackprop",
        "--out",
        s(dir.path()),
        s(&photo()),
    ]);
    assert_refused(&out, "ONNX");
    let out = lantern(&[
        "explain",
        "--model",
        s(&model("resnet")),
        "--method",
        "rollout",
        "--out",
        s(dir.path()),
        s(&photo()),
    ]);
    assert_refused(&out, "no attention");
    let out = lantern(&[
        "explain",
        "--model",
        s(&model("vit")),
        "--method",
        "rollout",
        "--discard",
        "0.5",
        "--out",
        s(dir.path()),
        s(&photo()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The ResNet fixture, changed by `edit`, written to `dir`.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut ModelProto)) -> PathBuf {
    let mut m = ModelProto::parse_from_bytes(&std::fs::read(model("resnet")).unwrap()).unwrap();
    edit(&mut m);
    let path = dir.join(name);
    std::fs::write(&path, m.write_to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn unsupported_operators_are_listed_with_their_counts_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited(dir.path(), "custom.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        g.node[1].op_type = "FancyOp".into();
        g.node[2].op_type = "FancyOp".into();
        g.node[3].op_type = "OtherOp".into();
    });
    assert_refused(&lantern(&["layers", "--model", s(&path)]), "FancyOp (2x), OtherOp (1x)");
}

#[test]
fn hostile_files_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(model("resnet")).unwrap();
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    assert_refused(&lantern(&["layers", "--model", s(&truncated)]), "truncated.onnx");
    let random = dir.path().join("random.onnx");
    std::fs::write(&random, (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    assert_refused(&lantern(&["layers", "--model", s(&random)]), "random.onnx");

    let cycle = edited(dir.path(), "cycle.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        let first = g.node.remove(0);
        g.node.push(first);
    });
    assert_refused(&lantern(&["layers", "--model", s(&cycle)]), "out of order or has a cycle");

    let huge = edited(dir.path(), "huge.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        g.initializer[0].dims = vec![1 << 20, 1 << 20, 1 << 10];
    });
    assert_refused(&lantern(&["layers", "--model", s(&huge)]), "element limit");

    let outside = edited(dir.path(), "outside.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        let t = &mut g.initializer[0];
        t.raw_data = Default::default();
        t.float_data.clear();
        t.data_location = protobuf::EnumOrUnknown::from_i32(1);
        t.external_data.push(Default::default());
        let entry = t.external_data.last_mut().unwrap();
        entry.key = "location".into();
        entry.value = "../../etc/passwd".into();
    });
    assert_refused(&lantern(&["layers", "--model", s(&outside)]), "outside the model's folder");

    let mismatch = edited(dir.path(), "mismatch.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        g.initializer[0].dims[0] += 1;
    });
    assert_refused(&lantern(&["layers", "--model", s(&mismatch)]), "declares");
}

#[test]
fn similarity_runs_on_an_onnx_model() {
    let dir = tempfile::tempdir().unwrap();
    let gallery = dir.path().join("gallery");
    std::fs::create_dir_all(&gallery).unwrap();
    for name in ["circle", "cross", "ring"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("assets/demo/images/{name}.png")),
            gallery.join(format!("{name}.png")),
        )
        .unwrap();
    }
    let query = gallery.join("circle.png");
    let out = dir.path().join("report");
    let run = lantern(&[
        "similar",
        s(&query),
        "--gallery",
        s(&gallery),
        "--model",
        s(&model("vit")),
        "--out",
        s(&out),
        "--top",
        "2",
        "--method",
        "gradcam",
        "--device",
        "cpu",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["matches"].as_array().unwrap().len(), 2);
}
