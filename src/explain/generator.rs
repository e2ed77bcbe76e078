//! The trained weight-map generator of seed paper 000 ("Learning a Weight Map for
//! Weakly-Supervised Localization") as an explanation method: one pass of the classifier's
//! features through the generator's decoder gives `M(I)` in `[0, 1]` at the input resolution
//! (see [`crate::models::generator`]). The map is kept as the generator outputs it, without
//! min-max normalisation, so the foreground `I·M` and background `I·(1−M)` views show exactly
//! what the generator keeps and removes. It does not depend on the objective: the generator was
//! trained to localise the object the classifier recognises. It needs a generator trained for the
//! session's classifier ([`super::Session::with_generator`]).

use super::method::{About, Entry, Family, LayerUse, Mechanism, MethodSpec, Output, Run};
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::network::host_values;

pub const GENERATOR: MethodSpec = MethodSpec::new(
    About {
        name: "generator",
        title: "Generator",
        formula: "M = sigmoid(U-Net decoder on f's features), trained so f(I*M) keeps the class",
        paper: "seed paper 000: Learning a Weight Map for Weakly-Supervised Localization",
    },
    Mechanism { family: Family::Learned, layer: LayerUse::None, gradients: false, entry: Entry::Input(run_generator) },
);

/// Why the method cannot run without a generator.
pub const NO_GENERATOR: &str = "no weight-map generator is loaded for this model (train one with `lantern train generator`; the CLI takes --generator FILE and looks for <model>.generator.safetensors beside the model)";

fn run_generator(run: &mut Run<'_, '_>) -> Result<Output> {
    let start = web_time::Instant::now();
    let session = &*run.session;
    let generator = session.generator().ok_or_else(|| LanternError::MethodNotApplicable {
        method: GENERATOR.title.into(),
        reason: NO_GENERATOR.into(),
    })?;
    let x = session.input();
    let [_, _, h, w] = x.dims();
    let maps = generator.forward(session.network(), x.clone())?;
    let map = WeightMap::new(w, h, host_values(maps));
    Ok(Output { map, attribution: None, forward_ms: start.elapsed().as_secs_f64() * 1000.0, approximation: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Control, Method, Params, Session};
    use crate::models::generator::{Decoder, Generator, GeneratorMeta, GeneratorShape};
    use crate::models::lantern_cnn::LanternCnn;
    use burn::tensor::{Device, Tensor, TensorData};
    use std::sync::Arc;

    #[test]
    fn one_pass_gives_the_generators_map_and_no_generator_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let train = device.clone().autodiff();
        let cnn = crate::models::init::seeded(&train, 3, || LanternCnn::new(&[4, 6], 3, &train));
        let path = dir.path().join("tiny.safetensors");
        cnn.save(&path).unwrap();
        let net = Arc::new(crate::models::load(&path, None, &device).unwrap());
        let shape = GeneratorShape::for_network(&net, None, None).unwrap();
        let decoder = crate::models::init::seeded(&device, 4, || Decoder::new(&shape, &device));
        let meta = GeneratorMeta {
            classifier_sha256: String::new(),
            classifier_arch: net.arch.clone(),
            input_size: 20,
            shape,
            objective: "classifier".into(),
            training: serde_json::json!({}),
        };
        let g = Arc::new(Generator { decoder, meta });
        let values: Vec<f32> = (0..3 * 20 * 20).map(|i| (i % 13) as f32 / 6.0 - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 3, 20, 20]), &device);

        let mut without = Session::new(Arc::clone(&net), x.clone());
        let err = without.explain(Method::Generator, 0, None, &Params::default(), &mut Control::none()).unwrap_err();
        assert!(matches!(err, LanternError::MethodNotApplicable { .. }), "{err}");
        assert!(err.to_string().contains("no weight-map generator"), "{err}");

        let mut with = Session::new(Arc::clone(&net), x.clone()).with_generator(Some(Arc::clone(&g)));
        let e = with.explain(Method::Generator, 1, None, &Params::default(), &mut Control::none()).unwrap();
        let direct = host_values(g.forward(&net, x).unwrap());
        assert_eq!((e.map.width, e.map.height), (20, 20));
        assert_eq!(e.map.values, direct, "the map is the generator's output, not renormalised");
        assert_eq!(e.map.provenance.method, "generator");
        let other = with.explain(Method::Generator, 2, None, &Params::default(), &mut Control::none()).unwrap();
        assert_eq!(other.map.values, e.map.values, "the map does not depend on the class");
    }
}
