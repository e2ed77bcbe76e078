//! Renders the README's screenshots of the real app through wgpu (egui_kittest): the main view,
//! the compare grid, presentation mode and the demo Vision Transformer (an ONNX file) explained,
//! into `assets/screenshots/`.
//! `cargo bench --bench screenshots`.

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

fn save(h: &mut Harness<'_, LanternApp>, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screenshots");
    std::fs::create_dir_all(&dir).expect("the folder is writable");
    let image = h.render().expect("renders");
    image.save(dir.join(name)).expect("the PNG is written");
    println!("wrote assets/screenshots/{name}");
}

fn main() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(|cc| LanternApp::new(cc, Launch::default()));
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

    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut h =
        Harness::builder().with_size(egui::vec2(1280.0, 800.0)).with_pixels_per_point(1.0).wgpu().build_eframe(|cc| {
            LanternApp::new(
                cc,
                Launch { paths: vec![demo.join("images")], model: Some(demo.join("lantern_vit.onnx")), audit: None },
            )
        });
    settle(&mut h);
    h.state_mut().push(Command::SelectMethod(lantern::explain::Method::Chefer));
    settle(&mut h);
    save(&mut h, "vit.png");
}
