//! `lantern animate`: one image's explanation as an animated GIF (see [`crate::animate`]).

use super::ModelArgs;
use super::explain::{ParamArgs, load_generator, load_network};
use super::progress::progress_bar;
use crate::animate::{self, Picture, Plan, Sweep};
use crate::colormap::Colormap;
use crate::device::DeviceChoice;
use crate::error::{LanternError, Result};
use crate::explain::{Control, Method, Session, Target};
use crate::imaging;
use crate::models::Network;
use crate::render::OverlayStyle;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct AnimateArgs {
    /// The image to explain.
    pub image: PathBuf,
    /// Model file, as for `lantern explain` (default: the bundled demo classifier).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where to compute: auto, cpu or wgpu.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Method (see `lantern methods`).
    #[arg(long, default_value = "gradcam")]
    pub method: Method,
    /// What changes from frame to frame: layers (the method at each layer), threshold (the boxes
    /// at thresholds from 0 up), progress (a progressive method such as rise, batch by batch) or
    /// wipe (a divider between image and map).
    #[arg(long)]
    pub sweep: Sweep,
    /// Frames of a threshold or wipe sweep (layers and progress have one per layer or batch).
    #[arg(long, default_value_t = animate::DEFAULT_STEPS)]
    pub frames: usize,
    /// Milliseconds per frame (the last frame stays four times as long).
    #[arg(long, default_value_t = animate::DEFAULT_DELAY_MS)]
    pub delay: u32,
    /// Layer to explain (default: the model's; ignored by --sweep layers).
    #[arg(long)]
    pub layer: Option<String>,
    /// Class to explain: a class index or top1.
    #[arg(long, default_value = "top1")]
    pub target: Target,
    #[arg(long, default_value = "jet")]
    pub colormap: Colormap,
    /// Opacity of the map over the image, 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// The GIF to write (only GIF: no video encoder exists without system libraries).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub params: ParamArgs,
}

pub fn run(args: &AnimateArgs) -> Result<()> {
    animate::gif::check_output(&args.out)?;
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(LanternError::BadArgument(format!("--alpha must be between 0 and 1, got {}", args.alpha)));
    }
    if args.delay == 0 {
        return Err(LanternError::BadArgument("--delay must be at least 1 ms".into()));
    }
    let device = crate::device::choose(args.device)?;
    eprintln!("device: {}", device.description);
    let net = Arc::new(network(args, &device.device)?);
    let image = imaging::load_image(&args.image)?;
    let preprocess = net.preprocess.clone();
    let geometry = preprocess.geometry(image.width(), image.height());
    let x = preprocess.tensor(&image, &device.device);
    let generator = load_generator(None, args.model.as_deref(), args.method == Method::Generator, &device.device)?;
    let mut session = Session::new(Arc::clone(&net), x).with_generator(generator);
    let objective = args.target.objective(session.logits());
    objective.check(&net)?;
    let class = args.target.resolve(session.logits());
    let plan = Plan {
        method: args.method,
        objective,
        class_name: net.labels.name(class),
        sweep: args.sweep,
        steps: args.frames,
        layer: args.layer.clone(),
        params: args.params.params(&preprocess)?,
        style: OverlayStyle { colormap: args.colormap, alpha: args.alpha, gamma: 1.0 },
    };
    plan.check(&net)?;
    let bar = progress_bar(0, "{bar:30} {pos}/{len} {msg}  {elapsed_precise}");
    bar.set_message(format!("{} {} sweep", args.method.title(), args.sweep));
    let cancel = AtomicBool::new(false);
    let mut on_progress = |p: crate::explain::Progress<'_>| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    };
    let frames = animate::frames(
        &mut session,
        Picture { image: &image, geometry: &geometry },
        &plan,
        &mut Control::with_progress(&cancel, &mut on_progress),
    )?;
    bar.finish_and_clear();
    animate::gif::write_gif(&args.out, &frames, args.delay)?;
    eprintln!("{} frames -> {}", frames.len(), args.out.display());
    Ok(())
}

/// The model named by `--model`, else the bundled demo classifier.
fn network(args: &AnimateArgs, device: &burn::tensor::Device) -> Result<Network> {
    let model = ModelArgs {
        model: args.model.clone(),
        arch: None,
        labels: None,
        device: args.device,
        multilabel: false,
        tokens: None,
    };
    load_network(&model, device)
}
