//! Frame times of the real app (driven by egui_kittest, rendered through wgpu): while the
//! threshold slider moves, while a long method runs in the background, and the time from
//! "change class" to the new map with cached activations. `cargo bench --bench ui_frames`.
//!
//! "UI thread" is one `Harness::step`: the app's logic and ui plus egui's tessellation, the work
//! a frame costs the UI thread. "with raster" adds `Harness::render`: drawing through wgpu and
//! reading the pixels back, which on this machine runs on the CPU rasterizer (lavapipe).

use egui_kittest::Harness;
use lantern::app::commands::Command;
use lantern::app::settings::Look;
use lantern::app::{LanternApp, Launch};
use lantern::explain::{Method, Target};
use std::time::{Duration, Instant};

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn wait(h: &mut Harness<'_, LanternApp>, done: impl Fn(&LanternApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(300), "timed out");
        h.step();
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn idle(a: &LanternApp) -> bool {
    !a.main().pending() && a.main().output().is_some()
}

fn main() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 820.0))
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(|cc| LanternApp::new(cc, Launch::default()));
    wait(&mut h, idle);
    for _ in 0..10 {
        h.step();
        h.render().expect("renders");
    }
    println!("| scenario | frames | UI thread median | UI thread p95 | with raster median | with raster p95 |");
    println!("|---|---|---|---|---|---|");

    let measure = |h: &mut Harness<'_, LanternApp>, frames: usize, each: &mut dyn FnMut(&mut LanternApp, usize)| {
        let (mut ui, mut full) = (Vec::new(), Vec::new());
        for i in 0..frames {
            each(h.state_mut(), i);
            let t = Instant::now();
            h.step();
            let step = t.elapsed().as_secs_f64() * 1000.0;
            h.render().expect("renders");
            ui.push(step);
            full.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        (stats(ui), stats(full))
    };
    let row = |name: &str, frames: usize, ((um, up), (fm, fp)): ((f64, f64), (f64, f64))| {
        println!("| {name} | {frames} | {um:.2} ms | {up:.2} ms | {fm:.2} ms | {fp:.2} ms |");
    };

    let r = measure(&mut h, 200, &mut |a, i| {
        let look = Look { threshold: (i % 100) as f32 / 100.0, ..a.settings().look };
        a.push(Command::SetLook(look));
    });
    row("threshold slider moving", 200, r);
    assert!(idle(h.state()), "the slider ran no model");

    let mut settings = h.state().settings().clone();
    settings.params.rise_masks = 8000;
    settings.method = Method::Rise;
    h.state_mut().push(Command::SetSettings(Box::new(settings)));
    h.step();
    let frames = 200;
    let r = measure(&mut h, frames, &mut |a, i| {
        let look = Look { alpha: 0.3 + (i % 50) as f32 / 100.0, ..a.settings().look };
        a.push(Command::SetLook(look));
    });
    assert!(h.state().main().pending(), "RISE was still running while the frames were measured");
    row("RISE (8000 masks) running in the background", frames, r);
    h.state_mut().cancel();

    h.state_mut().push(Command::SelectMethod(Method::GradCam));
    wait(&mut h, |a| idle(a) && a.main().output().unwrap().method == Method::GradCam);
    let top: Vec<usize> = h.state().main().output().unwrap().top.iter().map(|t| t.0).collect();
    let (mut ready, mut drawn) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        for &c in &top[..top.len().min(5)] {
            let class = Target::Class(c);
            if h.state().target() == class {
                continue;
            }
            h.state_mut().push(Command::SetTarget(class));
            let t = Instant::now();
            wait(&mut h, |a| idle(a) && a.main().output().unwrap().class == c);
            ready.push(t.elapsed().as_secs_f64() * 1000.0);
            h.render().expect("renders");
            drawn.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let n = ready.len();
    let ((rm, rp), (dm, dp)) = (stats(ready), stats(drawn));
    println!(
        "\nchange class (cached activations, Grad-CAM, demo model), {n} switches: new map in the UI median {rm:.1} ms, p95 {rp:.1} ms; drawn median {dm:.1} ms, p95 {dp:.1} ms"
    );
}
