//! The Train panel's window: the settings of a run, Start, Pause, Resume and Cancel (which push
//! commands; the app starts and stops the task), and the loss terms of every step and the
//! validation metrics of every epoch as they come.

use super::commands::{Command, Commands};
use super::jobs::train::Live;
use super::train_panel::{RunState, TrainPanel, TrainSettings};
use crate::datasets::Format;
use crate::train::generator::Objective;
use egui_plot::{Legend, Line, Plot, PlotPoints};
use std::path::Path;

/// The panel, as a window: `model` is the open model's name, `dataset` the open dataset folder.
pub fn window(
    panel: &TrainPanel,
    model: Option<&str>,
    dataset: Option<&Path>,
    commands: &mut Commands,
    ctx: &egui::Context,
) {
    let mut settings = panel.settings.clone();
    let mut open = settings.open;
    egui::Window::new("Train generator")
        .open(&mut open)
        .default_size([460.0, 560.0])
        .show(ctx, |ui| panel_ui(panel, &mut settings, model, dataset, commands, ui));
    settings.open = open;
    if settings != panel.settings {
        commands.push(Command::SetTrainSettings(Box::new(settings)));
    }
}

fn settings_ui(t: &mut TrainSettings, model: Option<&str>, dataset: Option<&Path>, ui: &mut egui::Ui) {
    ui.label(format!("For the open model: {}", model.unwrap_or("none")));
    match dataset {
        Some(dir) => {
            ui.radio_value(
                &mut t.use_dataset,
                true,
                format!("Open dataset: {} ({})", dir.display(), Format::detect(dir)),
            );
            ui.radio_value(&mut t.use_dataset, false, "Procedural images, drawn fresh every epoch");
        }
        None => {
            ui.label("Data: procedural images, drawn fresh every epoch (open a dataset folder to train on it)");
        }
    }
    egui::ComboBox::from_label("Objective").selected_text(t.objective.to_string()).show_ui(ui, |ui| {
        for o in [Objective::Classifier, Objective::Siamese, Objective::Both] {
            ui.selectable_value(&mut t.objective, o, o.to_string());
        }
    });
    ui.add(egui::Slider::new(&mut t.epochs, 1..=50).text("Epochs"));
    ui.add(egui::Slider::new(&mut t.batch, 2..=64).text("Batch"));
    if dataset.is_none() || !t.use_dataset {
        ui.add(egui::Slider::new(&mut t.count, 8..=10_000).logarithmic(true).text("Images per epoch"));
    }
    ui.add(egui::Slider::new(&mut t.val_count, 2..=2_000).logarithmic(true).text("Validation images"));
    ui.add(egui::Slider::new(&mut t.learning_rate, 1e-4..=1e-1).logarithmic(true).text("Learning rate"));
}

fn curves_ui(ui: &mut egui::Ui, live: &Live) {
    let names: Vec<String> =
        live.steps.first().map(|(_, t)| t.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    Plot::new("lantern train loss").height(150.0).legend(Legend::default()).x_axis_label("step").show(ui, |plot| {
        for (i, name) in names.iter().enumerate() {
            let points: PlotPoints =
                live.steps.iter().filter_map(|(s, t)| t.get(i).map(|(_, v)| [*s as f64, *v])).collect();
            plot.line(Line::new(name.clone(), points));
        }
    });
    let metrics: Vec<String> =
        live.epochs.first().map(|r| r.metrics.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    Plot::new("lantern train validation").height(120.0).legend(Legend::default()).x_axis_label("epoch").show(
        ui,
        |plot| {
            for (i, name) in metrics.iter().enumerate() {
                let points: PlotPoints =
                    live.epochs.iter().filter_map(|r| r.metrics.get(i).map(|(_, v)| [r.epoch as f64, *v])).collect();
                plot.line(Line::new(name.clone(), points));
            }
        },
    );
}

fn panel_ui(
    panel: &TrainPanel,
    settings: &mut TrainSettings,
    model: Option<&str>,
    dataset: Option<&Path>,
    commands: &mut Commands,
    ui: &mut egui::Ui,
) {
    let state = panel.run.as_ref().map(|r| r.state.clone());
    let busy = matches!(state, Some(RunState::Running | RunState::Pausing | RunState::Cancelling));
    ui.add_enabled_ui(!busy && state != Some(RunState::Paused), |ui| settings_ui(settings, model, dataset, ui));
    ui.separator();
    ui.horizontal(|ui| {
        if !busy && state != Some(RunState::Paused) && ui.button("Start training").clicked() {
            commands.push(Command::StartTraining);
        }
        if state == Some(RunState::Running) && ui.button("Pause").clicked() {
            commands.push(Command::PauseTraining);
        }
        if state == Some(RunState::Paused) && ui.button("Resume").clicked() {
            commands.push(Command::ResumeTraining);
        }
        if matches!(state, Some(RunState::Running | RunState::Pausing | RunState::Paused))
            && ui.button("Cancel").clicked()
        {
            commands.push(Command::CancelTraining);
        }
    });
    let Some(run) = panel.run.as_ref() else { return };
    let live = run.live();
    let status = match &run.state {
        RunState::Running => "training".to_string(),
        RunState::Pausing => "pausing at the next step…".to_string(),
        RunState::Paused => "paused (the checkpoint is kept; Resume continues from it)".to_string(),
        RunState::Cancelling => "cancelling…".to_string(),
        RunState::Done(p) => format!("done: {}", p.display()),
        RunState::Failed(e) => format!("failed: {e}"),
    };
    ui.label(status);
    if let Some((epoch, epochs, done, total)) = live.at {
        let eta = live.eta.map(|d| format!(", about {} s left", d.as_secs())).unwrap_or_default();
        ui.add(
            egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                .text(format!("epoch {epoch}/{epochs}, step {done}/{total}{eta}")),
        );
    }
    if let Some(r) = live.epochs.last() {
        let numbers: Vec<String> = r.metrics.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
        ui.label(format!("epoch {}: {}", r.epoch, numbers.join(", ")));
    }
    curves_ui(ui, &live);
}
