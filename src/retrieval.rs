//! Image retrieval with an embedding model: a gallery folder's embeddings, kept in a cache file,
//! and the nearest neighbours of a query by cosine similarity.
//!
//! The cache (JSON) records the model's digest and, per image, its path relative to the gallery,
//! its size in bytes and its modification time; an image whose three are unchanged under the
//! same model keeps its cached embedding, every other image is embedded again, and images no
//! longer in the gallery are dropped. So an unchanged gallery is read from the cache alone.

use crate::control::Control;
use crate::datasets::folder::is_image;
use crate::error::{LanternError, Result};
use crate::files::write_json;
use crate::imaging::load_image;
use crate::models::Network;
use crate::models::embedding::{cosine, embed};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Version of the cache layout; a cache of another version is ignored.
const CACHE_VERSION: u32 = 1;

/// One gallery image and its embedding (L2-normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Path relative to the gallery folder, with `/` separators.
    pub name: String,
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when the system has none).
    pub modified: u128,
    pub embedding: Vec<f32>,
}

/// A gallery's embeddings under one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingIndex {
    pub version: u32,
    /// Digest of the model (and how its output is read) the embeddings come from.
    pub model: String,
    /// The gallery folder (not part of the cache's key).
    #[serde(skip)]
    pub root: PathBuf,
    pub entries: Vec<IndexEntry>,
}

/// How a gallery was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheUse {
    /// Embeddings taken from the cache.
    pub reused: usize,
    /// Images embedded now.
    pub computed: usize,
}

impl EmbeddingIndex {
    /// Full path of entry `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.root.join(&self.entries[i].name)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Image files under `dir`, in sub-folders too, sorted by relative path.
pub fn gallery_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| LanternError::io(&d, e))? {
            let path = entry.map_err(|e| LanternError::io(&d, e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_image(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// `(size, modified)` of a file.
fn stamp(path: &Path) -> Result<(u64, u128)> {
    let meta = std::fs::metadata(path).map_err(|e| LanternError::io(path, e))?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok((meta.len(), modified))
}

/// Read a cache file; a missing, unreadable or other-version file is no cache.
fn read_cache(path: &Path) -> Option<EmbeddingIndex> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<EmbeddingIndex>(&text).ok().filter(|g| g.version == CACHE_VERSION)
}

/// Embed preprocessed images `batch` at a time.
pub fn embed_images(net: &Network, images: &[image::RgbImage], batch: usize) -> Vec<Vec<f32>> {
    let device = net.device();
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(batch.max(1)) {
        let x = Tensor::cat(chunk.iter().map(|i| net.preprocess.tensor(i, &device)).collect(), 0);
        out.extend(embed(net, x));
    }
    out
}

/// The embeddings of every image under `dir` with `net` (identified by `model_digest`), reusing
/// and then rewriting the cache file `cache` when given. An image that cannot be decoded is an
/// error naming it.
pub fn embed_gallery(
    net: &Network,
    model_digest: &str,
    dir: &Path,
    cache: Option<&Path>,
    batch: usize,
    control: &mut Control,
) -> Result<(EmbeddingIndex, CacheUse)> {
    let paths = gallery_images(dir)?;
    if paths.is_empty() {
        return Err(LanternError::BadArgument(format!("{}: no images in the gallery", dir.display())));
    }
    let cached: HashMap<(String, u64, u128), Vec<f32>> = cache
        .and_then(read_cache)
        .filter(|g| g.model == model_digest)
        .map(|g| g.entries.into_iter().map(|e| ((e.name, e.size, e.modified), e.embedding)).collect())
        .unwrap_or_default();
    let mut entries = Vec::with_capacity(paths.len());
    let mut missing = Vec::new();
    for path in &paths {
        let name = relative_name(dir, path);
        let (size, modified) = stamp(path)?;
        let embedding = cached.get(&(name.clone(), size, modified)).cloned().unwrap_or_default();
        if embedding.is_empty() {
            missing.push(entries.len());
        }
        entries.push(IndexEntry { name, size, modified, embedding });
    }
    let mut used = CacheUse { reused: entries.len() - missing.len(), computed: 0 };
    for chunk in missing.chunks(batch.max(1)) {
        control.check()?;
        let images = chunk.iter().map(|&i| load_image(&paths[i])).collect::<Result<Vec<_>>>()?;
        for (&i, e) in chunk.iter().zip(embed_images(net, &images, batch)) {
            entries[i].embedding = e;
        }
        used.computed += chunk.len();
        control.report(used.computed, missing.len(), None);
    }
    let gallery =
        EmbeddingIndex { version: CACHE_VERSION, model: model_digest.to_string(), root: dir.to_path_buf(), entries };
    if let Some(path) = cache
        && used.computed > 0
    {
        write_json(path, &gallery)?;
    }
    Ok((gallery, used))
}

/// The `k` gallery entries most similar to `query` as `(index, cosine)`, most similar first
/// (ties by gallery order); entries named in `skip` (the query itself) are left out.
pub fn nearest(gallery: &EmbeddingIndex, query: &[f32], k: usize, skip: Option<&str>) -> Vec<(usize, f32)> {
    let mut scored: Vec<(usize, f32)> = gallery
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| Some(e.name.as_str()) != skip)
        .map(|(i, e)| (i, cosine(query, &e.embedding)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

/// The name `path` has in `gallery`, when it lies inside the gallery folder.
pub fn name_in(gallery: &EmbeddingIndex, path: &Path) -> Option<String> {
    let root = gallery.root.canonicalize().ok()?;
    let path = path.canonicalize().ok()?;
    path.starts_with(&root).then(|| relative_name(&root, &path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::embedding::penultimate;
    use burn::tensor::Device;

    fn gallery_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for i in 0..4u64 {
            let s = crate::datasets::synth::generate(5, i, 48);
            let path =
                if i < 2 { dir.path().join(format!("{i}.png")) } else { dir.path().join(format!("sub/{i}.png")) };
            s.image.save(&path).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        dir
    }

    #[test]
    fn an_unchanged_gallery_is_read_from_the_cache_and_a_changed_image_is_embedded_again() {
        let net = penultimate(crate::models::demo::network(&Device::flex()).unwrap());
        let dir = gallery_dir();
        let out = tempfile::tempdir().unwrap();
        let cache = out.path().join("embeddings.json");
        let (first, used) = embed_gallery(&net, "m1", dir.path(), Some(&cache), 3, &mut Control::none()).unwrap();
        assert_eq!(used, CacheUse { reused: 0, computed: 4 });
        assert_eq!(
            first.entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["0.png", "1.png", "sub/2.png", "sub/3.png"]
        );
        assert!(first.entries.iter().all(|e| (e.embedding.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4));
        let (again, used) = embed_gallery(&net, "m1", dir.path(), Some(&cache), 3, &mut Control::none()).unwrap();
        assert_eq!(used, CacheUse { reused: 4, computed: 0 });
        assert_eq!(again.entries, first.entries);
        // Another model: nothing reused.
        let (_, used) = embed_gallery(&net, "m2", dir.path(), Some(&cache), 3, &mut Control::none()).unwrap();
        assert_eq!(used.computed, 4);
        // One image replaced (another size): only it is embedded again.
        let (_, _) = embed_gallery(&net, "m1", dir.path(), Some(&cache), 3, &mut Control::none()).unwrap();
        crate::datasets::synth::generate(5, 9, 56).image.save(dir.path().join("1.png")).unwrap();
        let (changed, used) = embed_gallery(&net, "m1", dir.path(), Some(&cache), 3, &mut Control::none()).unwrap();
        assert_eq!(used, CacheUse { reused: 3, computed: 1 });
        assert_ne!(changed.entries[1].embedding, first.entries[1].embedding);
        // The nearest neighbour of an image in the gallery is itself unless skipped.
        let q = changed.entries[2].embedding.clone();
        assert_eq!(nearest(&changed, &q, 1, None)[0].0, 2);
        let others = nearest(&changed, &q, 10, Some("sub/2.png"));
        assert_eq!(others.len(), 3);
        assert!(others.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(name_in(&changed, &dir.path().join("sub/2.png")).as_deref(), Some("sub/2.png"));
        assert_eq!(name_in(&changed, &cache), None);
    }

    #[test]
    fn an_empty_gallery_and_a_broken_image_are_errors() {
        let net = penultimate(crate::models::demo::network(&Device::flex()).unwrap());
        let dir = tempfile::tempdir().unwrap();
        assert!(
            embed_gallery(&net, "m", dir.path(), None, 4, &mut Control::none())
                .unwrap_err()
                .to_string()
                .contains("no images")
        );
        std::fs::write(dir.path().join("bad.png"), "not a png").unwrap();
        assert!(embed_gallery(&net, "m", dir.path(), None, 4, &mut Control::none()).is_err());
    }
}
