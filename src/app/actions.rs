//! What the app does for the commands that reach beyond one piece of state: opening, stepping
//! through and recording an audit, exporting the shown view, and starting "save all". Each is a
//! function of the app (the root of `app/`), called by [`super::LanternApp::apply`].

use super::LanternApp;
use super::audit_mode::AuditSession;
use super::gallery::Truth;
use super::jobs::animation::ExportAnimation;
use super::jobs::save_all::SaveAll;
use super::jobs::{self, TaskKind, TaskOutput};
use super::model::ModelSource;
use crate::audit::{NewVerdict, VerdictKind};
use crate::map::PixelBox;
use std::path::{Path, PathBuf};

/// Open an audit file: its images (with their ground-truth boxes) in the gallery, its model,
/// method and threshold, and the image the annotator stopped at.
pub fn open(app: &mut LanternApp, path: &Path) {
    let session = match AuditSession::open(path) {
        Ok(s) => s,
        Err(e) => return app.state.toasts.error(e.to_string()),
    };
    let classes = session.store.classes().unwrap_or_default();
    let files: Vec<PathBuf> = session.images.iter().map(|i| session.settings.image_path(i)).collect();
    let moved: Vec<String> = session
        .store
        .missing_files()
        .unwrap_or_default()
        .iter()
        .map(|m| format!("{} ({})", m.image_id, m.path.display()))
        .collect();
    if !moved.is_empty() {
        app.state.toasts.error(format!(
            "{} of the audit's images are not where they were: {}",
            moved.len(),
            moved.join(", ")
        ));
    }
    match &session.settings.model {
        Some(m) => {
            if !matches!(m.check(), crate::audit::ModelCheck::Unchanged) {
                app.state.toasts.error(format!(
                    "{}: the audit's model file is missing or changed since the audit began",
                    m.path.display()
                ));
            }
            if m.path.is_file() {
                app.open_model(ModelSource::File(m.path.clone()));
            } else {
                app.open_model(ModelSource::Demo);
            }
        }
        None => app.open_model(ModelSource::Demo),
    }
    if let Some(method) = session.settings.method {
        app.state.settings.method = method;
    }
    app.state.settings.look.threshold = session.settings.threshold;
    app.state.settings.look.boxes = true;
    app.state.gallery.set_files(files, &mut app.next_id);
    for (img, entry) in app.state.gallery.images.iter_mut().zip(&session.images) {
        img.truth = Some(Truth {
            class: entry.class,
            class_name: entry.class.and_then(|c| classes.get(c).cloned()),
            boxes: entry.boxes.clone(),
            mask: None,
            mask_image: super::images::LoadState::No,
        });
    }
    let resume = session.store.resume().ok().flatten().and_then(|e| session.index_of(&e.id)).unwrap_or(0);
    app.state.gallery.select(resume);
    app.state.transform.fit();
    let opened =
        format!("Audit {}: {} of {} images judged", path.display(), session.progress.audited, session.progress.total);
    // Scripts (tests/gui_fallback.sh) wait for this line.
    if std::env::var_os("LANTERN_REPORT_FIRST").is_some() {
        println!("lantern: opened {opened}");
    }
    app.state.toasts.note(opened);
    app.state.audit = Some(session);
}

/// Record `kind` for the current image, then move to the next image without a verdict.
pub fn record(app: &mut LanternApp, kind: VerdictKind) {
    let Some(session) = app.state.audit.as_mut() else { return };
    if session.annotator.is_none() {
        return app.state.toasts.error("Enter your name first: verdicts are recorded under it.");
    }
    let Some(entry) = session.images.get(app.state.gallery.index).cloned() else { return };
    let mut verdict = NewVerdict::new(entry.id.clone(), kind);
    verdict.corrected_box = session.edit.correction;
    verdict.comment = session.edit.comment.trim().to_string();
    if let Some((iou, class, boxes)) = judged_prediction(app) {
        verdict.iou = iou;
        verdict.predicted_class = Some(class);
        verdict.predicted_boxes = boxes;
    }
    let session = app.state.audit.as_mut().expect("checked above");
    match session.store.record(&verdict) {
        Ok(id) => {
            session.saved = Some((entry.id.clone(), kind, id));
            session.edit.comment.clear();
            session.edit.correction = None;
            session.edit.drawing = false;
            session.progress = session.store.progress().unwrap_or(session.progress);
            next_unaudited(app);
        }
        Err(e) => app.state.toasts.error(format!("The verdict was not saved: {e}")),
    }
}

/// The prediction the annotator sees for the current image: the IoU of the best predicted box
/// with the ground truth, the explained class and the predicted boxes, in original pixels.
fn judged_prediction(app: &LanternApp) -> Option<(Option<f64>, usize, Vec<PixelBox>)> {
    let out = app.state.main.output()?;
    let truth = app.state.gallery.current()?.truth.as_ref()?;
    let boxes = out.boxes_in_original(app.state.settings.look.threshold);
    let iou = (!truth.boxes.is_empty()).then(|| crate::metrics::wsol::best_iou(&boxes, &truth.boxes));
    Some((iou, out.class, boxes))
}

/// Cache the shown prediction in the audit (so "IoU below" and "wrong class" filter images
/// not judged yet), once per explanation.
pub fn remember_prediction(app: &mut LanternApp) {
    let Some((iou, class, boxes)) = judged_prediction(app) else { return };
    let index = app.state.gallery.index;
    let Some(session) = app.state.audit.as_mut() else { return };
    let Some(entry) = session.images.get(index) else { return };
    let p = crate::audit::Prediction { class: Some(class), boxes, iou };
    if session.store.prediction(&entry.id).ok().flatten().as_ref() != Some(&p) {
        // A failure here only weakens the filters; the verdicts are what must not be lost.
        let _ = session.store.record_prediction(&entry.id, &p);
    }
}

/// Go to the next image without a verdict (after the current one, wrapping).
pub fn next_unaudited(app: &mut LanternApp) {
    let Some(session) = app.state.audit.as_ref() else { return };
    let current = session.images.get(app.state.gallery.index).map(|e| e.id.clone());
    match session.store.next_unaudited(current.as_deref()) {
        Ok(Some(e)) => {
            if let Some(i) = session.index_of(&e.id) {
                app.state.gallery.select(i);
                app.state.transform.fit();
            }
        }
        Ok(None) => app.state.toasts.note("Every image has a verdict."),
        Err(e) => app.state.toasts.error(e.to_string()),
    }
}

/// Step by `delta` among the images that pass the filter.
pub fn step(app: &mut LanternApp, delta: isize) {
    let Some(session) = app.state.audit.as_ref() else { return };
    let list = match session.filtered() {
        Ok(l) => l,
        Err(e) => return app.state.toasts.error(e.to_string()),
    };
    if list.is_empty() {
        return app.state.toasts.note("No image passes the filter.");
    }
    let here = app.state.gallery.index;
    let pos = list.iter().position(|&i| i == here);
    let target = match pos {
        Some(p) => list[(p as isize + delta).rem_euclid(list.len() as isize) as usize],
        None if delta >= 0 => list.iter().copied().find(|&i| i > here).unwrap_or(list[0]),
        None => list.iter().rev().copied().find(|&i| i < here).unwrap_or(list[list.len() - 1]),
    };
    if app.state.gallery.select(target) {
        app.state.transform.fit();
    }
    if let Some(s) = app.state.audit.as_mut() {
        s.edit.correction = None;
    }
}

/// Create an audit of the dataset folder `data` (format detected) with the open model, method
/// and threshold, as a task; it opens when created.
pub fn create(app: &mut LanternApp, data: PathBuf, file: PathBuf) {
    let model = match &app.state.model.source {
        Some(ModelSource::File(p)) => Some(p.clone()),
        _ => None,
    };
    let new = crate::audit::NewAudit {
        format: crate::datasets::Format::detect(&data),
        data,
        model,
        method: Some(app.state.settings.method),
        threshold: app.state.settings.look.threshold.min(0.99),
        annotator: None,
    };
    let repaint = app.repaint_handle();
    let spawned = app.tasks.spawn(TaskKind::NewAudit, repaint, move |_control| {
        jobs::audit::create(&new, file).map(TaskOutput::AuditCreated)
    });
    if let Err(e) = spawned {
        app.state.toasts.error(e.to_string());
    }
}

/// Set the annotator's name (asked once per audit).
pub fn set_annotator(app: &mut LanternApp, name: &str) {
    let Some(session) = app.state.audit.as_mut() else { return };
    match session.store.set_annotator(name) {
        Ok(()) => session.annotator = session.store.annotator().ok().flatten(),
        Err(e) => app.state.toasts.error(e.to_string()),
    }
}

/// Export what the main view shows into `dir`.
pub fn export_current(app: &mut LanternApp, dir: &Path) {
    let result = super::export::write_current(&app.state, dir);
    match result {
        Ok(n) => app.state.toasts.note(format!("Exported {n} files to {}", dir.display())),
        Err(e) => app.state.toasts.error(e.to_string()),
    }
}

/// Explain and export every image of the gallery into `dir` as a background task.
pub fn save_all(app: &mut LanternApp, dir: PathBuf) {
    let Some(source) = app.state.model.source.clone() else { return };
    let job = SaveAll {
        model: source,
        images: app.state.gallery.images.iter().map(|i| i.source.clone()).collect(),
        method: app.state.settings.method,
        target: app.state.target,
        layer: app.state.layer.clone(),
        params: app.state.settings.params.clone(),
        look: app.state.settings.look.view_look(),
        boxes: app.state.settings.look.boxes,
        dir,
    };
    let repaint = app.repaint_handle();
    if let Err(e) = app.tasks.spawn(TaskKind::SaveAll, repaint, move |control| job.run(control).map(TaskOutput::Saved))
    {
        app.state.toasts.error(e.to_string());
    }
}

/// Animate the open image's explanation, with the current method, class, layer, parameters and
/// look, into the GIF `file` as `sweep` (a background task).
pub fn export_animation(app: &mut LanternApp, sweep: crate::animate::Sweep, file: PathBuf) {
    let (Some(model), Some(image)) = (app.state.model.source.clone(), app.state.gallery.current()) else {
        return app.state.toasts.error("Open a model and an image first.");
    };
    let job = ExportAnimation {
        model,
        installed_generator: app.state.model.installed_generator.clone(),
        image: image.source.clone(),
        method: app.state.settings.method,
        target: app.state.target,
        layer: app.state.layer.clone(),
        params: app.state.settings.params.clone(),
        style: app.state.settings.look.view_look().style,
        sweep,
        file,
    };
    let repaint = app.repaint_handle();
    let spawned =
        app.tasks.spawn(TaskKind::ExportAnimation, repaint, move |control| job.run(control).map(TaskOutput::Saved));
    if let Err(e) = spawned {
        app.state.toasts.error(e.to_string());
    }
}
