//! "Save all": a background task that explains every image of the gallery with the current
//! settings and writes each as the CLI does ([`crate::record`]), on the CPU beside the UI.

use crate::app::images::ImageSource;
use crate::app::model::ModelSource;
use crate::control::Control;
use crate::device::ComputeDevice;
use crate::error::{LanternError, Result};
use crate::explain::{Method, Params, Session, Target};
use crate::files::unique_stems;
use crate::map::BoxMode;
use crate::models::Network;
use crate::record::{self, Boxes, Extras, ModelFacts, Subject};
use crate::render::{Decorations, ViewLook, decorate, render_view};
use std::path::PathBuf;
use std::sync::Arc;

/// Explain and export `images` into `dir`.
pub struct SaveAll {
    pub model: ModelSource,
    pub images: Vec<ImageSource>,
    pub method: Method,
    pub target: Target,
    pub layer: Option<String>,
    pub params: Params,
    pub look: ViewLook,
    /// Whether boxes were shown (then they are drawn and recorded at the look's threshold).
    pub boxes: bool,
    pub dir: PathBuf,
}

impl SaveAll {
    /// The network on the CPU, and the device description the records carry.
    fn network(&self) -> Result<(Network, String, String)> {
        let cpu = ComputeDevice::cpu();
        let name = match &self.model {
            ModelSource::Demo => "demo classifier".into(),
            ModelSource::File(p) => p.display().to_string(),
            ModelSource::Given(file) => file.name.clone(),
        };
        Ok((self.model.load(&cpu.device)?, name, cpu.description))
    }

    /// Explain and write one image, `name` and its file stem `stem`.
    fn one(
        &self,
        net: &Arc<Network>,
        (name, stem): (&str, &str),
        source: &ImageSource,
        model: &str,
        device: &str,
        control: &mut Control,
    ) -> Result<()> {
        let image = source.decode()?;
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

    /// Explain and write every image; says what was saved.
    pub fn run(self, control: &mut Control) -> Result<String> {
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
                self.one(&net, (name, stem), source, &model, &device, &mut Control::new(control.cancel_flag()))
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
            Err(LanternError::Output {
                path: self.dir.clone(),
                reason: format!(
                    "saved {} of {} images; {}",
                    self.images.len() - errors.len(),
                    self.images.len(),
                    errors.join("; ")
                ),
            })
        }
    }
}
