//! `lantern explain`: every image through every requested method, files per (image, method).

use super::ModelArgs;
use super::progress::progress_bar;
use crate::colormap::Colormap;
use crate::error::{LanternError, Result};
use crate::explain::pair_params::PairSettings;
use crate::explain::params::{Choice, ParamKind, ParamSet};
use crate::explain::{self, Control, Method, Objective, Params, Session, Target};
use crate::files;
use crate::imaging::{self, Preprocess};
use crate::models::generator::{self, Generator};
use crate::models::{self, Labels, Network, scores};
use crate::record::{self, Extras, ModelFacts, Record, Subject};
use crate::render::{self, OverlayStyle};
use burn::tensor::Device;
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Images to explain (PNG, JPEG, WebP, BMP, TIFF, GIF).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Layer to explain (default: the feature map the classifier pools; see `lantern layers`).
    #[arg(long)]
    pub layer: Option<String>,
    /// Weight-map generator for the `generator` method (default:
    /// `<model stem>.generator.safetensors` beside the model, if there is one).
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// Method(s), repeatable or comma-separated (see `lantern methods`).
    #[arg(long = "method", value_delimiter = ',', default_value = "gradcam")]
    pub methods: Vec<Method>,
    /// Class to explain: a class index, top1 for the prediction, or present for every label
    /// whose probability is at least --label-threshold (multi-label models), one file set each.
    #[arg(long, default_value = "top1")]
    pub target: Targets,
    /// Probability from which a label counts as present (with --target present).
    #[arg(long, default_value_t = 0.5)]
    pub label_threshold: f32,
    #[arg(long, default_value = "jet")]
    pub colormap: Colormap,
    /// Opacity of the map over the image, 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// Shorter side after resizing (overrides the model's own).
    #[arg(long)]
    pub resize: Option<u32>,
    /// Center-crop size (overrides the model's own).
    #[arg(long)]
    pub crop: Option<u32>,
    /// Normalisation mean, R,G,B (overrides the model's own).
    #[arg(long, value_parser = parse_triple)]
    pub mean: Option<[f32; 3]>,
    /// Normalisation std, R,G,B (overrides the model's own).
    #[arg(long, value_parser = parse_triple)]
    pub std: Option<[f32; 3]>,
    /// Folder for the outputs (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the JSON records to standard output.
    #[arg(long)]
    pub json: bool,
    /// Also run deletion and insertion on every map; curves go to CSV and PNG.
    #[arg(long)]
    pub faithfulness: bool,
    #[command(flatten)]
    pub params: ParamArgs,
}

/// What `--target` asks for: one class, or every present label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Targets {
    One(Target),
    Present,
}

impl std::str::FromStr for Targets {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("present") {
            return Ok(Targets::Present);
        }
        s.parse::<Target>().map(Targets::One).map_err(|e| format!("{e}, or 'present'"))
    }
}

/// The methods' parameters as flags: one per parameter of the settings `S` ([`ParamSet::all`]:
/// every parameter the registry declares for [`Params`], the pair registry's for the pair
/// settings), with `S::default()`'s value as its default, so a method file's new parameter is a
/// flag without an edit here.
#[derive(Debug, Clone)]
pub struct ParamArgs<S: ParamSet = Params> {
    /// What was given (or defaulted) for each flag, by flag.
    values: Vec<(&'static str, String)>,
    settings: std::marker::PhantomData<S>,
}

impl<S: ParamSet> Default for ParamArgs<S> {
    fn default() -> Self {
        Self { values: Vec::new(), settings: std::marker::PhantomData }
    }
}

impl<S: ParamSet> clap::FromArgMatches for ParamArgs<S> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut args = ParamArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> std::result::Result<(), clap::Error> {
        self.values = S::all()
            .into_iter()
            .filter_map(|spec| matches.get_one::<String>(spec.flag).map(|v| (spec.flag, v.clone())))
            .collect();
        Ok(())
    }
}

impl<S: ParamSet> clap::Args for ParamArgs<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let defaults = S::default();
        S::all().into_iter().fold(cmd, |cmd, spec| {
            cmd.arg(
                clap::Arg::new(spec.flag)
                    .long(spec.flag)
                    .help(format!("{} [default: {}]", spec.help, spec.text(&defaults)))
                    .allow_negative_numbers(true)
                    .help_heading("Method parameters"),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl<S: ParamSet> ParamArgs<S> {
    /// The settings the flags give, checked against each parameter's range; `image` makes the
    /// values of an image file given to a choice that takes one (the baseline).
    fn settings_with(&self, image: impl Fn(&Path) -> Result<Vec<f32>>) -> Result<S> {
        let mut settings = S::default();
        for spec in S::all() {
            let Some((_, text)) = self.values.iter().find(|(flag, _)| *flag == spec.flag) else { continue };
            match (spec.parse(&mut settings, text), &spec.kind) {
                (Ok(()), _) => {}
                (Err(_), ParamKind::Choice(Choice { image: Some(set_image), .. })) => {
                    set_image(&mut settings, image(Path::new(text))?);
                }
                (Err(e), _) => return Err(LanternError::BadArgument(e)),
            }
        }
        settings.validate().map_err(LanternError::BadArgument)?;
        Ok(settings)
    }
}

impl ParamArgs<Params> {
    /// The method parameters; an image baseline is loaded and preprocessed like the input.
    pub fn params(&self, preprocess: &Preprocess) -> Result<Params> {
        self.settings_with(|path| {
            let img = imaging::load_image(path)?;
            Ok(preprocess.normalize(&preprocess.model_view(&img)))
        })
    }
}

impl ParamArgs<PairSettings> {
    /// The pair methods' settings (none of their parameters takes an image file).
    pub fn pair_settings(&self) -> Result<PairSettings> {
        self.settings_with(|path| {
            Err(LanternError::BadArgument(format!("{}: no pair parameter takes an image", path.display())))
        })
    }
}

fn parse_triple(s: &str) -> std::result::Result<[f32; 3], String> {
    let parts: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|_| format!("'{p}' is not a number")))
        .collect::<std::result::Result<_, _>>()?;
    <[f32; 3]>::try_from(parts).map_err(|_| format!("expected three comma-separated numbers, got '{s}'"))
}

/// Load the network of `args` (the bundled demo classifier when no file is named) with its labels.
pub fn load_network(args: &ModelArgs, device: &Device) -> Result<Network> {
    let mut net = match (&args.model, &args.arch) {
        (Some(path), arch) => models::load(path, arch.as_deref(), device)?,
        (None, None) => models::demo::network(device)?,
        (None, Some(_)) => return Err(LanternError::BadArgument("--arch needs --model FILE".into())),
    };
    if args.multilabel {
        net.output = models::OutputKind::Sigmoid;
    }
    if let Some(path) = &args.labels {
        net.labels = Labels::load(path, net.classes())?;
    }
    if let Some(layout) = args.tokens {
        let graph =
            net.graph().ok_or_else(|| LanternError::BadArgument("--tokens applies to ONNX models only".into()))?;
        let fitting: Vec<usize> = graph.layers.iter().filter(|l| layout.fits(&l.dims)).map(|l| l.value).collect();
        if fitting.is_empty() {
            return Err(LanternError::Mismatch(format!(
                "--tokens {}: no layer of this model has that shape",
                layout.describe()
            )));
        }
        for v in fitting {
            graph.set_layout(v, layout).map_err(|e| LanternError::Mismatch(e.to_string()))?;
        }
    }
    Ok(net)
}

fn preprocess_for(args: &ExplainArgs, net: &Network) -> Result<Preprocess> {
    let mut p = net.preprocess.clone();
    if let Some(r) = args.resize {
        p.resize = r;
    }
    if let Some(c) = args.crop {
        p.crop = c;
    }
    if let Some(m) = args.mean {
        p.mean = m;
    }
    if let Some(s) = args.std {
        p.std = s;
    }
    p.validate()?;
    Ok(p)
}

/// The generator for the classifier in `model` (`None`: the bundled demo classifier): `named`,
/// else, when `needed`, the one beside the model if present (the bundled one for the demo). A
/// generator for another classifier, or none when `needed`, is an error.
pub fn load_generator(
    named: Option<&Path>,
    model: Option<&Path>,
    needed: bool,
    device: &Device,
) -> Result<Option<Arc<Generator>>> {
    let path = match (named, model) {
        (Some(p), _) => p.to_path_buf(),
        (None, _) if !needed => return Ok(None),
        (None, Some(model)) => generator::beside(model),
        (None, None) => return Ok(Some(Arc::new(models::demo::generator(device)?))),
    };
    if named.is_none() && !path.is_file() {
        return Err(LanternError::MethodNotApplicable {
            method: "Generator".into(),
            reason: explain::generator::NO_GENERATOR.into(),
        });
    }
    let sha256 = match model {
        Some(model) => crate::digest::sha256_file(model).map_err(|e| LanternError::io(model, e))?,
        None => crate::digest::sha256_hex(models::demo::WEIGHTS),
    };
    Ok(Some(Arc::new(Generator::load_for(&path, &sha256, device)?)))
}

pub fn run(args: &ExplainArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.alpha) {
        return Err(LanternError::BadArgument(format!("--alpha must be between 0 and 1, got {}", args.alpha)));
    }
    let device = crate::device::choose(args.model.device)?;
    eprintln!("device: {}", device.description);
    let net = Arc::new(load_network(&args.model, &device.device)?);
    let preprocess = preprocess_for(args, &net)?;
    let layer = args.layer.clone().unwrap_or_else(|| net.default_layer.clone());
    explain::find_layer(&net, &layer)?;
    if let Targets::One(Target::Class(c)) = args.target {
        Objective::Class(c).check(&net)?;
    }
    if !(0.0..=1.0).contains(&args.label_threshold) {
        return Err(LanternError::BadArgument(format!(
            "--label-threshold must be between 0 and 1, got {}",
            args.label_threshold
        )));
    }
    let params = args.params.params(&preprocess)?;
    if args.methods.contains(&Method::Cam) && explain::cam_layer(&net).is_none() {
        return Err(LanternError::MethodNotApplicable {
            method: "CAM".into(),
            reason: "the model's head is not global-average-pool + linear".into(),
        });
    }
    let generator = load_generator(
        args.generator.as_deref(),
        args.model.model.as_deref(),
        args.methods.contains(&Method::Generator),
        &device.device,
    )?;
    std::fs::create_dir_all(&args.out).map_err(|e| LanternError::io(&args.out, e))?;
    let style = OverlayStyle { colormap: args.colormap, alpha: args.alpha, gamma: 1.0 };
    let job = Job {
        args,
        net: &net,
        generator,
        preprocess: &preprocess,
        layer: &layer,
        style,
        device: &device.description,
        tensor_device: &device.device,
        params,
    };

    let bar = if args.images.len() > 1 {
        progress_bar(args.images.len() as u64, "{bar:30} {pos}/{len} images  {elapsed_precise}  {msg}")
    } else {
        ProgressBar::hidden()
    };
    let mut records = Vec::new();
    let mut failures = 0usize;
    let names: Vec<String> = args.images.iter().map(|p| p.display().to_string()).collect();
    for (path, stem) in args.images.iter().zip(files::unique_stems(names.iter().map(String::as_str))) {
        bar.set_message(path.display().to_string());
        match job.image(path, &stem) {
            Ok(mut r) => {
                if !args.json {
                    bar.suspend(|| print_summary(path, &r));
                }
                records.append(&mut r);
            }
            // One image: its error is the command's one-line reason.
            Err(e) if args.images.len() == 1 => return Err(e),
            Err(e) => {
                failures += 1;
                bar.suspend(|| eprintln!("skipped: {e}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records).expect("records serialise"));
    }
    if failures > 0 {
        return Err(LanternError::BadArgument(format!(
            "{failures} of {} images could not be explained",
            args.images.len()
        )));
    }
    Ok(())
}

fn print_summary(path: &Path, records: &[Record]) {
    let Some(first) = records.first() else { return };
    let top = &first.predictions[0];
    println!("{}: {} ({:.1}%)", path.display(), top.label, top.probability * 100.0);
    for r in records {
        println!(
            "  {:<13} layer {:<12} class {} {:<24} {:>7.1} ms  -> {}",
            r.method,
            r.layer,
            r.target.as_ref().map_or(String::new(), |t| t.index.to_string()),
            r.objective,
            r.timing_ms.forward_ms + r.timing_ms.method_ms,
            r.files.get("overlay").map_or("", String::as_str)
        );
        if let Some(note) = &r.approximation {
            println!("  {:<13} approximate: {note}", "");
        }
    }
}

struct Job<'a> {
    args: &'a ExplainArgs,
    net: &'a Arc<Network>,
    generator: Option<Arc<Generator>>,
    preprocess: &'a Preprocess,
    layer: &'a str,
    style: OverlayStyle,
    device: &'a str,
    tensor_device: &'a Device,
    params: Params,
}

impl Job<'_> {
    /// All methods on one image; one forward pass to the layer serves every method.
    fn image(&self, path: &Path, stem: &str) -> Result<Vec<Record>> {
        let image = imaging::load_image(path)?;
        let geometry = self.preprocess.geometry(image.width(), image.height());
        let x = self.preprocess.tensor(&image, self.tensor_device);
        let mut session = Session::new(Arc::clone(self.net), x.clone()).with_generator(self.generator.clone());
        let logits = session.logits().to_vec();
        let targets: Vec<(Objective, String)> = match self.args.target {
            Targets::One(t) => vec![(t.objective(&logits), stem.to_string())],
            Targets::Present => {
                let present = scores::present(&self.net.output.probabilities(&logits), self.args.label_threshold);
                if present.is_empty() {
                    eprintln!(
                        "{}: no label has a probability of at least {}",
                        path.display(),
                        self.args.label_threshold
                    );
                }
                present
                    .into_iter()
                    .map(|(c, _)| {
                        (Objective::Class(c), format!("{stem}-{}", files::safe_name(&self.net.labels.name(c))))
                    })
                    .collect()
            }
        };
        let name = path.display().to_string();
        let model = self.args.model.name();
        let subject = Subject {
            name: &name,
            image: &image,
            geometry: &geometry,
            model: ModelFacts::of(self.net, &model),
            device: self.device,
            logits: &logits,
        };
        let mut records = Vec::new();
        for (objective, base) in &targets {
            records.extend(self.explain_target(&mut session, &x, &subject, objective, base)?);
        }
        Ok(records)
    }

    /// Every method on one objective of the image, written under `base`.
    fn explain_target(
        &self,
        session: &mut Session,
        x: &burn::tensor::Tensor<4>,
        subject: &Subject<'_>,
        objective: &Objective,
        base: &str,
    ) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        for &method in &self.args.methods {
            let e = session.explain(method, objective, Some(self.layer), &self.params, &mut Control::none())?;
            let curves = if self.args.faithfulness {
                Some(crate::metrics::faithfulness::deletion_and_insertion(
                    self.net,
                    x,
                    &e.map,
                    objective,
                    self.params.batch,
                    &mut Control::none(),
                )?)
            } else {
                None
            };
            let picture = render::overlay_on_original(subject.image, &e.map, subject.geometry, &self.style);
            let extras = Extras { picture: ("overlay", picture), boxes: None, curves };
            records.push(record::write(&self.args.out, &record::file_base(base, method), subject, &e, extras)?);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_unique_and_triples_parse() {
        let stems = files::unique_stems(["a/cat.jpg", "b/cat.png", "dog.png"]);
        assert_eq!(stems, vec!["cat", "cat-2", "dog"]);
        assert_eq!(parse_triple("0.5, 0.25,1").unwrap(), [0.5, 0.25, 1.0]);
        assert!(parse_triple("1,2").is_err());
        assert!(parse_triple("a,b,c").is_err());
    }
}
