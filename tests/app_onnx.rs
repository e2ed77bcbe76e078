//! The app on ONNX models (egui_kittest, the real app): a Vision Transformer opens with no
//! question asked, is explained at its default layer (the last block's first norm), a layer
//! picked in the picker's module tree changes the map, attention rollout runs, Guided Backprop
//! says why it cannot; an ONNX file with an unsupported operator gives an error naming it and
//! the app keeps working on the model it had.

#[path = "common/ui.rs"]
mod ui;

mod common;

use egui_kittest::kittest::Queryable;
use lantern::app::Launch;
use lantern::explain::Method;
use onnx_ir::{Message, ModelProto};
use ui::{explained, harness, wait_for};

fn vit() -> std::path::PathBuf {
    common::fixtures().join("onnx").join("vit.onnx")
}

#[test]
fn a_vision_transformer_opens_and_explains_at_its_default_layer() {
    let mut h = harness(Launch { paths: vec![], model: Some(vit()) });
    wait_for(&mut h, "the ViT's first explanation", |a| explained(a) && a.model.info.as_ref().is_some_and(|i| i.arch == "onnx:vit"));
    let app = h.state();
    let info = app.model.info.as_ref().unwrap();
    assert_eq!(info.default_layer, "blocks.1.norm1");
    assert_eq!(info.labels[2], "two", "class names from the model's metadata");
    assert!(info.layer_tree.iter().any(|(group, _)| group == "blocks"), "{:?}", info.layer_tree.iter().map(|g| &g.0).collect::<Vec<_>>());
    let first = app.main.output.as_ref().unwrap().map.values.clone();
    assert_eq!(app.main.output.as_ref().unwrap().layer, "blocks.1.norm1");

    // The picker shows the module tree: open "blocks", pick the first block's norm.
    h.get_by_label("Layer").click();
    h.run_steps(3);
    h.get_by_label("blocks").click();
    h.run_steps(3);
    h.get_by_label_contains("blocks.0.norm1 ").click();
    wait_for(&mut h, "layer blocks.0.norm1", |a| explained(a) && a.main.output.as_ref().unwrap().layer == "blocks.0.norm1");
    assert_ne!(h.state().main.output.as_ref().unwrap().map.values, first);

    h.state_mut().settings.method = Method::AttentionRollout;
    wait_for(&mut h, "attention rollout", |a| explained(a) && a.main.output.as_ref().unwrap().method == Method::AttentionRollout);

    h.state_mut().settings.method = Method::GuidedBackprop;
    wait_for(&mut h, "Guided Backprop's refusal", |a| a.main.error.as_deref().is_some_and(|e| e.contains("ONNX")));
}

#[test]
fn an_onnx_file_with_an_unknown_operator_is_refused_and_the_app_keeps_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ModelProto::parse_from_bytes(&std::fs::read(vit()).unwrap()).unwrap();
    m.graph.as_mut().unwrap().node[3].op_type = "FancyOp".into();
    let bad = dir.path().join("fancy.onnx");
    std::fs::write(&bad, m.write_to_bytes().unwrap()).unwrap();

    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo's first explanation", explained);
    h.state_mut().open_paths(vec![bad]);
    wait_for(&mut h, "the model error", |a| a.toasts.last_error().is_some_and(|e| e.contains("fancy.onnx")));
    let e = h.state().toasts.last_error().unwrap().to_string();
    assert!(e.contains("FancyOp (1x)"), "{e}");
    wait_for(&mut h, "the demo model still there", |a| a.model.info.as_ref().is_some_and(|i| i.arch == "lantern_cnn") && explained(a));
}
