//! `lantern layers` and `lantern methods`.

use super::ModelArgs;
use crate::error::Result;
use crate::explain::{Method, cam_layer};

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

/// Print every method with its formula and paper.
pub fn methods() {
    for m in Method::ALL {
        println!("{:<14} {:<14} {}", m.name(), m.title(), m.summary());
    }
}
