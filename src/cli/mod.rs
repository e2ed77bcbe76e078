//! The `lantern` command line: headless access to the same engine the app uses.
//! Exit codes: 0 on success, 2 when an input is bad (with a one-line reason), 1 on other failures.

mod animate;
mod audit;
mod bench;
mod data;
mod eval;
mod eval_similarity;
mod explain;
mod generator;
mod info;
mod open;
mod progress;
mod serve;
mod similar;
mod similar_html;
mod similar_report;
mod train_multilabel;
mod train_similarity;

use crate::camera::CameraChoice;
use crate::device::DeviceChoice;
use crate::error::LanternError;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lantern",
    version,
    about = "Explain what vision models look at",
    long_about = "Explain what vision models look at. Without a command, opens the explorer window on the bundled demo."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The token of a `lantern serve`: the file it writes (for `serve`, default
    /// ~/.config/lantern/serve.token) or a copy of it (for `--device remote:...`).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain images: overlay PNG, raw map (.npy, 16-bit PNG) and a JSON record per image and method.
    Explain(explain::ExplainArgs),
    /// One image's explanation as an animated GIF: a sweep over layers, thresholds, a progressive
    /// method's batches or a wipe between image and map.
    Animate(animate::AnimateArgs),
    /// List a model's explainable layers.
    Layers(ModelArgs),
    /// List the explanation methods.
    Methods,
    /// Open the explorer window on images or folders (and a model), or on an audit file.
    Open {
        /// Images or folders, or one audit file (`.db`): audit mode on it.
        paths: Vec<PathBuf>,
        /// Weights file (default: the bundled demo classifier).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Show a camera's frames explained live: its index (default 0, the first camera), or
        /// `synthetic` for a moving procedural scene that needs no camera.
        #[arg(long, value_name = "INDEX", num_args = 0..=1, default_missing_value = "0", value_parser = CameraChoice::parse)]
        camera: Option<CameraChoice>,
    },
    /// Time an explanation and a class switch (JSON on standard output).
    Bench(bench::BenchArgs),
    /// Measure explanation methods on a dataset: MaxBoxAcc(V2), PxAP, localisation, faithfulness.
    Eval(eval::EvalArgs),
    /// A query's nearest gallery images by embedding similarity, each match explained (pair
    /// saliency maps, attributes): report.json and a self-contained report.html.
    Similar(similar::SimilarArgs),
    /// Evidence for similarity explanations on held-out procedural pairs: attribute top-1 of each
    /// ranking, deletion/insertion AUC of each pair-saliency method.
    EvalSimilarity(eval_similarity::EvalSimilarityArgs),
    /// Write the procedural localisation benchmark (images, masks, boxes, attributes).
    Synth(data::SynthArgs),
    /// Train a model.
    #[command(subcommand)]
    Train(data::TrainCommand),
    /// Localisation audits: annotators' verdicts on predicted boxes, kept in an SQLite file.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Serve this machine's device (GPU or CPU) to other machines' `--device remote:...`.
    Serve(serve::ServeArgs),
}

/// Which dataset to read.
#[derive(Debug, Clone, clap::Args)]
pub struct DatasetArgs {
    /// Dataset folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Dataset format: folder, cub, voc, coco, synth or outfits.
    #[arg(long)]
    pub format: crate::datasets::Format,
}

/// Which model to load, on which device.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model file: a torchvision-style state dict (.pth, .pt or .safetensors) or any ONNX
    /// classifier (.onnx) (default: the bundled demo classifier, as in the window).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Architecture, when the file's key layout should not decide it (see `lantern layers`).
    #[arg(long)]
    pub arch: Option<String>,
    /// Class names, one per line (default: `<model>.labels.txt` or `labels.txt` beside the model,
    /// else ImageNet's names for 1000-class models).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Where to compute: auto (a hardware GPU if present, else CPU), cpu, wgpu, or remote:<server>
    /// with --token-file (see `lantern serve`).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Read the outputs as independent labels (sigmoid) rather than exclusive classes
    /// (softmax); files written by `lantern train multilabel` say so themselves.
    #[arg(long)]
    pub multilabel: bool,
    /// How an ONNX model's layer tensors are read as maps when detection cannot tell: `nchw`,
    /// `nhwc`, or `PREFIX:HxW` for transformer tokens (e.g. `1:14x14`: one class token, then a
    /// 14x14 patch grid); applies to every layer of that shape.
    #[arg(long, value_parser = parse_layout)]
    pub tokens: Option<crate::models::onnx::tokens::Layout>,
}

fn parse_layout(text: &str) -> std::result::Result<crate::models::onnx::tokens::Layout, String> {
    crate::models::onnx::tokens::Layout::parse(text)
}

/// What the binary should do after the arguments were read.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A headless command ran; exit with this code.
    Exit(i32),
    /// Open the explorer window on these images/folders and this model (none: the demo), or on
    /// this audit.
    Window { paths: Vec<PathBuf>, model: Option<PathBuf>, audit: Option<PathBuf>, camera: Option<CameraChoice> },
}

impl ModelArgs {
    /// The model as records and listings name it: its file, or the bundled demo.
    pub fn name(&self) -> String {
        self.model.as_ref().map_or_else(|| DEMO_MODEL.to_string(), |p| p.display().to_string())
    }
}

/// How the bundled demo classifier is named where a model file would be.
pub const DEMO_MODEL: &str = "bundled demo classifier";

/// Parse the arguments and run a headless command, or say that the window should open.
pub fn run_from<I, T>(args: I) -> Outcome
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Outcome::Exit(code);
        }
    };
    crate::device::set_token_file(cli.token_file.clone());
    // burn panics in the operation that finds a remote server gone: with a remote device that is
    // a device error (exit 1); without one, a panic is a bug and surfaces as one.
    let result = match crate::device::catch_quietly(|| dispatch(cli)) {
        Ok(Ok(Some(window))) => return window,
        Ok(Ok(None)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(payload) if crate::device::remote_in_use() => Err(crate::device::remote_failure(&*payload)),
        Err(payload) => std::panic::resume_unwind(payload),
    };
    Outcome::Exit(match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lantern: {e}");
            exit_code(&e)
        }
    })
}

/// Run a headless command (`None`), or say which window to open.
fn dispatch(cli: Cli) -> Result<Option<Outcome>, LanternError> {
    let result = match cli.command {
        Some(Command::Explain(args)) => explain::run(&args),
        Some(Command::Animate(args)) => animate::run(&args),
        Some(Command::Layers(args)) => info::layers(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Synth(args)) => data::synth(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::Similar(args)) => similar::run(&args),
        Some(Command::EvalSimilarity(args)) => eval_similarity::run(&args),
        Some(Command::Train(command)) => data::train(&command),
        Some(Command::Audit(command)) => audit::run(&command),
        Some(Command::Methods) => {
            info::methods();
            Ok(())
        }
        Some(Command::Serve(args)) => serve::run(&args, cli.token_file.as_deref()),
        Some(Command::Open { paths, model, camera }) => return open::window(paths, model, camera).map(Some),
        None => return Ok(Some(Outcome::Window { paths: Vec::new(), model: None, audit: None, camera: None })),
    };
    result.map(|()| None)
}

/// 2 for errors caused by the input ([`LanternError::is_bad_input`]), 1 for the rest.
pub fn exit_code(e: &LanternError) -> i32 {
    if e.is_bad_input() { 2 } else { 1 }
}
