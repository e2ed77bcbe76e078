//! One image under one model: the input tensor, the logits and the activations of every layer
//! explained so far, so switching class or method reuses them.

use super::activations::{LayerActivations, activations, check_class, gradient};
use super::control::Control;
use super::gradients::{baseline_tensor, guided_backprop, guided_gradcam, input_x_gradient, integrated_gradients, saliency, smoothgrad};
use super::method::{Family, Method, Params};
use super::perturbation::{RiseMasks, occlusion, rise};
use super::score_cam::{ablation_cam, score_cam};
use super::{Explanation, explain, explanation, finish, ms};
use crate::error::{LanternError, Result};
use crate::models::Network;
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
}

impl Session {
    /// `x` is the preprocessed `[1, 3, H, W]` input.
    pub fn new(net: Arc<Network>, x: Tensor<4>) -> Self {
        Self { net, x, layers: HashMap::new(), logits: None }
    }

    pub fn network(&self) -> &Network {
        &self.net
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

    /// Whether `layer`'s activations are cached (so a CAM-family method will be quick).
    pub fn has_layer(&self, layer: &str) -> bool {
        self.layers.contains_key(layer)
    }

    /// Explain `class` with `method`. `layer` is used by the methods that explain a layer (the
    /// model's default when `None`; CAM always uses the layer its head pools).
    pub fn explain(&mut self, method: Method, class: usize, layer: Option<&str>, params: &Params, control: &mut Control) -> Result<Explanation> {
        let net = Arc::clone(&self.net);
        let net: &Network = &net;
        check_class(net, class)?;
        let layer = match (method, layer) {
            (Method::Cam, _) => super::cam_layer(net)
                .ok_or_else(|| LanternError::MethodNotApplicable {
                    method: method.title().into(),
                    reason: "the model's head is not global-average-pool + linear".into(),
                })?
                .to_string(),
            (_, Some(l)) => l.to_string(),
            (_, None) => net.default_layer.clone(),
        };
        if Method::CAM_FAMILY.contains(&method) {
            let acts = self.activations(&layer)?;
            return explain(net, acts, method, class);
        }
        let start = Instant::now();
        let x = self.x.clone();
        let pre = &net.preprocess;
        let (map, attribution, used_layer, forward_ms) = match method {
            Method::ScoreCam | Method::AblationCam => {
                let acts = self.activations(&layer)?;
                let (raw, _) = if method == Method::ScoreCam {
                    score_cam(net, &x, acts, class, params.batch, control)?
                } else {
                    ablation_cam(net, acts, class, params.batch, control)?
                };
                (finish(raw, acts.maps.width, acts.maps.height, acts.input_size), None, layer, ms(acts.forward_time))
            }
            Method::GuidedGradCam => {
                let acts = self.activations(&layer)?;
                let g = gradient(net, acts, class)?;
                let cam = super::cam::grad_cam(&acts.maps, &g);
                let a = guided_gradcam(net, &x, &cam, (acts.maps.width, acts.maps.height), class);
                (a.to_map(params.reduction), Some(a), layer, ms(acts.forward_time))
            }
            Method::Rise => {
                let [_, _, h, w] = x.dims();
                let masks = RiseMasks::generate(params.rise_masks, params.rise_cells, params.rise_keep, h, w, params.seed);
                let (map, _) = rise(net, &x, &masks, class, params.batch, control)?;
                let mut map = map;
                map.normalize();
                (map, None, String::new(), 0.0)
            }
            _ => {
                let a = match method {
                    Method::Saliency => saliency(net, &x, class, true),
                    Method::InputXGradient => input_x_gradient(net, &x, class),
                    Method::SmoothGrad => smoothgrad(net, &x, class, params.smoothgrad_samples, params.smoothgrad_sigma, params.seed, params.batch, control)?,
                    Method::IntegratedGradients => {
                        let b = baseline_tensor(&params.baseline, &x, pre.mean, pre.std);
                        integrated_gradients(net, &x, &b, class, params.ig_steps, params.ig_rule, params.batch, control)?.0
                    }
                    Method::GuidedBackprop => guided_backprop(net, &x, class),
                    Method::Occlusion => {
                        let b = baseline_tensor(&params.baseline, &x, pre.mean, pre.std);
                        occlusion(net, &x, &b, class, params.occlusion_window, params.occlusion_stride, params.batch, control)?
                    }
                    _ => unreachable!("every other method is handled above"),
                };
                debug_assert!(matches!(method.family(), Family::Gradient | Family::Perturbation));
                (a.to_map(params.reduction), Some(a), String::new(), 0.0)
            }
        };
        Ok(explanation(net, map, method, &used_layer, class, forward_ms, start, attribution))
    }
}
