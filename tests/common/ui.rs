#![allow(dead_code)] // each test binary uses a part of the shared harness
//! Driving the real app in egui_kittest, for every UI test: a harness on a launch, stepping
//! frames until the worker thread has answered, and changing what the panels would change (by
//! the same commands the widgets push).

use egui_kittest::Harness;
use lantern::app::commands::Command;
use lantern::app::settings::Settings;
use lantern::app::{LanternApp, Launch};
use std::time::{Duration, Instant};

/// The app at 1200 x 800 points, one pixel per point.
pub fn harness<'a>(launch: Launch) -> Harness<'a, LanternApp> {
    harness_at(launch, egui::vec2(1200.0, 800.0))
}

/// The app at `size` points, one pixel per point.
pub fn harness_at<'a>(launch: Launch, size: egui::Vec2) -> Harness<'a, LanternApp> {
    Harness::builder().with_size(size).with_pixels_per_point(1.0).build_eframe(move |cc| LanternApp::new(cc, launch))
}

/// The app at `size` points drawn through wgpu (the GPU overlay), one pixel per point.
pub fn wgpu_harness_at<'a>(launch: Launch, size: egui::Vec2) -> Harness<'a, LanternApp> {
    Harness::builder()
        .with_size(size)
        .with_pixels_per_point(1.0)
        .wgpu()
        .build_eframe(move |cc| LanternApp::new(cc, launch))
}

/// Step frames until `done` holds (the worker computes on its own thread).
pub fn wait_for(h: &mut Harness<'_, LanternApp>, what: &str, done: impl Fn(&LanternApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(180), "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.step();
}

/// Push `command` as a widget would, and run the frame that applies it.
pub fn command(h: &mut Harness<'_, LanternApp>, command: Command) {
    h.state_mut().push(command);
    h.step();
}

/// Change the settings as the panels would, and run the frame that applies the change.
pub fn edit_settings(h: &mut Harness<'_, LanternApp>, edit: impl FnOnce(&mut Settings)) {
    let mut settings = h.state().settings().clone();
    edit(&mut settings);
    command(h, Command::SetSettings(Box::new(settings)));
}

/// The main view shows a finished explanation.
pub fn explained(app: &LanternApp) -> bool {
    !app.main().pending() && app.main().output().is_some()
}
