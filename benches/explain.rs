//! Criterion benchmarks of the engine on CPU (burn Flex): Grad-CAM from scratch and a class switch
//! with cached activations on ResNet-50 (seeded weights) and on the demo model, and the batched
//! perturbation methods and the weight-map generator (one forward pass) on the demo model; and
//! retrieval with the demo embedding model over a 1,000-image gallery (embedding the gallery
//! once, reading it back from the cache, one query); and one forward-only batch of 8 images on
//! ResNet-50 through burn's path and through the planned path the perturbation methods use.
//! `cargo bench --bench explain` (only the retrieval entries: `cargo bench --bench explain --
//! retrieval`; only the forward batch: `-- "forward batch"`).

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use lantern::explain::{Control, Method, Params, Session};
use lantern::models::generator::Generator;
use lantern::models::{self, Network, StateDict};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn photo() -> image::RgbImage {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/chelsea.jpg");
    lantern::imaging::load_image(&path).expect("the fixture photo decodes")
}

fn explain(net: &Arc<Network>, image: &image::RgbImage, method: Method, params: &Params) {
    explain_with(net, None, image, method, params);
}

fn explain_with(
    net: &Arc<Network>,
    generator: Option<&Arc<Generator>>,
    image: &image::RgbImage,
    method: Method,
    params: &Params,
) {
    let mut s =
        Session::new(Arc::clone(net), net.preprocess.tensor(image, &net.device())).with_generator(generator.cloned());
    let class = lantern::explain::Target::Top1.resolve(s.logits());
    black_box(s.explain(method, class, None, params, &mut Control::none()).expect("explains"));
}

fn benches(c: &mut Criterion) {
    let device = Device::flex();
    let image = photo();
    let params = Params::default();

    let resnet = Arc::new(
        models::build(&StateDict::seeded(&models::layout("resnet50", 1000).unwrap(), 7), "resnet50", &device).unwrap(),
    );
    let mut g = c.benchmark_group("resnet50");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("gradcam from scratch", |b| b.iter(|| explain(&resnet, &image, Method::GradCam, &params)));
    let mut session = Session::new(Arc::clone(&resnet), resnet.preprocess.tensor(&image, &device));
    session.explain(Method::GradCam, 0, None, &params, &mut Control::none()).unwrap();
    let mut class = 0;
    g.bench_function("gradcam class switch (cached activations)", |b| {
        b.iter(|| {
            class = (class + 1) % 1000;
            black_box(session.explain(Method::GradCam, class, None, &params, &mut Control::none()).unwrap())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("resnet50 forward batch (8 x 224x224)");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let dims = [8, 3, 224, 224];
    let batch: Vec<f32> = (0..dims.iter().product::<usize>()).map(|i| (i % 255) as f32 / 128.0 - 1.0).collect();
    g.bench_function("burn path (Network::forward)", |b| {
        b.iter(|| {
            let x = burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(batch.clone(), dims), &device);
            black_box(models::network::host_values(resnet.forward(x)))
        })
    });
    g.bench_function("planned path (Network::forward_values)", |b| {
        b.iter(|| black_box(models::network::host_values(resnet.forward_values(batch.clone(), dims, &device))))
    });
    g.finish();

    let demo = Arc::new(models::demo::network(&device).unwrap());
    let mut g = c.benchmark_group("demo model");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let small = Params { rise_masks: 500, ..Params::default() };
    for method in [Method::GradCam, Method::ScoreCam, Method::IntegratedGradients, Method::Occlusion, Method::Rise] {
        g.bench_function(method.title(), |b| b.iter(|| explain(&demo, &image, method, &small)));
    }
    let generator = Arc::new(models::demo::generator(&device).unwrap());
    g.bench_function("Generator", |b| {
        b.iter(|| explain_with(&demo, Some(&generator), &image, Method::Generator, &small))
    });
    g.finish();
}

/// Retrieval over a gallery of 1,000 procedural images (64x64 PNGs, the embedding model's input
/// size): embedding the whole gallery, reading its embeddings from the cache, and one query
/// (embedding the query image and ranking the gallery by cosine similarity).
fn retrieval(c: &mut Criterion) {
    use lantern::retrieval::{embed_gallery, nearest};
    let device = Device::flex();
    let net = models::demo::embedding(&device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1000u64 {
        lantern::datasets::synth::generate(11, i, 64).image.save(dir.path().join(format!("{i:04}.png"))).unwrap();
    }
    let cache = dir.path().join("embeddings.json");
    let mut g = c.benchmark_group("retrieval (1000 images)");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("embed the gallery", |b| {
        b.iter(|| black_box(embed_gallery(&net, "bench", dir.path(), None, 32, &mut Control::none()).unwrap()))
    });
    let (gallery, _) = embed_gallery(&net, "bench", dir.path(), Some(&cache), 32, &mut Control::none()).unwrap();
    g.bench_function("gallery from the cache", |b| {
        b.iter(|| black_box(embed_gallery(&net, "bench", dir.path(), Some(&cache), 32, &mut Control::none()).unwrap()))
    });
    let query = lantern::datasets::synth::generate(12, 0, 64).image;
    g.bench_function("one query", |b| {
        b.iter(|| {
            let e = lantern::models::embedding::embed(&net, net.preprocess.tensor(&query, &device)).remove(0);
            black_box(nearest(&gallery, &e, 10, None))
        })
    });
    g.finish();
}

criterion_group!(engine, benches, retrieval);
criterion_main!(engine);
