//! The explorer on a multi-label model (a small LL-R + BoostLU model trained by the test): the inspector lists the
//! labels present with their probabilities and a small map each, a click shows a label large, the
//! compare grid shows every present label, and the BoostLU alpha slider re-weights the CAM.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::kittest::Queryable;
use lantern::app::Launch;
use lantern::explain::{Method, Target};
use ui::{explained, harness, wait_for};

/// A small multi-label model trained here (BoostLU, alpha 5), with its label names, and a
/// multi-label image; returns the model file, the image and the threshold at which the model
/// finds exactly its two most probable labels present in that image.
fn model_and_image(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, f32) {
    use lantern::train::multilabel::{MultiLabelConfig, train};
    use lantern::train::partial_labels::Scheme;
    let config = MultiLabelConfig {
        widths: vec![8, 16],
        size: 64,
        images: 60,
        val_fraction: 0.2,
        epochs: 2,
        batch: 12,
        learning_rate: 0.01,
        head_lr_factor: 10.0,
        scheme: Scheme::LlR,
        alpha: 5.0,
        seed: 2,
    };
    let device = burn::tensor::Device::flex();
    let fitted =
        train(&config, &Default::default(), &device, &mut lantern::control::Control::none(), &mut |_| {}).unwrap();
    let model = dir.join("ml.safetensors");
    fitted.model.save_as(&model, &config.run_as()).unwrap();
    std::fs::write(dir.join("ml.labels.txt"), lantern::datasets::synth::SHAPES.join("\n")).unwrap();
    let data = lantern::datasets::synth_multi::write(&dir.join("data"), 4, 21, 64, |_| {}).unwrap();
    let image = dir.join("data").join(&data.images[0].file);
    let net = lantern::models::load(&model, None, &device).unwrap();
    let img = lantern::imaging::load_image(&image).unwrap();
    let logits = lantern::models::network::host_values(net.forward(net.preprocess.tensor(&img, &device)));
    let ranked = lantern::models::scores::ranked(&net.output.probabilities(&logits), 3);
    // Halfway between the second and the third most probable label.
    let threshold = (ranked[1].1 + ranked[2].1) / 2.0;
    assert!(ranked[1].1 > ranked[2].1, "distinct probabilities: {ranked:?}");
    (model, image, threshold)
}

#[test]
fn present_labels_are_listed_with_small_maps_and_a_click_shows_one_large() {
    let dir = tempfile::tempdir().unwrap();
    let (model, image, threshold) = model_and_image(dir.path());
    let mut h =
        harness(Launch { paths: vec![image], model: Some(model), audit: None, camera: None, ..Launch::default() });
    ui::edit_settings(&mut h, |s| s.label_threshold = threshold);
    wait_for(&mut h, "the first explanation and the label maps", |a| {
        explained(a)
            && !a.label_views().is_empty()
            && a.label_views().iter().all(|v| v.output().is_some() && !v.pending())
    });
    let app = h.state();
    assert!(app.multilabel());
    let present = app.present_labels();
    assert_eq!(present.len(), 2, "{present:?} at {threshold}");
    assert!(present.iter().all(|&(_, p)| p >= threshold));
    let names: Vec<String> = present.iter().map(|(c, _)| app.model_info().unwrap().labels[*c].clone()).collect();
    h.get_by_label("Labels");
    for ((c, _), view) in present.iter().zip(app.label_views()) {
        assert_eq!(view.output().unwrap().class, *c, "each small map explains its own label");
    }
    // Click the second label: the main view explains it.
    let (second, _) = present[1];
    h.get_by_label_contains(&format!("{}  ", names[1])).click();
    wait_for(&mut h, "the second label large", |a| explained(a) && a.main().output().unwrap().class == second);
    assert_eq!(h.state().target(), Target::Class(second));

    // Every present label in the compare grid.
    h.get_by_label("Compare every label").click();
    wait_for(&mut h, "one compare cell per label", |a| {
        a.cells().len() == present.len() && a.cells().iter().all(|v| v.output().is_some() && !v.pending())
    });
    let classes: Vec<usize> = h.state().cells().iter().map(|v| v.output().unwrap().class).collect();
    assert_eq!(classes, present.iter().map(|p| p.0).collect::<Vec<_>>());
}

#[test]
fn the_boostlu_slider_reweights_the_cam_of_the_cached_activations() {
    let dir = tempfile::tempdir().unwrap();
    let (model, image, _) = model_and_image(dir.path());
    let mut h =
        harness(Launch { paths: vec![image], model: Some(model), audit: None, camera: None, ..Launch::default() });
    wait_for(&mut h, "the first explanation", explained);
    h.get_by_label_contains("pools BoostLU(CAM) with alpha 5");
    h.get_by_label("Explain with BoostLU CAM").click();
    wait_for(&mut h, "BoostLU CAM", |a| explained(a) && a.main().output().unwrap().method == Method::BoostCam);
    let at_five = h.state().main().output().unwrap().map.values.clone();
    ui::edit_settings(&mut h, |s| s.params.boost_alpha = 1.0);
    wait_for(&mut h, "alpha 1", |a| explained(a) && a.main().requested().is_some_and(|r| r.params.boost_alpha == 1.0));
    let at_one = h.state().main().output().unwrap().map.values.clone();
    assert!(at_one.iter().zip(&at_five).all(|(a, b)| b + 1e-6 >= *a), "a larger alpha never lowers the map");
    if at_one.iter().any(|&a| a > 0.55) {
        assert!(at_one.iter().zip(&at_five).any(|(a, b)| b - a > 0.01), "and raises it where the CAM is positive");
    } else {
        assert!(
            at_one.iter().zip(&at_five).all(|(a, b)| (b - a).abs() < 1e-6),
            "a map negative everywhere has nothing to boost"
        );
    }
    // The slider is the method's own parameter (its text and the slider itself).
    assert!(h.query_all_by_label("BoostLU alpha").count() >= 1);
}
