//! The central area: one large view, or the compare grid of views that share zoom, pan and look.

use super::audit_mode::AuditEdit;
use super::canvas::{self, ViewTransform};
use super::commands::{Command, Commands};
use super::gallery::{Decoded, GalleryImage};
use super::jobs::explain::ExplainOutput;
use super::live::LiveCamera;
use super::overlay::ViewContent;
use super::settings::{CompareAxis, Look};
use super::state::AppState;
use super::textures::Textures;
use super::theme::{self, view_id};
use super::view_state::ViewState;
use super::worker::Slot;
use crate::imaging::Geometry;
use crate::map::boxes::boxes_at;
use crate::map::{PixelBox, WeightMap};
use crate::render::render_view;
use egui::{Align2, Color32, FontId, Rect, RichText, vec2};
use std::sync::Arc;

/// Stable id of a view for its GPU resources.
fn view_id(slot: Slot) -> u64 {
    match slot {
        Slot::Main => view_id::MAIN,
        Slot::Cell(i) => view_id::CELLS + i as u64,
        Slot::Label(i) => view_id::LABELS + i as u64,
    }
}

/// A map drawn over a picture.
pub struct Overlay<'a> {
    pub map: &'a Arc<WeightMap>,
    /// Changes whenever the map does (keys the GPU upload and the CPU composite).
    pub key: u64,
    /// Where the map lies on the image.
    pub geometry: Geometry,
    /// The boxes above each threshold `i / 100` ([`crate::map::boxes::threshold_boxes`]); `None`
    /// draws none (partial maps).
    pub boxes: Option<&'a [Vec<PixelBox>]>,
}

/// Where and how a picture is drawn: under the shared look, with zoom and pan, through wgpu or
/// composited on the CPU, and whether a drag pans (the audit's box drawing takes it otherwise).
/// The look and the zoom and pan are the caller's copies: what the view's gestures change in
/// them reaches the app as a command.
pub struct Surface<'a> {
    pub look: &'a mut Look,
    pub transform: &'a mut ViewTransform,
    pub gpu: bool,
    pub pan: bool,
}

/// One picture of a view: an image and, unless the look hides it, a map over it, drawn under the
/// shared look with zoom and pan. Every view (the canvas, compare cells, the Pair view's two
/// sides) is drawn by this. Returns the canvas's response.
pub fn paint_picture(
    ui: &mut egui::Ui,
    rect: Rect,
    view: u64,
    (image_key, decoded): (u64, &Decoded),
    overlay: Option<Overlay<'_>>,
    surface: &mut Surface<'_>,
    textures: &mut Textures,
) -> egui::Response {
    let (gpu, pan) = (surface.gpu, surface.pan);
    let (look, transform) = (&mut *surface.look, &mut *surface.transform);
    let size = vec2(decoded.rgb.width() as f32, decoded.rgb.height() as f32);
    let response = canvas::interact(ui, rect, size, transform, look, pan);
    let image_rect = transform.image_rect(rect, size);
    let overlay = overlay.filter(|_| !look.hidden);
    let map_key = overlay.as_ref().map_or(0, |o| o.key);
    let content = ViewContent {
        image_key,
        image: decoded.rgba.clone(),
        map_key,
        map: overlay.as_ref().map(|o| Arc::clone(o.map)),
    };
    let uniforms = canvas::uniforms(look, rect, image_rect, overlay.as_ref().map(|o| &o.geometry));
    // Frames not drawn by wgpu (tests without a GPU renderer) composite on the CPU.
    let fallback =
        if gpu { None } else { Some(composite(ui, view, (image_key, decoded), overlay.as_ref(), look, textures)) };
    canvas::paint_view(ui, rect, view, &content, uniforms, fallback.as_ref(), image_rect);
    let boxes: Vec<Rect> = match &overlay {
        Some(Overlay { map, geometry, boxes: Some(b), .. }) => boxes_at(b, look.threshold)
            .iter()
            .map(|b| canvas::box_on_screen(b, (map.width, map.height), geometry, image_rect))
            .collect(),
        _ => Vec::new(),
    };
    canvas::paint_annotations(ui, rect, look, &boxes, image_rect);
    response
}

/// The picture with its map composited on the CPU, kept as a texture in `textures` until the
/// image, the map or the look changes: frames not drawn by wgpu, and the small maps of the
/// label list.
pub fn composite(
    ui: &egui::Ui,
    view: u64,
    (image_key, decoded): (u64, &Decoded),
    overlay: Option<&Overlay<'_>>,
    look: &Look,
    textures: &mut Textures,
) -> egui::TextureHandle {
    let map_key = overlay.map_or(0, |o| o.key);
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (image_key, map_key, overlay.is_some(), format!("{look:?}")).hash(&mut h);
        h.finish()
    };
    textures.view(view, key, || {
        let rgb = match overlay {
            Some(o) => render_view(&decoded.rgb, o.map, &o.geometry, &look.view_look()),
            None => (*decoded.rgb).clone(),
        };
        let colour = egui::ColorImage::from_rgb([rgb.width() as usize, rgb.height() as usize], rgb.as_raw());
        ui.ctx().load_texture(format!("lantern view {view}"), colour, egui::TextureOptions::LINEAR)
    })
}

/// A view's map as an [`Overlay`] (none until its first map arrives).
pub fn overlay_of(view: &ViewState) -> Option<Overlay<'_>> {
    view.shown_map().zip(view.output()).map(|(map, o)| Overlay {
        map,
        key: view.map_key(),
        geometry: o.geometry,
        boxes: view.partial().is_none().then_some(o.boxes.as_slice()),
    })
}

/// The small map of a label view (image and map, composited on the CPU).
pub fn label_thumbnail(
    ui: &egui::Ui,
    slot: Slot,
    image: &GalleryImage,
    view: &ViewState,
    look: &Look,
    textures: &mut Textures,
) -> Option<egui::TextureHandle> {
    let decoded = image.decoded()?;
    let overlay = overlay_of(view).filter(|_| !look.hidden);
    Some(composite(ui, view_id(slot), (image.id, decoded), overlay.as_ref(), look, textures))
}

/// Draw one view; returns the response of its canvas.
fn draw(
    ui: &mut egui::Ui,
    rect: Rect,
    slot: Slot,
    image: &GalleryImage,
    view: &ViewState,
    mut surface: Surface<'_>,
    textures: &mut Textures,
) -> Option<egui::Response> {
    let decoded = image.decoded()?;
    let overlay = overlay_of(view);
    let response = paint_picture(ui, rect, view_id(slot), (image.id, decoded), overlay, &mut surface, textures);
    let size = vec2(decoded.rgb.width() as f32, decoded.rgb.height() as f32);
    let image_rect = surface.transform.image_rect(rect, size);
    paint_image_truth(ui, rect, (image_rect, size), image, surface.look.boxes, textures);
    Some(response)
}

/// `image`'s ground truth over its picture, when it has one (its mask's tint once the worker has
/// loaded it, its boxes when `boxes`): the canvas and the Pair view's two sides draw it.
/// `(image_rect, size)` as [`paint_truth`].
pub fn paint_image_truth(
    ui: &egui::Ui,
    rect: Rect,
    (image_rect, size): (Rect, egui::Vec2),
    image: &GalleryImage,
    boxes: bool,
    textures: &mut Textures,
) {
    if let Some(truth) = &image.truth {
        let mask = match &truth.mask_image {
            super::images::LoadState::Ready(mask) => Some(textures.mask(ui.ctx(), image.id, mask, theme::TRUTH_MASK)),
            _ => None,
        };
        paint_truth(ui, rect, (image_rect, size), truth, mask.as_ref(), boxes);
    }
}

/// Ground truth in green, distinct from the yellow predicted boxes: the mask as a translucent
/// tint and the boxes as outlines.
/// `mask` is the mask's tint, once the mask is loaded; `(image_rect, size)` where the image lies on
/// the screen and its size in pixels.
fn paint_truth(
    ui: &egui::Ui,
    rect: Rect,
    (image_rect, size): (Rect, egui::Vec2),
    truth: &super::gallery::Truth,
    mask: Option<&egui::TextureHandle>,
    boxes: bool,
) {
    let painter = ui.painter_at(rect);
    if let Some(texture) = mask {
        painter.image(
            texture.id(),
            image_rect,
            Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            Color32::WHITE,
        );
    }
    if boxes {
        for b in &truth.boxes {
            let at = |x: u32, y: u32| {
                image_rect.min + vec2(x as f32 / size.x * image_rect.width(), y as f32 / size.y * image_rect.height())
            };
            let r = Rect::from_min_max(at(b.x0, b.y0), at(b.x1 + 1, b.y1 + 1));
            painter.rect_stroke(r, 0.0, egui::Stroke::new(theme::STROKE, theme::TRUTH), egui::StrokeKind::Outside);
        }
    }
}

/// The audit's corrected box: drawn by dragging in drawing mode (a drag from a corner moves it),
/// shown in cyan with its corner handles.
fn correction_ui(
    ui: &egui::Ui,
    rect: Rect,
    response: &egui::Response,
    transform: &ViewTransform,
    size: egui::Vec2,
    a: &mut AuditEdit,
) {
    let pixel = |p: egui::Pos2| transform.pixel_at(rect, size, p);
    if a.drawing {
        if response.drag_started()
            && let Some(from) = response.interact_pointer_pos().and_then(pixel)
        {
            a.drag_start = Some((from, a.correction));
        }
        if response.dragged()
            && let (Some((from, original)), Some(to)) = (a.drag_start, response.interact_pointer_pos().and_then(pixel))
        {
            let radius = (8.0 * size.x / transform.image_rect(rect, size).width().max(1.0)).ceil() as u32;
            a.correction = Some(super::audit_mode::dragged_box(original, from, to, radius.max(1)));
        }
        if response.drag_stopped() {
            a.drag_start = None;
        }
    }
    if let Some(b) = a.correction {
        let image_rect = transform.image_rect(rect, size);
        let at = |x: u32, y: u32| {
            image_rect.min + vec2(x as f32 / size.x * image_rect.width(), y as f32 / size.y * image_rect.height())
        };
        let r = Rect::from_min_max(at(b.x0, b.y0), at(b.x1 + 1, b.y1 + 1));
        let painter = ui.painter_at(rect);
        let cyan = theme::CORRECTION;
        painter.rect_stroke(r, 0.0, egui::Stroke::new(theme::STROKE, cyan), egui::StrokeKind::Outside);
        for c in [r.left_top(), r.right_top(), r.left_bottom(), r.right_bottom()] {
            painter.circle_filled(c, 4.0, cyan);
        }
    }
}

/// How the explanation of the current image compares with its ground truth: the IoU of the best
/// predicted box at the threshold, and whether the explained class is the true one.
pub fn truth_summary(app: &AppState) -> Option<String> {
    let image = app.gallery.current()?;
    let truth = image.truth.as_ref()?;
    let out = app.main.output()?;
    let info = app.model.info.as_ref()?;
    let predicted = out.boxes_in_original(app.settings.look.threshold);
    let iou = (!truth.boxes.is_empty()).then(|| crate::metrics::wsol::best_iou(&predicted, &truth.boxes));
    let explained = info.labels.get(out.class);
    let right = truth.class_name.as_ref().zip(explained).map(|(t, e)| t.eq_ignore_ascii_case(e));
    let mut text = format!("truth: {}", truth.class_name.clone().unwrap_or_else(|| "?".into()));
    if let Some(iou) = iou {
        text.push_str(&format!(" · IoU {iou:.2}"));
    }
    match right {
        Some(true) => text.push_str(" · class right"),
        Some(false) => text.push_str(" · class wrong"),
        None => {}
    }
    Some(text)
}

/// A caption in the top-left corner of a view.
fn caption(ui: &egui::Ui, rect: Rect, text: &str, size: f32) {
    let painter = ui.painter_at(rect);
    let pos = rect.left_top() + vec2(8.0, 6.0);
    let galley = painter.layout_no_wrap(text.to_string(), FontId::proportional(size), Color32::WHITE);
    painter.rect_filled(
        Rect::from_min_size(pos - vec2(4.0, 2.0), galley.size() + vec2(8.0, 4.0)),
        4.0,
        theme::CAPTION_BACKGROUND,
    );
    painter.galley(pos, galley, Color32::WHITE);
}

/// A finished explanation in words: method, class (with its probability) and layer.
fn describe_output(app: &AppState, o: &ExplainOutput) -> String {
    let label = |c: usize| {
        app.model.info.as_ref().and_then(|i| i.labels.get(c).cloned()).unwrap_or_else(|| format!("class {c}"))
    };
    let layer = if o.layer.is_empty() { String::new() } else { format!(" @ {}", o.layer) };
    let p = app.model.info.as_ref().and_then(|i| i.output.probabilities(&o.logits).get(o.class).copied());
    let p = p.map_or(String::new(), |p| format!(" ({:.1} %)", p * 100.0));
    format!("{} · {}{p}{layer}", o.method.title(), label(o.class))
}

fn describe(app: &AppState, view: &ViewState) -> String {
    match (view.output(), view.progress(), view.requested()) {
        (_, Some((done, total)), Some(r)) => format!("{} … {done}/{total}", r.method.title()),
        (Some(o), _, _) => describe_output(app, o),
        (None, _, Some(r)) => format!("{} …", r.method.title()),
        _ => String::new(),
    }
}

/// The single large view with the hover readout. Zoom and pan, the look, the readout and the
/// audit's corrected box are changed on copies and reach the app as commands.
pub fn main_view(app: &AppState, textures: &mut Textures, commands: &mut Commands, ui: &mut egui::Ui) {
    let rect = ui.available_rect_before_wrap();
    let gpu = app.machine.gpu;
    let text = describe(app, &app.main);
    let Some(image) = app.gallery.current() else {
        ui.centered_and_justified(|ui| ui.label("Open an image (File > Open images) or drop one here."));
        return;
    };
    if let super::images::LoadState::Failed(e) = &image.image {
        let e = e.clone();
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new(format!("Cannot show this image:\n{e}")).color(theme::ERROR))
        });
        return;
    }
    let drawing = app.audit.as_ref().is_some_and(|a| a.edit.drawing);
    // The wipe divider is dragged, and the view zoomed and panned, on copies.
    let (mut look, mut transform) = (app.settings.look, app.transform);
    let surface = Surface { look: &mut look, transform: &mut transform, gpu, pan: !drawing };
    let Some(response) = draw(ui, rect, Slot::Main, image, &app.main, surface, textures) else {
        ui.centered_and_justified(|ui| ui.spinner());
        return;
    };
    set_look(&app.settings.look, commands, look);
    if transform != app.transform {
        commands.push(Command::SetTransform(transform));
    }
    let size = image.decoded().map(|d| vec2(d.rgb.width() as f32, d.rgb.height() as f32));
    let readout = match (response.hover_pos(), size) {
        (Some(p), Some(size)) => transform.pixel_at(rect, size, p).map(|(x, y)| (x, y, map_value_at(&app.main, x, y))),
        _ => None,
    };
    if readout != app.readout {
        commands.push(Command::SetReadout(readout));
    }
    if let (Some(a), Some(size)) = (app.audit.as_ref(), size) {
        // The box is drawn on a copy; the change reaches the audit as a command.
        let mut edit = a.edit.clone();
        correction_ui(ui, rect, &response, &transform, size, &mut edit);
        if edit != a.edit {
            commands.push(Command::EditAudit(Box::new(edit)));
        }
    }
    let big = if app.presentation { theme::PRESENTATION_CAPTION_SIZE } else { theme::CAPTION_SIZE };
    let text = match truth_summary(app) {
        Some(t) => format!("{text}  |  {t}"),
        None => text,
    };
    caption(ui, rect, &text, big);
    if let Some(o) = app.main.output().filter(|_| !app.settings.look.hidden) {
        colour_bar(ui, rect, app.settings.look.colormap, o.map.min_max(), big);
    }
    if app.presentation {
        let painter = ui.painter_at(rect);
        let name = app.gallery.current().map(|i| i.name()).unwrap_or_default();
        painter.text(
            rect.center_bottom() - vec2(0.0, 12.0),
            Align2::CENTER_BOTTOM,
            name,
            FontId::proportional(20.0),
            theme::PRESENTATION_NAME,
        );
    }
}

/// Camera mode's canvas: the newest frame with the map of the last explained frame over it,
/// under the shared look, zoom and pan (changed on copies, sent back as commands), captioned
/// with the explanation. Presentation mode shows it too, with the camera named below it.
pub fn camera_view(
    app: &AppState,
    camera: &LiveCamera,
    textures: &mut Textures,
    commands: &mut Commands,
    ui: &mut egui::Ui,
) {
    let rect = ui.available_rect_before_wrap();
    let Some(shown) = camera.shown() else {
        ui.centered_and_justified(|ui| ui.label(format!("Waiting for the {}…", camera.choice)));
        return;
    };
    let explained = camera.explained().map(|e| &e.output);
    let overlay = explained.map(|o| Overlay {
        map: &o.map,
        key: camera.map_key(),
        geometry: o.geometry,
        boxes: Some(o.boxes.as_slice()),
    });
    let (mut look, mut transform) = (app.settings.look, app.transform);
    let mut surface = Surface { look: &mut look, transform: &mut transform, gpu: app.machine.gpu, pan: true };
    paint_picture(ui, rect, view_id::CAMERA, (shown.key, &shown.decoded), overlay, &mut surface, textures);
    set_look(&app.settings.look, commands, look);
    if transform != app.transform {
        commands.push(Command::SetTransform(transform));
    }
    let big = if app.presentation { theme::PRESENTATION_CAPTION_SIZE } else { theme::CAPTION_SIZE };
    let text = match explained {
        Some(o) => format!("Live: {}", describe_output(app, o)),
        None => "Live: explaining the first frame…".to_string(),
    };
    caption(ui, rect, &text, big);
    if let Some(o) = explained.filter(|_| !app.settings.look.hidden) {
        colour_bar(ui, rect, app.settings.look.colormap, o.map.min_max(), big);
    }
    if app.presentation {
        ui.painter_at(rect).text(
            rect.center_bottom() - vec2(0.0, 12.0),
            Align2::CENTER_BOTTOM,
            format!("{} (Space keeps this frame)", camera.choice),
            FontId::proportional(20.0),
            theme::PRESENTATION_NAME,
        );
    }
}

/// A vertical colour bar at the right edge of `rect`, labelled with the map's value range.
fn colour_bar(
    ui: &egui::Ui,
    rect: egui::Rect,
    colormap: crate::colormap::Colormap,
    (lo, hi): (f32, f32),
    text_size: f32,
) {
    let painter = ui.painter_at(rect);
    let bar =
        egui::Rect::from_min_size(rect.right_top() + vec2(-34.0, 40.0), vec2(14.0, (rect.height() * 0.4).max(60.0)));
    let steps = 64;
    for i in 0..steps {
        let t = 1.0 - (i as f32 + 0.5) / steps as f32;
        let [r, g, b] = colormap.color(t);
        let y0 = bar.top() + bar.height() * i as f32 / steps as f32;
        let cell = egui::Rect::from_min_max(
            egui::pos2(bar.left(), y0),
            egui::pos2(bar.right(), y0 + bar.height() / steps as f32 + 0.5),
        );
        painter.rect_filled(cell, 0.0, Color32::from_rgb(r, g, b));
    }
    painter.rect_stroke(bar, 0.0, egui::Stroke::new(1.0, theme::COLOUR_BAR_FRAME), egui::StrokeKind::Outside);
    let font = FontId::proportional(text_size * 0.8);
    painter.text(
        bar.center_top() - vec2(0.0, 4.0),
        Align2::CENTER_BOTTOM,
        format!("{hi:.2}"),
        font.clone(),
        theme::COLOUR_BAR_TEXT,
    );
    painter.text(
        bar.center_bottom() + vec2(0.0, 4.0),
        Align2::CENTER_TOP,
        format!("{lo:.2}"),
        font,
        theme::COLOUR_BAR_TEXT,
    );
}

/// The map value under image pixel `(x, y)`, if the map covers it.
fn map_value_at(view: &ViewState, x: u32, y: u32) -> Option<f32> {
    let o = view.output()?;
    let (cx, cy, cw, ch) = o.geometry.crop_in_original();
    let (u, v) = ((f64::from(x) + 0.5 - cx) / cw, (f64::from(y) + 0.5 - cy) / ch);
    if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
        return None;
    }
    o.map.get((u * o.map.width as f64) as usize, (v * o.map.height as f64) as usize)
}

/// Ask for `look` when a view changed it from `current`.
pub fn set_look(current: &Look, commands: &mut Commands, look: Look) {
    if look != *current {
        commands.push(Command::SetLook(look));
    }
}

/// A grid of views varying method, class or layer, sharing zoom, pan and look (changed on copies
/// shared by the cells, which reach the app as commands).
pub fn compare_grid(app: &AppState, textures: &mut Textures, commands: &mut Commands, ui: &mut egui::Ui) {
    let n = app.cells.len();
    if n == 0 {
        ui.centered_and_justified(|ui| ui.label("Nothing to compare yet."));
        return;
    }
    let area = ui.available_rect_before_wrap();
    let cols = (n as f32).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let cell = vec2(area.width() / cols as f32, area.height() / rows as f32);
    let gpu = app.machine.gpu;
    let texts: Vec<String> = app.cells.iter().map(|v| describe(app, v)).collect();
    let axis = app.settings.compare_axis;
    let Some(image) = app.gallery.current() else { return };
    let (mut look, mut transform) = (app.settings.look, app.transform);
    for (i, text) in texts.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let rect = Rect::from_min_size(area.min + vec2(c as f32 * cell.x, r as f32 * cell.y), cell).shrink(2.0);
        let surface = Surface { look: &mut look, transform: &mut transform, gpu, pan: true };
        let drawn = draw(ui, rect, Slot::Cell(i), image, &app.cells[i], surface, textures);
        if drawn.is_some() {
            let prefix = match axis {
                CompareAxis::Methods => "",
                CompareAxis::Classes => "class: ",
                CompareAxis::Layers => "layer: ",
            };
            caption(ui, rect, &format!("{prefix}{text}"), theme::CELL_CAPTION_SIZE);
        }
    }
    set_look(&app.settings.look, commands, look);
    if transform != app.transform {
        commands.push(Command::SetTransform(transform));
    }
}
