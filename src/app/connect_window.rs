//! "Compute ▸ Connect to a server…": the address `lantern serve` printed and a copy of its token
//! file. Connecting happens in the background; the window only pushes commands.

use super::commands::{Command, Commands};
use super::path_prompt::PathRequest;
use super::remote::RemoteState;
use std::path::PathBuf;

/// Draw the window while it is open.
pub fn window(remote: &RemoteState, commands: &mut Commands, ctx: &egui::Context) {
    let Some(asked) = &remote.form else { return };
    let mut choice = asked.clone();
    let mut token_text = choice.token_file.display().to_string();
    let (mut connect, mut close, mut browse) = (false, false, false);
    egui::Window::new("Connect to a server")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label("Compute on a machine running `lantern serve`: the images stay here, the model runs there.");
            egui::Grid::new("server").num_columns(3).show(ui, |ui| {
                let row = ui.label("Server");
                ui.add(egui::TextEdit::singleline(&mut choice.address).hint_text("ws://host:3000 or <id>@host:port"))
                    .labelled_by(row.id)
                    .on_hover_text("what `lantern serve` printed after --device remote:");
                ui.end_row();
                let row = ui.label("Token file");
                ui.add(egui::TextEdit::singleline(&mut token_text).hint_text("a copy of the server's serve.token"))
                    .labelled_by(row.id);
                if ui.button("Browse…").clicked() {
                    browse = true;
                }
                ui.end_row();
            });
            ui.horizontal(|ui| {
                let ready = !choice.address.trim().is_empty() && !token_text.trim().is_empty();
                if ui.add_enabled(ready, egui::Button::new("Connect")).clicked() {
                    connect = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    choice.token_file = PathBuf::from(token_text.trim());
    if choice != *asked {
        commands.push(Command::EditConnect(choice));
    }
    if browse {
        // Asked off the UI thread, or in the typed-path window where no dialog can be shown.
        commands.push(Command::AskPath(PathRequest::TokenFile));
    }
    if connect {
        commands.push(Command::Connect);
    } else if close {
        commands.push(Command::ShowConnect(false));
    }
}
