//! One image under one model: the input tensor, the logits and the activations of every layer
//! explained so far, so switching class or method reuses them.

use super::activations::{LayerActivations, activations};
use super::memory;
use crate::error::Result;
use crate::models::Network;
use crate::models::generator::Generator;
use crate::models::network::host_values;
use burn::tensor::Tensor;
use std::collections::HashMap;
use std::sync::Arc;

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
    pub(super) fn bytes_per_image(&mut self) -> u64 {
        let (net, x) = (&self.net, &self.x);
        *self.bytes_per_image.get_or_insert_with(|| memory::working_bytes_per_image(net.stage_output_bytes(x)))
    }
}
