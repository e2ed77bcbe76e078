//! The Pair view and the Neighbours panel as widgets (their state and jobs: [`super::pair`]).
//!
//! The Pair view shows the open image (the query) and a reference side by side, each with the
//! map that explains why the embedding model finds them alike, under the canvas's look (the
//! inspector's Look controls, zoom and pan); below them the attribute values ranked for the
//! match as a bar chart and a list. Clicking a bar or a list entry shows that value's activation
//! maps on both images instead. When the images come from a dataset with ground truth (an outfits
//! folder written by `lantern synth --outfits`: its item masks and boxes), each side shows it as
//! the canvas does. The Neighbours panel lists the open image's nearest gallery
//! images with their cosine similarity; clicking one opens the pair.

use super::commands::{Command, Commands};
use super::gallery::Gallery;
use super::pair::{ModelsState, PairControls, PairState, SimilarState};
use super::pair_jobs::PairSide;
use super::path_prompt::PathRequest;
use super::state::AppState;
use super::textures::Textures;
use super::theme::{self, view_id};
use super::views::{Overlay, Surface, paint_picture};
use crate::explain::attribute_rank::RankedAttribute;
use crate::explain::pair_registry::PairMethod;
use egui::{Rect, RichText, vec2};
use egui_plot::{Bar, BarChart, Plot};

/// How many ranked values the chart shows.
const CHART_VALUES: usize = 8;

/// An attribute value's label: `group=value`, or its name alone.
pub fn attribute_label(a: &RankedAttribute) -> String {
    if a.value.is_empty() { a.name.clone() } else { format!("{}={}", a.name, a.value) }
}

/// The similarity models in use, and buttons to pick others.
fn models_ui(models: &ModelsState, commands: &mut Commands, ui: &mut egui::Ui, choose: bool) {
    match &models.info {
        Some(Ok(info)) => {
            ui.label(format!("Embedding: {}", info.embedding));
            match &info.attributes {
                Ok(name) => ui.label(format!("Attributes: {name}")),
                Err(why) => ui.label(RichText::new(format!("Attributes: {why}")).weak()),
            };
        }
        Some(Err(e)) => {
            ui.label(RichText::new(format!("Similarity model: {e}")).color(theme::ERROR));
        }
        None if models.loading() => {
            ui.label("Loading the similarity models…");
        }
        None => {}
    }
    if !choose {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        let current = models.loaded.as_ref().map(|(_, s)| s.clone());
        if ui
            .button("Embedding model…")
            .on_hover_text("an embedding model, or a classifier read through its penultimate features")
            .clicked()
        {
            let attributes = current.as_ref().and_then(|s| s.attributes.clone());
            commands.push(Command::AskPath(PathRequest::EmbeddingModel { attributes }));
        }
        if let Some(current) = current
            && ui
                .button("Attribute model…")
                .on_hover_text("one activation map per attribute value (lantern train attributes)")
                .clicked()
        {
            commands.push(Command::AskPath(PathRequest::AttributeModel { current }));
        }
        if models.chosen.is_some() && ui.button("Find automatically").clicked() {
            commands.push(Command::ChooseSimilarityModels(None));
        }
    });
}

/// The Neighbours panel, at the left.
pub fn neighbours_panel(
    similar: &SimilarState,
    gallery: &Gallery,
    textures: &mut Textures,
    commands: &mut Commands,
    ui: &mut egui::Ui,
) {
    egui::Panel::left("lantern neighbours").resizable(true).default_size(200.0).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Neighbours");
            if ui.small_button("x").on_hover_text("close (S)").clicked() {
                commands.push(Command::ToggleNeighbours);
            }
        });
        ui.label(RichText::new("The open image's nearest images by the embedding model (cosine similarity). Click one to see why they match.").small().weak());
        models_ui(&similar.models, commands, ui, false);
        if gallery.len() < 2 {
            ui.label("Open a folder of images (File > Open folder) to search it.");
            return;
        }
        let nb = &similar.neighbours;
        let mut k = nb.k;
        if ui.add(egui::Slider::new(&mut k, 1..=32).text("shown")).changed() {
            commands.push(Command::SetNeighboursShown(k));
        }
        if nb.pending() {
            match nb.progress() {
                Some((done, total)) => ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("embedding the gallery {done} / {total}"))),
                None => ui.add(egui::ProgressBar::new(0.0).animate(true).text("embedding the gallery")),
            };
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelNeighbours);
            }
        }
        if let Some(e) = nb.error() {
            ui.label(RichText::new(e).color(theme::ERROR));
        }
        let current = gallery.current().map(|i| i.id);
        let Some(found) = nb.found().filter(|f| Some(f.query) == current) else { return };
        let matches = found.matches.clone();
        let reference = similar.pair.reference.filter(|_| similar.pair.open);
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (id, similarity) in matches {
                let Some(img) = gallery.images.iter().find(|i| i.id == id) else { continue };
                let text = neighbour_label(&img.name(), similarity);
                let selected = reference == Some(id);
                let response = match textures.thumb(&ctx, img.id, &img.thumb) {
                    Some(t) => ui.add(egui::Button::image_and_text(egui::Image::new(&t).max_height(64.0), RichText::new(&text)).selected(selected)),
                    None => ui.add(egui::Button::new(&text).selected(selected)),
                };
                if response.on_hover_text("open the pair").clicked() {
                    commands.push(Command::OpenPair(id));
                }
            }
        });
    });
}

/// The text of a neighbour's button.
pub fn neighbour_label(name: &str, similarity: f32) -> String {
    format!("{name} (cos {similarity:.3})")
}

/// The controls above the pair: back, method, progress, similarity.
fn controls(app: &AppState, commands: &mut Commands, ui: &mut egui::Ui) {
    let pair = &app.similar.pair;
    let mut c = pair.controls.clone();
    ui.horizontal_wrapped(|ui| {
        if ui.button("Back to the image (Esc)").clicked() {
            commands.push(Command::ClosePair);
        }
        egui::ComboBox::from_label("Pair method").selected_text(c.method.title()).show_ui(ui, |ui| {
            for &m in PairMethod::ALL {
                ui.selectable_value(&mut c.method, m, m.title());
            }
        });
        super::params_ui::params_ui(ui, &c.method.params(), &mut c.settings);
        ui.add(egui::Slider::new(&mut c.weight, 0.0..=1.0).text("w (confidence vs agreement)"));
        if pair.pending() {
            match pair.progress() {
                Some((done, total)) => ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(160.0)
                        .text(format!("{done} / {total}")),
                ),
                None => ui.add(egui::ProgressBar::new(0.0).animate(true).desired_width(160.0).text("computing")),
            };
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelPair);
            }
        } else if let Some(o) = pair.output() {
            ui.label(format!("similarity {:.3} · {} in {:.0} ms", o.similarity, o.method.title(), o.milliseconds));
        }
        if let Some(e) = pair.error() {
            ui.label(RichText::new(e).color(theme::ERROR));
        }
    });
    if c != pair.controls {
        commands.push(Command::SetPairControls(c));
    }
    models_ui(&app.similar.models, commands, ui, true);
}

/// The attribute chart and list, below the pair.
fn attributes_ui(pair: &PairState, commands: &mut Commands, ui: &mut egui::Ui) {
    ui.heading("Why do these match?");
    let Some(out) = pair.output() else {
        ui.label(if pair.pending() { "…" } else { "No pair explained yet." });
        return;
    };
    let ranked = match &out.ranked {
        Ok(r) => r,
        Err(why) => {
            ui.label(RichText::new(format!("{why}: the attribute chart needs one (lantern_attributes.safetensors beside the embedding model, or Attribute model…).")).weak());
            return;
        }
    };
    ui.label(RichText::new(format!("Attribute values ranked by w·confidence + (1 − w)·agreement with the query's map, w = {:.2}; click one to see its maps.", pair.controls.weight)).small().weak());
    let top: Vec<&RankedAttribute> = ranked.iter().take(CHART_VALUES).collect();
    let mut chosen = None;
    ui.horizontal_top(|ui| {
        let names: Vec<String> =
            top.iter().map(|a| if a.value.is_empty() { a.name.clone() } else { a.value.clone() }).collect();
        let bars: Vec<Bar> = top
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let colour = if pair.controls.selected == Some(a.index) { theme::CHOSEN_BAR } else { theme::BAR };
                Bar::new(i as f64, f64::from(a.score)).name(attribute_label(a)).fill(colour).width(theme::BAR_WIDTH)
            })
            .collect();
        let width = (ui.available_width() * 0.55).max(200.0);
        let hit = Plot::new("lantern pair attributes")
            .width(width)
            .height((ui.available_height() - 8.0).clamp(100.0, 260.0))
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_formatter(move |mark, _| {
                let i = mark.value.round();
                if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .show(ui, |pu| {
                pu.bar_chart(BarChart::new("score", bars));
                if pu.response().clicked() { pu.pointer_coordinate() } else { None }
            })
            .inner;
        if let Some(p) = hit {
            let i = p.x.round();
            if (p.x - i).abs() <= 0.35 && i >= 0.0 && (i as usize) < top.len() {
                chosen = Some(Some(top[i as usize].index));
            }
        }
        egui::ScrollArea::vertical().id_salt("lantern pair attribute list").show(ui, |ui| {
            ui.vertical(|ui| {
                if ui.selectable_label(pair.controls.selected.is_none(), "Similarity maps").clicked() {
                    chosen = Some(None);
                }
                for (rank, a) in ranked.iter().enumerate() {
                    let text = format!(
                        "{}. {} — {:.2} (confidence {:.2}, agreement {:.2})",
                        rank + 1,
                        attribute_label(a),
                        a.score,
                        a.confidence,
                        a.agreement
                    );
                    if ui.selectable_label(pair.controls.selected == Some(a.index), text).clicked() {
                        chosen = Some(Some(a.index));
                    }
                }
            });
        });
    });
    if let Some(selected) = chosen {
        commands.push(Command::SetPairControls(PairControls { selected, ..pair.controls.clone() }));
    }
}

/// What one side shows: the attribute's map when one is selected, else the similarity map.
pub fn side_overlay<'a>(side: &'a PairSide, selected: Option<usize>, key: u64) -> Option<Overlay<'a>> {
    match selected {
        Some(a) => side.attribute_maps.get(a).zip(side.attribute_geometry).map(|(map, geometry)| Overlay {
            map,
            key: key.wrapping_mul(1_000_003).wrapping_add(a as u64 + 1),
            geometry,
            boxes: None,
        }),
        None => Some(Overlay {
            map: &side.map,
            key: key.wrapping_mul(1_000_003),
            geometry: side.geometry,
            boxes: Some(side.boxes.as_slice()),
        }),
    }
}

/// The caption of one side.
fn side_caption(app: &AppState, side: usize) -> String {
    let pair = &app.similar.pair;
    let name = |id: u64| app.gallery.images.iter().find(|i| i.id == id).map(|i| i.name()).unwrap_or_default();
    let Some(r) = pair.requested() else { return String::new() };
    let (role, id) = if side == 0 { ("Query", r.query.0) } else { ("Reference", r.reference.0) };
    let what = match (pair.controls.selected, pair.output()) {
        (Some(a), Some(o)) => o
            .ranked
            .as_ref()
            .ok()
            .and_then(|r| r.iter().find(|x| x.index == a))
            .map(|x| format!("{} map", attribute_label(x)))
            .unwrap_or_default(),
        (None, Some(o)) => format!("{} map", o.method.title()),
        (_, None) => String::new(),
    };
    format!("{role}: {} · {what}", name(id))
}

/// The Pair view, in the central area. Each side's zoom and pan, and the shared look, are
/// changed on copies and reach the app as commands.
pub fn pair_view(app: &AppState, textures: &mut Textures, commands: &mut Commands, ui: &mut egui::Ui) {
    egui::Panel::top("lantern pair controls").show(ui, |ui| controls(app, commands, ui));
    egui::Panel::bottom("lantern pair attributes")
        .resizable(true)
        .default_size(240.0)
        .show(ui, |ui| attributes_ui(&app.similar.pair, commands, ui));
    let area = ui.available_rect_before_wrap();
    if app.similar.pair.reference.is_none() || app.similar.pair.requested().is_none() {
        let text = if app.similar.models.loading() {
            "Loading the similarity models…"
        } else {
            "Pick a reference: click one of the open image's neighbours (View > Neighbours, S)."
        };
        ui.scope_builder(egui::UiBuilder::new().max_rect(area), |ui| ui.centered_and_justified(|ui| ui.label(text)));
        return;
    }
    let half = area.width() / 2.0;
    let gpu = app.machine.gpu;
    let mut look = app.settings.look;
    for side in 0..2 {
        let column =
            Rect::from_min_size(area.min + vec2(side as f32 * half, 0.0), vec2(half, area.height())).shrink(3.0);
        let caption = side_caption(app, side);
        ui.put(
            Rect::from_min_size(column.min, vec2(column.width(), 20.0)),
            egui::Label::new(RichText::new(caption).strong()).truncate(),
        );
        let rect = Rect::from_min_max(column.min + vec2(0.0, 24.0), column.max);
        let pair = &app.similar.pair;
        let (selected, map_key, progress) = (pair.controls.selected, pair.map_key(), pair.progress());
        let (Some(out), Some(r)) = (pair.output().cloned(), pair.requested().cloned()) else {
            let text = match progress {
                Some((done, total)) => format!("Explaining the pair… {done} / {total}"),
                None => "Explaining the pair…".to_string(),
            };
            ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
                ui.centered_and_justified(|ui| ui.label(text))
            });
            continue;
        };
        let (pside, image_key) = if side == 0 { (&out.query, r.query.0) } else { (&out.reference, r.reference.0) };
        let overlay = side_overlay(pside, selected, map_key);
        let mut transform = pair.transforms[side];
        let mut surface = Surface { look: &mut look, transform: &mut transform, gpu, pan: true };
        let image = (image_key, &pside.image);
        paint_picture(ui, rect, view_id::PAIR[side], image, overlay, &mut surface, textures);
        if let Some(shown) = app.gallery.images.iter().find(|i| i.id == image_key) {
            let size = vec2(pside.image.rgb.width() as f32, pside.image.rgb.height() as f32);
            let image_rect = transform.image_rect(rect, size);
            super::views::paint_image_truth(ui, rect, (image_rect, size), shown, look.boxes, textures);
        }
        if transform != pair.transforms[side] {
            commands.push(Command::SetPairTransform { side, transform });
        }
    }
    super::views::set_look(&app.settings.look, commands, look);
}
