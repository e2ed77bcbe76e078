//! Asking for paths without a file dialog: an audit opened from the command line (the launch
//! carries it) and through File ▸ Open audit…'s typed-path window, typed and confirmed as a user
//! would.

#[path = "common/ui.rs"]
mod ui;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use lantern::app::Launch;
use lantern::audit::{Audit, NewAudit, Setup};
use lantern::explain::Method;
use std::path::{Path, PathBuf};
use ui::{harness, wait_for};

/// A new audit of four benchmark images, in `dir`.
fn audit_in(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    lantern::datasets::synth_folder::write(&data, 4, 5, 112, |_| {}).unwrap();
    let db = dir.join("audit.db");
    let new = NewAudit {
        data,
        format: lantern::datasets::Format::Synth,
        model: None,
        method: Some(Method::GradCam),
        threshold: 0.5,
        annotator: None,
    };
    Audit::create(&db, &Setup::from_dataset(&new).unwrap()).unwrap();
    db
}

/// One test, so the process's environment is set before any of the app's threads start.
#[test]
fn an_audit_opens_from_the_launch_and_through_the_typed_path_window() {
    // SAFETY: no other thread runs yet (this binary has one test, and it has not started the app).
    unsafe { std::env::set_var(lantern::app::dialogs::TYPED_PATHS_VAR, "1") };
    let dir = tempfile::tempdir().unwrap();
    let db = audit_in(dir.path());

    let mut h =
        harness(Launch { paths: vec![], model: None, audit: Some(db.clone()), camera: None, ..Launch::default() });
    wait_for(&mut h, "audit mode from the launch", |a| a.audit().is_some() && a.gallery().len() == 4);
    drop(h);

    let mut h = harness(Launch::default());
    h.run_steps(2);
    assert!(h.state().audit().is_none());
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Open audit…").click();
    h.run_steps(2);
    h.get_by_label_contains("LANTERN_TYPED_PATHS is set");
    let field = h.get_by_role_and_label(Role::TextInput, "Path");
    field.focus();
    field.type_text(&format!("{}/au", dir.path().display()));
    h.run_steps(2);
    assert_eq!(h.state().ui_state().path_prompt.as_ref().unwrap().text, format!("{}/au", dir.path().display()));
    // Tab completes to the one name that starts so.
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert_eq!(h.state().ui_state().path_prompt.as_ref().unwrap().path(), db);
    h.get_by_label("OK").click();
    wait_for(&mut h, "audit mode from the typed path", |a| a.audit().is_some() && a.gallery().len() == 4);
    assert!(h.state().ui_state().path_prompt.is_none(), "the window closed");
    assert_eq!(h.state().audit().unwrap().progress.total, 4);
}
