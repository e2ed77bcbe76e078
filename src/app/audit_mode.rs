//! Audit mode: an annotator steps through a dataset, sees the ground truth beside the
//! explanation's boxes, and records a verdict per image in the audit's SQLite file
//! ([`crate::audit`]). A verdict is committed before the view moves on, so what the panel shows
//! as saved is on disk. Keys (no text field focused): A accept, R reject, L flag ("look again"),
//! N next image without a verdict, arrows previous/next within the filter, B draw a corrected box.

use crate::audit::{Audit, Filter, ImageEntry, Progress, VerdictId, VerdictKind};
use crate::map::PixelBox;
use std::path::Path;

/// An open audit.
pub struct AuditSession {
    pub store: Audit,
    pub settings: crate::audit::Settings,
    /// The audit's images in dataset order (the gallery holds them in the same order).
    pub images: Vec<ImageEntry>,
    pub progress: Progress,
    /// What the annotator is editing (the panel and the canvas change it by commands).
    pub edit: AuditEdit,
    pub annotator: Option<String>,
    /// The last verdict committed: image id, verdict, row id.
    pub saved: Option<(String, VerdictKind, VerdictId)>,
}

/// What the annotator edits before a verdict: the filter, the comment, the corrected box.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditEdit {
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
        Ok(Self { store, settings, images, progress, edit: AuditEdit::default(), annotator, saved: None })
    }

    /// The gallery index of the image with `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.images.iter().position(|i| i.id == id)
    }

    /// Gallery indices of the images that pass the filter, in dataset order.
    pub fn filtered(&self) -> crate::error::Result<Vec<usize>> {
        Ok(self.store.list(&self.edit.filter)?.iter().filter_map(|s| self.index_of(&s.image.id)).collect())
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
