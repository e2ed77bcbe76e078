//! BoostLU CAM: the class activation map as a multi-label head with BoostLU computes it (Kim et
//! al., "Bridging the Gap between Model Explanations in Partially Annotated Multi-label
//! Classification", CVPR 2023).
//!
//! For class `c`, with `w_c` and `b_c` the linear classifier's weights and bias and `A^k` the
//! feature map it pools,
//!
//! `M_c = BoostLU_alpha(sum_k w_ck A^k + b_c)`, `BoostLU_alpha(x) = alpha x` for `x > 0`, `x` otherwise,
//!
//! the map whose spatial mean is the boosted logit. A set of classes (or any linear read-out
//! `S = g . y`) sums `g_c M_c`. The explanation is `sigmoid(up(M))`: bilinear resize to the input,
//! then the logistic function per pixel, an absolute scale in `(0, 1)` read as a local
//! probability. There is no min-max normalisation (which would cancel `alpha`), so a larger
//! `alpha` visibly raises the positive evidence, as BoostLU does to the logits. The map is
//! computed from the cached activations: changing `alpha` never re-runs the backbone.

use super::activations::FeatureMaps;
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Output, Run};
use super::objective::Objective;
use super::params::BOOST_ALPHA;
use crate::error::{LanternError, Result};
use crate::map::{Interpolation, WeightMap};
use crate::models::Network;
use crate::models::network::{Linear, host_values};
use crate::models::scores::sigmoid;
use burn::tensor::{Tensor, TensorData};

pub const BOOST_CAM: MethodSpec = MethodSpec {
    layer: LayerUse::CamHead,
    params: &[BOOST_ALPHA],
    ..MethodSpec::new(
        About {
            name: "boostcam",
            title: "BoostLU CAM",
            formula: "sigmoid(up(BoostLU_alpha(sum_k w_ck A^k + b_c)))",
            paper: "Kim et al., CVPR 2023",
        },
        Mechanism {
            family: Family::Cam,
            layer: LayerUse::CamHead,
            gradients: false,
            entry: Entry::Input(run_boost_cam),
        },
    )
};

fn run_boost_cam(run: &mut Run<'_, '_>) -> Result<Output> {
    let net = run.session.shared_network();
    let acts = run.session.activations(run.layer)?;
    let fc = net
        .cam_weights_at(acts.layer.cut)
        .ok_or_else(|| not_applicable("the model's head is not global-average-pool + linear"))?;
    let g = readout(&net, fc, acts.logits.len(), run.objective)?;
    let raw = boosted_cam(&acts.maps, fc, &g, run.params.boost_alpha);
    Ok(Output {
        map: probability_map(raw, acts.maps.width, acts.maps.height, acts.input_size),
        attribution: None,
        forward_ms: super::ms(acts.forward_time),
        approximation: None,
    })
}

fn not_applicable(reason: &str) -> LanternError {
    LanternError::MethodNotApplicable { method: BOOST_CAM.title.into(), reason: reason.into() }
}

/// `dS/dy` of a linear objective (a class, a set of classes, a read-out); other objectives have
/// no per-class map to boost.
fn readout(net: &Network, fc: &Linear, outputs: usize, objective: &Objective) -> Result<Vec<f32>> {
    if !matches!(objective, Objective::Class(_) | Objective::Classes(_) | Objective::Weighted(_)) {
        return Err(not_applicable("it explains classes (or a linear read-out of them), not this objective"));
    }
    objective.check(net)?;
    let y = Tensor::<2>::from_data(TensorData::new(vec![0.0f32; outputs], [1, outputs]), &fc.weight.device());
    Ok(host_values(objective.output_gradient(y)))
}

/// `sum_c g_c BoostLU_alpha(sum_k w_ck A^k + b_c)` at the layer's resolution, over the classes
/// with `g_c != 0`.
pub fn boosted_cam(a: &FeatureMaps, fc: &Linear, g: &[f32], alpha: f32) -> Vec<f32> {
    let w = host_values(fc.weight.clone());
    let b = host_values(fc.bias.clone());
    let outputs = b.len();
    let mut total = vec![0.0f64; a.plane()];
    for (c, &gc) in g.iter().enumerate().filter(|(_, g)| **g != 0.0) {
        let mut m = vec![f64::from(b[c]); a.plane()];
        for k in 0..a.channels {
            let wk = f64::from(w[k * outputs + c]);
            for (v, x) in m.iter_mut().zip(a.channel(k)) {
                *v += wk * f64::from(*x);
            }
        }
        for (t, v) in total.iter_mut().zip(m) {
            *t += f64::from(gc) * if v > 0.0 { f64::from(alpha) * v } else { v };
        }
    }
    total.into_iter().map(|v| v as f32).collect()
}

/// `sigmoid(up(M))`: bilinear resize of the `width x height` map to `size`, then the logistic
/// function per pixel.
pub fn probability_map(raw: Vec<f32>, width: usize, height: usize, size: (usize, usize)) -> WeightMap {
    let mut m = WeightMap::new(width, height, raw).resized(size.0, size.1, Interpolation::Bilinear);
    m.values.iter_mut().for_each(|v| *v = sigmoid(*v));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Control, Params, Session};
    use crate::models::network::host_values;
    use burn::tensor::Device;

    fn maps(values: Vec<f32>, channels: usize, h: usize, w: usize) -> FeatureMaps {
        FeatureMaps { channels, height: h, width: w, values }
    }

    fn linear(weight_in_out: Vec<f32>, bias: Vec<f32>, input: usize) -> Linear {
        let device = Device::flex();
        let out = bias.len();
        Linear {
            weight: Tensor::from_data(TensorData::new(weight_in_out, [input, out]), &device),
            bias: Tensor::from_data(TensorData::new(bias, [out]), &device),
        }
    }

    /// Two channels over a 1 x 2 map, two classes, worked by hand.
    #[test]
    fn the_boosted_map_scales_only_the_positive_part_and_sums_a_set() {
        let a = maps(vec![1.0, -1.0, 2.0, 0.0], 2, 1, 2);
        // w[k][c]: class 0 reads 1 A^0 + 0.5 A^1, class 1 reads -1 A^0; biases -1 and 0.5.
        let fc = linear(vec![1.0, -1.0, 0.5, 0.0], vec![-1.0, 0.5], 2);
        // Class 0 before BoostLU: [1 + 1 - 1, -1 + 0 - 1] = [1, -2]; alpha 5 gives [5, -2].
        assert_eq!(boosted_cam(&a, &fc, &[1.0, 0.0], 5.0), vec![5.0, -2.0]);
        assert_eq!(boosted_cam(&a, &fc, &[1.0, 0.0], 1.0), vec![1.0, -2.0]);
        // Class 1: [-1 + 0.5, 1 + 0.5] = [-0.5, 1.5] -> [-0.5, 4.5]; the set sums both.
        assert_eq!(boosted_cam(&a, &fc, &[1.0, 1.0], 3.0), vec![3.0 - 0.5, -2.0 + 4.5]);
        let p = probability_map(vec![0.0, 2.0], 2, 1, (2, 1));
        assert_eq!(p.values, vec![0.5, sigmoid(2.0)], "the same size resizes to itself");
    }

    /// Through a real session on the demo classifier: the spatial mean of the boosted map is the
    /// boosted logit the model computes, and a larger alpha raises the map where it is positive.
    #[test]
    fn the_boosted_map_pools_to_the_boosted_logit_and_alpha_raises_it() {
        let device = Device::flex();
        let net = crate::models::demo::network(&device).unwrap();
        let layer = crate::explain::cam_layer(&net).unwrap().to_string();
        let (name, bytes) = crate::models::demo::IMAGES[0];
        let img = crate::imaging::decode_image_bytes(bytes, std::path::Path::new(name)).unwrap();
        let x = net.preprocess.tensor(&img, &device);
        let boosted = net.boosted(4.0).unwrap();
        let expected = host_values(boosted.forward(x.clone()));
        let net = std::sync::Arc::new(net);
        let mut session = Session::new(std::sync::Arc::clone(&net), x);
        let acts = session.activations(&layer).unwrap();
        let fc = net.cam_weights_at(acts.layer.cut).unwrap();
        for c in 0..expected.len() {
            let mut g = vec![0.0; expected.len()];
            g[c] = 1.0;
            let m = boosted_cam(&acts.maps, fc, &g, 4.0);
            let mean = m.iter().map(|&v| f64::from(v)).sum::<f64>() / m.len() as f64;
            assert!(
                (mean - f64::from(expected[c])).abs() < 1e-3 * (1.0 + f64::from(expected[c]).abs()),
                "class {c}: {mean} vs {}",
                expected[c]
            );
        }
        // The predicted class: its map is positive somewhere, where BoostLU acts.
        let predicted = crate::models::scores::ranked(&expected, 1)[0].0;
        let mut run = |alpha: f32| {
            let params = Params { boost_alpha: alpha, ..Params::default() };
            session
                .explain(crate::explain::Method::BoostCam, predicted, None, &params, &mut Control::none())
                .unwrap()
                .map
        };
        let (low, high) = (run(1.0), run(5.0));
        assert!(low.values.iter().zip(&high.values).all(|(l, h)| h >= l), "boosting never lowers the map");
        assert!(
            high.values.iter().zip(&low.values).any(|(h, l)| h - l > 0.05),
            "and raises it where the map is positive"
        );
        assert!(high.values.iter().all(|v| (0.0..=1.0).contains(v)));
        let wrong = Objective::Similarity { reference: vec![0.0; 6] };
        assert!(
            session
                .explain(crate::explain::Method::BoostCam, wrong, None, &Params::default(), &mut Control::none())
                .is_err()
        );
    }
}
