//! Exports from the app: the current view at the image's full resolution, its raw map (`.npy`,
//! 16-bit PNG) and a JSON record (written by [`crate::record`], as the CLI writes them); and
//! "save all", a named task that explains every image of the gallery with the current settings.

use super::LanternApp;
use super::images::ImageSource;
use super::model::ModelSource;
use crate::control::Control;
use crate::device::ComputeDevice;
use crate::error::{LanternError, Result};
use crate::explain::{Method, Params, Session, Target};
use crate::files::{file_stem, unique_stems};
use crate::map::BoxMode;
use crate::models::Labels;
use crate::models::Network;
use crate::record::{self, Boxes, Extras, ModelFacts, Subject};
use crate::render::{Decorations, ViewLook, decorate, render_view};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Export what the main view shows into `dir`.
pub fn export_current(app: &mut LanternApp, dir: &Path) {
    let result = write_current(app, dir);
    match result {
        Ok(n) => app.toasts.note(format!("Exported {n} files to {}", dir.display())),
        Err(e) => app.toasts.error(e.to_string()),
    }
}

fn write_current(app: &LanternApp, dir: &Path) -> Result<usize> {
    let (Some(out), Some(img), Some(info)) = (&app.main.output, app.gallery.current(), &app.model.info) else {
        return Err(LanternError::Invalid("Nothing to export yet: wait for the explanation.".into()));
    };
    let decoded = img.decoded().ok_or_else(|| LanternError::Invalid("The image is not loaded.".into()))?;
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
        device: &app.compute,
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

/// Explain and export every image of the gallery into `dir` as a named task.
pub fn save_all(app: &mut LanternApp, dir: PathBuf) {
    let Some(source) = app.model.source.clone() else { return };
    let images: Vec<ImageSource> = app.gallery.images.iter().map(|i| i.source.clone()).collect();
    let job = Job {
        model: source,
        images,
        method: app.settings.method,
        target: app.target,
        layer: app.layer.clone(),
        params: app.settings.params.clone(),
        look: app.settings.look.view_look(),
        boxes: app.settings.look.boxes,
        dir,
    };
    let repaint = app.repaint_handle();
    if let Err(e) = app.tasks.spawn("save all", repaint, move |control| job.run(control)) {
        app.toasts.error(e.to_string());
    }
}

struct Job {
    model: ModelSource,
    images: Vec<ImageSource>,
    method: Method,
    target: Target,
    layer: Option<String>,
    params: Params,
    look: ViewLook,
    /// Whether boxes were shown (then they are drawn and recorded at the look's threshold).
    boxes: bool,
    dir: PathBuf,
}

impl Job {
    /// The network on the CPU, and the device description the records carry.
    fn network(&self) -> Result<(Network, String, String)> {
        let cpu = ComputeDevice::cpu();
        let net = match &self.model {
            ModelSource::Demo => (crate::models::demo::network(&cpu.device)?, "demo classifier".into()),
            ModelSource::File(p) => (crate::models::load(p, None, &cpu.device)?, p.display().to_string()),
        };
        Ok((net.0, net.1, cpu.description))
    }

    fn one(
        &self,
        net: &Arc<Network>,
        name: &str,
        stem: &str,
        source: &ImageSource,
        model: &str,
        device: &str,
        control: &mut Control,
    ) -> Result<()> {
        let image = match source {
            ImageSource::File(p) => crate::imaging::load_image(p)?,
            ImageSource::Bytes { name, bytes } => crate::imaging::decode_image_bytes(bytes, Path::new(name))?,
        };
        let geometry = net.preprocess.geometry(image.width(), image.height());
        let mut session = Session::new(Arc::clone(net), net.preprocess.tensor(&image, &net.device()));
        let logits = session.logits().to_vec();
        let class = self.target.resolve(&logits);
        let e = session.explain(self.method, class, self.layer.as_deref(), &self.params, control)?;
        let subject = Subject {
            name,
            image: &image,
            geometry: &geometry,
            model: ModelFacts::of(net, model),
            device,
            logits: &logits,
        };
        let threshold = self.look.threshold;
        let boxes = self.boxes.then(|| Boxes { threshold, boxes: e.map.boxes(threshold, BoxMode::All) });
        let decorations = Decorations {
            predicted: boxes
                .iter()
                .flat_map(|b| &b.boxes)
                .map(|b| geometry.map_box_in_original(b, (e.map.width, e.map.height)))
                .collect(),
            truth: Vec::new(),
            colour_bar: Some((self.look.style.colormap, e.map.min_max())),
        };
        let picture = decorate(&render_view(&image, &e.map, &geometry, &self.look), &decorations);
        record::write(
            &self.dir,
            &record::file_base(stem, self.method),
            &subject,
            &e,
            Extras { picture: ("view", picture), boxes, curves: None },
        )?;
        Ok(())
    }

    fn run(self, control: &mut Control) -> Result<String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| LanternError::io(&self.dir, e))?;
        let (net, model, device) = self.network()?;
        let net = Arc::new(net);
        let names: Vec<String> = self.images.iter().map(ImageSource::name).collect();
        let stems = unique_stems(names.iter().map(String::as_str));
        let mut errors = Vec::new();
        for (i, (source, (name, stem))) in self.images.iter().zip(names.iter().zip(&stems)).enumerate() {
            control.check()?;
            // The method's own progress is not forwarded: the task counts images.
            if let Err(e) =
                self.one(&net, name, stem, source, &model, &device, &mut Control::new(control.cancel_flag()))
            {
                if matches!(e, LanternError::Cancelled) {
                    return Err(e);
                }
                errors.push(format!("{name}: {e}"));
            }
            control.report(i + 1, self.images.len(), None);
        }
        let dir = self.dir.display();
        if errors.is_empty() {
            Ok(format!("Saved {} images to {dir}", self.images.len()))
        } else {
            Err(LanternError::Invalid(format!(
                "Saved {} of {} images to {dir}; {}",
                self.images.len() - errors.len(),
                self.images.len(),
                errors.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_never_collide() {
        assert_eq!(unique_stems(["cat.jpg", "cat.png", "dog.png", "a/cat.bmp"]), vec!["cat", "cat-2", "dog", "cat-3"]);
    }
}
