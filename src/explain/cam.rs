//! The gradient-weighted class activation maps. Notation: `A^k` is channel `k` of the explained
//! layer's activations, `G^k = dS / dA^k` the gradient of the objective (class `c`'s logit for a
//! class), sums over `i, j` run over the layer's spatial positions. Every function returns the
//! layer-resolution map before the shared ReLU / normalise / resize step of [`super::finish`].

use super::activations::{FeatureMaps, LayerActivations, gradient};
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec};
use super::objective::Objective;
use crate::error::{LanternError, Result};
use crate::models::Network;
use crate::models::network::host_values;
use burn::tensor::{Tensor, TensorData};

/// A CAM-family method of the layer's activations and their gradient.
const fn gradient_cam(
    name: &'static str,
    title: &'static str,
    formula: &'static str,
    paper: &'static str,
    quick: bool,
    entry: Entry,
) -> MethodSpec {
    MethodSpec {
        quick,
        ..MethodSpec::new(
            About { name, title, formula, paper },
            Mechanism { family: Family::Cam, layer: LayerUse::Chosen, gradients: true, entry },
        )
    }
}

pub const CAM: MethodSpec = MethodSpec {
    layer: LayerUse::CamHead,
    gradients: false,
    ..gradient_cam(
        "cam",
        "CAM",
        "sum_k w_ck A^k with the linear classifier's weights",
        "Zhou et al., CVPR 2016",
        false,
        Entry::Layer(run_cam),
    )
};
pub const GRAD_CAM: MethodSpec = gradient_cam(
    "gradcam",
    "Grad-CAM",
    "sum_k mean(dS/dA^k) A^k",
    "Selvaraju et al., ICCV 2017",
    true,
    Entry::Layer(|n, a, o| with_gradient(n, a, o, grad_cam)),
);
pub const GRAD_CAM_PLUS_PLUS: MethodSpec = gradient_cam(
    "gradcam++",
    "Grad-CAM++",
    "sum_k (sum_ij alpha_ij relu(dS/dA^k_ij)) A^k",
    "Chattopadhay et al., WACV 2018",
    true,
    Entry::Layer(|n, a, o| with_gradient(n, a, o, grad_cam_plus_plus)),
);
pub const XGRAD_CAM: MethodSpec = gradient_cam(
    "xgradcam",
    "XGrad-CAM",
    "sum_k (sum_ij dS/dA^k_ij A^k_ij / sum A^k) A^k",
    "Fu et al., BMVC 2020",
    true,
    Entry::Layer(|n, a, o| with_gradient(n, a, o, xgrad_cam)),
);
pub const LAYER_CAM: MethodSpec = gradient_cam(
    "layercam",
    "LayerCAM",
    "sum_k relu(dS/dA^k) * A^k",
    "Jiang et al., IEEE TIP 2021",
    true,
    Entry::Layer(|n, a, o| with_gradient(n, a, o, layer_cam)),
);
pub const HIRES_CAM: MethodSpec = gradient_cam(
    "hirescam",
    "HiResCAM",
    "sum_k dS/dA^k * A^k",
    "Draelos & Carin, 2020",
    true,
    Entry::Layer(|n, a, o| with_gradient(n, a, o, hires_cam)),
);

/// Run `f(A, dS/dA)`.
fn with_gradient(
    net: &Network,
    acts: &LayerActivations,
    objective: &Objective,
    f: fn(&FeatureMaps, &FeatureMaps) -> Vec<f32>,
) -> Result<Vec<f32>> {
    let g = gradient(net, acts, objective)?;
    Ok(f(&acts.maps, &g))
}

/// CAM's channel weights for any objective: `W dS/dy` at the image's output, `W` the linear
/// classifier's `[channels, outputs]` weights; for a class `c` (a one-hot `dS/dy`) this is
/// column `c` of `W`, Zhou et al.'s `w_c`.
fn run_cam(net: &Network, acts: &LayerActivations, objective: &Objective) -> Result<Vec<f32>> {
    let fc = net.cam_weights_at(acts.layer.cut).ok_or_else(|| LanternError::MethodNotApplicable {
        method: CAM.title.into(),
        reason: format!(
            "CAM needs the feature map that a global-average-pool + linear head reads ({}), not '{}'",
            super::cam_layer(net).unwrap_or("this model has no such head"),
            acts.layer.name
        ),
    })?;
    let device = fc.weight.device();
    let outputs = acts.logits.len();
    let y = Tensor::<2>::from_data(TensorData::new(acts.logits.clone(), [1, outputs]), &device);
    let g = objective.output_gradient(y);
    let w = host_values(fc.weight.clone().matmul(g.transpose()));
    Ok(cam(&acts.maps, &w))
}

/// `sum_k w_k A^k`.
fn weighted_sum(a: &FeatureMaps, weights: &[f64]) -> Vec<f32> {
    let mut cam = vec![0.0f64; a.plane()];
    for (k, w) in weights.iter().enumerate() {
        for (c, v) in cam.iter_mut().zip(a.channel(k)) {
            *c += w * f64::from(*v);
        }
    }
    cam.into_iter().map(|v| v as f32).collect()
}

/// `sum_k f(G^k_ij) A^k_ij`, position by position.
fn elementwise_sum(a: &FeatureMaps, g: &FeatureMaps, f: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut cam = vec![0.0f64; a.plane()];
    for k in 0..a.channels {
        for ((c, av), gv) in cam.iter_mut().zip(a.channel(k)).zip(g.channel(k)) {
            *c += f64::from(f(*gv) * *av);
        }
    }
    cam.into_iter().map(|v| v as f32).collect()
}

fn channel_sum(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v)).sum()
}

/// CAM (Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016):
/// `M_c = sum_k w_{c,k} A^k`, with `w_c` the classifier's weights for class `c`, for networks
/// whose head is global average pooling followed by one linear layer.
pub fn cam(a: &FeatureMaps, class_weights: &[f32]) -> Vec<f32> {
    let w: Vec<f64> = class_weights.iter().map(|&v| f64::from(v)).collect();
    weighted_sum(a, &w)
}

/// Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization", ICCV 2017): `w_k = mean_ij G^k_ij`, `M = sum_k w_k A^k`.
pub fn grad_cam(a: &FeatureMaps, g: &FeatureMaps) -> Vec<f32> {
    let n = g.plane() as f64;
    let w: Vec<f64> = (0..g.channels).map(|k| channel_sum(g.channel(k)) / n).collect();
    weighted_sum(a, &w)
}

/// Grad-CAM++ (Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep
/// Convolutional Networks", WACV 2018, eq. 19):
/// `alpha^k_ij = G^2 / (2 G^2 + sum_ab A^k_ab * G^3 + 1e-6)` (0 where `G = 0`),
/// `w_k = sum_ij alpha^k_ij * relu(G^k_ij)`, `M = sum_k w_k A^k`.
pub fn grad_cam_plus_plus(a: &FeatureMaps, g: &FeatureMaps) -> Vec<f32> {
    let w: Vec<f64> = (0..g.channels)
        .map(|k| {
            let sum_a = channel_sum(a.channel(k)) as f32;
            g.channel(k)
                .iter()
                .map(|&gv| {
                    if gv == 0.0 {
                        return 0.0;
                    }
                    let g2 = gv * gv;
                    let g3 = g2 * gv;
                    let alpha = g2 / (2.0 * g2 + sum_a * g3 + 1e-6);
                    f64::from(gv.max(0.0) * alpha)
                })
                .sum()
        })
        .collect();
    weighted_sum(a, &w)
}

/// XGrad-CAM (Fu et al., "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation
/// of CNNs", BMVC 2020): `w_k = sum_ij G^k_ij * A^k_ij / (sum_ab A^k_ab + 1e-7)`.
pub fn xgrad_cam(a: &FeatureMaps, g: &FeatureMaps) -> Vec<f32> {
    let w: Vec<f64> = (0..g.channels)
        .map(|k| {
            let denom = channel_sum(a.channel(k)) as f32 + 1e-7;
            g.channel(k).iter().zip(a.channel(k)).map(|(&gv, &av)| f64::from(gv * av / denom)).sum()
        })
        .collect();
    weighted_sum(a, &w)
}

/// LayerCAM (Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
/// Localization", IEEE TIP 2021): `M_ij = sum_k relu(G^k_ij) * A^k_ij`.
pub fn layer_cam(a: &FeatureMaps, g: &FeatureMaps) -> Vec<f32> {
    elementwise_sum(a, g, |gv| gv.max(0.0))
}

/// HiResCAM (Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of
/// convolutional neural networks", 2020): `M_ij = sum_k G^k_ij * A^k_ij`.
pub fn hires_cam(a: &FeatureMaps, g: &FeatureMaps) -> Vec<f32> {
    elementwise_sum(a, g, |gv| gv)
}

/// `G ⊙ A`, the input of EigenGrad-CAM's projection.
pub fn gradient_times_activation(a: &FeatureMaps, g: &FeatureMaps) -> FeatureMaps {
    FeatureMaps { values: a.values.iter().zip(&g.values).map(|(x, y)| x * y).collect(), ..a.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(channels: usize, values: Vec<f32>) -> FeatureMaps {
        let plane = values.len() / channels;
        FeatureMaps { channels, height: 1, width: plane, values }
    }

    #[test]
    fn grad_cam_weights_channels_by_mean_gradient() {
        let a = maps(2, vec![1.0, 2.0, 3.0, 4.0]);
        let g = maps(2, vec![1.0, 3.0, -1.0, -1.0]);
        // w = [2, -1]: M = 2*[1,2] - [3,4] = [-1, 0]
        assert_eq!(grad_cam(&a, &g), vec![-1.0, 0.0]);
        assert_eq!(hires_cam(&a, &g), vec![1.0 - 3.0, 6.0 - 4.0]);
        assert_eq!(layer_cam(&a, &g), vec![1.0, 6.0]);
        assert_eq!(cam(&a, &[1.0, 1.0]), vec![4.0, 6.0]);
    }

    #[test]
    fn xgrad_and_plus_plus_follow_their_formulas() {
        let a = maps(1, vec![1.0, 3.0]);
        let g = maps(1, vec![2.0, 0.0]);
        // XGrad: w = (2*1 + 0*3) / 4 = 0.5
        let x = xgrad_cam(&a, &g);
        assert!((x[0] - 0.5).abs() < 1e-6 && (x[1] - 1.5).abs() < 1e-6);
        // ++: alpha = 4 / (8 + 4*8 + 1e-6) = 0.1, w = 0.1 * 2 = 0.2
        let p = grad_cam_plus_plus(&a, &g);
        assert!((p[0] - 0.2).abs() < 1e-6 && (p[1] - 0.6).abs() < 1e-6, "{p:?}");
    }
}
