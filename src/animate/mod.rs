//! Animated explanations: the frames of a sweep (a progressive method sharpening batch by batch,
//! the method at each layer, the boxes at a sweep of thresholds, the wipe between image and map),
//! each at the image's resolution with a caption and the colour bar, and their GIF. The CLI's
//! `lantern animate` is a thin caller; anything else (the app) calls [`frames`] the same way.

mod caption;
mod frame;
pub mod gif;

use crate::control::{Control, Progress};
use crate::error::{LanternError, Result};
use crate::explain::{LayerUse, Method, Objective, Params, Session};
use crate::imaging::Geometry;
use crate::map::{BoxMode, WeightMap};
use crate::models::Network;
use crate::render::{OverlayStyle, ViewLook, ViewMode};
use frame::{FrameSpec, compose};
use image::RgbImage;

crate::names::named_enum! {
    /// What changes from frame to frame.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Sweep ("sweep") {
        /// The method at each layer of the model.
        Layers = "layers",
        /// The boxes at thresholds from 0 up.
        Threshold = "threshold",
        /// A progressive method's partial maps, batch by batch, then its finished map.
        Progress = "progress",
        /// A divider moving from left to right between the image and the overlay.
        Wipe = "wipe",
    }
}

/// The fewest frames a threshold or wipe sweep takes.
pub const MIN_STEPS: usize = 2;
/// Frames of a threshold or wipe sweep unless asked otherwise (the CLI's `--frames`, the app).
pub const DEFAULT_STEPS: usize = 20;
/// Milliseconds per frame unless asked otherwise (the CLI's `--delay`, the app).
pub const DEFAULT_DELAY_MS: u32 = 150;

/// What to animate: the method, what it explains, the sweep and how frames look.
#[derive(Debug, Clone)]
pub struct Plan {
    pub method: Method,
    pub objective: Objective,
    /// The explained class's name, for the caption.
    pub class_name: String,
    pub sweep: Sweep,
    /// Frames of a threshold or wipe sweep (the others have one per layer or per batch).
    pub steps: usize,
    /// The layer of a method that takes one (the model's default when `None`), except in a layer
    /// sweep.
    pub layer: Option<String>,
    pub params: Params,
    pub style: OverlayStyle,
}

/// The picture explained: the decoded image and where the model's crop lies in it.
#[derive(Clone, Copy)]
pub struct Picture<'a> {
    pub image: &'a RgbImage,
    pub geometry: &'a Geometry,
}

impl Plan {
    /// `Err(BadArgument)` when this plan cannot make frames on `net`: too few steps, a layer
    /// sweep of a method that takes no layer (or a model with none), a progress sweep of a method
    /// that computes its map in one pass.
    pub fn check(&self, net: &Network) -> Result<()> {
        let spec = self.method.spec();
        let bad = |why: String| Err(LanternError::BadArgument(why));
        match self.sweep {
            Sweep::Threshold | Sweep::Wipe if self.steps < MIN_STEPS => {
                bad(format!("--frames must be at least {MIN_STEPS} for a {} sweep, got {}", self.sweep, self.steps))
            }
            Sweep::Layers if spec.layer != LayerUse::Chosen => bad(format!(
                "{} does not take a layer, so --sweep layers has nothing to sweep (try gradcam)",
                self.method.title()
            )),
            Sweep::Layers if layers(net).is_empty() => bad("the model lists no layers: zero frames".into()),
            Sweep::Progress if !spec.long => bad(format!(
                "{} computes its map in one pass, so --sweep progress has no partial maps (try rise)",
                self.method.title()
            )),
            _ => Ok(()),
        }
    }
}

/// The layers a layer sweep visits: the model's layers, less those that are another's alias.
fn layers(net: &Network) -> Vec<String> {
    net.layers.iter().filter(|l| l.same_as.is_none()).map(|l| l.name.clone()).collect()
}

/// The frames of `plan` on the session's image: progress goes to `control` (one step per layer,
/// the method's own batches, or one step per frame), and cancelling stops between steps.
pub fn frames(
    session: &mut Session,
    picture: Picture<'_>,
    plan: &Plan,
    control: &mut Control,
) -> Result<Vec<RgbImage>> {
    plan.check(session.network())?;
    let look = |mode, wipe, threshold, contour| ViewLook { style: plan.style, mode, wipe, threshold, contour };
    let overlay = look(ViewMode::Overlay, 0.0, 0.0, false);
    let frame = |map: &WeightMap, look: ViewLook, layer: &str, note: String, boxes| {
        let caption = caption_text(plan, layer, &note);
        compose(picture.image, picture.geometry, &FrameSpec { map, look, boxes, caption })
    };
    match plan.sweep {
        Sweep::Layers => {
            let names = layers(session.network());
            let mut out = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                control.check()?;
                let e = session.explain(
                    plan.method,
                    plan.objective.clone(),
                    Some(name),
                    &plan.params,
                    &mut Control::new(control.cancel_flag()),
                )?;
                out.push(frame(&e.map, overlay, &e.layer, format!("layer {}/{}", i + 1, names.len()), Vec::new()));
                control.report(i + 1, names.len(), None);
            }
            Ok(out)
        }
        Sweep::Progress => {
            let cancel = control.cancel_flag();
            let mut partials: Vec<(WeightMap, usize, usize)> = Vec::new();
            let mut collect = |p: Progress<'_>| {
                if let Some(map) = p.partial {
                    let mut map = map.clone();
                    map.normalize();
                    partials.push((map, p.done, p.total));
                }
                control.report(p.done, p.total, None);
            };
            let e = session.explain(
                plan.method,
                plan.objective.clone(),
                plan.layer.as_deref(),
                &plan.params,
                &mut Control::with_progress(cancel, &mut collect),
            )?;
            if partials.is_empty() {
                return Err(LanternError::BadArgument(format!(
                    "{} reported no partial maps, so --sweep progress has zero frames",
                    plan.method.title()
                )));
            }
            let mut out: Vec<RgbImage> = partials
                .iter()
                .map(|(map, done, total)| frame(map, overlay, &e.layer, format!("{done}/{total}"), Vec::new()))
                .collect();
            out.push(frame(&e.map, overlay, &e.layer, "done".into(), Vec::new()));
            Ok(out)
        }
        Sweep::Threshold | Sweep::Wipe => {
            let e = session.explain(
                plan.method,
                plan.objective.clone(),
                plan.layer.as_deref(),
                &plan.params,
                &mut Control::new(control.cancel_flag()),
            )?;
            let size = (e.map.width, e.map.height);
            let mut out = Vec::with_capacity(plan.steps);
            for i in 0..plan.steps {
                control.check()?;
                out.push(if plan.sweep == Sweep::Threshold {
                    let t = i as f32 / plan.steps as f32;
                    let boxes: Vec<_> = e
                        .map
                        .boxes(t, BoxMode::All)
                        .iter()
                        .map(|b| picture.geometry.map_box_in_original(b, size))
                        .collect();
                    let note =
                        format!("threshold {t:.2} · {} box{}", boxes.len(), if boxes.len() == 1 { "" } else { "es" });
                    frame(&e.map, look(ViewMode::Overlay, 0.0, t, true), &e.layer, note, boxes)
                } else {
                    let wipe = i as f32 / (plan.steps - 1) as f32;
                    frame(
                        &e.map,
                        look(ViewMode::Wipe, wipe, 0.0, false),
                        &e.layer,
                        format!("wipe {:.0}%", wipe * 100.0),
                        Vec::new(),
                    )
                });
                control.report(i + 1, plan.steps, None);
            }
            Ok(out)
        }
    }
}

/// `method · layer · class · note`, the layer left out for methods on the input pixels.
fn caption_text(plan: &Plan, layer: &str, note: &str) -> String {
    let parts = [plan.method.title(), layer, &plan.class_name, note];
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" · ")
}

#[cfg(test)]
mod tests;
