//! The typed-path window, shown instead of a file dialog when none can be shown: why, a text
//! field (Tab completes from the file system, the matching names are listed below it), OK and
//! Cancel. It only pushes commands.

use super::commands::{Command, Commands};
use super::path_prompt::{self, PathPrompt};

/// Draw the window while a path is being typed.
pub fn window(prompt: Option<&PathPrompt>, commands: &mut Commands, ctx: &egui::Context) {
    let Some(prompt) = prompt else { return };
    let mut text = prompt.text.clone();
    let (mut ok, mut close) = (false, false);
    egui::Window::new(prompt.request.title())
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(&prompt.reason);
            let row = ui.label("Path");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .desired_width(420.0)
                        .lock_focus(true)
                        .hint_text("/path/to/… (Tab completes)"),
                )
                .labelled_by(row.id);
            if !field.has_focus() && text.is_empty() {
                field.request_focus();
            }
            let found = path_prompt::completions(&text);
            if field.has_focus()
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Tab))
                && let Some(longer) = path_prompt::common_prefix(&text, &found)
            {
                text = longer;
            }
            if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                ok = true;
            }
            for name in &found {
                if ui.small_button(name).clicked() {
                    text.clone_from(name);
                }
            }
            if let Some(refused) = &prompt.refused {
                ui.colored_label(ui.visuals().error_fg_color, refused);
            }
            ui.horizontal(|ui| {
                if ui.button("OK").clicked() {
                    ok = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if text != prompt.text {
        commands.push(Command::EditPathPrompt(text));
    }
    if ok {
        commands.push(Command::AnswerPathPrompt);
    } else if close {
        commands.push(Command::ClosePathPrompt);
    }
}
