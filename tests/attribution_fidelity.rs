//! Gradient and perturbation attributions against Captum, pytorch-grad-cam and the RISE recipe on
//! the same input (fixtures from tests/reference/make_attribution_fixtures.py): the seeded
//! ResNet-18 for every method but RISE, EfficientNet-Lite0's real weights for RISE (whose masked
//! probabilities must spread, which the seeded network's do not).
//!
//! Each attribution must correlate (Pearson r >= 0.999) and match in scale: max |ours - reference|
//! over max |reference| stays under a tolerance set a few times above the float32 error measured
//! for that kind of computation, and far below what a real mistake does (a wrong step weight, a
//! missing 1/N or 1/p1, a wrong noise scale each move the scale by a percent or more):
//! - one forward and backward pass (saliency, input x gradient, guided backprop, guided
//!   Grad-CAM): measured <= 7.4e-7, tolerance [`ONE_PASS`] = 1e-5;
//! - integrated gradients, 50 gradients summed in float32: measured 3.2e-4 (Riemann trapezoid)
//!   and 1.1e-4 (Gauss-Legendre), tolerance [`IG`] = 1e-3;
//! - SmoothGrad, 16 gradients at noisy inputs (rounding decides a few ReLU kinks): measured
//!   1.7e-3, tolerance [`SMOOTHGRAD`] = 5e-3;
//! - differences of logits (occlusion, Score-CAM and Ablation-CAM weights) and the normalised
//!   maps built from them: measured <= 1.1e-4, tolerance [`LOGIT_DIFFERENCES`] = 1e-3;
//! - RISE, a mask-weighted mean of 400 probabilities: measured 3.2e-6, tolerance [`RISE`] = 1e-4.

mod common;

use burn::tensor::Device;
use common::*;
use lantern::explain::backprop::{ReluRule, input_gradient};
use lantern::explain::gradients::{self, integration_points};
use lantern::explain::perturbation::{self, RiseMasks};
use lantern::explain::score_cam::{ablation_cam, score_cam};
use lantern::explain::{self, Attribution, Control, IntegrationRule};
use lantern::imaging::Preprocess;
use lantern::models::network::host_values;
use lantern::models::{self, Network, StateDict};
use serde_json::Value;
use std::sync::OnceLock;

struct Fixture {
    net: Network,
    x: burn::tensor::Tensor<4>,
    json: Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = fixtures().join("attribution");
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("resnet18_chelsea112.json")).unwrap()).unwrap();
        let device = Device::flex();
        let layout = models::layout("resnet18", 1000).unwrap();
        let net =
            models::build(&StateDict::seeded(&layout, json["seed"].as_u64().unwrap()), "resnet18", &device).unwrap();
        let pre = Preprocess { resize: 0, crop: 0, ..Preprocess::imagenet() };
        let view = image::open(fixtures().join("photos/chelsea_112.png")).unwrap().into_rgb8();
        let x = pre.tensor(&view, &device);
        Fixture { net, x, json }
    })
}

fn npy_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join("attribution").join(name)).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

fn target() -> usize {
    fixture().json["target"].as_u64().unwrap() as usize
}

/// Tolerances on max|diff| / max|reference| (see the module docs for the measured figures).
const ONE_PASS: f32 = 1e-5;
const IG: f32 = 1e-3;
const SMOOTHGRAD: f32 = 5e-3;
const LOGIT_DIFFERENCES: f32 = 1e-3;
const RISE: f32 = 1e-4;

/// Pearson r >= 0.999 and max|diff| / max|reference| <= `max_rel`.
fn check(name: &str, ours: &[f32], file: &str, max_rel: f32) {
    let reference = npy_f32(file);
    assert_eq!(ours.len(), reference.len(), "{name}: size");
    let r = pearson(ours, &reference);
    let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(ours, &reference) / scale.max(1e-12);
    eprintln!("{name:<22} r = {r:.6}  max|diff|/max|ref| = {d:.2e}");
    assert!(r >= 0.999, "{name}: r = {r}");
    assert!(d <= max_rel, "{name}: max|diff| / max|ref| = {d:.2e} > {max_rel:.0e}");
}

#[test]
fn logits_and_target_match() {
    let f = fixture();
    let logits = host_values(f.net.forward(f.x.clone()));
    let expected: Vec<f32> = f.json["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert!(max_abs_diff(&logits, &expected) / 85.0 < 1e-3);
    assert_eq!(explain::Target::Top1.resolve(&logits), target());
}

#[test]
fn saliency_and_input_x_gradient_match_captum() {
    let f = fixture();
    check("saliency (abs)", &gradients::saliency(&f.net, &f.x, target(), true).values, "saliency_abs.npy", ONE_PASS);
    check(
        "saliency (signed)",
        &gradients::saliency(&f.net, &f.x, target(), false).values,
        "saliency_signed.npy",
        ONE_PASS,
    );
    check(
        "input x gradient",
        &gradients::input_x_gradient(&f.net, &f.x, target()).values,
        "input_x_gradient.npy",
        ONE_PASS,
    );
}

#[test]
fn hand_written_backward_equals_autodiff() {
    let f = fixture();
    let manual = host_values(input_gradient(&f.net, f.x.clone(), target(), ReluRule::Gradient).unwrap());
    let auto = host_values(gradients::gradients(&f.net, f.x.clone(), target()));
    let r = pearson(&manual, &auto);
    assert!(r > 0.99999, "r = {r}");
    assert!(max_abs_diff(&manual, &auto) < 1e-4 * auto.iter().fold(0.0f32, |m, v| m.max(v.abs())));
}

#[test]
fn integrated_gradients_match_captum() {
    let f = fixture();
    let zeros = burn::tensor::Tensor::zeros(f.x.dims(), &f.x.device());
    let expected_alphas: Vec<f32> = f.json["ig"]["riemann_trapezoid"]["alphas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(
        integration_points(50, IntegrationRule::RiemannTrapezoid).0,
        expected_alphas,
        "torch.linspace's alphas, bit for bit"
    );
    for (rule, file, key) in [
        (IntegrationRule::RiemannTrapezoid, "ig_riemann_trapezoid.npy", "ig_riemann_trapezoid"),
        (IntegrationRule::GaussLegendre, "ig_gausslegendre.npy", "ig_gausslegendre"),
    ] {
        let options = gradients::IgOptions { steps: 50, rule, batch: 25 };
        let (a, delta) =
            gradients::integrated_gradients(&f.net, &f.x, &zeros, target(), options, &mut Control::none()).unwrap();
        check(key, &a.values, file, IG);
        let expected = f.json["methods"][key]["convergence_delta"].as_f64().unwrap();
        eprintln!("{key:<22} delta = {delta:.4} (Captum {expected:.4})");
        assert!((delta - expected).abs() < 0.05 * (1.0 + expected.abs()), "{key}: delta {delta} vs {expected}");
    }
}

#[test]
fn smoothgrad_matches_captum_with_the_same_noise() {
    let f = fixture();
    let options = gradients::SmoothGradOptions { samples: 16, sigma: 0.15, seed: 7, batch: 8 };
    let a = gradients::smoothgrad(&f.net, &f.x, target(), options, &mut Control::none()).unwrap();
    check("smoothgrad", &a.values, "smoothgrad.npy", SMOOTHGRAD);
}

#[test]
fn guided_backprop_and_guided_gradcam_match_captum() {
    let f = fixture();
    let gb = gradients::guided_backprop(&f.net, &f.x, target()).unwrap();
    check("guided backprop", &gb.values, "guided_backprop.npy", ONE_PASS);
    // pytorch-grad-cam's GuidedBackpropReLUModel returns the same gradient as HWC.
    let hwc: Vec<f32> = (0..gb.height * gb.width)
        .flat_map(|p| (0..3).map(move |c| (c, p)))
        .map(|(c, p)| gb.values[c * gb.height * gb.width + p])
        .collect();
    check("guided backprop (grad-cam)", &hwc, "guided_backprop_gradcam_pkg.npy", ONE_PASS);
    let acts = explain::activations(&f.net, f.x.clone(), "layer4").unwrap();
    let g = explain::gradient(&f.net, &acts, target()).unwrap();
    let cam = explain::cam::grad_cam(&acts.maps, &g);
    let a = gradients::guided_gradcam(&f.net, &f.x, &cam, (acts.maps.width, acts.maps.height), target()).unwrap();
    check("guided grad-cam", &a.values, "guided_gradcam.npy", ONE_PASS);
}

#[test]
fn occlusion_matches_captum() {
    let f = fixture();
    let zeros = burn::tensor::Tensor::zeros(f.x.dims(), &f.x.device());
    let options = perturbation::OcclusionOptions { window: 16, stride: 8, batch: 32 };
    let a: Attribution =
        perturbation::occlusion(&f.net, &f.x, &zeros, target(), options, &mut Control::none()).unwrap();
    check("occlusion", &a.values, "occlusion.npy", LOGIT_DIFFERENCES);
}

#[test]
fn score_cam_and_ablation_cam_match_pytorch_grad_cam() {
    let f = fixture();
    let acts = explain::activations(&f.net, f.x.clone(), "layer4").unwrap();
    let (raw, weights) = score_cam(&f.net, &f.x, &acts, target(), 32, &mut Control::none()).unwrap();
    check("score-cam weights", &weights, "scorecam_weights.npy", LOGIT_DIFFERENCES);
    let map = explain::finish(raw, acts.maps.width, acts.maps.height, acts.input_size);
    check("score-cam", &map.values, "scorecam.npy", LOGIT_DIFFERENCES);
    assert!(max_abs_diff(&map.values, &npy_f32("scorecam.npy")) <= 0.01);
    let (raw, weights) = ablation_cam(&f.net, &acts, target(), 32, &mut Control::none()).unwrap();
    check("ablation-cam weights", &weights, "ablationcam_weights.npy", LOGIT_DIFFERENCES);
    let map = explain::finish(raw, acts.maps.width, acts.maps.height, acts.input_size);
    check("ablation-cam", &map.values, "ablationcam.npy", LOGIT_DIFFERENCES);
    assert!(max_abs_diff(&map.values, &npy_f32("ablationcam.npy")) <= 0.01);
}

/// EfficientNet-Lite0 with its real weights on the same 112x112 view, for RISE.
fn lite0_and_input(json: &Value, device: &Device) -> (Network, burn::tensor::Tensor<4>) {
    let dict = StateDict::load(&efficientnet_lite0_weights()).unwrap();
    let net = models::build(&dict, "efficientnet_lite0", device).unwrap();
    let rise = &json["rise"];
    assert_eq!(rise["model"], "efficientnet_lite0");
    let triple = |v: &Value| -> [f32; 3] { std::array::from_fn(|i| v[i].as_f64().unwrap() as f32) };
    let pre = Preprocess { resize: 0, crop: 0, mean: triple(&rise["mean"]), std: triple(&rise["std"]) };
    let view = image::open(fixtures().join("photos/chelsea_112.png")).unwrap().into_rgb8();
    let x = pre.tensor(&view, device);
    (net, x)
}

#[test]
fn rise_matches_the_reference_recipe_with_the_same_masks() {
    let f = fixture();
    let device = Device::flex();
    let (net, x) = lite0_and_input(&f.json, &device);
    let rise = &f.json["rise"];
    let logits = host_values(net.forward(x.clone()));
    let expected: Vec<f32> = rise["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = max_abs_diff(&logits, &expected) / scale;
    eprintln!("rise lite0 logits      max|diff|/max|logit| = {d:.2e}");
    assert!(d < 1e-4, "Lite0 logits on the 112x112 view differ by {d} (relative)");
    let class = rise["target"].as_u64().unwrap() as usize;
    assert_eq!(explain::Target::Top1.resolve(&logits), class);
    let dir = fixtures().join("attribution");
    let grid_bytes = std::fs::read(dir.join("rise_grid.npy")).unwrap();
    let grid = npyz::NpyFile::new(&grid_bytes[..]).unwrap();
    let shape: Vec<usize> = grid.shape().iter().map(|&d| d as usize).collect();
    let grid: Vec<u8> = grid.into_vec().unwrap();
    let shift_bytes = std::fs::read(dir.join("rise_shifts.npy")).unwrap();
    let shifts: Vec<i64> = npyz::NpyFile::new(&shift_bytes[..]).unwrap().into_vec().unwrap();
    let (n, s) = (shape[0], shape[1]);
    let masks = RiseMasks {
        height: 112,
        width: 112,
        cells: s,
        keep: 0.5,
        grids: grid.chunks(s * s).map(<[u8]>::to_vec).collect(),
        shifts: shifts.chunks(2).map(|c| (c[0] as usize, c[1] as usize)).collect(),
    };
    assert_eq!(masks.len(), n);
    let first4: Vec<f32> = (0..4).flat_map(|i| masks.mask(i)).collect();
    assert_eq!(first4, npy_f32("rise_masks_first4.npy"), "masks are exact in f32");
    let (map, scores) = perturbation::rise(&net, &x, &masks, class, 50, &mut Control::none()).unwrap();
    let expected_scores = npy_f32("rise_scores.npy");
    assert_eq!(scores.len(), expected_scores.len());
    for (a, b) in scores.iter().zip(&expected_scores) {
        assert!((a - b).abs() <= 1e-3 * b.abs().max(1e-3), "{a} vs {b}");
    }
    // The masked probabilities spread over most of [0, 1], so the saliency weighs masks very
    // differently (the reference measured min 0.183, max 0.995, std 0.189).
    let n_scores = scores.len() as f64;
    let mean = scores.iter().map(|&p| f64::from(p)).sum::<f64>() / n_scores;
    let std = (scores.iter().map(|&p| (f64::from(p) - mean).powi(2)).sum::<f64>() / (n_scores - 1.0)).sqrt();
    let (lo, hi) = scores.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    eprintln!("rise scores            min = {lo:.4}  max = {hi:.4}  mean = {mean:.3}  std = {std:.3}");
    assert!(lo < 0.25 && hi > 0.95 && std > 0.15, "masked probabilities hardly vary: {lo}..{hi}, std {std}");
    check("rise", &map.values, "rise_saliency.npy", RISE);
    // Statistics of freshly generated masks: the keep probability and reproducibility.
    let fresh = RiseMasks::generate(400, 7, 0.5, 112, 112, 11);
    assert_eq!(fresh, RiseMasks::generate(400, 7, 0.5, 112, 112, 11));
    let mean = (0..fresh.len()).flat_map(|i| fresh.mask(i)).map(f64::from).sum::<f64>() / (400.0 * 112.0 * 112.0);
    assert!((mean - 0.5).abs() < 0.02, "mean mask {mean}");
}
