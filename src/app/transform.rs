//! Zoom and pan of a view: the mapping between image pixels and the screen.

use egui::{Pos2, Rect, Vec2, pos2};

/// Zoom and pan shared by every view that shows the same image.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ViewTransform {
    /// Screen points per image pixel; `None` fits the image to the view.
    pub zoom: Option<f32>,
    /// Image pixel at the centre of the view.
    pub center: Option<Pos2>,
}

impl ViewTransform {
    /// Screen rectangle of the whole image inside `view`.
    pub fn image_rect(&self, view: Rect, image: Vec2) -> Rect {
        let fit = (view.width() / image.x).min(view.height() / image.y).max(1e-6);
        let zoom = self.zoom.unwrap_or(fit);
        let center = self.center.unwrap_or(pos2(image.x / 2.0, image.y / 2.0));
        let min = view.center() - center.to_vec2() * zoom;
        Rect::from_min_size(min, image * zoom)
    }

    /// The current zoom in `view` (the fit zoom when not set).
    pub fn effective_zoom(&self, view: Rect, image: Vec2) -> f32 {
        self.image_rect(view, image).width() / image.x
    }

    /// Zoom by `factor` keeping the image point under `anchor` (screen) in place.
    pub fn zoom_at(&mut self, view: Rect, image: Vec2, anchor: Pos2, factor: f32) {
        let rect = self.image_rect(view, image);
        let zoom = rect.width() / image.x;
        let new_zoom = (zoom * factor).clamp(0.02, 64.0);
        let at = ((anchor - rect.min) / zoom).to_pos2();
        // Keep `at` under the anchor: centre = at - (anchor - view.center) / new_zoom.
        self.center = Some(at - (anchor - view.center()) / new_zoom);
        self.zoom = Some(new_zoom);
    }

    /// Pan by a screen-space drag.
    pub fn pan(&mut self, view: Rect, image: Vec2, delta: Vec2) {
        let rect = self.image_rect(view, image);
        let zoom = rect.width() / image.x;
        let center = self.center.unwrap_or(pos2(image.x / 2.0, image.y / 2.0));
        self.center = Some(center - delta / zoom);
        self.zoom = Some(zoom);
    }

    pub fn fit(&mut self) {
        *self = Self::default();
    }

    /// One image pixel per screen pixel.
    pub fn actual_size(&mut self, pixels_per_point: f32) {
        self.zoom = Some(1.0 / pixels_per_point);
    }

    /// Image pixel under a screen point, if it is on the image.
    pub fn pixel_at(&self, view: Rect, image: Vec2, screen: Pos2) -> Option<(u32, u32)> {
        let rect = self.image_rect(view, image);
        let p = (screen - rect.min) / (rect.width() / image.x);
        (p.x >= 0.0 && p.y >= 0.0 && p.x < image.x && p.y < image.y).then_some((p.x as u32, p.y as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::vec2;

    #[test]
    fn fit_zoom_and_pixel_mapping() {
        let view = Rect::from_min_size(pos2(0.0, 0.0), vec2(200.0, 100.0));
        let image = vec2(100.0, 100.0);
        let mut t = ViewTransform::default();
        let r = t.image_rect(view, image);
        assert_eq!(r, Rect::from_min_size(pos2(50.0, 0.0), vec2(100.0, 100.0)));
        assert_eq!(t.pixel_at(view, image, pos2(60.0, 10.0)), Some((10, 10)));
        assert_eq!(t.pixel_at(view, image, pos2(10.0, 10.0)), None);
        // Zooming at a point keeps that image pixel under it.
        t.zoom_at(view, image, pos2(60.0, 10.0), 2.0);
        assert_eq!(t.pixel_at(view, image, pos2(60.0, 10.0)), Some((10, 10)));
        assert!((t.effective_zoom(view, image) - 2.0).abs() < 1e-5);
        t.pan(view, image, vec2(20.0, 0.0));
        assert_eq!(t.pixel_at(view, image, pos2(80.0, 10.0)), Some((10, 10)));
        t.fit();
        assert_eq!(t, ViewTransform::default());
    }
}
