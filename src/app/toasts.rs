//! Short messages in the corner (egui has no toasts of its own): errors stay until clicked or for
//! eight seconds, notes for four. A toast reads the clock itself when it is made, so no caller
//! can stamp it with a wrong time.

use egui::{Align2, RichText};
use web_time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    /// When it appeared.
    pub since: Instant,
}

impl Toast {
    fn lifetime(&self) -> Duration {
        Duration::from_secs(if self.error { 8 } else { 4 })
    }
}

#[derive(Debug, Default)]
pub struct Toasts {
    pub items: Vec<Toast>,
}

impl Toasts {
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    fn push(&mut self, text: String, error: bool) {
        self.items.retain(|t| t.text != text);
        self.items.push(Toast { text, error, since: Instant::now() });
        if self.items.len() > 5 {
            self.items.remove(0);
        }
    }

    /// The messages still on screen.
    pub fn visible(&self) -> impl Iterator<Item = &Toast> {
        self.items.iter().filter(|t| t.since.elapsed() < t.lifetime())
    }

    /// The newest error, for the status bar and tests.
    pub fn last_error(&self) -> Option<&str> {
        self.items.iter().rev().find(|t| t.error).map(|t| t.text.as_str())
    }

    pub fn show(&mut self, ctx: &egui::Context) {
        self.items.retain(|t| t.since.elapsed() < t.lifetime());
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
                        let colour = if t.error { super::theme::ERROR } else { ui.visuals().text_color() };
                        if ui
                            .add(egui::Label::new(RichText::new(&t.text).color(colour)).sense(egui::Sense::click()))
                            .clicked()
                        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_toast_is_visible_whenever_it_is_made() {
        let mut t = Toasts::default();
        t.note("Exported 4 files");
        t.error("no images in this folder");
        assert_eq!(t.visible().count(), 2);
        t.items[0].since = Instant::now() - Duration::from_secs(5);
        assert_eq!(
            t.visible().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            vec!["no images in this folder"],
            "notes last four seconds, errors eight"
        );
    }
}
