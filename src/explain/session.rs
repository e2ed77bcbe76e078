//! One image under one model: the input tensor, the logits and the activations of every layer
//! explained so far, so switching class or method reuses them.

use super::activations::{LayerActivations, activations};
use super::memory;
use super::method::{Entry, LayerUse, Output, Run};
use super::objective::Objective;
use super::params::Params;
use super::registry::Method;
use super::{Explanation, explain, explanation};
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::models::Network;
use crate::models::generator::Generator;
use crate::models::network::host_values;
use burn::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The cached state of explaining one input.
pub struct Session {
    net: Arc<Network>,
    x: Tensor<4>,
    layers: HashMap<String, LayerActivations>,
    logits: Option<Vec<f32>>,
    generator: Option<Arc<Generator>>,
    /// Working bytes per image of a batched model pass, measured on first need.
    bytes_per_image: Option<u64>,
}

impl Session {
    /// `x` is the preprocessed `[1, 3, H, W]` input.
    pub fn new(net: Arc<Network>, x: Tensor<4>) -> Self {
        Self { net, x, layers: HashMap::new(), logits: None, generator: None, bytes_per_image: None }
    }

    /// The same session with a weight-map generator trained for its network (the `generator`
    /// method's model), or none.
    pub fn with_generator(mut self, generator: Option<Arc<Generator>>) -> Self {
        self.generator = generator;
        self
    }

    pub fn generator(&self) -> Option<&Generator> {
        self.generator.as_deref()
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, shared (for methods that also borrow the session's caches).
    pub fn shared_network(&self) -> Arc<Network> {
        Arc::clone(&self.net)
    }

    pub fn input(&self) -> &Tensor<4> {
        &self.x
    }

    /// The model's logits for the input (one forward pass, then cached).
    pub fn logits(&mut self) -> &[f32] {
        if self.logits.is_none() {
            let logits = match self.layers.values().next() {
                Some(a) => a.logits.clone(),
                None => host_values(self.net.forward(self.x.clone())),
            };
            self.logits = Some(logits);
        }
        self.logits.as_deref().expect("just set")
    }

    /// Activations at `layer`, computed on first use.
    pub fn activations(&mut self, layer: &str) -> Result<&LayerActivations> {
        if !self.layers.contains_key(layer) {
            let a = activations(&self.net, self.x.clone(), layer)?;
            self.logits.get_or_insert_with(|| a.logits.clone());
            self.layers.insert(layer.to_string(), a);
        }
        Ok(&self.layers[layer])
    }

    /// Working bytes per image of a batched pass of this input's size (see [`memory`]).
    fn bytes_per_image(&mut self) -> u64 {
        let (net, x) = (&self.net, &self.x);
        *self.bytes_per_image.get_or_insert_with(|| memory::working_bytes_per_image(net.stage_output_bytes(x)))
    }

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
        let net = Arc::clone(&self.net);
        objective.check(&net)?;
        params.validate().map_err(LanternError::Invalid)?;
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
                    fitted = Params {
                        batch: memory::fit_batch(params.batch, self.bytes_per_image(), memory::available_bytes()),
                        ..params.clone()
                    };
                    &fitted
                } else {
                    params
                };
                let Output { map, attribution, forward_ms, approximation } =
                    run(&mut Run { session: self, objective: &objective, layer: &layer, params, control })?;
                Ok(explanation(&net, map, method, &layer, objective, forward_ms, start, attribution, approximation))
            }
        }
    }
}
