//! The app's colours, sizes and view ids, named once: widgets take them from here instead of
//! repeating literals.

use egui::Color32;

/// Error text (toasts, the status bar, a view's failure).
pub const ERROR: Color32 = Color32::from_rgb(255, 120, 110);
/// The bar of the class (or attribute) being explained in a chart.
pub const CHOSEN_BAR: Color32 = Color32::from_rgb(255, 170, 40);
/// The other bars of a chart.
pub const BAR: Color32 = Color32::from_rgb(90, 140, 220);
/// Ground truth on the canvas (the CPU renderer's colour for it).
pub const TRUTH: Color32 =
    Color32::from_rgb(crate::render::TRUTH_BOX[0], crate::render::TRUTH_BOX[1], crate::render::TRUTH_BOX[2]);
/// Predicted boxes on the canvas (the CPU renderer's colour for them).
pub const PREDICTED: Color32 = Color32::from_rgb(
    crate::render::PREDICTED_BOX[0],
    crate::render::PREDICTED_BOX[1],
    crate::render::PREDICTED_BOX[2],
);
/// The tint of a ground-truth mask.
pub const TRUTH_MASK: Color32 = Color32::from_rgba_unmultiplied_const(40, 230, 90, 70);
/// The audit's corrected box and its handles.
pub const CORRECTION: Color32 = Color32::from_rgb(60, 220, 255);
/// Behind a view's picture.
pub const VIEW_BACKGROUND: Color32 = Color32::from_gray(18);
/// Behind a caption.
pub const CAPTION_BACKGROUND: Color32 = Color32::from_black_alpha(170);
/// The image name in presentation mode.
pub const PRESENTATION_NAME: Color32 = Color32::from_gray(200);
/// The colour bar's frame and its labels.
pub const COLOUR_BAR_FRAME: Color32 = Color32::from_gray(220);
pub const COLOUR_BAR_TEXT: Color32 = Color32::from_gray(230);

/// Width of box outlines and the wipe divider, points.
pub const STROKE: f32 = 2.0;
/// Caption size on the canvas, and in presentation mode.
pub const CAPTION_SIZE: f32 = 14.0;
pub const PRESENTATION_CAPTION_SIZE: f32 = 26.0;
/// Caption size of a compare cell.
pub const CELL_CAPTION_SIZE: f32 = 13.0;
/// Height of a chart (top-k classes), points.
pub const CHART_HEIGHT: f32 = 120.0;
/// Width of a chart bar (of one unit).
pub const BAR_WIDTH: f64 = 0.7;

/// GPU view ids: every view that draws through the overlay has its own textures, keyed by id.
pub mod view_id {
    /// The main canvas.
    pub const MAIN: u64 = 0;
    /// Compare cell `i` is `CELLS + i`.
    pub const CELLS: u64 = 1;
    /// The small map of present label `i` is `LABELS + i` (after every possible cell).
    pub const LABELS: u64 = 1000;
    /// The Pair view's query and reference (far above the canvas's ids).
    pub const PAIR: [u64; 2] = [1 << 20, (1 << 20) + 1];
    /// The live camera's canvas.
    pub const CAMERA: u64 = (1 << 20) + 2;
}
