//! Loading a model: the network into the worker's cache, with the weight-map generator found
//! for it, and what the UI shows about it.

use crate::app::model::{ModelInfo, ModelSource};
use crate::app::worker::{Cache, Job};
use crate::control::Control;
use crate::error::Result;
use crate::imaging::Preprocess;
use crate::models::Network;
use std::path::Path;
use std::sync::Arc;

/// Load a model as id `id`, read with `preprocess` instead of its own when given (what the user
/// chose for an ONNX model that does not say).
pub struct LoadModel {
    pub id: u64,
    pub source: ModelSource,
    pub preprocess: Option<Preprocess>,
}

impl Job for LoadModel {
    type Output = ModelInfo;

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<ModelInfo> {
        let mut net = self.source.load(&cache.device)?;
        let name = match &self.source {
            ModelSource::Demo => "demo classifier".to_string(),
            ModelSource::File(p) => file_name(p),
            ModelSource::Given(file) => file.name.clone(),
        };
        let asks_preprocess = net.graph().is_some_and(|g| !g.declares_preprocess);
        if let Some(p) = self.preprocess {
            net.preprocess = p;
        }
        let generator = self.source.generator(None, &cache.device);
        let info = ModelInfo {
            name,
            arch: net.arch.clone(),
            classes: net.classes(),
            labels: (0..net.classes()).map(|c| net.labels.name(c)).collect(),
            layers: net.layers.iter().map(|l| l.name.clone()).collect(),
            default_layer: net.default_layer.clone(),
            cam_layer: crate::explain::cam_layer(&net).map(String::from),
            preprocess: net.preprocess.clone(),
            output: net.output,
            boost: net.boost(),
            generator: generator.as_ref().map(|(name, _)| name.clone()).map_err(ToString::to_string),
            layer_tree: layer_tree(&net),
            asks_preprocess,
            unavailable: crate::explain::Method::ALL
                .iter()
                .filter_map(|&m| crate::explain::unavailable(&net, m).map(|why| (m, why)))
                .collect(),
        };
        match generator {
            Ok((_, g)) => cache.generators.insert(self.id, Arc::new(g)),
            Err(_) => cache.generators.remove(&self.id),
        };
        cache.models.insert(self.id, Arc::new(net));
        #[cfg(target_arch = "wasm32")]
        cache.sources.insert(self.id, self.source.clone());
        cache.forget_sessions(self.id);
        Ok(info)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().to_string())
}

/// The layer tree the picker shows for an ONNX graph (see [`ModelInfo::layer_tree`]).
fn layer_tree(net: &Network) -> Vec<(String, Vec<(String, String)>)> {
    let Some(graph) = net.graph() else { return Vec::new() };
    let mut tree: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (info, layer) in net.layers.iter().zip(&graph.layers) {
        let top = layer.scope.as_deref().and_then(|s| s.split('.').next()).unwrap_or("(model)").to_string();
        let layout = graph.layout(layer.value).map(|l| l.describe()).unwrap_or_default();
        let row = (info.name.clone(), format!("{:?} {layout}", layer.dims));
        match tree.last_mut() {
            Some((group, rows)) if *group == top => rows.push(row),
            _ => tree.push((top, vec![row])),
        }
    }
    tree
}

/// Use the generator file at `path` for model `id` (checked against the model's weights); its
/// name.
pub struct InstallGenerator {
    pub id: u64,
    pub model: ModelSource,
    pub path: std::path::PathBuf,
}

impl Job for InstallGenerator {
    type Output = String;

    fn run(self, cache: &mut Cache, _: &mut Control) -> Result<String> {
        let (name, g) = self.model.generator(Some(&self.path), &cache.device)?;
        cache.generators.insert(self.id, Arc::new(g));
        // Cached sessions hold the generator they were made with.
        cache.forget_sessions(self.id);
        Ok(name)
    }
}
