//! `lantern layers` and `lantern methods`.

use super::ModelArgs;
use crate::error::Result;
use crate::explain::{Family, LayerUse, Method, cam_layer};

/// Print the model's architecture, classes, preprocessing and layers.
pub fn layers(args: &ModelArgs) -> Result<()> {
    let device = crate::device::choose(args.device)?;
    let net = super::explain::load_network(args, &device.device)?;
    println!("model: {} ({})", args.model.display(), net.arch);
    println!("classes: {}", net.classes());
    let p = &net.preprocess;
    println!("preprocess: resize {} crop {} mean {:?} std {:?}", p.resize, p.crop, p.mean, p.std);
    println!("device: {}", device.description);
    println!("layers (default {}; CAM at {}):", net.default_layer, cam_layer(&net).unwrap_or("none"));
    for l in &net.layers {
        match &l.same_as {
            Some(alias) => println!("  {:<16} {:>5} channels  (same as {alias})", l.name, l.channels),
            None => println!("  {:<16} {:>5} channels", l.name, l.channels),
        }
    }
    Ok(())
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
            let flags: Vec<String> = m.params().iter().map(|p| format!("--{} {}..{}", p.flag, p.min, p.max)).collect();
            println!("  {:<20} {:<21} {} ({})", m.name(), m.title(), spec.formula, spec.paper);
            if !needs.is_empty() || !flags.is_empty() {
                println!("  {:<20} {:<21} needs: {}; flags: {}", "", "", if needs.is_empty() { "-".into() } else { needs.join(", ") }, if flags.is_empty() { "-".into() } else { flags.join(" ") });
            }
        }
    }
}
