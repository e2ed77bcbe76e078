//! Exports from the app: the current view at the image's full resolution, its raw map (`.npy`,
//! 16-bit PNG) and a JSON record (written by [`crate::record`], as the CLI writes them).

use super::state::AppState;
use crate::error::{LanternError, Result};
use crate::files::file_stem;
use crate::models::Labels;
use crate::record::{self, Boxes, Extras, ModelFacts, Subject};
use crate::render::{Decorations, decorate, render_view};
use std::path::Path;

/// Write what the main view shows into `dir`; how many files were written.
pub fn write_current(app: &AppState, dir: &Path) -> Result<usize> {
    let (Some(out), Some(img), Some(info)) = (app.main.output(), app.gallery.current(), &app.model.info) else {
        return Err(LanternError::BadArgument("Nothing to export yet: wait for the explanation.".into()));
    };
    let decoded = img.decoded().ok_or_else(|| LanternError::BadArgument("The image is not loaded.".into()))?;
    let look = app.settings.look.view_look();
    let threshold = app.settings.look.threshold;
    let shown = app.settings.look.boxes;
    let boxes = shown.then(|| Boxes { threshold, boxes: out.boxes_at(threshold).to_vec() });
    let decorations = Decorations {
        predicted: if shown { out.boxes_in_original(threshold) } else { Vec::new() },
        truth: match (&img.truth, shown) {
            (Some(t), true) => t.boxes.clone(),
            _ => Vec::new(),
        },
        colour_bar: Some((look.style.colormap, out.map.min_max())),
    };
    let e = crate::explain::Explanation {
        map: (*out.map).clone(),
        method: out.method,
        layer: out.layer.clone(),
        objective: crate::explain::Objective::Class(out.class),
        timing: out.timing,
        attribution: None,
        approximation: out.approximation.clone(),
    };
    let name = img.name();
    let labels = Labels::from_names(info.labels.clone());
    let model = ModelFacts {
        name: &info.name,
        arch: &info.arch,
        labels: &labels,
        output: info.output,
        preprocess: &info.preprocess,
    };
    let subject = Subject {
        name: &name,
        image: &decoded.rgb,
        geometry: &out.geometry,
        model,
        device: &app.machine.compute,
        logits: &out.logits,
    };
    let picture = decorate(&render_view(&decoded.rgb, &out.map, &out.geometry, &look), &decorations);
    std::fs::create_dir_all(dir).map_err(|e| LanternError::io(dir, e))?;
    let r = record::write(
        dir,
        &record::file_base(&file_stem(&name), out.method),
        &subject,
        &e,
        Extras { picture: ("view", picture), boxes, curves: None },
    )?;
    Ok(r.files.len())
}
