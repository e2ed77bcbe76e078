//! "File ▸ Export animation": a background task that renders the open image's explanation as an
//! animated GIF ([`crate::animate`]: a layer, progress, threshold or wipe sweep) with the app's
//! method, class, layer, parameters and look, on the CPU beside the UI, as "save all" does.

use crate::animate::{self, Picture, Plan, Sweep};
use crate::app::images::ImageSource;
use crate::app::model::ModelSource;
use crate::control::Control;
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::explain::{Method, Objective, Params, Session, Target};
use crate::render::OverlayStyle;
use std::path::PathBuf;
use std::sync::Arc;

/// Animate the explanation of `image` into the GIF `file`.
pub struct ExportAnimation {
    pub model: ModelSource,
    /// The generator a training run installed for the model, if any (for [`Method::Generator`]).
    pub installed_generator: Option<PathBuf>,
    pub image: ImageSource,
    pub method: Method,
    pub target: Target,
    pub layer: Option<String>,
    pub params: Params,
    pub style: OverlayStyle,
    pub sweep: Sweep,
    pub file: PathBuf,
}

impl ExportAnimation {
    /// Render the frames and write the GIF; what to tell the user.
    pub fn run(self, control: &mut Control) -> Result<String> {
        animate::gif::check_output(&self.file)?;
        let cpu = ComputeDevice::cpu();
        let net = Arc::new(self.model.load(&cpu.device)?);
        let image = self.image.decode()?;
        let geometry = net.preprocess.geometry(image.width(), image.height());
        let mut session = Session::new(Arc::clone(&net), net.preprocess.tensor(&image, &cpu.device));
        if self.method == Method::Generator {
            let (_, g) = self.model.generator(self.installed_generator.as_deref(), &cpu.device)?;
            session = session.with_generator(Some(Arc::new(g)));
        }
        let class = self.target.resolve(session.logits());
        let plan = Plan {
            method: self.method,
            objective: Objective::Class(class),
            class_name: net.labels.name(class),
            sweep: self.sweep,
            steps: animate::DEFAULT_STEPS,
            layer: self.layer,
            params: self.params,
            style: self.style,
        };
        let frames = animate::frames(&mut session, Picture { image: &image, geometry: &geometry }, &plan, control)?;
        animate::gif::write_gif(&self.file, &frames, animate::DEFAULT_DELAY_MS)?;
        Ok(format!("Wrote {} frames ({} sweep) to {}", frames.len(), self.sweep, self.file.display()))
    }
}
