//! ONNX models run by Lantern's interpreter against onnxruntime, PyTorch's autograd and
//! pytorch-grad-cam on the same seeded tiny models (fixtures from
//! tests/reference/make_onnx_fixtures.py: a ResNet with real BatchNorm nodes, ConvNeXt, ViT,
//! DeiT with two prefix tokens, Swin, MobileNetV3, and the ResNet exported by the dynamo
//! exporter). For each: every intermediate tensor onnxruntime computes equals Lantern's
//! (checked in graph order, the first divergence reported by name), the logits to 1e-4
//! relative, the gradient at the explained layer equals torch's to 1e-4 (relative to its
//! largest value), and Grad-CAM, Grad-CAM++ and Score-CAM equal pytorch-grad-cam with its
//! `reshape_transform` (Pearson r >= 0.999, max |diff| <= 1e-3), all with no flag beyond the
//! model file: the layer is found by its module path and its layout is detected. On the ViT and
//! DeiT, attention rollout and Chefer relevance equal a NumPy reference of their formulas.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use lantern::control::Control;
use lantern::explain::attention::{self, HeadFusion};
use lantern::explain::{self, Method, Params, Session};
use lantern::models::network::host_values;
use lantern::models::onnx::value::{F, Value};
use lantern::models::{self, Network, StateDict};
use serde_json::Value as Json;
use std::sync::Arc;

const MODELS: [&str; 7] = ["resnet", "convnext", "vit", "deit", "swin", "mobilenetv3", "resnet_dynamo"];

struct Fixture {
    record: Json,
    tensors: StateDict,
    net: Network,
}

fn fixture(name: &str) -> Fixture {
    let dir = fixtures().join("onnx");
    let record: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let tensors = StateDict::load(&dir.join(format!("{name}.safetensors"))).unwrap();
    let net = models::load(&dir.join(format!("{name}.onnx")), None, &Device::flex())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Fixture { record, tensors, net }
}

impl Fixture {
    fn values(&self, key: &str) -> &[f32] {
        &self.tensors.tensors.get(key).unwrap_or_else(|| panic!("fixture tensor {key}")).values
    }

    fn input(&self) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.values("input").to_vec(), [1, 3, 32, 32]), &Device::flex())
    }

    fn target(&self) -> usize {
        self.record["target"].as_u64().unwrap() as usize
    }

    fn layer_module(&self) -> &str {
        self.record["layer"]["module"].as_str().unwrap()
    }
}

/// Relative max difference (to the reference's largest magnitude).
fn relative(ours: &[f32], theirs: &[f32]) -> f32 {
    let scale = theirs.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
    max_abs_diff(ours, theirs) / scale
}

#[test]
fn every_intermediate_tensor_and_the_logits_match_onnxruntime() {
    for name in MODELS {
        let f = fixture(name);
        let graph = f.net.graph().expect("an ONNX network");
        let env = graph.graph.run_all(F::R4(f.input())).unwrap();
        let mut compared = 0;
        for entry in f.record["intermediates"].as_array().unwrap() {
            let tensor = entry["name"].as_str().unwrap();
            let Some(id) = graph.graph.names.iter().position(|n| n == tensor) else {
                panic!("{name}: Lantern has no value '{tensor}'")
            };
            if graph.graph.folded.contains(&id) {
                // A convolution whose BatchNorm was folded into it holds the norm's output.
                continue;
            }
            let Some(Value::Float { t, .. }) = env[id].as_ref() else { continue };
            let expected = f.values(&format!("t/{tensor}"));
            let ours = t.values();
            assert_eq!(
                ours.len(),
                expected.len(),
                "{name}: '{tensor}' has {} values, onnxruntime {}",
                ours.len(),
                expected.len()
            );
            let err = relative(&ours, expected);
            assert!(err <= 1e-4, "{name}: first divergence at '{tensor}' ({}): {err:.2e} relative", entry["op"]);
            compared += 1;
        }
        let logits = host_values(f.net.forward(f.input()));
        let err = relative(&logits, f.values("logits"));
        eprintln!("{name:<14} {compared:>4} intermediates equal; logits {err:.1e} relative");
        assert!(compared > 10, "{name}: only {compared} tensors compared");
        assert!(err <= 1e-4, "{name}: logits differ by {err:.2e} relative");
    }
}

#[test]
fn the_gradient_at_the_layer_matches_torch_autograd() {
    for name in MODELS {
        let f = fixture(name);
        let module = f.layer_module();
        let acts = explain::activations(&f.net, f.input(), module).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            acts.layer.cut,
            f.net.find_layer(f.record["layer"]["onnx_tensor"].as_str().unwrap()).unwrap().cut,
            "{name}: {module} resolves to the fixture's tensor"
        );
        let g = explain::activations::gradient(&f.net, &acts, f.target()).unwrap();
        // The reference is in the layer's own layout; compare through the same transform.
        let shape = &f.tensors.tensors["grad"].shape;
        let reference = to_channels_first(
            f.values("grad"),
            shape,
            f.record["layer"]["layout"].as_str().unwrap(),
            f.record["layer"]["prefix_tokens"].as_u64().unwrap() as usize,
        );
        let err = relative(&g.values, &reference);
        eprintln!("{name:<14} d logit / d {module}: {err:.1e} relative");
        assert!(err <= 1e-4, "{name}: the gradient at {module} differs by {err:.2e}");
    }
}

/// A `[1, ...]` tensor in the fixture's layout as `[C, H, W]` values.
fn to_channels_first(values: &[f32], shape: &[usize], layout: &str, prefix: usize) -> Vec<f32> {
    let t = F::from_values(values.to_vec(), shape, &Device::flex()).unwrap();
    let map = match (layout, t) {
        ("channels_first", F::R4(x)) => x,
        ("channels_last", F::R4(x)) => x.permute([0, 3, 1, 2]),
        ("tokens", F::R3(x)) => {
            let [b, n, c] = x.dims();
            let side = ((n - prefix) as f64).sqrt() as usize;
            x.slice([0..b, prefix..n, 0..c]).reshape([b, side, side, c]).permute([0, 3, 1, 2])
        }
        (other, t) => panic!("layout {other} of {:?}", t.dims()),
    };
    host_values(map)
}

#[test]
fn cam_methods_match_pytorch_grad_cam_with_its_reshape_transform() {
    for name in MODELS {
        let f = fixture(name);
        let net = Arc::new(f.net.clone());
        let mut session = Session::new(Arc::clone(&net), f.input());
        assert_eq!(explain::Target::Top1.resolve(session.logits()), f.target(), "{name}: the top class");
        for (method, key) in [
            (Method::GradCam, "cam/gradcam"),
            (Method::GradCamPlusPlus, "cam/gradcam++"),
            (Method::ScoreCam, "cam/scorecam"),
        ] {
            let e = session
                .explain(
                    method,
                    f.target(),
                    Some(f.layer_module()),
                    &Params { batch: 16, ..Params::default() },
                    &mut Control::none(),
                )
                .unwrap_or_else(|e| panic!("{name} {}: {e}", method.name()));
            let reference = f.values(key);
            let r = pearson(&e.map.values, reference);
            let d = max_abs_diff(&e.map.values, reference);
            eprintln!("{name:<14} {:<10} r = {r:.6}  max|diff| = {d:.5}", method.name());
            assert!(r >= 0.999 && d <= 1e-3, "{name} {}: r = {r}, max|diff| = {d}", method.name());
        }
    }
}

#[test]
fn the_default_layer_is_the_one_pytorch_grad_cam_recommends() {
    for name in MODELS {
        let f = fixture(name);
        let default = f.net.find_layer(&f.net.default_layer).unwrap();
        let expected = f.net.find_layer(f.record["layer"]["onnx_tensor"].as_str().unwrap()).unwrap();
        assert_eq!(default.cut, expected.cut, "{name}: default {} vs {}", f.net.default_layer, f.layer_module());
    }
}

/// `[k, k]` reference values vs Lantern's class row, both divided by their max.
fn assert_same_map(ours: &[f32], reference: &[f32], what: &str) {
    let top = ours.iter().fold(f32::MIN, |m, &v| m.max(v));
    let ours: Vec<f32> = ours.iter().map(|v| v / top).collect();
    let d = max_abs_diff(&ours, reference);
    eprintln!("{what:<28} max|diff| = {d:.2e}");
    assert!(d <= 1e-4, "{what}: max|diff| = {d}");
}

#[test]
fn attention_rollout_and_chefer_relevance_match_their_reference() {
    for name in ["vit", "deit"] {
        let f = fixture(name);
        let prefix = f.record["attention"]["prefix_tokens"].as_u64().unwrap() as usize;
        let (blocks, grads, found_prefix, grid) =
            attention::attention(&f.net, &f.input(), Some(&explain::Objective::from(f.target()))).unwrap();
        assert_eq!((found_prefix, grid), (prefix, (4, 4)), "{name}: the token grid");
        assert_eq!(blocks.len(), f.record["attention"]["blocks"].as_u64().unwrap() as usize);
        for (i, (a, g)) in blocks.iter().zip(&grads).enumerate() {
            let va: Vec<f32> = a.values.iter().map(|&v| v as f32).collect();
            let vg: Vec<f32> = g.values.iter().map(|&v| v as f32).collect();
            assert!(relative(&va, f.values(&format!("attn/{i}"))) <= 1e-4, "{name}: attention of block {i}");
            assert!(
                relative(&vg, f.values(&format!("attn_grad/{i}"))) <= 1e-4,
                "{name}: attention gradient of block {i}"
            );
        }
        let n = blocks[0].tokens;
        for (fusion, discard, key) in [
            (HeadFusion::Mean, 0.0, "rollout/mean"),
            (HeadFusion::Max, 0.0, "rollout/max"),
            (HeadFusion::Min, 0.0, "rollout/min"),
            (HeadFusion::Mean, 0.5, "rollout/mean_discard0.5"),
        ] {
            let r = attention::rollout(&blocks, fusion, discard);
            assert_same_map(&attention::class_row(&r, n, prefix), f.values(key), &format!("{name} {key}"));
        }
        let r = attention::chefer(&blocks, &grads);
        assert_same_map(&attention::class_row(&r, n, prefix), f.values("chefer"), &format!("{name} chefer"));
    }
}

#[test]
fn every_method_runs_on_a_vision_transformer_or_says_why_not() {
    let f = fixture("vit");
    let net = Arc::new(f.net.clone());
    let params = Params {
        batch: 16,
        rise_masks: 64,
        smoothgrad_samples: 2,
        ig_steps: 4,
        occlusion_window: 8,
        occlusion_stride: 8,
        score_cam_top_k: 8,
        ..Params::default()
    };
    for &method in Method::ALL {
        let mut session = Session::new(Arc::clone(&net), f.input());
        let result = session.explain(method, f.target(), None, &params, &mut Control::none());
        // CAM and BoostLU CAM need a GAP + linear head (a ViT reads its class token), the guided
        // methods hand-written backward rules, the generator a trained decoder.
        let refused = matches!(
            method,
            Method::Cam | Method::BoostCam | Method::GuidedBackprop | Method::GuidedGradCam | Method::Generator
        );
        match (refused, result) {
            (true, Err(e)) => {
                eprintln!("{:<22} refused: {e}", method.name());
                assert!(
                    matches!(e, lantern::LanternError::MethodNotApplicable { .. } | lantern::LanternError::Mismatch(_)),
                    "{}: {e}",
                    method.name()
                );
            }
            (true, Ok(_)) => panic!("{} ran on the ViT; it should be refused with the reason", method.name()),
            (false, Ok(e)) => {
                assert_eq!((e.map.width, e.map.height), (32, 32), "{}", method.name());
                assert!(e.map.values.iter().all(|v| v.is_finite()), "{}", method.name());
                let spread = e.map.values.iter().fold(f32::MIN, |m, &v| m.max(v))
                    - e.map.values.iter().fold(f32::MAX, |m, &v| m.min(v));
                assert!(spread > 0.0, "{}: a flat map", method.name());
            }
            (false, Err(e)) => panic!("{} failed on the ViT: {e}", method.name()),
        }
    }
}

#[test]
fn module_paths_and_onnx_names_both_name_layers() {
    let f = fixture("resnet");
    let by_module = f.net.find_layer("layer4").unwrap();
    let by_name = f.net.find_layer("/layer4/layer4.0/act2/Relu_output_0").unwrap();
    assert_eq!(by_module.cut, by_name.cut);
    let block = f.net.find_layer("layer4.0").unwrap();
    assert_eq!(block.cut, by_module.cut, "a block's output is its last map");
    assert!(f.net.find_layer("layer9").is_none());
    let err = explain::activations(&f.net, f.input(), "layer9").unwrap_err().to_string();
    assert!(err.contains("layer4"), "the error lists the layers: {err}");
    // The dynamo export names its layers from the node metadata.
    let d = fixture("resnet_dynamo");
    assert_eq!(d.net.find_layer("layer4").unwrap().cut, d.net.find_layer("relu_8").unwrap().cut);
}

#[test]
fn metadata_carries_preprocessing_and_class_names() {
    let f = fixture("vit");
    assert_eq!(f.net.preprocess.mean, [0.5, 0.5, 0.5]);
    assert_eq!(f.net.preprocess.std, [0.5, 0.5, 0.5]);
    assert_eq!(f.net.preprocess.crop, 32);
    assert_eq!(f.net.labels.name(2), "two");
    let r = fixture("resnet");
    assert_eq!(r.net.preprocess.mean, [0.485, 0.456, 0.406], "ImageNet's when the model says nothing");
    assert!(!r.net.graph().unwrap().graph.dynamic_batch, "a fixed batch of 1 runs images one at a time");
    assert!(f.net.graph().unwrap().graph.dynamic_batch);
}

#[test]
fn batches_through_a_fixed_batch_export_equal_single_images() {
    let f = fixture("swin");
    let x = f.input();
    let flipped = x.clone().flip([3]);
    let both = host_values(f.net.forward(Tensor::cat(vec![x.clone(), flipped.clone()], 0)));
    let one = host_values(f.net.forward(x));
    let two = host_values(f.net.forward(flipped));
    assert_eq!(both, [one, two].concat());
}

#[test]
fn the_interpreter_runs_on_wgpu_with_gradients_as_on_the_cpu() {
    // lavapipe (mesa-vulkan-drivers, installed by .ci/run) stands in for a GPU.
    let gpu = lantern::device::choose(lantern::device::DeviceChoice::Wgpu)
        .expect("a wgpu adapter (lavapipe: mesa-vulkan-drivers)");
    let path = fixtures().join("onnx").join("vit.onnx");
    let run = |device: &Device| {
        let net = models::load(&path, None, device).unwrap();
        let values = fixture("vit").values("input").to_vec();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 32, 32]), device);
        let acts = explain::activations(&net, x, "blocks.1.norm1").unwrap();
        let g = explain::activations::gradient(&net, &acts, 2).unwrap();
        (acts.logits, g.values)
    };
    let ((logits_cpu, grad_cpu), (logits_gpu, grad_gpu)) = (run(&Device::flex()), run(&gpu.device));
    assert!(
        relative(&logits_gpu, &logits_cpu) <= 1e-4,
        "logits on {}: {:e}",
        gpu.description,
        relative(&logits_gpu, &logits_cpu)
    );
    assert!(
        relative(&grad_gpu, &grad_cpu) <= 1e-4,
        "gradient on {}: {:e}",
        gpu.description,
        relative(&grad_gpu, &grad_cpu)
    );
}
