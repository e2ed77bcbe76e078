//! Sharded evaluation: the I-th of N deterministic, disjoint, balanced parts of a dataset
//! (`lantern eval --shard I/N`), each evaluated into its own folder, and the merge of the
//! folders into one report (`lantern eval merge`).
//!
//! The images are ranked by the SHA-256 of their id (ties, which need equal ids, by their place
//! in the dataset) and dealt round-robin: image of rank `r` goes to shard `r mod N`. The parts do
//! not depend on the machine, the process or the order the dataset lists its images in, and
//! their sizes differ by at most one.
//!
//! A shard folder is an ordinary `lantern eval` folder whose `settings.json` also names the
//! shard (so its rows' key differs from every other shard's, and a folder is never resumed as
//! another shard), plus a `shard.json` ([`Manifest`]) written when the shard has finished: its
//! images with their places in the dataset, the methods and the report header. The merge checks
//! the folders against each other, puts the rows back in dataset order and writes the report with
//! the same writer as a single run ([`super::report::write_report`]), so the two agree byte for
//! byte.

use super::report::{self, Header};
use super::settings::RunSettings;
use super::{ImageResult, parse_state};
use crate::digest::sha256_hex;
use crate::error::{LanternError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The I-th of N parts, written `I/N` (0 <= I < N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Read `I/N` (as given to `--shard`).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            LanternError::BadArgument(format!("--shard must be I/N with 0 <= I < N (e.g. 0/4): {why}, got '{text}'"))
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(|| bad("no '/'"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a whole number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I must be below N (shards are numbered from 0)"));
        }
        Ok(Self { index, count })
    }

    /// Places (into `ids`, in increasing order) of the images of this shard.
    pub fn select(&self, ids: &[&str]) -> Vec<usize> {
        let mut part: Vec<usize> = ranking(ids)
            .into_iter()
            .enumerate()
            .filter(|(rank, _)| rank % self.count == self.index)
            .map(|(_, i)| i)
            .collect();
        part.sort_unstable();
        part
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> Self {
        s.to_string()
    }
}

impl TryFrom<String> for Shard {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        Self::parse(&text).map_err(|e| e.to_string())
    }
}

/// Places into `ids`, ranked by the SHA-256 of the id, then by place.
fn ranking(ids: &[&str]) -> Vec<usize> {
    let mut keyed: Vec<(String, usize)> =
        ids.iter().enumerate().map(|(i, id)| (sha256_hex(id.as_bytes()), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// What a finished shard folder holds besides its rows: `shard.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub shard: Shard,
    /// [`RunSettings::key`] of the shard's rows.
    pub settings: String,
    /// Methods, in the report's order.
    pub methods: Vec<String>,
    /// Images of the whole (limited) dataset, over all shards.
    pub dataset_images: usize,
    /// This shard's images: place in the dataset, id.
    pub images: Vec<(usize, String)>,
    pub header: Header,
}

/// The manifest's file name in a shard folder.
pub const MANIFEST: &str = "shard.json";

/// Write `shard.json` into `out` (after the shard has finished).
pub fn write_manifest(out: &Path, manifest: &Manifest) -> Result<()> {
    crate::files::write_json(&out.join(MANIFEST), manifest)
}

/// One shard folder as read by the merge.
struct Part {
    dir: PathBuf,
    settings: RunSettings,
    manifest: Manifest,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, missing: &str) -> Result<T> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LanternError::malformed(path, format!("missing: {missing}")));
        }
        r => r.map_err(|e| LanternError::io(path, e))?,
    };
    serde_json::from_str(&text)
        .map_err(|e| LanternError::malformed(path, format!("not what lantern eval writes ({e})")))
}

fn read_part(dir: &Path) -> Result<Part> {
    let settings: RunSettings =
        read_json(&dir.join("settings.json"), "the folder is not a lantern eval output folder")?;
    let manifest: Manifest = read_json(
        &dir.join(MANIFEST),
        "not a finished shard (its lantern eval --shard has not finished; run it again to resume it)",
    )?;
    let name = dir.display();
    if settings.shard != Some(manifest.shard) || manifest.settings != settings.key() {
        return Err(LanternError::Mismatch(format!(
            "{name}: shard.json does not belong to settings.json (an evaluation was started over it); run its lantern eval --shard again"
        )));
    }
    Ok(Part { dir: dir.to_path_buf(), settings, manifest })
}

/// Settings of a shard without the shard: equal for every shard of one evaluation.
fn unsharded(settings: &RunSettings) -> RunSettings {
    RunSettings { shard: None, ..settings.clone() }
}

/// Check that `parts` are the N shards of one evaluation, each once.
fn check_parts(parts: &[Part]) -> Result<()> {
    let first = &parts[0];
    let base = unsharded(&first.settings);
    let first_value = serde_json::to_value(&base).expect("settings serialise");
    for p in &parts[1..] {
        let this = unsharded(&p.settings);
        if this.key() != base.key() {
            return Err(LanternError::Mismatch(format!(
                "{} and {} were evaluated with different settings ({}); only shards of one evaluation merge",
                first.dir.display(),
                p.dir.display(),
                this.changes_from(&first_value).join("; ")
            )));
        }
        for (what, same) in [
            ("methods", p.manifest.methods == first.manifest.methods),
            ("report header (model or dataset named differently)", p.manifest.header == first.manifest.header),
            ("dataset size", p.manifest.dataset_images == first.manifest.dataset_images),
        ] {
            if !same {
                return Err(LanternError::Mismatch(format!(
                    "{} and {} differ in their {what}; only shards of one evaluation merge",
                    first.dir.display(),
                    p.dir.display()
                )));
            }
        }
        if p.manifest.shard.count != first.manifest.shard.count {
            return Err(LanternError::Mismatch(format!(
                "{} is shard {} but {} is shard {}: the shards of one merge split the dataset the same way",
                first.dir.display(),
                first.manifest.shard,
                p.dir.display(),
                p.manifest.shard
            )));
        }
    }
    let count = first.manifest.shard.count;
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for p in parts {
        if let Some(other) = seen.insert(p.manifest.shard.index, &p.dir) {
            return Err(LanternError::BadArgument(format!(
                "shard {} is given twice: {} and {}",
                p.manifest.shard,
                other.display(),
                p.dir.display()
            )));
        }
    }
    let missing: Vec<String> =
        (0..count).filter(|i| !seen.contains_key(i)).map(|i| Shard { index: i, count }.to_string()).collect();
    if !missing.is_empty() {
        return Err(LanternError::BadArgument(format!(
            "shard{} {} {} missing (give every shard folder of the evaluation)",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            if missing.len() > 1 { "are" } else { "is" }
        )));
    }
    Ok(())
}

/// The rows of `part` for its images and methods, checked complete.
fn part_rows(part: &Part) -> Result<Vec<ImageResult>> {
    let path = part.dir.join("state.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| LanternError::io(&path, e))?;
    let (rows, _) = parse_state(&text);
    let images: HashSet<&str> = part.manifest.images.iter().map(|(_, id)| id.as_str()).collect();
    let methods: HashSet<&str> = part.manifest.methods.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let rows: Vec<ImageResult> = rows
        .into_iter()
        .filter(|r| {
            r.settings == part.manifest.settings
                && images.contains(r.id.as_str())
                && methods.contains(r.method.as_str())
                && seen.insert((r.id.clone(), r.method.clone()))
        })
        .collect();
    let want = images.len() * methods.len();
    if rows.len() != want {
        return Err(LanternError::Mismatch(format!(
            "{}: shard {} has {} of its {want} results; run its lantern eval --shard again to finish it",
            part.dir.display(),
            part.manifest.shard,
            rows.len()
        )));
    }
    Ok(rows)
}

/// What a merge wrote.
pub struct Merged {
    pub summary: report::Summary,
    pub plots: Vec<PathBuf>,
}

/// Merge the shard folders `dirs` into one report in `out`: `summary.json`, `summary.md`,
/// `per_image.csv` and `plots/` as a single run over the same rows writes them, and
/// `state.jsonl` and `settings.json` of the unsharded evaluation (so `out` is what a single run
/// leaves behind). `timing: false` leaves the timings out, as `lantern eval --no-timing`.
pub fn merge(out: &Path, dirs: &[PathBuf], timing: bool) -> Result<Merged> {
    if dirs.is_empty() {
        return Err(LanternError::BadArgument("no shard folder to merge".into()));
    }
    let out_canonical = std::fs::canonicalize(out).ok();
    for d in dirs {
        if out_canonical.is_some() && std::fs::canonicalize(d).ok() == out_canonical {
            return Err(LanternError::BadArgument(format!(
                "{} is both the output and a shard folder; merge into another folder",
                d.display()
            )));
        }
    }
    let parts: Vec<Part> = dirs.iter().map(|d| read_part(d)).collect::<Result<_>>()?;
    check_parts(&parts)?;
    let first = &parts[0];
    let settings = unsharded(&first.settings);
    let key = settings.key();
    let settings_path = out.join("settings.json");
    if let Ok(text) = std::fs::read_to_string(&settings_path) {
        let earlier: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let same =
            earlier.as_ref().and_then(|v| serde_json::from_value::<RunSettings>(v.clone()).ok()).map(|s| s.key());
        if same.as_deref() != Some(key.as_str()) {
            let what = earlier.map(|e| settings.changes_from(&e).join("; ")).unwrap_or_default();
            return Err(LanternError::Mismatch(format!(
                "{} holds another evaluation ({what}); merge into another folder",
                out.display()
            )));
        }
    }
    let mut place: HashMap<String, usize> = HashMap::new();
    for p in &parts {
        for (i, id) in &p.manifest.images {
            if place.insert(id.clone(), *i).is_some() {
                return Err(LanternError::Mismatch(format!("image {id} is in two shards; the shards do not fit")));
            }
        }
    }
    if place.len() != first.manifest.dataset_images {
        return Err(LanternError::Mismatch(format!(
            "the shards hold {} images, the dataset {}; the shards do not fit",
            place.len(),
            first.manifest.dataset_images
        )));
    }
    let methods = first.manifest.methods.clone();
    let order: HashMap<&str, usize> = methods.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let mut rows = Vec::new();
    for p in &parts {
        rows.extend(part_rows(p)?);
    }
    rows.sort_by_key(|r| (place[&r.id], order[r.method.as_str()]));
    for r in &mut rows {
        r.settings = key.clone();
    }
    std::fs::create_dir_all(out).map_err(|e| LanternError::io(out, e))?;
    let mut state = String::new();
    for r in &rows {
        state.push_str(&serde_json::to_string(r).expect("results serialise"));
        state.push('\n');
    }
    crate::files::write_json(&settings_path, &settings)?;
    crate::files::write_atomic(&out.join("state.jsonl"), |f| f.write_all(state.as_bytes()))?;
    let thresholds = crate::metrics::wsol::cam_thresholds(settings.interval);
    let (summary, plots) =
        report::write_report(out, &rows, &methods, &thresholds, first.manifest.header.clone(), timing)?;
    Ok(Merged { summary, plots })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_parsed_and_refused_with_the_reason() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        assert_eq!(Shard::parse("0/1").unwrap().to_string(), "0/1");
        for (text, why) in
            [("3/3", "below N"), ("0/0", "at least 1"), ("1", "no '/'"), ("-1/3", "whole number"), ("a/b", "whole")]
        {
            let e = Shard::parse(text).unwrap_err();
            assert!(e.is_bad_input());
            assert!(e.to_string().contains(why) && e.to_string().contains("--shard"), "{text}: {e}");
        }
        let json = serde_json::to_string(&Shard { index: 1, count: 4 }).unwrap();
        assert_eq!(json, "\"1/4\"");
        assert!(serde_json::from_str::<Shard>("\"4/4\"").is_err());
    }

    #[test]
    fn parts_are_disjoint_complete_balanced_and_independent_of_listing_order() {
        let ids: Vec<String> = (0..103).map(|i| format!("img_{i:04}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for n in [1, 2, 3, 7, 103, 150] {
            let parts: Vec<Vec<usize>> = (0..n).map(|i| Shard { index: i, count: n }.select(&refs)).collect();
            let mut all: Vec<usize> = parts.concat();
            all.sort_unstable();
            assert_eq!(all, (0..103).collect::<Vec<_>>(), "{n} shards cover every image once");
            let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{n}: {sizes:?}");
        }
        // The same ids listed backwards fall into the same shards.
        let reversed: Vec<&str> = refs.iter().rev().copied().collect();
        let shard = Shard { index: 1, count: 3 };
        let mut a: Vec<&str> = shard.select(&refs).into_iter().map(|i| refs[i]).collect();
        let mut b: Vec<&str> = shard.select(&reversed).into_iter().map(|i| reversed[i]).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        // Pinned: the split never changes between versions or machines.
        // (Python: sorted(range(9), key=lambda i: (sha256(ids[i]).hexdigest(), i)), every third.)
        assert_eq!(Shard { index: 0, count: 3 }.select(&refs[..9]), vec![1, 4, 7]);
    }
}
