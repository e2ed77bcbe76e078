//! Every CAM-family method against pytorch-grad-cam on the same weights and input
//! (fixtures from tests/reference/make_cam_fixtures.py): Pearson r >= 0.999 and
//! max |diff| <= [`MATCH`] = 1e-3 on the 224x224 map in [0, 1]; logits within 1e-3 relative.
//! Measured: max |diff| <= 7e-5 on every map of every fixture, of which up to 7.6e-6 is the
//! 16-bit PNG the reference is stored in; the tolerance leaves room for float32 reordering.
//!
//! At the feature map a GAP + linear head reads, the gradient of a logit is the same at every
//! position, so CAM, Grad-CAM, XGrad-CAM and HiResCAM give one map and a wrong formula among them
//! would go unnoticed. The ResNet-18 `layer3` fixture (an inner layer) and VGG-11's pooled
//! features (an MLP head) are where they part: there each method must match its reference and be
//! at least [`DISTINCT`] (fifty times the matching tolerance) away from the others (measured:
//! 0.09 for Grad-CAM vs XGrad-CAM at ResNet-18 `layer3`, 0.29 on VGG-11, 0.42-0.99 otherwise).

mod common;

use burn::tensor::Device;
use common::*;
use lantern::explain::{self, Method};
use lantern::imaging::Preprocess;
use lantern::models::{self, Network, StateDict};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("cam").join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn seeded_network(record: &Value, arch: &str, device: &Device) -> Network {
    let layout: Vec<(String, Vec<usize>)> = record["state_dict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let shape = e[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            (e[0].as_str().unwrap().to_string(), shape)
        })
        .collect();
    let dict = StateDict::seeded(&layout, record["seed"].as_u64().unwrap());
    let mut ours = models::layout(arch, 1000).unwrap();
    let mut theirs = layout.clone();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{arch}: Lantern's state-dict layout differs from torchvision's");
    assert_eq!(models::detect(&dict).unwrap(), arch);
    models::build(&dict, arch, device).unwrap()
}

/// Matching tolerance on max |diff| of two maps in [0, 1].
const MATCH: f32 = 1e-3;
/// Smallest max |diff| between two methods' maps for them to count as different.
const DISTINCT: f32 = 0.05;

/// Lantern's map and the reference map of one method on one image.
struct Compared {
    image: String,
    method: Method,
    ours: Vec<f32>,
    reference: Vec<f32>,
}

fn triple(v: &Value) -> [f32; 3] {
    let a: Vec<f32> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    [a[0], a[1], a[2]]
}

/// Compare logits and every method's map for every image of a fixture.
fn check(net: &Network, record: &Value, device: &Device) -> Vec<Compared> {
    let layer = record["layer"].as_str().unwrap();
    if let Some(cam_layer) = record.get("cam_layer") {
        // CAM runs at explain::cam_layer (`layer4.1`, the same activation as `layer4`).
        let info =
            net.layers.iter().find(|l| l.name == cam_layer.as_str().unwrap()).expect("the fixture's CAM layer exists");
        assert!(net.cam_weights_at(info.cut).is_some(), "CAM applies at the fixture's CAM layer");
    }
    let mut compared = Vec::new();
    let pre = Preprocess { resize: 0, crop: 0, mean: triple(&record["mean"]), std: triple(&record["std"]) };
    for (image, entry) in record["images"].as_object().unwrap() {
        let view = image::open(fixtures().join("photos").join(format!("{image}_224.png"))).unwrap().into_rgb8();
        let x = pre.tensor(&view, device);
        let expected_logits: Vec<f32> =
            entry["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let target = entry["target"].as_u64().unwrap() as usize;
        for (method, spec) in entry["maps"].as_object().unwrap() {
            let method: Method = method.parse().unwrap();
            let at = if method == Method::Cam { explain::cam_layer(net).unwrap() } else { layer };
            let acts = explain::activations(net, x.clone(), at).unwrap();
            let scale = expected_logits.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let logit_err = max_abs_diff(&acts.logits, &expected_logits) / scale;
            assert!(logit_err <= 1e-3, "{} {image}: logits differ by {logit_err} (relative)", net.arch);
            assert_eq!(explain::Target::Top1.resolve(&acts.logits), target);
            let e = explain::explain(net, &acts, method, target).unwrap();
            let (w, h, reference) = read_png16(&fixtures().join("cam").join(spec["file"].as_str().unwrap()));
            assert_eq!((e.map.width, e.map.height), (w, h));
            let r = pearson(&e.map.values, &reference);
            let d = max_abs_diff(&e.map.values, &reference);
            eprintln!("{:<20} {image:<10} {:<13} r = {r:.6}  max|diff| = {d:.5}", net.arch, method.name());
            assert!(r >= 0.999 && d <= MATCH, "{} {image} {}: r = {r}, max|diff| = {d}", net.arch, method.name());
            compared.push(Compared { image: image.clone(), method, ours: e.map.values, reference });
        }
    }
    compared
}

/// The maps of `methods` on every image, as (ours, reference) per method.
fn maps_of<'a>(compared: &'a [Compared], image: &str, methods: &[Method]) -> Vec<&'a Compared> {
    methods
        .iter()
        .map(|m| {
            compared
                .iter()
                .find(|c| c.image == image && c.method == *m)
                .unwrap_or_else(|| panic!("{image}: no {}", m.name()))
        })
        .collect()
}

/// Every pair of `methods` differs by at least [`DISTINCT`], in the references and in Lantern's maps.
fn assert_distinct(compared: &[Compared], image: &str, methods: &[Method]) {
    let maps = maps_of(compared, image, methods);
    for (i, a) in maps.iter().enumerate() {
        for b in &maps[i + 1..] {
            let theirs = max_abs_diff(&a.reference, &b.reference);
            let ours = max_abs_diff(&a.ours, &b.ours);
            eprintln!(
                "{image:<10} {:<10} vs {:<10} max|diff|: reference {theirs:.3}, Lantern {ours:.3}",
                a.method.name(),
                b.method.name()
            );
            assert!(
                theirs >= DISTINCT && ours >= DISTINCT,
                "{image}: {} and {} coincide",
                a.method.name(),
                b.method.name()
            );
        }
    }
}

const CAM_FOUR: [Method; 4] = [Method::Cam, Method::GradCam, Method::XGradCam, Method::HiResCam];

#[test]
fn resnet18_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("resnet18");
    let compared = check(&seeded_network(&record, "resnet18", &device), &record, &device);
    // At layer4 the four coincide (the gradient is fc's row / 49 at every position).
    let maps = maps_of(&compared, "chelsea", &CAM_FOUR);
    for m in &maps[1..] {
        assert!(max_abs_diff(&maps[0].ours, &m.ours) <= MATCH, "CAM and {} at layer4", m.method.name());
    }
}

#[test]
fn resnet18_inner_layer_separates_cam_gradcam_xgradcam_hirescam() {
    let device = Device::flex();
    let record = fixture("resnet18_layer3");
    assert_eq!(record["layer"], "layer3");
    let compared = check(&seeded_network(&record, "resnet18", &device), &record, &device);
    assert_distinct(&compared, "astronaut", &CAM_FOUR);
}

#[test]
fn resnet50_bottleneck_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("resnet50");
    check(&seeded_network(&record, "resnet50", &device), &record, &device);
}

#[test]
fn vgg11_without_batchnorm_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("vgg11");
    let net = seeded_network(&record, "vgg11", &device);
    assert!(explain::cam_layer(&net).is_none(), "VGG's MLP head has no CAM");
    let compared = check(&net, &record, &device);
    assert_distinct(&compared, "astronaut", &CAM_FOUR[1..]);
}

#[test]
fn vgg11_bn_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("vgg11_bn");
    let net = seeded_network(&record, "vgg11_bn", &device);
    assert!(explain::cam_layer(&net).is_none(), "VGG's MLP head has no CAM");
    check(&net, &record, &device);
}

#[test]
fn mobilenet_v2_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("mobilenet_v2");
    check(&seeded_network(&record, "mobilenet_v2", &device), &record, &device);
}

#[test]
fn efficientnet_lite0_real_weights_match_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("efficientnet_lite0");
    let dict = StateDict::load(&efficientnet_lite0_weights()).unwrap();
    assert_eq!(models::detect(&dict).unwrap(), "efficientnet_lite0");
    let net = models::build(&dict, "efficientnet_lite0", &device).unwrap();
    check(&net, &record, &device);
}
