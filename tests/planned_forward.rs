//! The planned CPU path for forward-only passes (`models::plan`, run by
//! `Network::forward_values`) against burn's path (`Network::forward`): the same logits to 1e-4
//! of their largest magnitude, for every hand-written architecture, from the input and from a
//! layer; and the activations at a layer (`Network::forward_to_values`) against `forward_to`; and
//! the same for ONNX graphs that read as a chain (`models::onnx::chain`), against the interpreter.

#[path = "common/architectures.rs"]
mod architectures;
#[path = "common/resnet50_onnx.rs"]
mod resnet50_onnx;

use architectures::network;
use burn::tensor::{Device, Tensor, TensorData};
use lantern::models::network::{Body, Resume, host_values};
use lantern::models::{self, Network};

const TOLERANCE: f32 = 1e-4;

/// `count` values in [-2, 2), fixed by `seed`.
fn values(count: usize, seed: u64) -> Vec<f32> {
    lantern::seeded::uniform("planned_forward", count, seed).into_iter().map(|u| 2.0 * u as f32).collect()
}

/// `planned` within 1e-4 of the largest magnitude in `burn`.
fn assert_close(arch: &str, planned: &[f32], burn: &[f32]) {
    assert_eq!(planned.len(), burn.len(), "{arch}");
    let scale = burn.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{arch}: the values are all zero, nothing is compared");
    let worst = planned.iter().zip(burn).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE * scale, "{arch}: max |planned - burn| = {worst} of values up to {scale}");
}

/// The plan compiled, so `forward_values` did not fall back to burn.
fn assert_planned(net: &Network, cut: usize) {
    let Body::Chain { stages, plan, .. } = &net.body else { panic!("{}: not a chain", net.arch) };
    let plan = plan.get(stages).unwrap_or_else(|| panic!("{}: no plan", net.arch));
    assert!(plan.starts_at(cut), "{}: the plan does not start at stage {cut}", net.arch);
}

#[test]
fn planned_logits_match_burn_for_every_architecture() {
    let device = Device::flex();
    for arch in models::ARCHITECTURES {
        let net = network(arch);
        let side = (net.preprocess.crop as usize).min(64);
        let dims = [2, 3, side, side];
        let x = values(dims.iter().product(), 1);
        let burn = host_values(net.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)));
        assert_planned(&net, 0);
        let planned = host_values(net.forward_values(x, dims, &device));
        assert_close(arch, &planned, &burn);
    }
}

#[test]
fn a_batch_cut_into_one_sub_batch_per_thread_gives_each_image_its_logits() {
    // At least two images per thread (and one over, so the sub-batches differ in size) makes
    // the plan run one sub-batch per thread.
    let device = Device::flex();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let net = network("resnet50");
    let dims = [2 * threads.max(2) + 1, 3, 48, 48];
    let x = values(dims.iter().product(), 5);
    let burn = host_values(net.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)));
    let planned = host_values(net.forward_values(x, dims, &device));
    assert_close("resnet50, sub-batches", &planned, &burn);
}

#[test]
fn planned_activations_and_logits_from_a_layer_match_burn() {
    let device = Device::flex();
    for (arch, layer) in [("resnet50", "layer3"), ("vgg16_bn", "features.23"), ("mobilenet_v2", "features.10")] {
        let net = network(arch);
        let cut = net.find_layer(layer).unwrap_or_else(|| panic!("{arch} has {layer}")).cut;
        let x = Tensor::from_data(TensorData::new(values(2 * 3 * 64 * 64, 2), [2, 3, 64, 64]), &device);
        let a = net.forward_to(x.clone(), cut);
        let dims = a.dims();
        let (planned_a, _) = net.forward_to_values(x, cut);
        assert_eq!(planned_a.dims(), dims, "{arch}");
        assert_close(arch, &host_values(planned_a), &host_values(a.clone()));
        let burn = host_values(net.forward_from(a.clone(), cut));
        assert_planned(&net, cut);
        let planned = host_values(net.forward_values_from(host_values(a), dims, &Resume::default(), cut, &device));
        assert_close(arch, &planned, &burn);
    }
}

/// An ONNX fixture opened on the CPU (ResNet-50's seeded weights written beside its graph).
fn onnx(file: &str) -> Network {
    let dir = tempfile::tempdir().unwrap();
    let path = match file {
        "resnet50_seeded" => resnet50_onnx::seeded_resnet50(dir.path()).1,
        _ => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/onnx/{file}.onnx")),
    };
    models::load(&path, None, &Device::flex()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Whether the graph reads as a chain of stages with a plan (`models::onnx::chain`).
fn reads_as_chain(net: &Network) -> bool {
    let Body::Graph { net: graph, cam, chain } = &net.body else { panic!("{}: not a graph", net.arch) };
    chain.get(graph, cam).is_some()
}

#[test]
fn an_onnx_resnet50_reads_as_a_chain_runs_the_plan_and_matches_the_interpreter() {
    // torchvision's ResNet-50 (bottlenecks, projection shortcuts, BatchNorm folded at load).
    let device = Device::flex();
    let (file, layer) = ("resnet50_seeded", "layer3");
    let net = onnx(file);
    assert!(reads_as_chain(&net), "{file} reads as a chain");
    let Body::Graph { net: graph, .. } = &net.body else { unreachable!() };
    let (h, w) = graph.input_size;
    let dims = [1, 3, h, w];
    let x = values(dims.iter().product(), 3);
    let burn = host_values(net.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)));
    let planned = host_values(net.forward_values(x.clone(), dims, &device));
    assert_close(file, &planned, &burn);

    let cut = net.find_layer(layer).unwrap_or_else(|| panic!("{file} has {layer}")).cut;
    let input = Tensor::from_data(TensorData::new(x, dims), &device);
    let (a, resume) = net.forward_to_resumable(input.clone(), cut);
    let (planned_a, _) = net.forward_to_values(input, cut);
    assert_eq!(planned_a.dims(), a.dims(), "{file}");
    assert_close(file, &host_values(planned_a), &host_values(a.clone()));
    let burn = host_values(net.forward_from_resumed(a.clone(), &resume, cut));
    let a_dims = a.dims();
    let planned = host_values(net.forward_values_from(host_values(a), a_dims, &Resume::default(), cut, &device));
    assert_close(file, &planned, &burn);
}

#[test]
fn onnx_graphs_that_do_not_read_as_chains_keep_the_interpreter() {
    // A dilated convolution (timm's small ResNet, layer4), squeeze-and-excitation and
    // HardSwish, attention: the interpreter runs them, with the same answer from the
    // forward-only entry point.
    let device = Device::flex();
    for file in ["resnet", "mobilenetv3", "vit"] {
        let net = onnx(file);
        assert!(!reads_as_chain(&net), "{file} does not read as a chain");
        let Body::Graph { net: graph, .. } = &net.body else { unreachable!() };
        let (h, w) = graph.input_size;
        let dims = [1, 3, h, w];
        let x = values(dims.iter().product(), 4);
        let burn = host_values(net.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)));
        assert_close(file, &host_values(net.forward_values(x, dims, &device)), &burn);
    }
}
