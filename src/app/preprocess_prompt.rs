//! The one question the app asks about an ONNX model whose metadata does not say how it reads
//! images: its mean, standard deviation and sizes, prefilled with what Lantern would assume
//! (ImageNet's statistics, a 0.875 crop of the graph's input size). The answer is remembered per
//! model file in the settings and applied whenever that file is opened again.

use super::commands::{Command, Commands};
use crate::imaging::Preprocess;
use std::path::PathBuf;

/// Draw the question while one is pending: the model file and the answer being edited.
pub fn window(prompt: Option<&(PathBuf, Preprocess)>, commands: &mut Commands, ctx: &egui::Context) {
    let Some((path, asked)) = prompt else { return };
    let mut p = asked.clone();
    let p = &mut p;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let mut answer = false;
    egui::Window::new("How does this model read images?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(format!(
                "{name} does not say how its inputs are normalised. Lantern remembers your answer for this file."
            ));
            egui::Grid::new("preprocess").num_columns(4).show(ui, |ui| {
                for (label, values) in [("mean", &mut p.mean), ("std", &mut p.std)] {
                    let row = ui.label(label);
                    for (v, channel) in values.iter_mut().zip(["red", "green", "blue"]) {
                        let range = if label == "std" { 0.001..=10.0 } else { -10.0..=10.0 };
                        ui.add(egui::DragValue::new(v).speed(0.001).range(range))
                            .labelled_by(row.id)
                            .on_hover_text(format!("{label} of the {channel} channel"));
                    }
                    ui.end_row();
                }
                let row = ui.label("resize, crop");
                ui.add(egui::DragValue::new(&mut p.resize).range(0..=4096))
                    .labelled_by(row.id)
                    .on_hover_text("shorter side after resizing (0: keep)");
                ui.add(egui::DragValue::new(&mut p.crop).range(0..=4096))
                    .labelled_by(row.id)
                    .on_hover_text("side of the centre crop (0: none)");
                ui.end_row();
            });
            ui.horizontal(|ui| {
                if ui.button("Use these").clicked() {
                    answer = true;
                }
            });
        });
    if *p != *asked {
        commands.push(Command::EditPreprocessAnswer(p.clone()));
    }
    if answer {
        commands.push(Command::AnswerPreprocess);
    }
}
