//! `lantern audit`: start a localisation audit, record verdicts (one per call, or a stream of
//! them, each acknowledged with its row id once it is on disk), show progress, export and merge.

use crate::audit::PairAgreement;
use crate::audit::export::{self, ExportFormat};
use crate::audit::merge::{self, ImageAgreement};
use crate::audit::{Audit, ModelCheck, NewAudit, NewVerdict, Setup, VerdictKind, parse_box};
use crate::error::{LanternError, Result};
use crate::explain::Method;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Start an audit: a new SQLite file holding the dataset's images, the model's hash, the
    /// method and the threshold.
    New(NewArgs),
    /// Record a verdict and print its row id once it is saved (or a stream of verdicts with --jsonl).
    Record(RecordArgs),
    /// Progress, settings, image files that moved, and merge agreement.
    Stats(StatsArgs),
    /// Write the verdicts as CSV, JSON or COCO annotations.
    Export(ExportArgs),
    /// Combine several annotators' audits into a new file and measure how much they agree.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The audit file to create (never overwritten).
    pub audit: PathBuf,
    #[command(flatten)]
    pub dataset: super::DatasetArgs,
    /// Weights file whose explanations are audited (its SHA-256 is stored).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Explanation method (see `lantern methods`).
    #[arg(long)]
    pub method: Option<Method>,
    /// Fraction of the map's maximum above which pixels form the predicted boxes.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// The annotator's name, used for verdicts that do not name one.
    #[arg(long)]
    pub annotator: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    pub audit: PathBuf,
    /// Image id (as `lantern audit export` lists them).
    #[arg(required_unless_present = "jsonl")]
    pub image: Option<String>,
    /// accept, reject or flag.
    #[arg(required_unless_present = "jsonl")]
    pub verdict: Option<String>,
    /// Corrected box in image pixels, corners inclusive.
    #[arg(long = "box", value_name = "x0,y0,x1,y1", allow_hyphen_values = true)]
    pub corrected: Option<String>,
    #[arg(long)]
    pub comment: Option<String>,
    /// IoU of the best predicted box with the ground truth, in [0, 1].
    #[arg(long)]
    pub iou: Option<f64>,
    /// Who decided (default: the audit's annotator).
    #[arg(long)]
    pub annotator: Option<String>,
    /// Read verdicts from a JSON Lines file ('-': standard input), one object per line with
    /// "image", "verdict" and optional "box" ([x0,y0,x1,y1]), "comment", "iou", "annotator".
    /// Each is committed and its row id printed before the next line is read.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["image", "verdict", "corrected", "comment", "iou"])]
    pub jsonl: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    pub audit: PathBuf,
    /// List every image whose file is missing (by default the first 20).
    #[arg(long)]
    pub missing: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub audit: PathBuf,
    /// csv, json or coco.
    #[arg(long)]
    pub format: ExportFormat,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Every verdict, including superseded ones (csv and json; default: the latest per image).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Audits of the same dataset, model, method and threshold.
    #[arg(required = true, num_args = 2..)]
    pub inputs: Vec<PathBuf>,
    /// The merged audit to create (never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(command: &AuditCommand) -> Result<()> {
    match command {
        AuditCommand::New(args) => new(args),
        AuditCommand::Record(args) => record(args),
        AuditCommand::Stats(args) => stats(args),
        AuditCommand::Export(args) => export_audit(args),
        AuditCommand::Merge(args) => merge_audits(args),
    }
}

fn new(args: &NewArgs) -> Result<()> {
    if args.audit.symlink_metadata().is_ok() {
        return Err(crate::audit::AuditError::Exists { path: args.audit.clone() }.into());
    }
    let setup = Setup::from_dataset(&NewAudit {
        data: args.dataset.data.clone(),
        format: args.dataset.format,
        model: args.model.clone(),
        method: args.method,
        threshold: args.threshold,
        annotator: args.annotator.clone(),
    })?;
    for w in &setup.warnings {
        eprintln!("lantern: warning: {w}");
    }
    let audit = Audit::create(&args.audit, &setup)?;
    let s = audit.settings()?;
    println!(
        "created {}: {} images of {} classes from {} ({})",
        args.audit.display(),
        setup.images.len(),
        setup.classes.len(),
        s.dataset.display(),
        s.format
    );
    if let Some(m) = &s.model {
        println!("model {} (sha256 {})", m.path.display(), m.sha256);
    }
    println!("method {}, threshold {}", s.method.map_or("not set", |m| m.name()), s.threshold);
    if let Some(a) = audit.annotator()? {
        println!("annotator {a}");
    }
    Ok(())
}

/// One line of `record --jsonl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerdictLine {
    image: String,
    verdict: String,
    #[serde(rename = "box")]
    corrected: Option<[u32; 4]>,
    comment: Option<String>,
    iou: Option<f64>,
    annotator: Option<String>,
}

fn record(args: &RecordArgs) -> Result<()> {
    let mut audit = Audit::open(&args.audit)?;
    match &args.jsonl {
        Some(source) => record_stream(&mut audit, source, args.annotator.as_deref()),
        None => {
            let (image, verdict) =
                (args.image.as_deref().unwrap_or_default(), args.verdict.as_deref().unwrap_or_default());
            let mut v = NewVerdict::new(image, verdict.parse::<VerdictKind>().map_err(LanternError::BadArgument)?);
            v.corrected_box =
                args.corrected.as_deref().map(parse_box).transpose().map_err(LanternError::BadArgument)?;
            v.comment = args.comment.clone().unwrap_or_default();
            v.iou = args.iou;
            v.annotator = args.annotator.clone();
            println!("{}", audit.record(&v)?);
            Ok(())
        }
    }
}

/// Record one verdict per line, printing (and flushing) each row id once it is committed.
fn record_stream(audit: &mut Audit, source: &Path, annotator: Option<&str>) -> Result<()> {
    let reader: Box<dyn BufRead> = if source == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(source).map_err(|e| LanternError::io(source, e))?))
    };
    let name = if source == Path::new("-") { "standard input".to_string() } else { source.display().to_string() };
    let mut stdout = std::io::stdout().lock();
    for (n, line) in reader.lines().enumerate() {
        let at = |what: String| LanternError::BadArgument(format!("{name}:{}: {what}", n + 1));
        let line = line.map_err(|e| at(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let l: VerdictLine = serde_json::from_str(&line).map_err(|e| at(e.to_string()))?;
        let mut v = NewVerdict::new(l.image, l.verdict.parse().map_err(at)?);
        v.corrected_box = l
            .corrected
            .map(|c| {
                crate::audit::verdict::from_corners(c)
                    .ok_or_else(|| at(format!("malformed box {c:?}: x0 > x1 or y0 > y1")))
            })
            .transpose()?;
        v.comment = l.comment.unwrap_or_default();
        v.iou = l.iou;
        v.annotator = l.annotator.or_else(|| annotator.map(str::to_string));
        let id = audit.record(&v).map_err(|e| at(e.to_string()))?;
        writeln!(stdout, "{id}").and_then(|()| stdout.flush()).map_err(LanternError::stdout)?;
    }
    Ok(())
}

/// How many missing files `stats` names unless asked for all.
const MISSING_SHOWN: usize = 20;

fn stats(args: &StatsArgs) -> Result<()> {
    let audit = Audit::open(&args.audit)?;
    let s = audit.settings()?;
    let origin = audit.origin()?;
    let p = audit.progress()?;
    let classes = audit.classes()?;
    println!(
        "audit      {} (schema v{}, created {} by Lantern {})",
        args.audit.display(),
        audit.schema_version()?,
        origin.created,
        origin.lantern_version
    );
    println!("dataset    {} ({}, {} images, {} classes)", s.dataset.display(), s.format, p.total, classes.len());
    if let Some(m) = &s.model {
        let state = match m.check() {
            ModelCheck::Unchanged => String::new(),
            ModelCheck::Changed { sha256 } => format!("; the file has changed since (now sha256 {sha256})"),
            ModelCheck::Missing => "; the file is missing now".to_string(),
        };
        println!("model      {} (sha256 {}{state})", m.path.display(), m.sha256);
    }
    println!("method     {}, threshold {}", s.method.map_or("not set", |m| m.name()), s.threshold);
    println!("annotator  {}", audit.annotator()?.unwrap_or_else(|| "not set".into()));
    let pct = if p.total > 0 { 100.0 * p.audited as f64 / p.total as f64 } else { 0.0 };
    println!(
        "progress   {}/{} images audited ({pct:.1}%): {} accepted, {} rejected, {} flagged; {} recorded",
        p.audited,
        p.total,
        p.accepted,
        p.rejected,
        p.flagged,
        count(p.verdicts, "verdict")
    );
    let latest = audit.latest_verdicts()?;
    let ious: Vec<f64> = latest.iter().filter_map(|v| v.iou).collect();
    if !ious.is_empty() {
        println!(
            "mean IoU   {:.3} over {} with an IoU",
            ious.iter().sum::<f64>() / ious.len() as f64,
            count(ious.len(), "judged image")
        );
    }
    match audit.resume()? {
        Some(next) => println!("next       {} (the next image without a verdict)", next.id),
        None => println!("next       none: every image has a verdict"),
    }
    let pairs = audit.agreement()?;
    if !pairs.is_empty() {
        print_agreement(&pairs, &merge::image_agreement(&audit.verdicts()?));
    }
    let missing = audit.missing_files()?;
    let shown = if args.missing { missing.len() } else { missing.len().min(MISSING_SHOWN) };
    for m in &missing[..shown] {
        eprintln!(
            "lantern: warning: image {}: {} is missing (the dataset moved or lost the file); its verdicts are kept",
            m.image_id,
            m.path.display()
        );
    }
    if shown < missing.len() {
        eprintln!(
            "lantern: warning: {} more image files are missing (`lantern audit stats --missing` lists all)",
            missing.len() - shown
        );
    }
    Ok(())
}

/// "1 verdict", "2 verdicts".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn print_agreement(pairs: &[PairAgreement], images: &[ImageAgreement]) {
    let fmt = |x: Option<f64>| x.map_or("undefined".to_string(), |x| format!("{x:.3}"));
    for p in pairs {
        println!(
            "agreement  {} vs {}: {}/{} images agree ({}); Cohen's kappa {} on {} accept/reject images; mean IoU of corrected boxes {} on {}",
            p.rater_a,
            p.rater_b,
            p.agreed,
            p.images,
            p.agreement().map_or("no common images".into(), |a| format!("{:.1}%", 100.0 * a)),
            fmt(p.kappa),
            p.kappa_images,
            fmt(p.mean_iou),
            p.iou_images
        );
    }
    let split: Vec<&ImageAgreement> = images.iter().filter(|i| !i.unanimous()).collect();
    println!(
        "per image  {} of {} images judged by two or more annotators are unanimous",
        images.len() - split.len(),
        images.len()
    );
    for i in split {
        let verdicts: Vec<String> = i.verdicts.iter().map(|(who, k)| format!("{who}: {k}")).collect();
        println!("disagree   {} ({})", i.image_id, verdicts.join(", "));
    }
}

fn export_audit(args: &ExportArgs) -> Result<()> {
    let audit = Audit::open(&args.audit)?;
    let mut bytes = Vec::new();
    match args.format {
        ExportFormat::Csv => export::write_csv(&audit, args.all, &mut bytes)?,
        ExportFormat::Json => bytes = to_json(&export::json(&audit, args.all)?)?,
        ExportFormat::Coco => {
            let coco = export::coco(&audit)?;
            if coco.without_class > 0 {
                eprintln!(
                    "lantern: warning: {} settled images have no class (ground truth or predicted) and were left out",
                    coco.without_class
                );
            }
            bytes = to_json(&coco.file)?;
        }
    }
    match &args.out {
        Some(path) => crate::files::write_atomic(path, |f| f.write_all(&bytes)),
        None => std::io::stdout().write_all(&bytes).map_err(LanternError::stdout),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| LanternError::Internal(format!("JSON: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn merge_audits(args: &MergeArgs) -> Result<()> {
    let merged = merge::merge(&args.inputs, &args.out)?;
    let p = merged.audit.progress()?;
    println!(
        "merged {} audits into {}: {} verdicts by {} annotators ({}), {}/{} images audited",
        args.inputs.len(),
        args.out.display(),
        merged.verdicts,
        merged.raters.len(),
        merged.raters.join(", "),
        p.audited,
        p.total
    );
    print_agreement(&merged.pairs, &merged.images);
    Ok(())
}
