//! `lantern layers` and `lantern methods`.

use super::ModelArgs;
use crate::error::Result;
use crate::explain::{Family, LayerUse, Method, cam_layer};
use crate::models::onnx::OnnxNet;

/// Print the model's architecture, classes, preprocessing and layers.
pub fn layers(args: &ModelArgs) -> Result<()> {
    let device = crate::device::choose(args.device)?;
    let net = super::explain::load_network(args, &device.device)?;
    println!("model: {} ({})", args.name(), net.arch);
    println!("classes: {}", net.classes());
    let p = &net.preprocess;
    println!("preprocess: resize {} crop {} mean {:?} std {:?}", p.resize, p.crop, p.mean, p.std);
    println!("device: {}", device.description);
    if let Some(graph) = net.graph() {
        print_graph(graph, &net.default_layer);
        return Ok(());
    }
    println!("layers (default {}; CAM at {}):", net.default_layer, cam_layer(&net).unwrap_or("none"));
    for l in &net.layers {
        match &l.same_as {
            Some(alias) => println!("  {:<16} {:>5} channels  (same as {alias})", l.name, l.channels),
            None => println!("  {:<16} {:>5} channels", l.name, l.channels),
        }
    }
    Ok(())
}

/// An ONNX graph's operators and its map tensors: ONNX name, shape, how it is read as a map, and
/// the module it is the output of (what `--layer` also accepts) or else the scope it comes from.
fn print_graph(graph: &OnnxNet, default: &str) {
    let ops: Vec<String> = graph.op_counts.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("onnx: opset {}, {} nodes ({})", graph.opset, graph.graph.steps.len(), ops.join(", "));
    println!(
        "input: {}x{}{}",
        graph.input_size.0,
        graph.input_size.1,
        if graph.graph.dynamic_batch { ", any batch" } else { ", one image at a time" }
    );
    if !graph.attention.is_empty() {
        println!("attention: {} blocks (attention rollout and Chefer relevance apply)", graph.attention.len());
    }
    println!("layers (default {default}; --layer takes the module or the ONNX name):");
    for l in &graph.layers {
        let layout = graph.layout(l.value).map(|x| x.describe()).unwrap_or_default();
        let module = match (&l.module, &l.scope) {
            (Some(m), _) => m.clone(),
            (None, Some(s)) => format!("(in {s})"),
            (None, None) => "-".into(),
        };
        println!("  {:<28} {:<18} {:<16} {}", module, format!("{:?}", l.dims), layout, l.tensor);
    }
}

/// Print every method by family, with its formula, paper, needs and parameters.
pub fn methods() {
    for family in Family::ALL {
        println!("{}:", family.title());
        for m in Method::ALL.iter().filter(|m| m.family() == family) {
            let spec = m.spec();
            let mut needs = Vec::new();
            match spec.layer {
                LayerUse::Chosen => needs.push("a layer".to_string()),
                LayerUse::CamHead => needs.push("a GAP + linear head".to_string()),
                LayerUse::None => {}
            }
            if spec.gradients {
                needs.push("gradients".into());
            }
            let flags: Vec<String> = m.params().iter().map(|p| p.describe()).collect();
            println!("  {:<20} {:<21} {} ({})", m.name(), m.title(), spec.formula, spec.paper);
            if !needs.is_empty() || !flags.is_empty() {
                println!(
                    "  {:<20} {:<21} needs: {}; flags: {}",
                    "",
                    "",
                    if needs.is_empty() { "-".into() } else { needs.join(", ") },
                    if flags.is_empty() { "-".into() } else { flags.join(" ") }
                );
            }
        }
    }
}
