//! Every CAM-family method against pytorch-grad-cam on the same weights and input
//! (fixtures from tests/reference/make_cam_fixtures.py): Pearson r >= 0.999 and
//! max |diff| <= 0.01 on the 224x224 map; logits within 1e-3 relative.

mod common;

use common::*;
use lantern::explain::{self, Method};
use lantern::imaging::Preprocess;
use lantern::models::{self, Network, StateDict};
use burn::tensor::Device;
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

fn triple(v: &Value) -> [f32; 3] {
    let a: Vec<f32> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    [a[0], a[1], a[2]]
}

/// Compare logits and every method's map for every image of a fixture.
fn check(net: &Network, record: &Value, device: &Device) {
    let layer = record["layer"].as_str().unwrap();
    let pre = Preprocess { resize: 0, crop: 0, mean: triple(&record["mean"]), std: triple(&record["std"]) };
    for (image, entry) in record["images"].as_object().unwrap() {
        let view = image::open(fixtures().join("photos").join(format!("{image}_224.png"))).unwrap().into_rgb8();
        let x = pre.tensor(&view, device);
        let expected_logits: Vec<f32> = entry["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
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
            assert!(r >= 0.999 && d <= 0.01, "{} {image} {}: r = {r}, max|diff| = {d}", net.arch, method.name());
        }
    }
}

#[test]
fn resnet18_matches_pytorch_grad_cam() {
    let device = Device::flex();
    let record = fixture("resnet18");
    check(&seeded_network(&record, "resnet18", &device), &record, &device);
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
