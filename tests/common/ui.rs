//! Driving the real app in egui_kittest: a harness on a launch, and stepping frames until the
//! worker thread has answered.

use egui_kittest::Harness;
use lantern::app::{LanternApp, Launch};
use std::time::{Duration, Instant};

/// The app at 1200 x 800 points, one pixel per point.
pub fn harness<'a>(launch: Launch) -> Harness<'a, LanternApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .with_pixels_per_point(1.0)
        .build_eframe(move |cc| LanternApp::new(cc, launch))
}

/// Step frames until `done` holds (the worker computes on its own thread).
pub fn wait_for(h: &mut Harness<'_, LanternApp>, what: &str, done: impl Fn(&LanternApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
}

/// The main view shows a finished explanation.
pub fn explained(app: &LanternApp) -> bool {
    !app.main.pending && app.main.output.is_some()
}
