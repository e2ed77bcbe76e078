//! UI tests of the Pair view and the Neighbours panel (issue 11), driving the real app with
//! egui_kittest: open a folder, open the Neighbours panel from the View menu, wait for its
//! thumbnails, click one; the Pair view shows both maps and the ranked attributes; clicking an
//! attribute shows its maps on both images.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lantern::app::commands::Command;
use lantern::app::pair::PairControls;
use lantern::app::pair_jobs::{EmbeddingChoice, SimilaritySource};
use lantern::app::pair_view::{attribute_label, neighbour_label, side_overlay};
use lantern::app::{LanternApp, Launch};
use lantern::explain::pair_registry::PairMethod;
use std::path::{Path, PathBuf};
use ui::wait_for;

/// The app at 1400 x 900 points.
fn harness<'a>(launch: Launch) -> Harness<'a, LanternApp> {
    ui::harness_at(launch, egui::vec2(1400.0, 900.0))
}

fn demo_embedding() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/lantern_embedding.safetensors")
}

/// Six procedural images in a folder.
fn gallery(dir: &Path) -> Vec<PathBuf> {
    (0..6u64)
        .map(|i| {
            let p = dir.join(format!("img{i}.png"));
            lantern::datasets::synth::generate(31, i, 96).image.save(&p).unwrap();
            p
        })
        .collect()
}

/// A tiny attribute model trained for one epoch (as the trainer's unit test does), with its
/// labels file, as `lantern train attributes` writes them.
fn tiny_attribute_model(dir: &Path) -> PathBuf {
    use lantern::train::attributes::{AttributeConfig, train};
    let device = burn::tensor::Device::flex();
    let embedder = lantern::models::load(&demo_embedding(), None, &device).unwrap();
    let config = AttributeConfig {
        widths: vec![4, 6, 8],
        sizes: (48, 64),
        train_count: 8,
        val_count: 4,
        epochs: 1,
        batch: 4,
        learning_rate: 0.01,
        saliency_weight: 0.5,
        seed: 1,
        val_seed: 2,
        patience: None,
        embedding_digest: "test".into(),
        scenes: lantern::train::scenes::Scenes::Objects,
    };
    let files = lantern::train::embedding::RunFiles { checkpoints: None, log: None };
    let fitted =
        train(&config, &embedder, &files, &device, &mut lantern::control::Control::none(), &mut |_| {}).unwrap();
    let path = dir.join("attributes.safetensors");
    fitted.model.save(&path).unwrap();
    std::fs::write(dir.join("attributes.labels.txt"), lantern::datasets::synth_attributes::names().join("\n")).unwrap();
    path
}

fn open_neighbours_from_the_menu(h: &mut Harness<'_, LanternApp>) {
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Neighbours (S)").click();
    h.run_steps(2);
}

fn neighbours_shown(app: &LanternApp) -> bool {
    let nb = &app.similar().neighbours;
    !nb.pending() && nb.found().is_some_and(|f| Some(f.query) == app.gallery().current().map(|i| i.id))
}

fn pair_explained(app: &LanternApp) -> bool {
    !app.similar().pair.pending() && app.similar().pair.output().is_some()
}

#[test]
fn neighbours_open_a_pair_whose_maps_and_attribute_chart_show_and_an_attribute_shows_its_maps() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("gallery");
    std::fs::create_dir(&folder).unwrap();
    let images = gallery(&folder);
    let attributes = tiny_attribute_model(dir.path());
    let mut h = harness(Launch { paths: vec![folder], model: None, audit: None, camera: None, ..Launch::default() });
    {
        let chosen =
            Some(SimilaritySource { embedding: EmbeddingChoice::File(demo_embedding()), attributes: Some(attributes) });
        h.state_mut().push(Command::ChooseSimilarityModels(chosen));
        let mut controls = h.state().similar().pair.controls.clone();
        controls.settings.masks = 200;
        h.state_mut().push(Command::SetPairControls(controls));
    }
    wait_for(&mut h, "the gallery and the model", |a| a.gallery().len() == 6 && a.model_info().is_some());
    open_neighbours_from_the_menu(&mut h);
    assert!(h.state().similar().neighbours.open);
    wait_for(&mut h, "the neighbours", neighbours_shown);
    wait_for(&mut h, "their thumbnails", |a| {
        a.gallery().images.iter().all(|i| matches!(i.thumb, lantern::app::images::LoadState::Ready(_)))
    });
    h.get_by_label_contains("Embedding: lantern_embedding.safetensors");

    // Five neighbours (every image but the open one), most similar first, as computed by hand.
    let found = h.state().similar().neighbours.found().cloned().unwrap();
    assert_eq!(found.matches.len(), 5);
    assert!(found.matches.windows(2).all(|w| w[0].1 >= w[1].1));
    let net = lantern::models::load(&demo_embedding(), None, &burn::tensor::Device::flex()).unwrap();
    let decoded: Vec<image::RgbImage> = images.iter().map(|p| image::open(p).unwrap().to_rgb8()).collect();
    let e = lantern::retrieval::embed_images(&net, &decoded, 8);
    let name_of = |app: &LanternApp, id: u64| app.gallery().images.iter().find(|i| i.id == id).unwrap().name();
    let index = |name: String| -> usize { name.trim_start_matches("img").trim_end_matches(".png").parse().unwrap() };
    let query = index(h.state().gallery().current().unwrap().name());
    for (id, similarity) in &found.matches {
        let i = index(name_of(h.state(), *id));
        let by_hand = lantern::models::embedding::cosine(&e[query], &e[i]);
        assert!((by_hand - similarity).abs() < 1e-4, "img{i}: {similarity} vs {by_hand}");
    }

    // Click the second neighbour's thumbnail: the Pair view opens with it as the reference.
    let (reference, similarity) = found.matches[1];
    let label = neighbour_label(&name_of(h.state(), reference), similarity);
    h.get_by_label(&label).click();
    h.run_steps(2);
    assert!(h.state().similar().pair.open);
    assert_eq!(h.state().similar().pair.reference, Some(reference));
    wait_for(&mut h, "the pair's maps", pair_explained);
    let app = h.state();
    let out = app.similar().pair.output().unwrap();
    assert_eq!(out.method, PairMethod::Rise);
    assert!((out.similarity - similarity).abs() < 1e-4, "the pair's similarity is the neighbour's");
    for side in [&out.query, &out.reference] {
        assert_eq!((side.map.width, side.map.height), (64, 64), "maps over the embedding model's input");
        let (lo, hi) = side.map.min_max();
        assert!(lo >= 0.0 && hi <= 1.0 && hi > lo, "a non-flat map in [0, 1]: {lo} {hi}");
        assert_eq!(side.attribute_maps.len(), 13);
    }
    assert_ne!(out.query.map.values, out.reference.map.values);
    let query_name = app.gallery().current().unwrap().name();
    h.get_by_label_contains(&format!("Query: {query_name} · Similarity RISE map"));
    h.get_by_label_contains(&format!("Reference: {} · Similarity RISE map", name_of(app, reference)));

    // The attributes, ranked, in the list beside the chart.
    let ranked = out.ranked.clone().expect("an attribute ranking");
    assert_eq!(ranked.len(), 13);
    assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(
        ranked.iter().all(|a| a.name == "colour" || a.name == "texture" || a.name == "size"),
        "named from the labels file"
    );
    h.get_by_label("Why do these match?");
    h.get_by_label_contains(&format!("1. {} —", attribute_label(&ranked[0])));

    // Confidence only (w = 1): the same maps, ranked by the attribute model's confidence.
    let maps = (out.query.map.values.clone(), out.reference.map.values.clone());
    let controls = h.state().similar().pair.controls.clone();
    h.state_mut().push(Command::SetPairControls(PairControls { weight: 1.0, ..controls.clone() }));
    wait_for(&mut h, "the confidence-only ranking", |a| {
        pair_explained(a) && a.similar().pair.requested().unwrap().weight == 1.0
    });
    let baseline = h.state().similar().pair.output().cloned().unwrap();
    assert_eq!((baseline.query.map.values.clone(), baseline.reference.map.values.clone()), maps);
    let by_confidence = baseline.ranked.unwrap();
    assert!(by_confidence.windows(2).all(|w| w[0].confidence >= w[1].confidence && w[0].score == w[0].confidence));
    let weight = lantern::explain::attribute_rank::DEFAULT_WEIGHT;
    h.state_mut().push(Command::SetPairControls(PairControls { weight, ..controls }));
    wait_for(&mut h, "the paper's ranking again", |a| {
        pair_explained(a) && a.similar().pair.requested().unwrap().weight != 1.0
    });
    let app = h.state();
    assert_eq!(app.similar().pair.output().unwrap().ranked.as_ref().unwrap(), &ranked);

    // Click the second-ranked value: both images show its maps.
    let picked = &ranked[1];
    h.get_by_label_contains(&format!("2. {} —", attribute_label(picked))).click();
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.similar().pair.controls.selected, Some(picked.index));
    let out = app.similar().pair.output().unwrap();
    for side in [&out.query, &out.reference] {
        let shown = side_overlay(side, app.similar().pair.controls.selected, app.similar().pair.map_key()).unwrap();
        assert_eq!(shown.map.values, side.attribute_maps[picked.index].values, "the attribute's map is the one drawn");
    }
    assert_ne!(out.query.attribute_maps[picked.index].values, out.reference.attribute_maps[picked.index].values);
    h.get_by_label_contains(&format!("Query: {query_name} · {} map", attribute_label(picked)));
    h.get_by_label_contains(&format!("Reference: {} · {} map", name_of(app, reference), attribute_label(picked)));

    // Back to the similarity maps, then back to the canvas with Esc.
    h.get_by_label("Similarity maps").click();
    h.run_steps(2);
    assert_eq!(h.state().similar().pair.controls.selected, None);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().similar().pair.open);
}

#[test]
fn without_an_attribute_model_the_pair_still_shows_its_maps_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    gallery(dir.path());
    // Through wgpu: the two sides are drawn by the GPU overlay.
    let paths = vec![dir.path().to_path_buf()];
    let mut h = ui::wgpu_harness_at(Launch { paths, ..Launch::default() }, egui::vec2(1400.0, 900.0));
    assert!(h.state().gpu());
    let chosen = Some(SimilaritySource { embedding: EmbeddingChoice::File(demo_embedding()), attributes: None });
    h.state_mut().push(Command::ChooseSimilarityModels(chosen));
    let controls = h.state().similar().pair.controls.clone();
    h.state_mut().push(Command::SetPairControls(PairControls { method: PairMethod::GradCam, ..controls }));
    wait_for(&mut h, "the gallery and the model", |a| a.gallery().len() == 6 && a.model_info().is_some());
    // S opens the Neighbours panel.
    h.key_press(egui::Key::S);
    wait_for(&mut h, "the neighbours", neighbours_shown);
    let (reference, _) = h.state().similar().neighbours.found().unwrap().matches[0];
    h.state_mut().push(Command::OpenPair(reference));
    wait_for(&mut h, "the pair's maps", pair_explained);
    let out = h.state().similar().pair.output().cloned().unwrap();
    assert_eq!(out.method, PairMethod::GradCam);
    assert!(out.ranked.as_ref().is_err_and(|e| e.contains("no attribute model")));
    assert!(out.query.attribute_maps.is_empty());
    h.get_by_label_contains("no attribute model: the attribute chart needs one");
    let query_name = h.state().gallery().current().unwrap().name();
    h.get_by_label_contains(&format!("Query: {query_name} · Grad-CAM (similarity) map"));

    // Another method from the picker: the maps change.
    h.get_by_label("Pair method").click();
    h.run_steps(2);
    h.get_by_label("Sliding window").click();
    wait_for(&mut h, "the sliding-window maps", |a| {
        pair_explained(a) && a.similar().pair.output().unwrap().method == PairMethod::SlidingWindow
    });
    let window = h.state().similar().pair.output().cloned().unwrap();
    assert_ne!(window.query.map.values, out.query.map.values);
    assert!((window.similarity - out.similarity).abs() < 1e-6, "the same pair");
    h.key_press(egui::Key::S);
    h.run_steps(2);
    assert!(!h.state().similar().neighbours.open, "S closes the panel again");
}

#[test]
fn an_outfits_folder_shows_each_sides_item_masks_in_the_pair_view() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("outfits");
    let written = lantern::datasets::synth_outfits::write(&folder, 6, 12, 64, |_| {}).unwrap();
    let mut h = harness(Launch { paths: vec![folder], ..Launch::default() });
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let chosen = Some(SimilaritySource {
        embedding: EmbeddingChoice::File(demo.join("lantern_outfits_embedding.safetensors")),
        attributes: Some(demo.join("lantern_outfits_attributes.safetensors")),
    });
    h.state_mut().push(Command::ChooseSimilarityModels(chosen));
    let controls = h.state().similar().pair.controls.clone();
    h.state_mut().push(Command::SetPairControls(PairControls { method: PairMethod::GradCam, ..controls }));
    wait_for(&mut h, "the outfits and their ground truth", |a| {
        a.gallery().len() == 6 && a.gallery().images.iter().all(|i| i.truth.is_some()) && a.model_info().is_some()
    });
    // The reference is three images away from the open one: only the Pair view asks for its mask.
    let reference = h.state().gallery().images[3].id;
    h.state_mut().push(Command::OpenPair(reference));
    let mask_ready = |a: &LanternApp, id: u64| {
        let truth = a.gallery().images.iter().find(|i| i.id == id).unwrap().truth.as_ref().unwrap();
        matches!(truth.mask_image, lantern::app::images::LoadState::Ready(_))
    };
    wait_for(&mut h, "the pair and both sides' item masks", |a| {
        let query = a.gallery().current().unwrap().id;
        pair_explained(a) && mask_ready(a, query) && mask_ready(a, reference)
    });
    let app = h.state();
    let query = app.gallery().current().unwrap();
    h.get_by_label_contains(&format!("Query: {} · Grad-CAM (similarity) map", query.name()));
    for (index, shown) in [(app.gallery().index, query), (3, &app.gallery().images[3])] {
        let truth = shown.truth.as_ref().unwrap();
        let items = &written.images[index].items;
        assert_eq!(truth.boxes.len(), items.len(), "one box per item");
        let lantern::app::images::LoadState::Ready(mask) = &truth.mask_image else { unreachable!() };
        let on = mask.pixels().filter(|p| p.0[0] > 0).count();
        let by_items: usize = items
            .iter()
            .map(|i| image::open(dir.path().join("outfits").join(&i.mask)).unwrap().to_luma8())
            .map(|m| m.pixels().filter(|p| p.0[0] > 0).count())
            .sum();
        assert_eq!(on, by_items, "the union of the item masks (items never overlap)");
    }
}
