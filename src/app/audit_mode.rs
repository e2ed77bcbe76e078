//! Audit mode: an annotator steps through a dataset, sees the ground truth beside the
//! explanation's boxes, and records a verdict per image in the audit's SQLite file
//! ([`crate::audit`]). A verdict is committed before the view moves on, so what the panel shows
//! as saved is on disk. Keys (no text field focused): A accept, R reject, L flag ("look again"),
//! N next image without a verdict, arrows previous/next within the filter, B draw a corrected box.

use super::LanternApp;
use super::gallery::Truth;
use super::model::ModelSource;
use crate::audit::{Audit, Filter, ImageEntry, NewVerdict, Progress, VerdictId, VerdictKind};
use crate::map::PixelBox;
use std::path::{Path, PathBuf};

/// An open audit.
pub struct AuditSession {
    pub store: Audit,
    pub settings: crate::audit::Settings,
    /// The audit's images in dataset order (the gallery holds them in the same order).
    pub images: Vec<ImageEntry>,
    pub progress: Progress,
    pub filter: Filter,
    /// The comment typed for the next verdict.
    pub comment: String,
    /// The box the annotator drew, in original-image pixels.
    pub correction: Option<PixelBox>,
    /// Drag on the canvas draws the corrected box instead of panning.
    pub drawing: bool,
    /// Where the current drag began (image pixels) and the box it began on.
    pub drag_start: Option<((u32, u32), Option<PixelBox>)>,
    /// The name typed before the audit knows its annotator.
    pub name_entry: String,
    pub annotator: Option<String>,
    /// The last verdict committed: image id, verdict, row id.
    pub saved: Option<(String, VerdictKind, VerdictId)>,
}

impl AuditSession {
    /// Open the audit at `path` (a corrupt, foreign or newer file gives an error, untouched).
    /// The UI waits at most about a second for another writer before it says the file is busy
    /// (the CLI's default patience is 15 s).
    pub fn open(path: &Path) -> crate::error::Result<Self> {
        let store = Audit::open_with(
            path,
            crate::audit::Patience { timeout: std::time::Duration::from_millis(300), retries: 2 },
        )?;
        let settings = store.settings()?;
        let images = store.images()?;
        let progress = store.progress()?;
        let annotator = store.annotator()?;
        Ok(Self {
            store,
            settings,
            images,
            progress,
            filter: Filter::default(),
            comment: String::new(),
            correction: None,
            drawing: false,
            drag_start: None,
            name_entry: String::new(),
            annotator,
            saved: None,
        })
    }

    /// The gallery index of the image with `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.images.iter().position(|i| i.id == id)
    }

    /// Gallery indices of the images that pass the filter, in dataset order.
    pub fn filtered(&self) -> crate::error::Result<Vec<usize>> {
        Ok(self.store.list(&self.filter)?.iter().filter_map(|s| self.index_of(&s.image.id)).collect())
    }
}

/// Open an audit file: its images (with their ground-truth boxes) in the gallery, its model,
/// method and threshold, and the image the annotator stopped at.
pub fn open(app: &mut LanternApp, path: &Path) {
    let session = match AuditSession::open(path) {
        Ok(s) => s,
        Err(e) => return app.toasts.error(e.to_string()),
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
        app.toasts.error(format!(
            "{} of the audit's images are not where they were: {}",
            moved.len(),
            moved.join(", ")
        ));
    }
    match &session.settings.model {
        Some(m) => {
            if !matches!(m.check(), crate::audit::ModelCheck::Unchanged) {
                app.toasts.error(format!(
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
        app.settings.method = method;
    }
    app.settings.look.threshold = session.settings.threshold;
    app.settings.look.boxes = true;
    app.gallery.set_files(files, &mut app.next_id);
    for (img, entry) in app.gallery.images.iter_mut().zip(&session.images) {
        img.truth = Some(Truth {
            class: entry.class,
            class_name: entry.class.and_then(|c| classes.get(c).cloned()),
            boxes: entry.boxes.clone(),
            mask: None,
            mask_image: super::images::LoadState::No,
            mask_texture: None,
        });
    }
    let resume = session.store.resume().ok().flatten().and_then(|e| session.index_of(&e.id)).unwrap_or(0);
    app.gallery.select(resume);
    app.transform.fit();
    app.toasts.note(format!(
        "Audit {}: {} of {} images judged",
        path.display(),
        session.progress.audited,
        session.progress.total
    ));
    app.audit = Some(session);
}

/// Record `kind` for the current image, then move to the next image without a verdict.
pub fn record(app: &mut LanternApp, kind: VerdictKind) {
    let Some(session) = app.audit.as_mut() else { return };
    if session.annotator.is_none() {
        return app.toasts.error("Enter your name first: verdicts are recorded under it.");
    }
    let Some(entry) = session.images.get(app.gallery.index).cloned() else { return };
    let mut verdict = NewVerdict::new(entry.id.clone(), kind);
    verdict.corrected_box = session.correction;
    verdict.comment = session.comment.trim().to_string();
    if let Some((iou, class, boxes)) = judged_prediction(app) {
        verdict.iou = iou;
        verdict.predicted_class = Some(class);
        verdict.predicted_boxes = boxes;
    }
    let session = app.audit.as_mut().expect("checked above");
    match session.store.record(&verdict) {
        Ok(id) => {
            session.saved = Some((entry.id.clone(), kind, id));
            session.comment.clear();
            session.correction = None;
            session.drawing = false;
            session.progress = session.store.progress().unwrap_or(session.progress);
            next_unaudited(app);
        }
        Err(e) => app.toasts.error(format!("The verdict was not saved: {e}")),
    }
}

/// The prediction the annotator sees for the current image: the IoU of the best predicted box
/// with the ground truth, the explained class and the predicted boxes, in original pixels.
fn judged_prediction(app: &LanternApp) -> Option<(Option<f64>, usize, Vec<PixelBox>)> {
    let out = app.main.output.as_ref()?;
    let truth = app.gallery.current()?.truth.as_ref()?;
    let boxes = out.boxes_in_original(app.settings.look.threshold);
    let iou = (!truth.boxes.is_empty()).then(|| crate::metrics::wsol::best_iou(&boxes, &truth.boxes));
    Some((iou, out.class, boxes))
}

/// Cache the shown prediction in the audit (so "IoU below" and "wrong class" filter images
/// not judged yet), once per explanation.
pub fn remember_prediction(app: &mut LanternApp) {
    let Some((iou, class, boxes)) = judged_prediction(app) else { return };
    let index = app.gallery.index;
    let Some(session) = app.audit.as_mut() else { return };
    let Some(entry) = session.images.get(index) else { return };
    let p = crate::audit::Prediction { class: Some(class), boxes, iou };
    if session.store.prediction(&entry.id).ok().flatten().as_ref() != Some(&p) {
        // A failure here only weakens the filters; the verdicts are what must not be lost.
        let _ = session.store.record_prediction(&entry.id, &p);
    }
}

/// Go to the next image without a verdict (after the current one, wrapping).
pub fn next_unaudited(app: &mut LanternApp) {
    let Some(session) = app.audit.as_ref() else { return };
    let current = session.images.get(app.gallery.index).map(|e| e.id.clone());
    match session.store.next_unaudited(current.as_deref()) {
        Ok(Some(e)) => {
            if let Some(i) = session.index_of(&e.id) {
                app.gallery.select(i);
                app.transform.fit();
            }
        }
        Ok(None) => app.toasts.note("Every image has a verdict."),
        Err(e) => app.toasts.error(e.to_string()),
    }
}

/// Step by `delta` among the images that pass the filter.
pub fn step(app: &mut LanternApp, delta: isize) {
    let Some(session) = app.audit.as_ref() else { return };
    let list = match session.filtered() {
        Ok(l) => l,
        Err(e) => return app.toasts.error(e.to_string()),
    };
    if list.is_empty() {
        return app.toasts.note("No image passes the filter.");
    }
    let here = app.gallery.index;
    let pos = list.iter().position(|&i| i == here);
    let target = match pos {
        Some(p) => list[(p as isize + delta).rem_euclid(list.len() as isize) as usize],
        None if delta >= 0 => list.iter().copied().find(|&i| i > here).unwrap_or(list[0]),
        None => list.iter().rev().copied().find(|&i| i < here).unwrap_or(list[list.len() - 1]),
    };
    if app.gallery.select(target) {
        app.transform.fit();
    }
    if let Some(s) = app.audit.as_mut() {
        s.correction = None;
    }
}

/// Create an audit of the dataset folder `data` (format detected) with the open model, method
/// and threshold, as a task; it opens when created.
pub fn create(app: &mut LanternApp, data: PathBuf, file: PathBuf) {
    let model = match &app.model.source {
        Some(ModelSource::File(p)) => Some(p.clone()),
        _ => None,
    };
    let new = crate::audit::NewAudit {
        format: crate::datasets::Format::detect(&data),
        data,
        model,
        method: Some(app.settings.method),
        threshold: app.settings.look.threshold.min(0.99),
        annotator: None,
    };
    let repaint = app.repaint_handle();
    let spawned = app.tasks.spawn(NEW_AUDIT, repaint, move |_control| {
        let setup = crate::audit::Setup::from_dataset(&new)?;
        Audit::create(&file, &setup)?;
        let message = format!("Created {} with {} images", file.display(), setup.images.len());
        Ok(super::tasks::Finished { message, payload: Some(Box::new(NewAuditFile(file))) })
    });
    if let Err(e) = spawned {
        app.toasts.error(e.to_string());
    }
}

/// The task that creates an audit file.
pub const NEW_AUDIT: &str = "new audit";

/// The payload of [`NEW_AUDIT`]: the file to open.
pub struct NewAuditFile(pub PathBuf);

/// Set the annotator's name (asked once per audit).
pub fn set_annotator(app: &mut LanternApp, name: &str) {
    let Some(session) = app.audit.as_mut() else { return };
    match session.store.set_annotator(name) {
        Ok(()) => session.annotator = session.store.annotator().ok().flatten(),
        Err(e) => app.toasts.error(e.to_string()),
    }
}

/// The corrected box after a drag from `from` to `to` (image pixels) that began on `original`:
/// a drag that starts near one of its corners moves that corner, any other drag draws a new box.
pub fn dragged_box(original: Option<PixelBox>, from: (u32, u32), to: (u32, u32), handle_radius: u32) -> PixelBox {
    if let Some(b) = original {
        let near = |x: u32, y: u32| from.0.abs_diff(x) <= handle_radius && from.1.abs_diff(y) <= handle_radius;
        let corners = [(b.x0, b.y0), (b.x1, b.y0), (b.x0, b.y1), (b.x1, b.y1)];
        if let Some(k) = corners.iter().position(|&(x, y)| near(x, y)) {
            let fixed = (if k % 2 == 0 { b.x1 } else { b.x0 }, if k < 2 { b.y1 } else { b.y0 });
            return ordered(fixed, to);
        }
    }
    ordered(from, to)
}

fn ordered(a: (u32, u32), b: (u32, u32)) -> PixelBox {
    PixelBox { x0: a.0.min(b.0), y0: a.1.min(b.1), x1: a.0.max(b.0), y1: a.1.max(b.1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drag_draws_a_box_and_a_drag_from_a_corner_moves_that_corner() {
        let b = dragged_box(None, (30, 40), (10, 20), 4);
        assert_eq!(b, PixelBox { x0: 10, y0: 20, x1: 30, y1: 40 });
        // From near the bottom-right corner: only that corner moves, however far the drag goes.
        let moved = dragged_box(Some(b), (29, 41), (50, 60), 4);
        assert_eq!(moved, PixelBox { x0: 10, y0: 20, x1: 50, y1: 60 });
        assert_eq!(dragged_box(Some(b), (29, 41), (52, 61), 4), PixelBox { x0: 10, y0: 20, x1: 52, y1: 61 });
        // From the top-left corner past the opposite one: the box stays ordered.
        assert_eq!(dragged_box(Some(moved), (10, 20), (70, 5), 4), PixelBox { x0: 50, y0: 5, x1: 70, y1: 60 });
        // Far from every corner: a new box.
        assert_eq!(dragged_box(Some(moved), (0, 0), (3, 3), 4), PixelBox { x0: 0, y0: 0, x1: 3, y1: 3 });
    }
}
