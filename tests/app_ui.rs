//! UI tests that drive the real app with egui_kittest: it opens on the demo with an explanation,
//! method, class and layer changes change the map, the threshold moves the boxes, export writes
//! files, a bad file gives an error without stopping the app; plus a snapshot through wgpu.

#[path = "common/ui.rs"]
mod ui;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lantern::app::{LanternApp, Launch};
use lantern::explain::{Method, Target};
use ui::{explained, harness, wait_for};

fn map_of(app: &LanternApp) -> Vec<f32> {
    app.main().output().expect("an explanation").map.values.clone()
}

#[test]
fn starts_on_the_demo_with_an_explanation() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let app = h.state();
    assert_eq!(app.model_info().unwrap().arch, "lantern_cnn");
    assert_eq!(app.gallery().len(), 6);
    let out = app.main().output().unwrap();
    assert_eq!(out.method, Method::GradCam);
    assert_eq!(out.map.width, 112);
    // The demo's first image is a star and the model says so.
    assert_eq!(app.model_info().unwrap().labels[out.top[0].0], "star");
    h.get_by_label_contains("Explaining: star");
}

#[test]
fn method_class_and_layer_choices_change_the_explanation() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let first = map_of(h.state());

    h.get_by_label("Method").click();
    h.run_steps(3);
    h.get_by_label("LayerCAM").click();
    h.run_steps(2);
    wait_for(&mut h, "LayerCAM", |a| explained(a) && a.main().output().unwrap().method == Method::LayerCam);
    let layercam = map_of(h.state());
    assert_ne!(first, layercam);

    let second_class = h.state().main().output().unwrap().top[1].0;
    let label = h.state().model_info().unwrap().labels[second_class].clone();
    h.get_by_label(&label).click();
    wait_for(&mut h, "the second class", |a| explained(a) && a.main().output().unwrap().class == second_class);
    assert_eq!(h.state().target(), Target::Class(second_class));
    assert_ne!(map_of(h.state()), layercam);
    let class_map = map_of(h.state());

    h.get_by_label("Layer").click();
    h.run_steps(3);
    h.get_by_label("blocks.2").click();
    wait_for(&mut h, "layer blocks.2", |a| explained(a) && a.main().output().unwrap().layer == "blocks.2");
    assert_ne!(map_of(h.state()), class_map);
}

#[test]
fn any_class_can_be_found_by_typing_its_name() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let top5: Vec<usize> = h.state().main().output().unwrap().top.iter().take(5).map(|t| t.0).collect();
    // The demo has six classes: the one outside the top five is only reachable by search.
    let hidden = (0..6).find(|c| !top5.contains(c)).unwrap();
    let name = h.state().model_info().unwrap().labels[hidden].clone();
    h.get_by_label("Find class").click();
    h.run_steps(1);
    h.get_by_label("Find class").type_text(&name[..3]);
    h.run_steps(2);
    h.get_by_label(&format!("{name} ({hidden})")).click();
    wait_for(&mut h, "the searched class", |a| explained(a) && a.main().output().unwrap().class == hidden);
    assert_eq!(h.state().target(), Target::Class(hidden));
}

#[test]
fn the_app_reopens_the_last_folder_and_layer_and_says_when_the_model_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ring.png"), lantern::models::demo::IMAGES[1].1).unwrap();
    let last = lantern::app::settings::Last {
        model: Some(dir.path().join("moved.safetensors")),
        paths: vec![dir.path().to_path_buf(), dir.path().join("gone")],
        layer: Some("blocks.1".into()),
    };
    let mut h = harness(Launch::default());
    h.state_mut().resume(&last);
    wait_for(&mut h, "the explanation on the reopened folder", |a| {
        explained(a) && a.gallery().len() == 1 && a.main().output().unwrap().layer == "blocks.1"
    });
    let app = h.state();
    assert_eq!(app.model_info().unwrap().arch, "lantern_cnn", "the missing model falls back to the demo");
    let errors: Vec<&str> = app.toasts().visible().filter(|t| t.error).map(|t| t.text.as_str()).collect();
    assert!(
        errors.iter().any(|e| e.contains("moved.safetensors")) && errors.iter().any(|e| e.contains("gone")),
        "{errors:?}"
    );
    assert_eq!(
        app.settings().last.paths,
        vec![dir.path().to_path_buf()],
        "what is open now is what the next start reopens"
    );
}

#[test]
fn a_dataset_folder_opens_with_its_ground_truth_beside_the_prediction() {
    let dir = tempfile::tempdir().unwrap();
    lantern::datasets::synth_folder::write(dir.path(), 3, 11, 112, |_| {}).unwrap();
    let mut h = harness(Launch {
        paths: vec![dir.path().to_path_buf()],
        model: None,
        audit: None,
        camera: None,
        ..Launch::default()
    });
    let ready = |a: &LanternApp| {
        a.gallery().len() == 3
            && a.gallery()
                .current()
                .and_then(|i| i.truth.as_ref())
                .is_some_and(|t| matches!(t.mask_image, lantern::app::images::LoadState::Ready(_)))
            && explained(a)
    };
    wait_for(&mut h, "the dataset with its masks", ready);
    let truth = h.state().gallery().current().unwrap().truth.as_ref().unwrap();
    assert_eq!(truth.boxes.len(), 1);
    let summary = lantern::app::views::truth_summary(h.state().ui_state()).unwrap();
    assert!(
        summary.contains("IoU") && (summary.contains("class right") || summary.contains("class wrong")),
        "{summary}"
    );
    h.get_by_label_contains("Ground truth:");
}

#[test]
fn an_annotator_audits_the_benchmark_with_keyboard_and_mouse_and_resumes_where_they_stopped() {
    use lantern::app::commands::Command;
    use lantern::audit::{Audit, NewAudit, Setup, VerdictKind};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    lantern::datasets::synth_folder::write(&data, 4, 5, 112, |_| {}).unwrap();
    let db = dir.path().join("audit.db");
    let new = NewAudit {
        data: data.clone(),
        format: lantern::datasets::Format::Synth,
        model: None,
        method: Some(Method::GradCam),
        threshold: 0.5,
        annotator: None,
    };
    Audit::create(&db, &Setup::from_dataset(&new).unwrap()).unwrap();

    let mut h = harness(Launch::default());
    h.state_mut().push(Command::OpenAudit(db.clone()));
    wait_for(&mut h, "the audit's first image explained", |a| {
        a.audit().is_some() && a.gallery().len() == 4 && explained(a)
    });
    let ids: Vec<String> = h.state().audit().unwrap().images.iter().map(|i| i.id.clone()).collect();
    assert_eq!(h.state().gallery().index, 0);

    // The name is asked once.
    h.get_by_label("Annotator").click();
    h.run_steps(1);
    h.get_by_label("Annotator").type_text("ana");
    h.run_steps(1);
    h.get_by_label("Start").click();
    wait_for(&mut h, "the annotator", |a| a.audit().unwrap().annotator.as_deref() == Some("ana"));

    // A accepts and moves on to the next image without a verdict.
    h.key_press(egui::Key::A);
    wait_for(&mut h, "the second image", |a| a.gallery().index == 1 && explained(a));
    let store = Audit::open(&db).unwrap();
    let v = store.verdicts().unwrap();
    assert_eq!(
        (v.len(), v[0].image_id.as_str(), v[0].kind, v[0].annotator.as_str()),
        (1, ids[0].as_str(), VerdictKind::Accept, "ana")
    );
    assert!(v[0].iou.is_some() && !v[0].predicted_boxes.is_empty(), "the IoU and boxes the annotator saw are recorded");

    // B, then a drag on the image draws the corrected box; a comment; Reject.
    h.key_press(egui::Key::B);
    h.run_steps(2);
    assert!(h.state().audit().unwrap().edit.drawing);
    h.drag_at(egui::pos2(380.0, 300.0));
    h.run_steps(1);
    h.hover_at(egui::pos2(430.0, 350.0));
    h.run_steps(1);
    h.hover_at(egui::pos2(480.0, 420.0));
    h.run_steps(1);
    h.drop_at(egui::pos2(480.0, 420.0));
    h.run_steps(2);
    let drawn = h.state().audit().unwrap().edit.correction.expect("a corrected box");
    assert!(drawn.x1 > drawn.x0 && drawn.y1 > drawn.y0, "{drawn:?}");
    h.get_by_label("Comment").click();
    h.run_steps(1);
    h.get_by_label("Comment").type_text("the box misses the tip");
    h.run_steps(1);
    h.get_by_label("Reject (R)").click();
    wait_for(&mut h, "the third image", |a| a.gallery().index == 2);
    let v = Audit::open(&db).unwrap().verdicts().unwrap();
    assert_eq!((v.len(), v[1].image_id.as_str(), v[1].kind), (2, ids[1].as_str(), VerdictKind::Reject));
    assert_eq!(v[1].corrected_box, Some(drawn));
    assert_eq!(v[1].comment, "the box misses the tip");
    h.get_by_label_contains("Saved: reject");
    drop(h);

    // Reopened in a new window: the name is remembered and it resumes at the first unjudged image.
    let mut h = harness(Launch::default());
    h.state_mut().push(Command::OpenAudit(db.clone()));
    wait_for(&mut h, "the reopened audit", |a| a.audit().is_some() && a.gallery().len() == 4);
    let app = h.state();
    assert_eq!(app.gallery().index, 2, "resumes after the last judged image");
    assert_eq!(app.audit().unwrap().annotator.as_deref(), Some("ana"));
    assert_eq!(app.audit().unwrap().progress.audited, 2);
    assert!(Audit::open(&db).unwrap().integrity_check().unwrap().iter().all(|l| l == "ok"));
}

#[test]
fn stepping_to_the_next_image_never_shows_the_previous_images_map() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    assert_eq!(h.state().gallery().current().unwrap().name(), "star.png");
    h.key_press(egui::Key::ArrowRight);
    h.step();
    assert_eq!(h.state().gallery().current().unwrap().name(), "ring.png");
    assert!(h.state().main().output().is_none(), "the star's map is gone as soon as the image changes");
    wait_for(&mut h, "the ring's explanation", explained);
    let app = h.state();
    let out = app.main().output().unwrap();
    assert_eq!(app.model_info().unwrap().labels[out.top[0].0], "ring");
}

#[test]
fn the_threshold_slider_moves_the_boxes() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let boxes_at = |a: &LanternApp| {
        let t = ((a.settings().look.threshold * 100.0).floor() as usize).min(99);
        a.main().output().unwrap().boxes[t].clone()
    };
    ui::edit_settings(&mut h, |s| s.look.threshold = 0.2);
    h.step();
    let low = boxes_at(h.state());
    let slider = h.get_by_role_and_label(egui::accesskit::Role::Slider, "Threshold");
    slider.set_value_accesskit(0.8);
    h.step();
    h.step();
    assert!((h.state().settings().look.threshold - 0.8).abs() < 0.01, "{}", h.state().settings().look.threshold);
    let high = boxes_at(h.state());
    assert_ne!(low, high, "a higher threshold gives other boxes");
    let area = |b: &[lantern::map::PixelBox]| b.iter().map(|b| b.area()).max().unwrap_or(0);
    assert!(area(&high) < area(&low), "higher threshold, smaller box");
    assert!(!h.state().main().pending(), "moving the slider runs no model");
}

#[test]
fn export_writes_the_view_the_map_and_a_record() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let dir = tempfile::tempdir().unwrap();
    ui::edit_settings(&mut h, |s| s.look.boxes = false);
    h.state_mut().export_to(dir.path());
    for name in ["star.gradcam.view.png", "star.gradcam.map.npy", "star.gradcam.map.png", "star.gradcam.json"] {
        let p = dir.path().join(name);
        assert!(p.is_file(), "{name} missing");
        assert!(std::fs::metadata(&p).unwrap().len() > 100);
    }
    let view = image::open(dir.path().join("star.gradcam.view.png")).unwrap().to_rgb8();
    let demo = image::load_from_memory(lantern::models::demo::IMAGES[0].1).unwrap();
    assert_eq!(view.height(), demo.height(), "the view is exported at the image's resolution");
    assert!(view.width() > demo.width(), "with the colour bar in a panel on the right");
    let yellow = |img: &image::RgbImage| img.pixels().filter(|p| p.0 == lantern::render::PREDICTED_BOX).count();
    assert_eq!(yellow(&view), 0, "no boxes when they are not shown");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("star.gradcam.json")).unwrap()).unwrap();
    assert_eq!(record["method"], "gradcam");
    assert_eq!(record["predictions"][0]["label"], "star");
    assert!(record.get("boxes").is_none());

    // With boxes shown, the picture has them and the record lists them at the threshold.
    ui::edit_settings(&mut h, |s| s.look.boxes = true);
    ui::edit_settings(&mut h, |s| s.look.threshold = 0.4);
    let boxed = dir.path().join("boxed");
    h.state_mut().export_to(&boxed);
    let view = image::open(boxed.join("star.gradcam.view.png")).unwrap().to_rgb8();
    assert!(yellow(&view) > 100, "the predicted boxes are drawn ({} yellow pixels)", yellow(&view));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(boxed.join("star.gradcam.json")).unwrap()).unwrap();
    assert!((record["boxes"]["threshold"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    let expected = h.state().main().output().unwrap().boxes_at(0.4).len();
    assert_eq!(record["boxes"]["boxes"].as_array().unwrap().len(), expected);
}

#[test]
fn an_export_toast_is_visible_after_minutes_of_uptime_and_save_all_runs_as_a_task() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    // egui's clock runs on: a toast stamped with time zero would already have expired.
    for _ in 0..4 {
        h.step();
    }
    let dir = tempfile::tempdir().unwrap();
    h.state_mut().push(lantern::app::commands::Command::ExportView(dir.path().to_path_buf()));
    h.run_steps(2);
    h.get_by_label_contains("Exported 4 files to");
    let all = dir.path().join("all");
    h.state_mut().push(lantern::app::commands::Command::SaveAll(all.clone()));
    wait_for(&mut h, "save all", |a| a.tasks().is_empty() && a.toasts().visible().any(|t| t.text.starts_with("Saved")));
    h.get_by_label_contains("Saved 6 images to");
    let records = std::fs::read_dir(&all)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(records, 6, "one record per demo image");
}

#[test]
fn a_bad_file_shows_an_error_and_the_app_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n this is not really a png").unwrap();
    let good = dir.path().join("good.png");
    image::load_from_memory(lantern::models::demo::IMAGES[1].1).unwrap().save(&good).unwrap();
    let mut h =
        harness(Launch { paths: vec![bad.clone(), good], model: None, audit: None, camera: None, ..Launch::default() });
    wait_for(&mut h, "the error", |a| a.toasts().last_error().is_some());
    let e = h.state().toasts().last_error().unwrap().to_string();
    assert!(e.contains("broken.png") && e.contains("not a readable image"), "{e}");
    h.get_by_label_contains("Cannot show this image");
    h.key_press(egui::Key::ArrowRight);
    wait_for(&mut h, "the next image's explanation", explained);
    assert_eq!(h.state().gallery().current().unwrap().name(), "good.png");

    // A garbage model file: an error, and the demo model stays usable.
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    h.state_mut().open_paths(vec![junk]);
    wait_for(&mut h, "the model error", |a| a.toasts().last_error().is_some_and(|e| e.contains("junk.pth")));
    wait_for(&mut h, "the demo model back", |a| {
        a.model_info().is_some_and(|i| i.arch == "lantern_cnn") && explained(a)
    });
}

#[test]
fn snapshot_of_the_main_view_through_wgpu() {
    let mut h = ui::wgpu_harness_at(Launch::default(), egui::vec2(1100.0, 720.0));
    assert!(h.state().gpu(), "the overlay renders through wgpu");
    wait_for(&mut h, "the first explanation", explained);
    wait_for(&mut h, "thumbnails", |a| {
        a.gallery().images.iter().all(|i| matches!(i.thumb, lantern::app::images::LoadState::Ready(_)))
    });
    // Text that varies by machine (device names, thread count, timings) is fixed for the picture.
    h.state_mut().steady_for_snapshots();
    h.step();
    h.snapshot_options("main_view", &egui_kittest::SnapshotOptions::new().threshold(1.5).max_failed_pixels(2000));
}

#[test]
fn the_inspector_scrolls_to_its_last_row_at_1280x820() {
    let mut h = ui::harness_at(Launch::default(), egui::vec2(1280.0, 820.0));
    wait_for(&mut h, "the first explanation", explained);
    // A full compare list: nine cells, the most the inspector allows.
    ui::edit_settings(&mut h, |s| s.compare_methods = Method::ALL.iter().copied().take(9).collect());
    assert_eq!(h.state().settings().compare_methods.len(), 9);
    h.run_steps(3);
    let bottom = |h: &Harness<'_, LanternApp>| h.get_by_label("Cell 9").rect().bottom();
    assert!(bottom(&h) > 820.0, "the last compare row starts below the window (at {})", bottom(&h));
    h.get_by_label("Cell 9").scroll_to_me();
    h.run_steps(3);
    let b = bottom(&h);
    assert!(b > 0.0 && b <= 820.0, "scrolled into view, its bottom at {b}");
}

#[test]
fn key_m_hides_and_shows_the_map() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    assert!(!h.state().settings().look.hidden);
    h.key_press(egui::Key::M);
    h.run_steps(2);
    assert!(h.state().settings().look.hidden, "M hides the map");
    h.get_by_label("Show map (M)");
    h.key_press(egui::Key::M);
    h.run_steps(2);
    assert!(!h.state().settings().look.hidden, "M shows it again");
}

#[test]
fn the_train_panel_trains_a_generator_pauses_resumes_and_the_view_switches_to_it() {
    use lantern::app::train_panel::RunState;
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    let dir = tempfile::tempdir().unwrap();
    {
        // A tiny run: two epochs of two steps on procedural images.
        let mut t = h.state().train().settings.clone();
        t.out_dir = dir.path().to_path_buf();
        (t.count, t.val_count, t.batch, t.epochs) = (8, 4, 4, 2);
        ui::command(&mut h, lantern::app::commands::Command::SetTrainSettings(Box::new(t)));
    }
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Train generator…").click();
    h.run_steps(2);
    h.get_by_label("Start training").click();
    h.run_steps(2);
    h.get_by_label("Pause").click();
    h.run_steps(1);
    let state = |a: &LanternApp| a.train().run.as_ref().map(|r| r.state.clone());
    wait_for(&mut h, "the pause", |a| {
        matches!(state(a), Some(RunState::Paused | RunState::Done(_) | RunState::Failed(_)))
    });
    assert_eq!(state(h.state()), Some(RunState::Paused), "Pause stops the run at its next step");
    h.get_by_label_contains("paused");
    let paused_at = h.state().train().run.as_ref().unwrap().live().steps.len();
    assert!(paused_at < 4, "paused before the end ({paused_at} steps)");
    h.get_by_label("Resume").click();
    wait_for(&mut h, "the end of the run", |a| matches!(state(a), Some(RunState::Done(_)) | Some(RunState::Failed(_))));
    let Some(RunState::Done(file)) = state(h.state()) else { panic!("the run failed: {:?}", state(h.state())) };
    assert!(file.starts_with(dir.path()) && file.is_file(), "{}", file.display());
    let live = h.state().train().run.as_ref().unwrap().live();
    assert_eq!(live.epochs.len(), 2, "one validation point per epoch");
    assert_eq!(live.steps.last().map(|s| s.0), Some(3), "the last of 2 x 2 steps is plotted");
    assert!(live.epochs[1].metrics.iter().any(|(n, _)| n.contains("maxboxacc")), "{:?}", live.epochs[1].metrics);
    // The loss curve's legend is drawn.
    h.get_by_label("loss");
    wait_for(&mut h, "the view on the new generator", |a| {
        explained(a)
            && a.main().output().unwrap().method == Method::Generator
            && a.model_info().unwrap().generator.as_ref().is_ok_and(|g| g.contains("generator"))
    });
    let name = h.state().model_info().unwrap().generator.clone().unwrap();
    assert_eq!(
        Some(name.as_str()),
        file.file_name().and_then(|n| n.to_str()),
        "the trained generator, not the bundled one"
    );
}

#[test]
fn an_approximate_method_says_what_it_skipped() {
    let mut h = harness(Launch::default());
    wait_for(&mut h, "the first explanation", explained);
    ui::edit_settings(&mut h, |s| s.params.rise_masks = 400);
    ui::edit_settings(&mut h, |s| s.params.rise_tolerance = 0.5);
    // Picked in code: the entry sits below the fold of the method list's scrolled popup.
    ui::edit_settings(&mut h, |s| s.method = Method::RiseEarlyStop);
    wait_for(&mut h, "RISE with early stop", |a| {
        explained(a) && a.main().output().unwrap().method == Method::RiseEarlyStop
    });
    let note = h.state().main().output().unwrap().approximation.clone().expect("it stopped early");
    assert_eq!(note, "stopped after 96 of 400 masks (map change under 0.5 per batch)");
    h.get_by_label_contains("Approximate: stopped after 96 of 400 masks");
}
