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
    let mut h = harness(Launch { paths: vec![], model: Some(vit()), audit: None, camera: None, ..Launch::default() });
    wait_for(&mut h, "the ViT's first explanation", |a| {
        explained(a) && a.model_info().is_some_and(|i| i.arch == "onnx:vit")
    });
    let app = h.state();
    let info = app.model_info().unwrap();
    assert_eq!(info.default_layer, "blocks.1.norm1");
    assert_eq!(info.labels[2], "two", "class names from the model's metadata");
    assert!(app.preprocess_prompt().is_none(), "its metadata says how it reads images: no question");
    let greyed: Vec<Method> = info.unavailable.iter().map(|(m, _)| *m).collect();
    assert!(
        greyed.contains(&Method::GuidedBackprop)
            && !greyed.contains(&Method::AttentionRollout)
            && !greyed.contains(&Method::Chefer),
        "{greyed:?}"
    );
    assert!(
        info.layer_tree.iter().any(|(group, _)| group == "blocks"),
        "{:?}",
        info.layer_tree.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let first = app.main().output().unwrap().map.values.clone();
    assert_eq!(app.main().output().unwrap().layer, "blocks.1.norm1");

    // The picker shows the module tree, the current layer's group open: pick the first block's norm.
    h.get_by_label("Layer").click();
    h.run_steps(3);
    h.get_by_label("blocks");
    h.get_by_label_contains("blocks.0.norm1 ").click();
    wait_for(&mut h, "layer blocks.0.norm1", |a| explained(a) && a.main().output().unwrap().layer == "blocks.0.norm1");
    assert_ne!(h.state().main().output().unwrap().map.values, first);

    ui::edit_settings(&mut h, |s| s.method = Method::AttentionRollout);
    wait_for(&mut h, "attention rollout", |a| {
        explained(a) && a.main().output().unwrap().method == Method::AttentionRollout
    });

    ui::edit_settings(&mut h, |s| s.method = Method::GuidedBackprop);
    wait_for(&mut h, "Guided Backprop's refusal", |a| a.main().error().is_some_and(|e| e.contains("ONNX")));
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
    let greyed = &h.state().model_info().unwrap().unavailable;
    assert!(
        greyed.iter().any(|(m, why)| *m == Method::Chefer && why.contains("ONNX")),
        "the attention methods are greyed on a CNN: {greyed:?}"
    );
    h.state_mut().open_paths(vec![bad]);
    wait_for(&mut h, "the model error", |a| a.toasts().last_error().is_some_and(|e| e.contains("fancy.onnx")));
    let e = h.state().toasts().last_error().unwrap().to_string();
    assert!(e.contains("FancyOp (1x)"), "{e}");
    wait_for(&mut h, "the demo model still there", |a| {
        a.model_info().is_some_and(|i| i.arch == "lantern_cnn") && explained(a)
    });
}

#[test]
fn a_model_that_does_not_say_how_it_reads_images_is_asked_about_once() {
    let model = common::fixtures().join("onnx").join("resnet.onnx");
    let mut h =
        harness(Launch { paths: vec![], model: Some(model.clone()), audit: None, camera: None, ..Launch::default() });
    wait_for(&mut h, "the question", |a| a.preprocess_prompt().is_some());
    h.get_by_label_contains("does not say how its inputs are normalised");
    let mut answer = h.state().preprocess_prompt().unwrap().1.clone();
    answer.mean = [0.5, 0.5, 0.5];
    h.state_mut().push(lantern::app::commands::Command::EditPreprocessAnswer(answer));
    h.run_steps(2);
    h.get_by_label("Use these").click();
    wait_for(&mut h, "the model reopened with the answer", |a| {
        explained(a) && a.model_info().is_some_and(|i| i.preprocess.mean == [0.5, 0.5, 0.5])
    });
    assert!(h.state().preprocess_prompt().is_none());
    assert_eq!(h.state().settings().preprocess_by_model[&model].mean, [0.5, 0.5, 0.5], "remembered for this file");
    // Opened again: the answer is applied and nothing is asked.
    h.state_mut().open_paths(vec![model]);
    wait_for(&mut h, "the model reopened", |a| explained(a) && !a.model().loading);
    assert!(h.state().preprocess_prompt().is_none());
    assert_eq!(h.state().model_info().unwrap().preprocess.mean, [0.5, 0.5, 0.5]);
}
