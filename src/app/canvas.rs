//! The image view: zoom and pan, the mapping between image pixels and the screen, and drawing
//! the image with its map (through the GPU overlay, or composited on the CPU when the frame is
//! not rendered by wgpu), the boxes at the threshold and the wipe divider.

use super::overlay::{OverlayCallback, OverlayUniforms, ViewContent};
use super::settings::{Look, ViewMode};
pub use super::transform::ViewTransform;
use crate::imaging::Geometry;
use crate::map::PixelBox;
use egui::{Color32, Rect, Sense, Stroke, StrokeKind, Vec2, pos2};

/// The part of the image visible in `view` as UV `(u0, v0, du, dv)` for the shader.
pub fn view_uv(view: Rect, image_rect: Rect) -> [f32; 4] {
    let du = view.width() / image_rect.width();
    let dv = view.height() / image_rect.height();
    let u0 = (view.min.x - image_rect.min.x) / image_rect.width();
    let v0 = (view.min.y - image_rect.min.y) / image_rect.height();
    [u0, v0, du, dv]
}

/// Where the map lies in image UV.
pub fn map_uv(g: &Geometry) -> [f32; 4] {
    let (x, y, w, h) = g.crop_in_original();
    let (iw, ih) = (f64::from(g.original.0), f64::from(g.original.1));
    [(x / iw) as f32, (y / ih) as f32, (w / iw) as f32, (h / ih) as f32]
}

/// Map-pixel box → screen rectangle.
pub fn box_on_screen(b: &PixelBox, map_size: (usize, usize), g: &Geometry, image_rect: Rect) -> Rect {
    let [u0, v0, du, dv] = map_uv(g);
    let to_screen = |x: f32, y: f32| {
        let u = u0 + du * x / map_size.0 as f32;
        let v = v0 + dv * y / map_size.1 as f32;
        pos2(image_rect.min.x + u * image_rect.width(), image_rect.min.y + v * image_rect.height())
    };
    Rect::from_min_max(to_screen(b.x0 as f32, b.y0 as f32), to_screen(b.x1 as f32 + 1.0, b.y1 as f32 + 1.0))
}

/// The shader uniforms for a view.
pub fn uniforms(look: &Look, view: Rect, image_rect: Rect, geometry: Option<&Geometry>) -> OverlayUniforms {
    OverlayUniforms {
        view_uv: view_uv(view, image_rect),
        map_uv: geometry.map_or([0.0, 0.0, 1.0, 1.0], map_uv),
        alpha: look.alpha,
        gamma: look.gamma,
        threshold: look.threshold,
        wipe: ((image_rect.min.x + look.wipe * image_rect.width() - view.min.x) / view.width()).clamp(0.0, 1.0),
        mode: look.mode.code(),
        contour: u32::from(look.contour),
        colormap: crate::colormap::Colormap::ALL.iter().position(|c| *c == look.colormap).unwrap_or(0) as u32,
        has_map: u32::from(geometry.is_some()),
    }
}

/// Draw one view into `rect`: the CPU-composited texture when there is one (frames not drawn by
/// wgpu), else the GPU overlay.
pub fn paint_view(
    ui: &mut egui::Ui,
    rect: Rect,
    view_id: u64,
    content: &ViewContent,
    uniforms: OverlayUniforms,
    fallback: Option<&egui::TextureHandle>,
    image_rect: Rect,
) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, super::theme::VIEW_BACKGROUND);
    match fallback {
        Some(tex) => {
            painter.image(tex.id(), image_rect, Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)), Color32::WHITE);
        }
        None => {
            painter.add(eframe::egui_wgpu::Callback::new_paint_callback(
                rect,
                OverlayCallback { view: view_id, content: content.clone(), uniforms },
            ));
        }
    }
}

/// Boxes and the wipe divider on top of a view.
pub fn paint_annotations(ui: &egui::Ui, rect: Rect, look: &Look, boxes: &[Rect], image_rect: Rect) {
    let painter = ui.painter_at(rect);
    if look.boxes {
        for b in boxes {
            painter.rect_stroke(
                *b,
                0.0,
                Stroke::new(super::theme::STROKE, super::theme::PREDICTED),
                StrokeKind::Outside,
            );
        }
    }
    if look.mode == ViewMode::Wipe {
        let x = image_rect.min.x + look.wipe * image_rect.width();
        painter.line_segment([pos2(x, rect.top()), pos2(x, rect.bottom())], Stroke::new(2.0, Color32::WHITE));
        painter.circle_filled(pos2(x, rect.center().y), 7.0, Color32::WHITE);
    }
}

/// Allocate the canvas area and handle zoom (wheel, pinch), pan (drag) and the wipe divider.
/// Returns the response and whether the divider is being dragged.
/// With `pan` false a drag does not pan (the audit's box drawing takes it).
pub fn interact(
    ui: &mut egui::Ui,
    rect: Rect,
    image: Vec2,
    transform: &mut ViewTransform,
    look: &mut Look,
    pan: bool,
) -> egui::Response {
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    let image_rect = transform.image_rect(rect, image);
    let divider_x = image_rect.min.x + look.wipe * image_rect.width();
    let on_divider = look.mode == ViewMode::Wipe
        && response.interact_pointer_pos().or(response.hover_pos()).is_some_and(|p| (p.x - divider_x).abs() < 10.0);
    if response.dragged() {
        if look.mode == ViewMode::Wipe
            && (on_divider || ui.memory(|m| m.data.get_temp::<bool>(response.id).unwrap_or(false)))
        {
            ui.memory_mut(|m| m.data.insert_temp(response.id, true));
            if let Some(p) = response.interact_pointer_pos() {
                look.wipe = ((p.x - image_rect.min.x) / image_rect.width()).clamp(0.0, 1.0);
            }
        } else if pan {
            transform.pan(rect, image, response.drag_delta());
        }
    }
    if response.drag_stopped() {
        ui.memory_mut(|m| m.data.remove::<bool>(response.id));
    }
    if let Some(hover) = response.hover_pos() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = zoom * (scroll / 200.0).exp();
        if (factor - 1.0).abs() > 1e-4 {
            transform.zoom_at(rect, image, hover, factor);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::vec2;

    #[test]
    fn uv_rectangles() {
        let view = Rect::from_min_size(pos2(0.0, 0.0), vec2(100.0, 100.0));
        let image_rect = Rect::from_min_size(pos2(-100.0, 0.0), vec2(200.0, 100.0));
        assert_eq!(view_uv(view, image_rect), [0.5, 0.0, 0.5, 1.0]);
    }
}
