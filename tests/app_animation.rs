//! File ▸ Export animation in the real app (egui_kittest): the open image's explanation with the
//! app's method and look becomes an animated GIF as a background task, the window drawing on.

#[path = "common/ui.rs"]
mod ui;

use image::AnimationDecoder;
use lantern::animate::Sweep;
use lantern::app::Launch;
use lantern::app::commands::Command;
use ui::{explained, harness, wait_for};

#[test]
fn the_open_explanation_exports_as_an_animated_gif_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo", explained);
    let file = dir.path().join("threshold.gif");
    ui::command(&mut h, Command::ExportAnimation { sweep: Sweep::Threshold, file: file.clone() });
    wait_for(&mut h, "the export", |a| a.tasks().is_empty() && file.is_file());
    assert!(
        h.state().toasts().visible().any(|t| t.text.contains("Wrote 20 frames")),
        "{:?}",
        h.state().toasts().visible().map(|t| &t.text).collect::<Vec<_>>()
    );
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&file).unwrap()));
    let frames = decoder.unwrap().into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 20);
    assert_ne!(frames[0].buffer(), frames[19].buffer(), "the boxes change along the sweep");

    // A sweep the method cannot make is said, and nothing is written.
    let bad = dir.path().join("progress.gif");
    ui::command(&mut h, Command::ExportAnimation { sweep: Sweep::Progress, file: bad.clone() });
    wait_for(&mut h, "the refusal", |a| {
        a.tasks().is_empty() && a.toasts().last_error().is_some_and(|e| e.contains("no partial maps"))
    });
    assert!(!bad.exists());
}

#[test]
fn the_weight_map_generator_animates_with_the_models_generator() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo", explained);
    ui::command(&mut h, Command::SelectMethod(lantern::explain::Method::Generator));
    wait_for(&mut h, "the generator's map", |a| {
        explained(a) && a.main().output().unwrap().method == lantern::explain::Method::Generator
    });
    let file = dir.path().join("wipe.gif");
    ui::command(&mut h, Command::ExportAnimation { sweep: Sweep::Wipe, file: file.clone() });
    wait_for(&mut h, "the export", |a| a.tasks().is_empty() && (file.is_file() || a.toasts().last_error().is_some()));
    assert!(h.state().toasts().last_error().is_none(), "{:?}", h.state().toasts().last_error());
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&file).unwrap()));
    let frames = decoder.unwrap().into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 20);
    assert_ne!(frames[0].buffer(), frames[19].buffer(), "the wipe moves across the image");
}
