//! The explorer on a multi-label model (the bundled LL-R + BoostLU demo): the inspector lists the
//! labels present with their probabilities and a small map each, a click shows a label large, the
//! compare grid shows every present label, and the BoostLU alpha slider re-weights the CAM.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::kittest::Queryable;
use lantern::app::Launch;
use lantern::explain::{Method, Target};
use ui::{explained, harness, wait_for};

/// The label threshold of the test (the app's default is 0.5): a model trained with single
/// positive labels scores labels low, the effect BoostLU counters.
const THRESHOLD: f32 = 0.3;

fn demo_model() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/lantern_multilabel.safetensors")
}

#[test]
fn present_labels_are_listed_with_small_maps_and_a_click_shows_one_large() {
    let dir = tempfile::tempdir().unwrap();
    let data = lantern::datasets::synth_multi::write(dir.path(), 16, 21, 64, |_| {}).unwrap();
    // An image in which the demo model finds two labels or more.
    let device = burn::tensor::Device::flex();
    let net = lantern::models::load(&demo_model(), None, &device).unwrap();
    let found = |file: &str| {
        let img = lantern::imaging::load_image(&dir.path().join(file)).unwrap();
        let logits = lantern::models::network::host_values(net.forward(net.preprocess.tensor(&img, &device)));
        lantern::models::scores::present(&net.output.probabilities(&logits), THRESHOLD).len()
    };
    let image = data.images.iter().find(|i| found(&i.file) >= 2).expect("the demo model finds two labels in some image");
    let mut h = harness(Launch { paths: vec![dir.path().join(&image.file)], model: Some(demo_model()) });
    h.state_mut().settings.label_threshold = THRESHOLD;
    wait_for(&mut h, "the first explanation and the label maps", |a| {
        explained(a) && !a.label_views.is_empty() && a.label_views.iter().all(|v| v.output.is_some() && !v.pending)
    });
    let app = h.state();
    assert!(app.multilabel());
    let present = app.present_labels();
    assert!(present.len() >= 2, "the demo model finds several of the objects: {present:?} of {:?}", image.labels);
    assert!(present.iter().all(|&(_, p)| p >= THRESHOLD));
    let names: Vec<String> = present.iter().map(|(c, _)| app.model.info.as_ref().unwrap().labels[*c].clone()).collect();
    h.get_by_label("Labels");
    for ((c, _), view) in present.iter().zip(&app.label_views) {
        assert_eq!(view.output.as_ref().unwrap().class, *c, "each small map explains its own label");
    }
    // Click the second label: the main view explains it.
    let (second, _) = present[1];
    h.get_by_label_contains(&format!("{}  ", names[1])).click();
    wait_for(&mut h, "the second label large", |a| explained(a) && a.main.output.as_ref().unwrap().class == second);
    assert_eq!(h.state().target, Target::Class(second));

    // Every present label in the compare grid.
    h.get_by_label("Compare every label").click();
    wait_for(&mut h, "one compare cell per label", |a| a.cells.len() == present.len() && a.cells.iter().all(|v| v.output.is_some() && !v.pending));
    let classes: Vec<usize> = h.state().cells.iter().map(|v| v.output.as_ref().unwrap().class).collect();
    assert_eq!(classes, present.iter().map(|p| p.0).collect::<Vec<_>>());
}

#[test]
fn the_boostlu_slider_reweights_the_cam_of_the_cached_activations() {
    let dir = tempfile::tempdir().unwrap();
    let data = lantern::datasets::synth_multi::write(dir.path(), 2, 4, 64, |_| {}).unwrap();
    let mut h = harness(Launch { paths: vec![dir.path().join(&data.images[0].file)], model: Some(demo_model()) });
    wait_for(&mut h, "the first explanation", explained);
    h.get_by_label_contains("pools BoostLU(CAM) with alpha 5");
    h.get_by_label("Explain with BoostLU CAM").click();
    wait_for(&mut h, "BoostLU CAM", |a| explained(a) && a.main.output.as_ref().unwrap().method == Method::BoostCam);
    let at_five = h.state().main.output.as_ref().unwrap().map.values.clone();
    h.state_mut().settings.params.boost_alpha = 1.0;
    wait_for(&mut h, "alpha 1", |a| explained(a) && a.main.requested.as_ref().is_some_and(|r| r.params.boost_alpha == 1.0));
    let at_one = h.state().main.output.as_ref().unwrap().map.values.clone();
    assert!(at_one.iter().zip(&at_five).all(|(a, b)| b + 1e-6 >= *a), "a larger alpha never lowers the map");
    assert!(at_one.iter().zip(&at_five).any(|(a, b)| b - a > 0.01), "and raises it where the CAM is positive");
    // The slider is the method's own parameter.
    h.get_by_label("BoostLU alpha");
}
