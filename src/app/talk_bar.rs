//! The bar a talk shows under the view, also in presentation mode: where in the playlist it is,
//! the step's caption, and buttons to step and to close it. It only pushes commands.

use super::commands::{Command, Commands};
use super::talk::Talk;
use super::theme;

/// Draw the bar while a playlist is open.
pub fn talk_bar(talk: Option<&Talk>, commands: &mut Commands, ui: &mut egui::Ui) {
    let Some(talk) = talk else { return };
    egui::Panel::bottom("lantern talk").show(ui, |ui| {
        ui.horizontal(|ui| {
            let first = talk.index == 0;
            let last = talk.index + 1 == talk.playlist.steps.len();
            if ui
                .add_enabled(!first, egui::Button::new("Previous"))
                .on_hover_text("previous step (Left arrow, Page Up)")
                .clicked()
            {
                commands.push(Command::StepPlaylist(-1));
            }
            if ui
                .add_enabled(!last, egui::Button::new("Next"))
                .on_hover_text("next step (Right arrow, Page Down)")
                .clicked()
            {
                commands.push(Command::StepPlaylist(1));
            }
            ui.label(egui::RichText::new(talk.position()).color(theme::PRESENTATION_NAME));
            if let Some(caption) = &talk.step().caption {
                ui.separator();
                ui.label(egui::RichText::new(caption).strong());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Close playlist").clicked() {
                    commands.push(Command::ClosePlaylist);
                }
            });
        });
    });
}
