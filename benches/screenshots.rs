//! Renders the README's screenshots of the real app through wgpu (egui_kittest) into
//! `assets/screenshots/`: the main view, the compare grid, presentation mode, the demo Vision
//! Transformer (an ONNX file) explained, the Neighbours panel, the Pair view with its attribute
//! chart, audit mode with the ground truth and a corrected box, the Train panel with its
//! curves, and a multi-label model's label list. Each PNG is then quantised with `pngquant` when it is
//! installed (about a third of the size), else kept as rendered, said so.
//! `cargo bench --profile dev --bench screenshots`.

#[path = "../tests/common/ui.rs"]
mod ui;

use egui_kittest::Harness;
use lantern::app::commands::Command;
use lantern::app::{LanternApp, Launch};
use std::path::Path;
use std::time::{Duration, Instant};

fn settle(h: &mut Harness<'_, LanternApp>) {
    let start = Instant::now();
    loop {
        h.step();
        let a = h.state();
        let busy = a.main().pending() || a.cells().iter().any(|c| c.pending()) || a.main().output().is_none();
        let thumbs = a.gallery().images.iter().all(|i| matches!(i.thumb, lantern::app::images::LoadState::Ready(_)));
        if !busy && thumbs {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "the app did not settle");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..4 {
        h.step();
    }
}

/// Step frames until `done` holds, then a few more so the last answers are drawn.
fn settle_on(h: &mut Harness<'_, LanternApp>, what: &str, done: impl Fn(&LanternApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(600), "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..4 {
        h.step();
    }
}

fn save(h: &mut Harness<'_, LanternApp>, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    std::fs::create_dir_all(&dir).expect("the folder is writable");
    let image = h.render().expect("renders");
    let path = dir.join(name);
    image.save(&path).expect("the PNG is written");
    let quantised = std::process::Command::new("pngquant")
        .args(["--quality", "70-95", "--speed", "1", "--force", "--skip-if-larger", "--output"])
        .arg(&path)
        .arg(&path)
        .status();
    let note = match quantised {
        Ok(s) if s.success() => "quantised by pngquant",
        Ok(_) => "kept as rendered (pngquant could not make it smaller at this quality)",
        Err(_) => "kept as rendered (pngquant is not installed)",
    };
    let kb = std::fs::metadata(&path).map_or(0, |m| m.len() / 1024);
    println!("wrote assets/screenshots/{name}: {kb} kB, {note}");
}

fn app<'a>(launch: Launch) -> Harness<'a, LanternApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| LanternApp::new(cc, launch))
}

/// The Neighbours panel on the demo images, then the Pair view of the open image and its second
/// neighbour with the attribute chart (the demo embedding and attribute models).
fn similarity_views() {
    let mut h = app(Launch::default());
    settle(&mut h);
    h.state_mut().push(Command::ToggleNeighbours);
    settle_on(&mut h, "the neighbours", |a| {
        let nb = &a.similar().neighbours;
        !nb.pending() && nb.found().is_some_and(|f| Some(f.query) == a.gallery().current().map(|i| i.id))
    });
    save(&mut h, "neighbours.png");
    let reference = h.state().similar().neighbours.found().expect("neighbours").matches[1].0;
    h.state_mut().push(Command::OpenPair(reference));
    settle_on(&mut h, "the pair", |a| !a.similar().pair.pending() && a.similar().pair.output().is_some());
    save(&mut h, "pair_view.png");
}

/// Audit mode on a small procedural benchmark: the ground truth beside the predicted box, and a
/// corrected box drawn by the annotator.
fn audit_view() {
    use lantern::audit::{Audit, NewAudit, Setup};
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = dir.path().join("data");
    lantern::datasets::synth_folder::write(&data, 4, 5, 160, |_| {}).expect("the benchmark is written");
    let db = dir.path().join("audit.db");
    let new = NewAudit {
        data,
        format: lantern::datasets::Format::Synth,
        model: None,
        method: Some(lantern::explain::Method::GradCam),
        threshold: 0.5,
        annotator: None,
    };
    Audit::create(&db, &Setup::from_dataset(&new).expect("a setup")).expect("the audit is created");
    let mut h = app(Launch::default());
    h.state_mut().push(Command::OpenAudit(db));
    settle_on(&mut h, "the audit's first image", |a| a.audit().is_some() && a.gallery().len() == 4 && ui::explained(a));
    h.state_mut().push(Command::SetAnnotator("ana".into()));
    settle_on(&mut h, "the annotator", |a| a.audit().is_some_and(|x| x.annotator.is_some()));
    let truth = h.state().gallery().current().and_then(|i| i.truth.as_ref()).and_then(|t| t.boxes.first().copied());
    let mut edit = h.state().audit().expect("the audit").edit.clone();
    edit.correction = truth.map(|b| lantern::map::PixelBox {
        x0: b.x0.saturating_sub(4),
        y0: b.y0.saturating_sub(6),
        x1: b.x1 + 5,
        y1: b.y1 + 3,
    });
    edit.comment = "box too tight".into();
    h.state_mut().push(Command::EditAudit(Box::new(edit)));
    settle(&mut h);
    save(&mut h, "audit.png");
}

/// The Train panel after a short generator run on procedural images, with its loss and
/// validation curves.
fn train_view() {
    use lantern::app::train_panel::RunState;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut h = app(Launch::default());
    settle(&mut h);
    let mut t = h.state().train().settings.clone();
    t.out_dir = dir.path().to_path_buf();
    (t.count, t.val_count, t.batch, t.epochs) = (48, 16, 8, 4);
    t.open = true;
    h.state_mut().push(Command::SetTrainSettings(Box::new(t)));
    h.state_mut().push(Command::StartTraining);
    settle_on(&mut h, "the end of the run", |a| {
        matches!(a.train().run.as_ref().map(|r| &r.state), Some(RunState::Done(_) | RunState::Failed(_)))
    });
    settle(&mut h);
    save(&mut h, "train_panel.png");
}

/// The main view, the compare grid and presentation mode on the demo.
fn demo_views() {
    let mut h = app(Launch::default());
    settle(&mut h);
    save(&mut h, "main_view.png");

    h.state_mut().push(Command::ShowCompare(true));
    settle(&mut h);
    save(&mut h, "compare_grid.png");

    h.state_mut().push(Command::ShowCompare(false));
    h.state_mut().push(Command::TogglePresentation);
    h.state_mut().push(Command::StepImage(2));
    h.state_mut().push(Command::SelectMethod(lantern::explain::Method::ScoreCam));
    settle(&mut h);
    save(&mut h, "presentation.png");
}

/// The demo Vision Transformer, opened from its ONNX file, with the Chefer relevance.
fn vit_view() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut h = app(Launch {
        paths: vec![demo.join("images")],
        model: Some(demo.join("lantern_vit.onnx")),
        ..Launch::default()
    });
    settle(&mut h);
    h.state_mut().push(Command::SelectMethod(lantern::explain::Method::Chefer));
    settle(&mut h);
    save(&mut h, "vit.png");
}

/// A multi-label model (the demo LL-R + BoostLU CNN) on a procedural image with several objects:
/// the inspector's label list with a small map per present label. Of 24 generated images, the one
/// where the model finds the most true labels at 50 % and no false one.
fn multilabel_view() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/lantern_multilabel.safetensors");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = lantern::datasets::synth_multi::write(dir.path(), 24, 31, 256, |_| {}).expect("the images are written");
    let device = burn::tensor::Device::flex();
    let net = lantern::models::load(&model, None, &device).expect("the demo multi-label model loads");
    let found = |file: &str| -> (usize, bool) {
        let img = lantern::imaging::load_image(&dir.path().join(file)).expect("the image loads");
        let logits = lantern::models::network::host_values(net.forward(net.preprocess.tensor(&img, &device)));
        let present: Vec<usize> = (net.output.probabilities(&logits).iter().enumerate())
            .filter(|&(_, &p)| p >= 0.5)
            .map(|(c, _)| c)
            .collect();
        let truth = &data.images.iter().find(|i| i.file == file).expect("annotated").labels;
        (present.iter().filter(|c| truth.contains(c)).count(), present.iter().all(|c| truth.contains(c)))
    };
    let best = (data.images.iter())
        .filter_map(|i| match found(&i.file) {
            (right, true) => Some((right, i.file.clone())),
            _ => None,
        })
        .max_by_key(|(right, _)| *right)
        .expect("an image without a false label");
    println!("multilabel.png: {} with {} true labels found", best.1, best.0);
    let mut h = app(Launch { paths: vec![dir.path().join(&best.1)], model: Some(model), ..Launch::default() });
    settle_on(&mut h, "the label maps", |a| {
        ui::explained(a)
            && !a.label_views().is_empty()
            && a.label_views().iter().all(|v| v.output().is_some() && !v.pending())
    });
    save(&mut h, "multilabel.png");
}

/// Every group of screenshots, or those named on the command line
/// (`cargo bench --profile dev --bench screenshots -- audit train`).
fn main() {
    let groups: [(&str, fn()); 6] = [
        ("demo", demo_views),
        ("vit", vit_view),
        ("similarity", similarity_views),
        ("audit", audit_view),
        ("train", train_view),
        ("multilabel", multilabel_view),
    ];
    let asked: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    for (name, render) in groups {
        if asked.is_empty() || asked.iter().any(|a| a == name) {
            render();
        }
    }
}
