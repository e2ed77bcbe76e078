//! Short messages in the corner (egui has no toasts of its own): errors stay until clicked or for
//! eight seconds, notes for four.

use egui::{Align2, Color32, RichText};

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    /// `egui` time when it appeared.
    pub since: f64,
}

#[derive(Debug, Default)]
pub struct Toasts {
    pub items: Vec<Toast>,
}

impl Toasts {
    pub fn error(&mut self, now: f64, text: impl Into<String>) {
        self.push(now, text.into(), true);
    }

    pub fn note(&mut self, now: f64, text: impl Into<String>) {
        self.push(now, text.into(), false);
    }

    fn push(&mut self, now: f64, text: String, error: bool) {
        self.items.retain(|t| t.text != text);
        self.items.push(Toast { text, error, since: now });
        if self.items.len() > 5 {
            self.items.remove(0);
        }
    }

    /// The newest error, for the status bar and tests.
    pub fn last_error(&self) -> Option<&str> {
        self.items.iter().rev().find(|t| t.error).map(|t| t.text.as_str())
    }

    pub fn show(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        self.items.retain(|t| now - t.since < if t.error { 8.0 } else { 4.0 });
        if self.items.is_empty() {
            return;
        }
        let mut dismiss = None;
        egui::Area::new(egui::Id::unique("lantern toasts"))
            .anchor(Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for (i, t) in self.items.iter().enumerate() {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(420.0);
                        let colour = if t.error { Color32::from_rgb(255, 120, 110) } else { ui.visuals().text_color() };
                        if ui.add(egui::Label::new(RichText::new(&t.text).color(colour)).sense(egui::Sense::click())).clicked() {
                            dismiss = Some(i);
                        }
                    });
                }
            });
        if let Some(i) = dismiss {
            self.items.remove(i);
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(250));
    }
}
