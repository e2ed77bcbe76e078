//! Running a method on a [`Session`]: resolve its layer, check what it needs, fit the batch to
//! the memory, and call its entry point.

use super::memory;
use super::method::{Entry, LayerUse, Run};
use super::objective::Objective;
use super::params::{ParamSet, Params};
use super::registry::Method;
use super::session::Session;
use super::{Explanation, explain, explanation};
use crate::control::Control;
use crate::error::{LanternError, Result};
use web_time::Instant;

impl Session {
    /// Explain `objective` with `method`. `layer` is used by the methods that explain a layer
    /// (the model's default when `None`; CAM always uses the layer its head pools).
    pub fn explain(
        &mut self,
        method: Method,
        objective: impl Into<Objective>,
        layer: Option<&str>,
        params: &Params,
        control: &mut Control,
    ) -> Result<Explanation> {
        let objective = objective.into();
        let net = self.shared_network();
        objective.check(&net)?;
        super::check_available(&net, method)?;
        params.validate().map_err(LanternError::BadArgument)?;
        let spec = method.spec();
        let layer = match (spec.layer, layer) {
            (LayerUse::None, _) => String::new(),
            (LayerUse::CamHead, _) => super::cam_layer(&net)
                .ok_or_else(|| LanternError::MethodNotApplicable {
                    method: method.title().into(),
                    reason: "the model's head is not global-average-pool + linear".into(),
                })?
                .to_string(),
            (LayerUse::Chosen, Some(l)) => l.to_string(),
            (LayerUse::Chosen, None) => net.default_layer.clone(),
        };
        match spec.entry {
            Entry::Layer(_) => {
                let acts = self.activations(&layer)?;
                explain(&net, acts, method, objective)
            }
            Entry::Input(run) => {
                let start = Instant::now();
                let fitted;
                let params = if spec.long {
                    let fit = if spec.gradients { memory::fit_gradient_batch } else { memory::fit_batch };
                    fitted = Params {
                        batch: fit(params.batch, self.bytes_per_image(), memory::available_bytes()),
                        ..params.clone()
                    };
                    &fitted
                } else {
                    params
                };
                let output = run(&mut Run { session: self, objective: &objective, layer: &layer, params, control })?;
                Ok(explanation(&net, method, &layer, objective, start, output))
            }
        }
    }
}
