//! Camera mode in the real app (egui_kittest), on the synthetic camera (a procedural shape moving
//! over a fixed background, whose box is known in every frame): the live Grad-CAM map follows the
//! object, frames the worker had no time for are dropped and counted (never queued), the status
//! bar shows the rates, Space keeps the frame shown as an ordinary image, and a camera that
//! cannot be opened is said and ends camera mode; presentation mode shows the camera full-screen.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::kittest::Queryable;
use lantern::app::commands::Command;
use lantern::app::jobs::camera::ExplainedFrame;
use lantern::app::{LanternApp, Launch};
use lantern::camera::CameraChoice;
use lantern::explain::Method;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use ui::{explained, harness, wait_for};

/// Frames whose explanation is checked.
const FRAMES: usize = 30;

/// Whether the map's highest value lies inside the moving object's box (the map's pixel centre
/// taken back to frame pixels through the preprocessing's geometry).
fn peak_inside(e: &ExplainedFrame) -> bool {
    let (map, b) = (&e.output.map, e.frame.object.expect("the synthetic camera knows its object"));
    let best = map.values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    let (mx, my) = ((best % map.width) as f64 + 0.5, (best / map.width) as f64 + 0.5);
    let (cx, cy, cw, ch) = e.output.geometry.crop_in_original();
    let (x, y) = (cx + mx / map.width as f64 * cw, cy + my / map.height as f64 * ch);
    (f64::from(b.x0)..=f64::from(b.x1) + 1.0).contains(&x) && (f64::from(b.y0)..=f64::from(b.y1) + 1.0).contains(&y)
}

#[test]
fn the_live_map_follows_the_moving_object_and_space_keeps_the_frame_as_an_image() {
    let mut h = harness(Launch { camera: Some(CameraChoice::Synthetic), ..Launch::default() });
    ui::command(&mut h, Command::SelectMethod(Method::GradCam));
    let images = h.state().gallery().len();
    // Each explained frame once, with whether the map's peak fell on the object.
    let mut seen: BTreeMap<u64, (bool, lantern::map::PixelBox)> = BTreeMap::new();
    let start = Instant::now();
    while seen.len() < FRAMES {
        assert!(start.elapsed() < Duration::from_secs(240), "only {} frames explained", seen.len());
        h.step();
        std::thread::sleep(Duration::from_millis(5));
        let camera = h.state().camera().expect("still in camera mode");
        if let Some(e) = camera.explained() {
            assert_eq!(e.output.method, Method::GradCam);
            seen.entry(e.frame.index).or_insert_with(|| (peak_inside(e), e.frame.object.unwrap()));
        }
    }
    let hits = seen.values().filter(|(hit, _)| *hit).count();
    eprintln!("camera: peak on the object in {hits} of {FRAMES} explained frames");
    assert!(hits * 10 >= FRAMES * 8, "the peak was on the object in {hits} of {FRAMES} frames");
    let boxes: std::collections::HashSet<_> = seen.values().map(|(_, b)| (b.x0, b.y0)).collect();
    assert!(boxes.len() > FRAMES / 2, "the object moved between the explained frames");

    // Frames come at the camera's rate; those the worker had no time for were dropped, not queued.
    let rates = h.state().camera().unwrap().rates();
    eprintln!("camera: {rates}");
    assert!(rates.fps > 5.0 && rates.explained_per_second > 0.0, "{rates:?}");
    assert!(rates.explained >= FRAMES as u64, "{rates:?}");
    assert!(rates.explained + rates.dropped <= rates.captured, "no frame explained twice: {rates:?}");
    assert!(rates.captured - rates.explained - rates.dropped <= 2, "nothing waits but the newest: {rates:?}");
    h.run_steps(2);
    h.get_by_label_contains("fps, explained");

    // Space keeps the frame on screen as an ordinary image, explained like any other.
    let shown = h.state().camera().unwrap().shown().unwrap().frame.index;
    h.key_press(egui::Key::Space);
    h.step();
    assert!(h.state().camera().is_none(), "camera mode ends");
    assert_eq!(h.state().gallery().len(), images + 1);
    let frozen = h.state().gallery().current().unwrap();
    assert!(frozen.name().starts_with("camera-frame-"), "{}", frozen.name());
    let index: u64 = frozen.name().trim_start_matches("camera-frame-").trim_end_matches(".png").parse().unwrap();
    assert!(index >= shown, "the frame on screen when Space was pressed (or the one drawn with it)");
    wait_for(&mut h, "the kept frame explained", |a: &LanternApp| {
        explained(a) && a.main().requested().is_some_and(|r| r.image == a.gallery().current().unwrap().id)
    });
}

#[test]
fn a_camera_that_cannot_be_opened_is_said_and_camera_mode_ends() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo", explained);
    // This machine has no camera (or this build no camera support).
    if lantern::camera::check(CameraChoice::Device(0)).is_ok() {
        return;
    }
    ui::command(&mut h, Command::OpenCamera(CameraChoice::Device(0)));
    wait_for(&mut h, "the refusal", |a| {
        a.camera().is_none() && a.toasts().visible().any(|t| t.text.contains("camera"))
    });
    let said: Vec<&str> = h.state().toasts().visible().map(|t| t.text.as_str()).collect();
    let needle = if cfg!(feature = "camera") { "no camera" } else { "--features camera" };
    assert!(said.iter().any(|t| t.contains(needle)), "{said:?}");
    // The gallery's view is back, with its explanation.
    assert!(explained(h.state()));
}

#[test]
fn presentation_mode_shows_the_live_camera_full_screen() {
    let mut h = ui::wgpu_harness_at(
        Launch { camera: Some(CameraChoice::Synthetic), ..Launch::default() },
        egui::vec2(800.0, 600.0),
    );
    let explained_index = |a: &LanternApp| a.camera().and_then(|c| c.explained()).map(|e| e.frame.index);
    wait_for(&mut h, "a first explained frame", |a| explained_index(a).is_some());
    h.get_by_label("Explanation");
    h.key_press(egui::Key::P);
    h.run_steps(2);
    assert_eq!(h.query_all_by_label("Explanation").count(), 0, "the panels are hidden");
    let first = explained_index(h.state()).unwrap();
    let before = h.render().expect("renders");
    wait_for(&mut h, "the object to move on", |a| explained_index(a).is_some_and(|i| i >= first + 8));
    h.run_steps(2);
    let after = h.render().expect("renders");
    // The camera fills the window: the moving object and its map change a good part of it.
    let changed = before.pixels().zip(after.pixels()).filter(|(a, b)| a != b).count();
    let total = (before.width() * before.height()) as usize;
    eprintln!("presentation: {changed} of {total} pixels changed over 8 frames");
    assert!(changed * 50 > total, "only {changed} of {total} pixels changed");
    assert!(h.state().camera().is_some(), "still live");
    // Escape leaves presentation first, then camera mode.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_label("Explanation");
    assert!(h.state().camera().is_some());
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(h.state().camera().is_none());
}
