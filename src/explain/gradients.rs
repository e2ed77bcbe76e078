//! Gradient attributions with respect to the input pixels. Every gradient is of the objective's
//! scalar `S(y)`: for a class, its logit (not its probability), as Captum computes it with
//! `target=c`.

use super::attribution::Attribution;
use super::backprop::{ReluRule, input_gradient};
use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Needs, Output, Run};
use super::objective::Objective;
use super::params::{BASELINE, Baseline, IntegrationRule, REDUCTION, RULE, SAMPLES, SIGMA, STEPS};
use crate::control::Control;
use crate::error::Result;
use crate::imaging::blurred;
use crate::models::Network;
use crate::models::network::host_values;
use burn::tensor::{Tensor, TensorData};

/// An input-gradient method: one backward pass to the pixels, reduced to a map.
const fn input_gradient_method(
    name: &'static str,
    title: &'static str,
    formula: &'static str,
    paper: &'static str,
    entry: Entry,
) -> MethodSpec {
    MethodSpec {
        params: &[REDUCTION],
        ..MethodSpec::new(
            About { name, title, formula, paper },
            Mechanism { family: Family::Gradient, layer: LayerUse::None, gradients: true, entry },
        )
    }
}

pub const SALIENCY: MethodSpec = MethodSpec {
    quick: true,
    ..input_gradient_method(
        "saliency",
        "Saliency",
        "|dS/dx|",
        "Simonyan et al., ICLR-W 2014",
        Entry::Input(|run| Ok(reduced(run, saliency(run.session.network(), run.session.input(), run.objective, true)))),
    )
};
pub const INPUT_X_GRADIENT: MethodSpec = MethodSpec {
    aliases: &["inputxgrad", "ixg"],
    ..input_gradient_method(
        "inputxgradient",
        "Input x Gradient",
        "x * dS/dx",
        "Shrikumar et al., 2016",
        Entry::Input(|run| {
            Ok(reduced(run, input_x_gradient(run.session.network(), run.session.input(), run.objective)))
        }),
    )
};
pub const SMOOTHGRAD: MethodSpec = MethodSpec {
    long: true,
    params: &[SAMPLES, SIGMA, REDUCTION],
    ..input_gradient_method(
        "smoothgrad",
        "SmoothGrad",
        "mean_k dS/dx at x + N(0, sigma^2)",
        "Smilkov et al., 2017",
        Entry::Input(run_smoothgrad),
    )
};
pub const INTEGRATED_GRADIENTS: MethodSpec = MethodSpec {
    aliases: &["ig"],
    long: true,
    quick: true,
    params: &[STEPS, RULE, BASELINE, REDUCTION],
    ..input_gradient_method(
        "integratedgradients",
        "Integrated Gradients",
        "(x - x') * integral_0^1 dS/dx at x' + a (x - x') da",
        "Sundararajan et al., ICML 2017",
        Entry::Input(run_integrated_gradients),
    )
};
pub const GUIDED_BACKPROP: MethodSpec = MethodSpec {
    needs: Needs::HandWritten,
    ..input_gradient_method(
        "guidedbackprop",
        "Guided Backprop",
        "dS/dx with only positive gradients through ReLUs",
        "Springenberg et al., ICLR-W 2015",
        Entry::Input(|run| {
            Ok(reduced(run, guided_backprop(run.session.network(), run.session.input(), run.objective)?))
        }),
    )
};
pub const GUIDED_GRADCAM: MethodSpec = MethodSpec {
    layer: LayerUse::Chosen,
    needs: Needs::HandWritten,
    ..input_gradient_method(
        "guidedgradcam",
        "Guided Grad-CAM",
        "Guided Backprop * upsampled Grad-CAM",
        "Selvaraju et al., ICCV 2017",
        Entry::Input(run_guided_gradcam),
    )
};

/// An input attribution as the run's output, reduced to one map by the run's reduction.
fn reduced(run: &Run<'_, '_>, a: Attribution) -> Output {
    Output { map: a.to_map(run.params.reduction), attribution: Some(a), forward_ms: 0.0, approximation: None }
}

fn run_smoothgrad(run: &mut Run<'_, '_>) -> Result<Output> {
    let p = run.params;
    let options =
        SmoothGradOptions { samples: p.smoothgrad_samples, sigma: p.smoothgrad_sigma, seed: p.seed, batch: p.batch };
    let a = smoothgrad(run.session.network(), run.session.input(), run.objective, options, run.control)?;
    Ok(reduced(run, a))
}

fn run_integrated_gradients(run: &mut Run<'_, '_>) -> Result<Output> {
    let (net, x, p) = (run.session.network(), run.session.input(), run.params);
    let b = baseline_tensor(&p.baseline, x, net.preprocess.mean, net.preprocess.std);
    let options = IgOptions { steps: p.ig_steps, rule: p.ig_rule, batch: p.batch };
    let (a, _) = integrated_gradients(net, x, &b, run.objective, options, run.control)?;
    Ok(reduced(run, a))
}

fn run_guided_gradcam(run: &mut Run<'_, '_>) -> Result<Output> {
    let net = run.session.shared_network();
    let x = run.session.input().clone();
    let acts = run.session.activations(run.layer)?;
    let g = super::activations::gradient(&net, acts, run.objective)?;
    let cam = super::cam::grad_cam(&acts.maps, &g);
    let forward_ms = super::ms(acts.forward_time);
    let a = guided_gradcam(&net, &x, &cam, (acts.maps.width, acts.maps.height), run.objective)?;
    Ok(Output { forward_ms, ..reduced(run, a) })
}

fn attribution(t: Tensor<4>) -> Attribution {
    let [_, c, h, w] = t.dims();
    Attribution { channels: c, height: h, width: w, values: host_values(t) }
}

/// `dS / dx` for every image of the batch `x`: on the CPU the network's planned backward pass
/// where it has one ([`Network::planned_input_gradient`]), else burn's autodiff.
pub fn gradients(net: &Network, x: Tensor<4>, objective: impl Into<Objective>) -> Tensor<4> {
    let objective = objective.into();
    if let Some(g) = net.planned_input_gradient(&x, &|y| objective.score(y)) {
        return g;
    }
    let leaf = x.autodiff().require_grad();
    let output = net.forward(leaf.clone());
    let grads = objective.score(output).sum().backward();
    leaf.grad(&grads).expect("the input takes part in the graph").without_autodiff()
}

/// Saliency (Simonyan et al., "Deep Inside Convolutional Networks", ICLR workshop 2014):
/// `dy/dx`, or `|dy/dx|` when `absolute`.
pub fn saliency(net: &Network, x: &Tensor<4>, objective: impl Into<Objective>, absolute: bool) -> Attribution {
    let g = gradients(net, x.clone(), objective);
    attribution(if absolute { g.abs() } else { g })
}

/// Input x Gradient (Shrikumar et al., "Not Just a Black Box", 2016): `x * dy/dx`.
pub fn input_x_gradient(net: &Network, x: &Tensor<4>, objective: impl Into<Objective>) -> Attribution {
    attribution(x.clone() * gradients(net, x.clone(), objective))
}

/// SmoothGrad's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothGradOptions {
    /// Noisy copies of the input.
    pub samples: usize,
    /// Noise standard deviation, normalised input units.
    pub sigma: f32,
    pub seed: u64,
    /// Images per backward pass.
    pub batch: usize,
}

/// Integrated Gradients' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IgOptions {
    /// Points on the path from the baseline to the input.
    pub steps: usize,
    pub rule: IntegrationRule,
    /// Points per backward pass.
    pub batch: usize,
}

/// SmoothGrad (Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017):
/// `mean_k dS/dx(x + e_k)`, `e_k ~ N(0, sigma^2)` element-wise in normalised input units (Captum's
/// absolute `stdevs`). Sample `k`'s noise is [`crate::seeded::normal`] of key `smoothgrad.{k}`.
pub fn smoothgrad(
    net: &Network,
    x: &Tensor<4>,
    objective: impl Into<Objective>,
    options: SmoothGradOptions,
    control: &mut Control,
) -> Result<Attribution> {
    let SmoothGradOptions { samples, sigma, seed, batch } = options;
    let objective = objective.into();
    let [_, c, h, w] = x.dims();
    let n = c * h * w;
    let base = host_values(x.clone());
    let device = x.device();
    let mut total: Option<Tensor<4>> = None;
    let samples = samples.max(1);
    for start in (0..samples).step_by(batch.max(1)) {
        control.check()?;
        let end = (start + batch.max(1)).min(samples);
        let mut values = Vec::with_capacity((end - start) * n);
        for k in start..end {
            let noise = crate::seeded::normal(&format!("smoothgrad.{k}"), n, seed);
            values.extend(base.iter().zip(noise).map(|(&v, e)| v + e * sigma));
        }
        let g = gradients(net, Tensor::from_data(TensorData::new(values, [end - start, c, h, w]), &device), &objective);
        let sum = g.sum_dim(0);
        total = Some(match total {
            Some(t) => t + sum,
            None => sum,
        });
        control.report(end, samples, None);
    }
    Ok(attribution(total.expect("at least one sample") / samples as f32))
}

/// `n` values from `start` to `end` as `torch.linspace` computes them in `f32`: the first half
/// counted up from `start`, the second half down from `end`.
fn linspace(start: f32, end: f32, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    (0..n)
        .map(|i| if i < n / 2 { step.mul_add(i as f32, start) } else { (-step).mul_add((n - 1 - i) as f32, end) })
        .collect()
}

/// Nodes and weights of `n`-point Gauss-Legendre quadrature on `[0, 1]`, ascending (Newton's
/// method on the Legendre recurrence).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for k in 1..=n {
        let mut x = (std::f64::consts::PI * (k as f64 - 0.25) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for j in 2..=n {
                let p2 = ((2 * j - 1) as f64 * x * p1 - (j - 1) as f64 * p0) / j as f64;
                p0 = p1;
                p1 = p2;
            }
            let p = if n == 0 { 1.0 } else { p1 };
            dp = n as f64 * (x * p - p0) / (x * x - 1.0);
            let dx = p / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        nodes.push(0.5 * (1.0 + x));
        weights.push(1.0 / ((1.0 - x * x) * dp * dp));
    }
    nodes.reverse();
    weights.reverse();
    (nodes, weights)
}

/// Points `alpha_i` on the path and their weights, as Captum's approximation methods give them.
pub fn integration_points(steps: usize, rule: IntegrationRule) -> (Vec<f32>, Vec<f32>) {
    let n = steps.max(2);
    let uniform = vec![1.0 / n as f32; n];
    match rule {
        IntegrationRule::GaussLegendre => {
            let (a, w) = gauss_legendre(n);
            (a.into_iter().map(|v| v as f32).collect(), w.into_iter().map(|v| v as f32).collect())
        }
        IntegrationRule::RiemannTrapezoid => {
            let mut w = uniform;
            w[0] /= 2.0;
            w[n - 1] /= 2.0;
            (linspace(0.0, 1.0, n), w)
        }
        IntegrationRule::RiemannLeft => (linspace(0.0, 1.0 - 1.0 / n as f32, n), uniform),
        IntegrationRule::RiemannRight => (linspace(1.0 / n as f32, 1.0, n), uniform),
        IntegrationRule::RiemannMiddle => (linspace(0.5 / n as f32, 1.0 - 0.5 / n as f32, n), uniform),
    }
}

/// The baseline image for `x` (normalised space); `mean`/`std` undo normalisation for `Black`.
pub fn baseline_tensor(baseline: &Baseline, x: &Tensor<4>, mean: [f32; 3], std: [f32; 3]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    match baseline {
        Baseline::Zeros => Tensor::zeros([n, c, h, w], &device),
        Baseline::Black => {
            let per_channel: Vec<f32> = (0..c).map(|k| -mean[k.min(2)] / std[k.min(2)]).collect();
            Tensor::<1>::from_data(TensorData::new(per_channel, [c]), &device)
                .reshape([1, c, 1, 1])
                .expand([n, c, h, w])
        }
        Baseline::Blurred => blurred(x),
        Baseline::Custom(values) => {
            Tensor::<4>::from_data(TensorData::new(values.clone(), [1, c, h, w]), &device).expand([n, c, h, w])
        }
    }
}

/// Integrated Gradients (Sundararajan et al., "Axiomatic Attribution for Deep Networks", ICML
/// 2017): `(x - x') * sum_i w_i dS/dx(x' + alpha_i (x - x'))`. Returns the attribution and the
/// completeness gap `sum(attribution) - (S(x) - S(x'))`.
pub fn integrated_gradients(
    net: &Network,
    x: &Tensor<4>,
    baseline: &Tensor<4>,
    objective: impl Into<Objective>,
    options: IgOptions,
    control: &mut Control,
) -> Result<(Attribution, f64)> {
    let IgOptions { steps, rule, batch } = options;
    let objective = objective.into();
    let (alphas, weights) = integration_points(steps, rule);
    let [_, c, h, w] = x.dims();
    let device = x.device();
    let diff = x.clone() - baseline.clone();
    let mut total: Tensor<4> = Tensor::zeros([1, c, h, w], &device);
    let n = alphas.len();
    for start in (0..n).step_by(batch.max(1)) {
        control.check()?;
        let end = (start + batch.max(1)).min(n);
        let a = Tensor::<1>::from_data(TensorData::new(alphas[start..end].to_vec(), [end - start]), &device).reshape([
            end - start,
            1,
            1,
            1,
        ]);
        let wts = Tensor::<1>::from_data(TensorData::new(weights[start..end].to_vec(), [end - start]), &device)
            .reshape([end - start, 1, 1, 1]);
        let points = baseline.clone() + a * diff.clone();
        let g = gradients(net, points, &objective);
        total = total + (g * wts).sum_dim(0);
        control.report(end, n, None);
    }
    let attr = total * diff;
    let ends = net.forward(Tensor::cat(vec![x.clone(), baseline.clone()], 0));
    let ends = host_values(objective.score(ends));
    let a = attribution(attr);
    let sum: f64 = a.values.iter().map(|&v| f64::from(v)).sum();
    let delta = sum - f64::from(ends[0] - ends[1]);
    Ok((a, delta))
}

/// Guided Backpropagation (see [`super::backprop`]).
pub fn guided_backprop(net: &Network, x: &Tensor<4>, objective: impl Into<Objective>) -> Result<Attribution> {
    Ok(attribution(input_gradient(net, x.clone(), objective, ReluRule::Guided)?))
}

/// Guided Grad-CAM (Selvaraju et al., ICCV 2017): Guided Backprop times the layer's Grad-CAM
/// `relu(sum_k mean(dy/dA^k) A^k)`, unnormalised and upsampled by nearest neighbour, as Captum's
/// `GuidedGradCam` combines them.
pub fn guided_gradcam(
    net: &Network,
    x: &Tensor<4>,
    grad_cam: &[f32],
    cam_size: (usize, usize),
    objective: impl Into<Objective>,
) -> Result<Attribution> {
    let mut gb = guided_backprop(net, x, objective)?;
    let (cw, ch) = cam_size;
    let (w, h) = (gb.width, gb.height);
    for y in 0..h {
        let sy = (y * ch / h).min(ch - 1);
        for xx in 0..w {
            let sx = (xx * cw / w).min(cw - 1);
            let m = grad_cam[sy * cw + sx].max(0.0);
            for c in 0..gb.channels {
                gb.values[(c * h + y) * w + xx] *= m;
            }
        }
    }
    Ok(gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_points_sum_to_one_where_captum_does() {
        let (a, w) = integration_points(50, IntegrationRule::GaussLegendre);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!((a[0] - 0.000_566_797_8).abs() < 1e-7 && (a[49] - 0.999_433_2).abs() < 1e-6);
        let (a, w) = integration_points(50, IntegrationRule::RiemannTrapezoid);
        assert_eq!((a[0], a[49], a[1]), (0.0, 1.0, 0.020_408_163));
        assert!((w.iter().sum::<f32>() - 0.98).abs() < 1e-5, "Captum's trapezoid weights sum to 1 - 1/n");
        let (a, _) = integration_points(4, IntegrationRule::RiemannMiddle);
        assert_eq!(a, vec![0.125, 0.375, 0.625, 0.875]);
    }
}
