//! The panels around the view: menu bar, inspector (method, parameters, layer, class chart,
//! look), thumbnail strip and status bar. Each borrows what it draws, read-only, and asks for
//! every change with a [`Command`]; those that draw pictures also get the [`Textures`] they make.

use super::audit_mode::{AuditEdit, AuditSession};
use super::commands::{Command, Commands};
use super::gallery::Gallery;
use super::jobs::AppTasks;
use super::live::CameraRates;
use super::model::ModelState;
use super::path_prompt::PathRequest;
use super::settings::{CompareAxis, ViewMode};
use super::settings::{Look, Settings};
use super::state::{AppState, Machine};
use super::textures::Textures;
use super::theme;
use super::web_cuts;
use crate::animate::Sweep;
use crate::camera::CameraChoice;
use crate::colormap::Colormap;
use crate::explain::{Family, LayerUse, Method, Target};
use egui::RichText;
use egui_plot::{Bar, BarChart, Plot};

/// Larger type in presentation mode.
pub fn apply_style(ctx: &egui::Context, presentation: bool) {
    let scale = if presentation { 1.6 } else { 1.0 };
    ctx.global_style_mut(|style| {
        for (text_style, font) in style.text_styles.iter_mut() {
            let base = match text_style {
                egui::TextStyle::Heading => 18.0,
                egui::TextStyle::Small => 10.0,
                egui::TextStyle::Monospace => 13.0,
                _ => 13.5,
            };
            font.size = base * scale;
        }
    });
}

/// What the View menu shows checked, whether the Pair view can be shown, and where the Compute
/// menu says the app computes.
#[derive(Debug, Clone)]
pub struct MenuState {
    pub compare: bool,
    pub train: bool,
    pub neighbours: bool,
    pub pair: bool,
    /// A pair was opened (there is a reference to show).
    pub pair_available: bool,
    /// Where the app computes, described.
    pub compute: String,
    /// Connecting to a server.
    pub connecting: bool,
    /// Computing on a server.
    pub remote: bool,
}

impl MenuState {
    pub fn of(app: &AppState) -> Self {
        let similar = &app.similar;
        Self {
            compare: app.compare,
            train: app.train.settings.open,
            neighbours: similar.neighbours.open,
            pair: similar.pair.open,
            pair_available: similar.pair.reference.is_some(),
            compute: app.machine.compute.clone(),
            connecting: app.remote.connecting().is_some(),
            remote: app.remote.remote().is_some(),
        }
    }
}

/// The menu bar: every entry pushes a [`Command`] (a new entry is a new command and its line
/// here); the View menu's checkboxes edit a copy of `current` settings.
pub fn menu_bar(current: &Settings, menu: MenuState, commands: &mut Commands, ui: &mut egui::Ui) {
    let mut settings = current.clone();
    egui::Panel::top("lantern menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                for (entry, request) in [
                    ("Open images…", PathRequest::OpenImages),
                    ("Open folder or dataset…", PathRequest::OpenFolder),
                    ("Open model…", PathRequest::OpenModel),
                ] {
                    ask_button(ui, entry, request, commands);
                }
                if ui.button("Demo model and images").clicked() {
                    ui.close();
                    commands.push(Command::OpenDemo);
                }
                ui.add_enabled_ui(!web_cuts::IN_BROWSER, |ui| {
                    ui.menu_button("Recent", |ui| {
                        if current.recent.is_empty() {
                            ui.label("Nothing yet");
                        }
                        for path in &current.recent {
                            if ui.button(path.display().to_string()).clicked() {
                                ui.close();
                                commands.push(Command::OpenPaths(vec![path.clone()]));
                            }
                        }
                    })
                    .response
                    .on_disabled_hover_text(web_cuts::NO_FOLDERS);
                });
                ui.separator();
                ask_button(ui, "New audit of a dataset…", PathRequest::AuditData, commands);
                ask_button(ui, "Open audit…", PathRequest::OpenAudit, commands);
                ask_button(ui, "Open a talk's playlist…", PathRequest::OpenPlaylist, commands);
                if entry(ui, "Open camera", web_cuts::on_web(web_cuts::NO_CAMERA)) {
                    ui.close();
                    commands.push(Command::OpenCamera(CameraChoice::Device(0)));
                }
                ui.separator();
                ask_button(ui, "Export view and map…", PathRequest::ExportView, commands);
                ask_button(ui, "Save all images…", PathRequest::SaveAll, commands);
                ui.add_enabled_ui(!web_cuts::IN_BROWSER, |ui| {
                    ui.menu_button("Export animation", |ui| {
                        for (entry, sweep) in [
                            ("Layers sweep…", Sweep::Layers),
                            ("Progress (RISE, batch by batch)…", Sweep::Progress),
                            ("Threshold sweep…", Sweep::Threshold),
                            ("Wipe between image and map…", Sweep::Wipe),
                        ] {
                            ask_button(ui, entry, PathRequest::Animation { sweep }, commands);
                        }
                    })
                })
                .response
                .on_disabled_hover_text(web_cuts::NO_WRITES);
                // A web page is closed with its tab.
                if !web_cuts::IN_BROWSER {
                    ui.separator();
                    if ui.button("Quit").clicked() {
                        ui.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut settings.show_inspector, "Inspector");
                ui.checkbox(&mut settings.show_thumbnails, "Thumbnails");
                let mut compare = menu.compare;
                if ui.checkbox(&mut compare, "Compare grid (C)").changed() {
                    commands.push(Command::ShowCompare(compare));
                }
                if ui.button("Presentation mode (F11 / P)").clicked() {
                    ui.close();
                    commands.push(Command::TogglePresentation);
                }
                if ui.button("Fit (F)").clicked() {
                    commands.push(Command::FitView);
                }
                if ui.button("Actual size (0)").clicked() {
                    commands.push(Command::ActualSize);
                }
                let mut train = menu.train;
                if ui
                    .add_enabled(!web_cuts::IN_BROWSER, egui::Checkbox::new(&mut train, "Train generator…"))
                    .on_disabled_hover_text(web_cuts::NO_TRAINING)
                    .changed()
                {
                    commands.push(Command::ShowTrain(train));
                }
                ui.separator();
                let mut neighbours = menu.neighbours;
                if ui.checkbox(&mut neighbours, "Neighbours (S)").changed() {
                    commands.push(Command::ToggleNeighbours);
                }
                let mut pair = menu.pair;
                if ui
                    .add_enabled(menu.pair_available, egui::Checkbox::new(&mut pair, "Pair view (Esc closes)"))
                    .on_disabled_hover_text("open a pair from the Neighbours panel")
                    .changed()
                {
                    commands.push(Command::ShowPair(pair));
                }
            });
            ui.menu_button("Compute", |ui| {
                ui.label(format!("On {}", menu.compute));
                if ui
                    .add_enabled(!menu.connecting && !web_cuts::IN_BROWSER, egui::Button::new("Connect to a server…"))
                    .on_disabled_hover_text(if web_cuts::IN_BROWSER { web_cuts::NO_SERVERS } else { "connecting…" })
                    .clicked()
                {
                    ui.close();
                    commands.push(Command::ShowConnect(true));
                }
                if ui
                    .add_enabled(menu.remote, egui::Button::new("Back to this machine"))
                    .on_disabled_hover_text("already computing here")
                    .clicked()
                {
                    ui.close();
                    commands.push(Command::Disconnect);
                }
            });
            ui.menu_button("Help", |ui| {
                ui.label("Left/Right arrows, PageUp/PageDown: previous/next image");
                ui.label(format!("1–9: {}", Method::quick().map(Method::title).collect::<Vec<_>>().join(", ")));
                ui.label("Wheel or pinch: zoom · drag: pan · F: fit · 0: actual size");
                ui.label("C: compare grid · F11 or P: presentation · Esc: leave presentation");
                ui.label("S: neighbours of the open image · click one for the Pair view · Esc: back");
                ui.label(if web_cuts::IN_BROWSER {
                    "Drop images or a .safetensors model on the page."
                } else {
                    "Drop images, folders or .pth/.safetensors files on the window."
                });
            });
        });
    });
    if settings != *current {
        commands.push(Command::SetSettings(Box::new(settings)));
    }
}

/// A File-menu entry that asks for a path (in a file dialog or the typed-path window); on the
/// web page, disabled with the reason when the page cannot answer it.
fn ask_button(ui: &mut egui::Ui, label: &str, request: PathRequest, commands: &mut Commands) {
    if entry(ui, label, web_cuts::cut(&request)) {
        ui.close();
        commands.push(Command::AskPath(request));
    }
}

/// A menu entry, disabled with `cut` as its hover text when the build cannot do it; whether it
/// was clicked.
fn entry(ui: &mut egui::Ui, label: &str, cut: Option<&'static str>) -> bool {
    ui.add_enabled(cut.is_none(), egui::Button::new(label)).on_disabled_hover_text(cut.unwrap_or_default()).clicked()
}

/// What the status bar says beside the machine and the model.
pub struct Status<'a> {
    /// The server being connected to.
    pub connecting: Option<&'a str>,
    /// The pointer's image pixel and map value.
    pub readout: Option<(u32, u32, Option<f32>)>,
    /// The last error.
    pub error: Option<&'a str>,
    /// In camera mode: the capture and explanation rates and the frames dropped.
    pub camera: Option<CameraRates>,
}

/// The status bar: where the app computes (and the server it is connecting to) and draws, the
/// model, the camera's rates, the pointer's readout and the last error.
pub fn status_bar(machine: &Machine, model: &ModelState, status: Status<'_>, ui: &mut egui::Ui) {
    egui::Panel::bottom("lantern status").show(ui, |ui| {
        ui.horizontal(|ui| {
            match status.connecting {
                Some(server) => ui.label(format!("Compute: {} (connecting to {server}…)", machine.compute)),
                None => ui.label(format!("Compute: {}", machine.compute)),
            };
            ui.separator();
            ui.label(format!("Render: {}", machine.renderer));
            ui.separator();
            match &model.info {
                Some(i) => ui.label(format!("Model: {} ({})", i.name, i.arch)),
                None if model.loading => ui.label("Model: loading…"),
                None => ui.label("Model: none"),
            };
            if let Some(rates) = status.camera {
                ui.separator();
                ui.label(rates.to_string());
            }
            if let Some((x, y, v)) = status.readout {
                ui.separator();
                match v {
                    Some(v) => ui.label(format!("({x}, {y}) map {v:.3}")),
                    None => ui.label(format!("({x}, {y})")),
                };
            }
            if let Some(e) = status.error {
                ui.separator();
                ui.label(RichText::new(e).color(theme::ERROR));
            }
        });
    });
}

/// The strip of thumbnails; a click shows that image.
pub fn thumbnails(gallery: &Gallery, textures: &mut Textures, commands: &mut Commands, ui: &mut egui::Ui) {
    egui::Panel::bottom("lantern thumbnails").resizable(false).show(ui, |ui| {
        egui::ScrollArea::horizontal().show(ui, |ui| {
            ui.horizontal(|ui| {
                let index = gallery.index;
                for (i, img) in gallery.images.iter().enumerate() {
                    let selected = i == index;
                    let name = img.name();
                    let response = match textures.thumb(ui.ctx(), img.id, &img.thumb) {
                        Some(t) => ui.add(
                            egui::Button::image_and_text(
                                egui::Image::new(&t).max_height(56.0),
                                RichText::new(&name).small(),
                            )
                            .selected(selected),
                        ),
                        None => ui.add(egui::Button::new(&name).selected(selected)),
                    };
                    if response.on_hover_text(name).clicked() {
                        commands.push(Command::SelectImage(i));
                    }
                }
            });
        });
    });
}

/// The method picker; `unavailable` says which methods cannot run on the open model and why
/// (their entries are greyed out, with the reason as tooltip).
fn method_combo(ui: &mut egui::Ui, label: &str, method: &mut Method, unavailable: &[(Method, String)]) {
    egui::ComboBox::from_label(label).selected_text(method.title()).width(180.0).show_ui(ui, |ui| {
        for family in Family::ALL {
            ui.label(RichText::new(family.title()).small().weak());
            for &m in Method::ALL.iter().filter(|m| m.family() == family) {
                let missing = unavailable.iter().find(|(u, _)| *u == m).map(|(_, why)| why.as_str());
                ui.add_enabled_ui(missing.is_none(), |ui| ui.selectable_value(method, m, m.title()))
                    .inner
                    .on_hover_text(m.summary())
                    .on_disabled_hover_text(missing.unwrap_or_default());
            }
        }
    });
}

/// The methods that cannot run on the open model, with why: what the engine says of the network
/// ([`crate::explain::unavailable`]), and the generator when none was found for it.
fn unavailable(app: &AppState) -> Vec<(Method, String)> {
    let Some(info) = app.model.info.as_ref() else { return Vec::new() };
    let mut out = info.unavailable.clone();
    if let Err(why) = &info.generator {
        out.push((Method::Generator, why.clone()));
    }
    out
}

/// The inspector, at the right: the audit panel, the method and its parameters, the layer, the
/// progress, the prediction, the labels, the look, the compare grid's settings and the model.
pub fn inspector(
    app: &AppState,
    tasks: &AppTasks,
    textures: &mut Textures,
    commands: &mut Commands,
    ui: &mut egui::Ui,
) {
    // The panel edits a copy of the settings; a change reaches the app as a command.
    let mut settings = app.settings.clone();
    egui::Panel::right("lantern inspector").resizable(true).default_size(300.0).show(ui, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            if let Some(a) = &app.audit {
                audit_ui(a, app.gallery.index, commands, ui);
                ui.separator();
            }
            ui.heading("Explanation");
            let missing = unavailable(app);
            method_combo(ui, "Method", &mut settings.method, &missing);
            super::params_ui::params_ui(ui, &settings.method.params(), &mut settings.params);
            if let Some(info) = &app.model.info {
                let uses_layer = settings.method.spec().layer == LayerUse::Chosen;
                ui.add_enabled_ui(uses_layer, |ui| {
                    let current = app.layer.clone().unwrap_or_else(|| info.default_layer.clone());
                    egui::ComboBox::from_label("Layer").selected_text(&current).show_ui(ui, |ui| {
                        if info.layer_tree.is_empty() {
                            for l in &info.layers {
                                if ui.selectable_label(*l == current, l).clicked() {
                                    commands.push(Command::SetLayer(l.clone()));
                                }
                            }
                        }
                        // An ONNX graph: its layers under their top-level modules, with shapes.
                        for (group, rows) in &info.layer_tree {
                            let open = rows.iter().any(|(name, _)| *name == current);
                            egui::CollapsingHeader::new(group).default_open(open).show(ui, |ui| {
                                for (name, shape) in rows {
                                    if ui.selectable_label(*name == current, format!("{name}  {shape}")).clicked() {
                                        commands.push(Command::SetLayer(name.clone()));
                                    }
                                }
                            });
                        }
                    });
                });
            }
            let running = app.main.pending();
            if let Some((done, total)) = app.main.progress() {
                ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("{done} / {total}")));
            } else if running {
                ui.add(egui::ProgressBar::new(0.0).animate(true).text("computing"));
            }
            if running && ui.button("Cancel").clicked() {
                commands.push(Command::CancelMain);
            }
            if let Some(o) = app.main.output() {
                ui.label(format!("{} took {:.1} ms", o.method.title(), o.milliseconds));
                if let Some(note) = &o.approximation {
                    ui.label(egui::RichText::new(format!("Approximate: {note}")).italics());
                }
            }
            for (kind, s) in tasks.running() {
                ui.add(
                    egui::ProgressBar::new(s.done as f32 / s.total.max(1) as f32)
                        .text(format!("{kind} {} / {}", s.done, s.total)),
                );
                if ui.button(format!("Cancel {kind}")).clicked() {
                    commands.push(Command::CancelTask(kind));
                }
            }
            if let Some(e) = app.main.error() {
                ui.label(RichText::new(e).color(theme::ERROR));
            }
            ui.separator();
            prediction_chart(app, commands, ui);
            ui.separator();
            super::labels_panel::labels_ui(app, textures, commands, &mut settings, ui);
            look_ui(&mut settings.look, ui);
            ui.separator();
            compare_ui(app, commands, &mut settings, ui);
            ui.separator();
            model_ui(app, ui);
        });
    });
    if settings != app.settings {
        commands.push(Command::SetSettings(Box::new(settings)));
    }
}

fn prediction_chart(app: &AppState, commands: &mut Commands, ui: &mut egui::Ui) {
    ui.heading("Prediction");
    let Some(out) = app.main.output() else {
        ui.label("…");
        return;
    };
    let labels: Vec<String> = out
        .top
        .iter()
        .map(|(c, _)| {
            app.model.info.as_ref().and_then(|i| i.labels.get(*c).cloned()).unwrap_or_else(|| format!("class {c}"))
        })
        .collect();
    let p = out.top[0].1;
    ui.label(RichText::new(format!("{} ({:.1} %)", labels[0], p * 100.0)).strong());
    ui.label(format!(
        "Explaining: {} (class {})",
        app.model.info.as_ref().and_then(|i| i.labels.get(out.class).cloned()).unwrap_or_default(),
        out.class
    ));
    let top: Vec<(usize, f32)> = out.top.iter().take(5).copied().collect();
    let bars: Vec<Bar> = top
        .iter()
        .enumerate()
        .map(|(i, &(c, p))| {
            let colour = if c == out.class { theme::CHOSEN_BAR } else { theme::BAR };
            Bar::new(i as f64, f64::from(p)).name(&labels[i]).fill(colour).width(theme::BAR_WIDTH)
        })
        .collect();
    let hit = Plot::new("lantern top-k")
        .height(theme::CHART_HEIGHT)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_y(0.0)
        .include_y(1.0)
        .show_axes([false, true])
        .show(ui, |pu| {
            pu.bar_chart(BarChart::new("probability", bars));
            if pu.response().clicked() { pu.pointer_coordinate() } else { None }
        })
        .inner;
    if let Some(p) = hit {
        let i = p.x.round();
        if (p.x - i).abs() <= 0.35 && i >= 0.0 && (i as usize) < top.len() {
            commands.push(Command::SetTarget(Target::Class(top[i as usize].0)));
        }
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Class:");
        if ui.selectable_label(app.target == Target::Top1, format!("top-1 ({})", labels[0])).clicked() {
            commands.push(Command::SetTarget(Target::Top1));
        }
        for (i, &(c, _)) in top.iter().enumerate().skip(1) {
            if ui.selectable_label(app.target == Target::Class(c), &labels[i]).clicked() {
                commands.push(Command::SetTarget(Target::Class(c)));
            }
        }
    });
    if let Some(t) = super::views::truth_summary(app) {
        ui.label(RichText::new(format!("Ground {t}")).color(theme::TRUTH));
    }
    class_search(app, commands, ui);
}

/// Any class by name: type to filter the model's classes (all 1000 of ImageNet's), click to explain.
/// The text is typed into a copy of the state's, sent back as a command when it changed.
fn class_search(app: &AppState, commands: &mut Commands, ui: &mut egui::Ui) {
    let Some(info) = &app.model.info else { return };
    let mut filter = app.class_filter.clone();
    ui.horizontal(|ui| {
        let label = ui.label("Find class");
        ui.add(egui::TextEdit::singleline(&mut filter).hint_text("name or index").desired_width(f32::INFINITY))
            .labelled_by(label.id);
    });
    let needle = filter.trim().to_lowercase();
    if filter != app.class_filter {
        commands.push(Command::SetClassFilter(filter));
    }
    if needle.is_empty() {
        return;
    }
    let matches: Vec<(usize, &String)> = info
        .labels
        .iter()
        .enumerate()
        .filter(|(i, l)| l.to_lowercase().contains(&needle) || i.to_string() == needle)
        .take(12)
        .collect();
    if matches.is_empty() {
        ui.label(RichText::new("no class matches").weak());
    }
    let mut chosen = None;
    for (c, label) in matches {
        if ui.selectable_label(app.target == Target::Class(c), format!("{label} ({c})")).clicked() {
            chosen = Some(c);
        }
    }
    if let Some(c) = chosen {
        commands.push(Command::SetTarget(Target::Class(c)));
    }
}

/// The audit panel: progress, the annotator's name (asked once), verdict buttons with their keys,
/// the comment, the corrected box and the filters.
fn audit_ui(a: &AuditSession, index: usize, commands: &mut Commands, ui: &mut egui::Ui) {
    let mut edit = a.edit.clone();
    audit_edit_ui(a, &mut edit, index, commands, ui);
    if edit != a.edit {
        commands.push(Command::EditAudit(Box::new(edit)));
    }
}

fn audit_edit_ui(a: &AuditSession, edit: &mut AuditEdit, index: usize, commands: &mut Commands, ui: &mut egui::Ui) {
    use crate::audit::VerdictKind;
    ui.heading("Audit");
    let p = a.progress;
    ui.add(
        egui::ProgressBar::new(p.audited as f32 / p.total.max(1) as f32)
            .text(format!("{} / {} judged", p.audited, p.total)),
    );
    ui.label(format!("accepted {} · rejected {} · flagged {}", p.accepted, p.rejected, p.flagged));
    let Some(annotator) = a.annotator.clone() else {
        ui.label("Your name (recorded with every verdict):");
        ui.horizontal(|ui| {
            let label = ui.label("Annotator");
            ui.add(egui::TextEdit::singleline(&mut edit.name_entry).desired_width(140.0)).labelled_by(label.id);
            if ui.button("Start").clicked() && !edit.name_entry.trim().is_empty() {
                commands.push(Command::SetAnnotator(edit.name_entry.trim().to_string()));
            }
        });
        return;
    };
    ui.label(format!("Annotator: {annotator}"));
    if let Some(entry) = a.images.get(index) {
        ui.label(format!("Image {} ({} of {})", entry.id, index + 1, a.images.len()));
    }
    ui.horizontal(|ui| {
        for (kind, text) in
            [(VerdictKind::Accept, "Accept (A)"), (VerdictKind::Reject, "Reject (R)"), (VerdictKind::Flag, "Flag (L)")]
        {
            if ui.button(text).clicked() {
                commands.push(Command::Verdict(kind));
            }
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Next unjudged (N)").clicked() {
            commands.push(Command::NextUnaudited);
        }
        ui.toggle_value(&mut edit.drawing, "Draw box (B)");
        if edit.correction.is_some() && ui.small_button("clear box").clicked() {
            edit.correction = None;
        }
    });
    if let Some(b) = edit.correction {
        ui.label(format!("Corrected box: {}, {} – {}, {}", b.x0, b.y0, b.x1, b.y1));
    }
    ui.horizontal(|ui| {
        let label = ui.label("Comment");
        ui.add(egui::TextEdit::singleline(&mut edit.comment).desired_width(f32::INFINITY)).labelled_by(label.id);
    });
    if let Some((id, kind, row)) = &a.saved {
        ui.label(RichText::new(format!("Saved: {kind} for {id} (row {row})")).color(theme::TRUTH));
    }
    ui.collapsing("Filters (arrows step through)", |ui| {
        let mut iou_on = edit.filter.iou_below.is_some();
        ui.horizontal(|ui| {
            ui.checkbox(&mut iou_on, "IoU below");
            let mut x = edit.filter.iou_below.unwrap_or(0.5);
            ui.add_enabled(iou_on, egui::Slider::new(&mut x, 0.0..=1.0));
            edit.filter.iou_below = iou_on.then_some(x);
        });
        ui.checkbox(&mut edit.filter.wrong_class, "wrong class");
        ui.checkbox(&mut edit.filter.flagged, "flagged");
        ui.checkbox(&mut edit.filter.unaudited, "not yet judged");
    });
}

fn look_ui(look: &mut Look, ui: &mut egui::Ui) {
    ui.heading("Look");
    egui::ComboBox::from_label("Mode").selected_text(look.mode.label()).show_ui(ui, |ui| {
        for m in ViewMode::ALL {
            ui.selectable_value(&mut look.mode, m, m.label());
        }
    });
    egui::ComboBox::from_label("Colormap").selected_text(look.colormap.as_str()).show_ui(ui, |ui| {
        for &c in Colormap::ALL {
            ui.selectable_value(&mut look.colormap, c, c.as_str());
        }
    });
    ui.add(egui::Slider::new(&mut look.alpha, 0.0..=1.0).text("Opacity"));
    ui.add(egui::Slider::new(&mut look.gamma, 0.2..=3.0).text("Gamma"));
    ui.add(egui::Slider::new(&mut look.threshold, 0.0..=0.99).text("Threshold"));
    ui.checkbox(&mut look.contour, "Contour at threshold");
    ui.checkbox(&mut look.boxes, "Boxes at threshold");
    let mut shown = !look.hidden;
    if ui.checkbox(&mut shown, "Show map (M)").changed() {
        look.hidden = !shown;
    }
    if look.mode == ViewMode::Wipe {
        ui.add(egui::Slider::new(&mut look.wipe, 0.0..=1.0).text("Wipe"));
    }
}

fn compare_ui(app: &AppState, commands: &mut Commands, settings: &mut Settings, ui: &mut egui::Ui) {
    ui.heading("Compare");
    let mut compare = app.compare;
    if ui.checkbox(&mut compare, "Show grid").changed() {
        commands.push(Command::ShowCompare(compare));
    }
    let classes = if app.multilabel() { "present labels" } else { "classes" };
    ui.horizontal(|ui| {
        ui.selectable_value(&mut settings.compare_axis, CompareAxis::Methods, "methods");
        ui.selectable_value(&mut settings.compare_axis, CompareAxis::Classes, classes);
        ui.selectable_value(&mut settings.compare_axis, CompareAxis::Layers, "layers");
    });
    if settings.compare_axis == CompareAxis::Methods {
        let mut remove = None;
        let missing = unavailable(app);
        for (i, m) in settings.compare_methods.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                method_combo(ui, &format!("Cell {}", i + 1), m, &missing);
                if ui.small_button("x").on_hover_text("remove").clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            settings.compare_methods.remove(i);
        }
        if settings.compare_methods.len() < 9 && ui.button("Add method").clicked() {
            let next = Method::quick().find(|m| !settings.compare_methods.contains(m)).unwrap_or(Method::GradCam);
            settings.compare_methods.push(next);
        }
    }
}

fn model_ui(app: &AppState, ui: &mut egui::Ui) {
    ui.heading("Model");
    match &app.model.info {
        Some(i) => {
            ui.label(format!("{} — {}", i.name, i.arch));
            ui.label(format!("{} classes, {} layers", i.classes, i.layers.len()));
            let p = &i.preprocess;
            ui.label(format!("input: resize {} · crop {} · mean {:?} · std {:?}", p.resize, p.crop, p.mean, p.std));
            if let Some(l) = &i.cam_layer {
                ui.label(format!("CAM layer: {l}"));
            }
        }
        None => {
            ui.label(if app.model.loading { "loading…" } else { "none" });
        }
    }
    ui.label(format!("Compute: {}", app.machine.compute));
}
