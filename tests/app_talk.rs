//! A talk's playlist in the real app (egui_kittest): `assets/demo/talk.toml` opens on its first
//! step, the arrow keys and Page Up / Page Down step through image, method, layer and class with
//! the caption shown, a layer or class the model lacks is said, and closing the playlist gives the
//! arrows back to the gallery.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::kittest::Queryable;
use lantern::app::commands::Command;
use lantern::app::{LanternApp, Launch};
use lantern::explain::Method;
use std::path::{Path, PathBuf};
use ui::{explained, harness, wait_for};

fn talk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/talk.toml")
}

/// The main view shows `method` at `layer` for `class` on the image named `image`.
fn showing(a: &LanternApp, image: &str, method: Method, layer: &str, class: Option<&str>) -> bool {
    let Some(o) = a.main().output().filter(|_| explained(a)) else { return false };
    let labels = &a.model_info().unwrap().labels;
    a.gallery().current().is_some_and(|i| i.name() == image)
        && o.method == method
        && o.layer == layer
        && class.is_none_or(|c| labels[o.class] == c)
}

#[test]
fn a_playlist_steps_through_image_method_layer_and_class_with_its_captions() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo", explained);
    ui::command(&mut h, Command::OpenPlaylist(talk()));
    wait_for(&mut h, "step 1", |a| showing(a, "star.png", Method::GradCam, "blocks.4", Some("star")));
    assert_eq!(h.state().gallery().len(), 3, "the playlist's images, each once");
    h.get_by_label_contains("Grad-CAM at the last block");
    h.get_by_label_contains("step 1 of 6");

    h.key_press(egui::Key::ArrowRight);
    wait_for(&mut h, "step 2: an earlier layer", |a| showing(a, "star.png", Method::GradCam, "blocks.2", None));
    h.get_by_label_contains("Earlier layer");

    h.key_press(egui::Key::PageDown);
    wait_for(&mut h, "step 3: another class", |a| showing(a, "star.png", Method::GradCam, "blocks.4", Some("ring")));

    h.key_press(egui::Key::ArrowRight);
    wait_for(&mut h, "step 4: another image and method", |a| {
        showing(a, "triangle.png", Method::ScoreCam, "blocks.4", None)
    });

    h.key_press(egui::Key::PageUp);
    wait_for(&mut h, "back to step 3", |a| showing(a, "star.png", Method::GradCam, "blocks.4", Some("ring")));

    // Closing the playlist gives the arrows back to the gallery.
    h.get_by_label("Close playlist").click();
    h.run_steps(2);
    assert!(h.state().ui_state().talk.is_none());
    let index = h.state().gallery().index;
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().gallery().index, index + 1);
}

#[test]
fn a_step_naming_a_layer_or_class_the_model_lacks_is_said_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/star.png");
    let path = dir.path().join("talk.toml");
    let text = format!(
        "[[step]]\nimage = {:?}\nmethod = \"gradcam\"\nlayer = \"blocks.9\"\nclass = \"dog\"\n",
        image.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the demo", explained);
    ui::command(&mut h, Command::OpenPlaylist(path));
    wait_for(&mut h, "the step with the defaults", |a| {
        showing(a, "star.png", Method::GradCam, "blocks.4", None)
            && a.toasts().visible().any(|t| t.text.contains("no layer blocks.9"))
            && a.toasts().visible().any(|t| t.text.contains("no class 'dog'"))
    });

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[step]]\nimage = \"gone.png\"\nmethod = \"gradcam\"\n").unwrap();
    let before = h.state().gallery().len();
    ui::command(&mut h, Command::OpenPlaylist(bad));
    assert!(h.state().toasts().last_error().is_some_and(|e| e.contains("gone.png")));
    assert_eq!(h.state().gallery().len(), before, "a bad playlist changes nothing");
}

#[test]
fn a_playlist_given_at_launch_opens_on_its_first_step() {
    // `lantern open assets/demo/talk.toml` launches with the file among the paths.
    let mut h = harness(Launch { paths: vec![talk()], ..Launch::default() });
    wait_for(&mut h, "step 1", |a| showing(a, "star.png", Method::GradCam, "blocks.4", Some("star")));
    assert_eq!(h.state().ui_state().talk.as_ref().map(|t| t.index), Some(0));
}
