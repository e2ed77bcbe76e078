//! Grad-CAM on a ResNet-50 run by the ONNX interpreter against the same ResNet-50 written by hand
//! (seeded weights, the export of tests/fixtures/onnx/resnet50_seeded.onnx), side by side in one
//! run on CPU (burn Flex); the bar is 1.2x. Also the interpreter's forward pass alone, and
//! forward-only batches: the planned path on both networks against the interpreter.
//! `cargo bench --bench onnx`. Prints the CPU and its vector extensions first.

#[path = "../tests/common/resnet50_onnx.rs"]
mod resnet50_onnx;

#[path = "common/cpu.rs"]
mod common_cpu;

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use lantern::explain::{Control, Method, Params, Session};
use lantern::models::{self, Network};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn gradcam(net: &Arc<Network>, x: &burn::tensor::Tensor<4>) {
    let mut s = Session::new(Arc::clone(net), x.clone());
    let class = lantern::explain::Target::Top1.resolve(s.logits());
    black_box(
        s.explain(Method::GradCam, class, Some("layer4"), &Params::default(), &mut Control::none()).expect("explains"),
    );
}

fn benches(c: &mut Criterion) {
    println!("CPU: {}", common_cpu::cpu());
    let device = Device::flex();
    let dir = tempfile::tempdir().expect("a temp folder");
    let (dict, onnx) = resnet50_onnx::seeded_resnet50(dir.path());
    let hand = Arc::new(models::build(&dict, "resnet50", &device).unwrap());
    let graph = Arc::new(models::load(&onnx, None, &device).unwrap());
    let photo = lantern::imaging::load_image(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/chelsea.jpg"),
    )
    .unwrap();
    let x = hand.preprocess.tensor(&photo, &device);

    let mut g = c.benchmark_group("resnet50 gradcam");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("hand-written", |b| b.iter(|| gradcam(&hand, &x)));
    g.bench_function("onnx interpreter", |b| b.iter(|| gradcam(&graph, &x)));
    g.finish();

    let mut g = c.benchmark_group("resnet50 forward");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("hand-written", |b| b.iter(|| black_box(hand.forward(x.clone()).into_data())));
    g.bench_function("onnx interpreter", |b| b.iter(|| black_box(graph.forward(x.clone()).into_data())));
    g.finish();

    // Forward-only passes (RISE, occlusion, Score-CAM) run batches through `forward_values`: the
    // planned CPU path for the hand-written network and for the graph, which reads as a chain
    // (models::onnx::chain), against the interpreter on burn's convolutions.
    const BATCH: usize = 16;
    let dims = [BATCH, 3, 224, 224];
    let batch = x.clone().repeat_dim(0, BATCH);
    let values = models::network::host_values(batch.clone());
    let mut g = c.benchmark_group("resnet50 forward-only, batch 16");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("hand-written, planned", |b| {
        b.iter(|| black_box(hand.forward_values(values.clone(), dims, &device).into_data()))
    });
    g.bench_function("onnx, planned", |b| {
        b.iter(|| black_box(graph.forward_values(values.clone(), dims, &device).into_data()))
    });
    g.bench_function("onnx interpreter", |b| b.iter(|| black_box(graph.forward(batch.clone()).into_data())));
    g.finish();
}

criterion_group!(onnx, benches);
criterion_main!(onnx);
