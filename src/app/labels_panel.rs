//! The inspector's section for multi-label models: every label present in the image (probability
//! at least one half) with its probability and a small map of it, a click shows that label large;
//! and BoostLU (Kim et al., CVPR 2023), whose `alpha` re-weights the class activation map from the
//! cached activations, so moving the slider never re-runs the backbone.

use super::commands::{Command, Commands};
use super::settings::Settings;
use super::state::AppState;
use super::textures::Textures;
use super::worker::Slot;
use crate::explain::params::BOOST_ALPHA;
use crate::explain::{Method, Target};
use egui::{RichText, vec2};

/// Side of a label's small map, points.
const THUMB: f32 = 56.0;

/// The label list and the BoostLU controls, for multi-label models (BoostLU CAM stays in the
/// method list for every model with a CAM head).
/// `settings` is the inspector's copy of the settings (sent back as a command when it changed).
pub fn labels_ui(
    app: &AppState,
    textures: &mut Textures,
    commands: &mut Commands,
    settings: &mut Settings,
    ui: &mut egui::Ui,
) {
    if !app.multilabel() {
        return;
    }
    label_list(app, textures, commands, settings, ui);
    ui.separator();
    if app.model.info.as_ref().is_some_and(|i| i.cam_layer.is_some()) {
        boost_ui(app, settings, ui);
        ui.separator();
    }
}

fn label_list(
    app: &AppState,
    textures: &mut Textures,
    commands: &mut Commands,
    settings: &mut Settings,
    ui: &mut egui::Ui,
) {
    ui.heading("Labels");
    let present = app.present_labels();
    if app.main.output().is_none() {
        ui.label("…");
        return;
    }
    ui.add(egui::Slider::new(&mut settings.label_threshold, 0.01..=0.99).text("present from"));
    if present.is_empty() {
        ui.label(format!("No label reaches {:.0} %.", app.settings.label_threshold * 100.0));
        return;
    }
    let names: Vec<String> = present
        .iter()
        .map(|(c, _)| {
            app.model.info.as_ref().and_then(|i| i.labels.get(*c).cloned()).unwrap_or_else(|| format!("label {c}"))
        })
        .collect();
    let shown = app.main.output().map(|o| o.class);
    let look = app.settings.look;
    for (i, (&(c, p), name)) in present.iter().zip(&names).enumerate() {
        let texture = match (app.gallery.current(), app.label_views.get(i)) {
            (Some(image), Some(view)) if view.output().is_some() => {
                super::views::label_thumbnail(ui, Slot::Label(i), image, view, &look, textures)
            }
            _ => None,
        };
        let clicked = ui
            .horizontal(|ui| {
                let thumb = match &texture {
                    Some(t) => {
                        ui.add(egui::Image::new(t).fit_to_exact_size(vec2(THUMB, THUMB)).sense(egui::Sense::click()))
                    }
                    None => ui.add_sized(vec2(THUMB, THUMB), egui::Spinner::new()),
                };
                let text = RichText::new(format!("{name}  {:.1} %", p * 100.0));
                let text = if shown == Some(c) { text.strong() } else { text };
                let row = ui.selectable_label(shown == Some(c), text).on_hover_text("show this label's map large");
                thumb.clicked() || row.clicked()
            })
            .inner;
        if clicked {
            commands.push(Command::SetTarget(Target::Class(c)));
        }
    }
    if ui.button("Compare every label").on_hover_text("the compare grid with one cell per present label").clicked() {
        settings.compare_axis = super::settings::CompareAxis::Classes;
        commands.push(Command::ShowCompare(true));
    }
}

fn boost_ui(app: &AppState, settings: &mut Settings, ui: &mut egui::Ui) {
    ui.heading("BoostLU");
    if let Some(alpha) = app.model.info.as_ref().and_then(|i| i.boost).filter(|a| *a != 1.0) {
        ui.label(format!("The model pools BoostLU(CAM) with alpha {alpha}."));
    }
    if settings.method == Method::BoostCam {
        ui.label(format!("The {} slider above re-weights the map from the cached activations.", BOOST_ALPHA.label));
    } else if ui
        .button("Explain with BoostLU CAM")
        .on_hover_text("sigmoid(BoostLU(CAM)), with an alpha slider")
        .clicked()
    {
        settings.method = Method::BoostCam;
    }
}
