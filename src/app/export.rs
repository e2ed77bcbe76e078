//! Exports from the app: the current view at the image's full resolution, its raw map (`.npy`,
//! 16-bit PNG) and a JSON record; and "save all", which explains every image of the gallery with
//! the current settings on its own thread, with progress and cancel.

use super::LanternApp;
use super::worker::{ImageSource, ModelSource};
use crate::error::{LanternError, Result};
use crate::explain::{Control, Method, Params, Session, Target, softmax, top_k};
use crate::export::{self, Prediction, Record};
use crate::imaging::Geometry;
use crate::map::WeightMap;
use crate::models::Network;
use crate::render::{OverlayStyle, ViewLook, render_view};
use image::RgbImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Progress of a running "save all".
#[derive(Debug, Clone, Default)]
pub struct ExportStatus {
    pub done: usize,
    pub total: usize,
    pub finished: bool,
    pub errors: Vec<String>,
}

pub struct ExportJob {
    pub status: Arc<Mutex<ExportStatus>>,
    pub cancel: Arc<AtomicBool>,
    pub dir: PathBuf,
}

fn stem(name: &str) -> String {
    Path::new(name).file_stem().map_or_else(|| "image".to_string(), |s| s.to_string_lossy().to_string())
}

/// Write the four files of one explained image into `dir`; returns the record.
#[allow(clippy::too_many_arguments)]
fn write_files(
    dir: &Path,
    name: &str,
    image: &RgbImage,
    map: &WeightMap,
    geometry: &Geometry,
    look: &ViewLook,
    method: Method,
    layer: &str,
    class: usize,
    logits_top: &[(usize, f32)],
    labels: &dyn Fn(usize) -> String,
    model: &str,
    arch: &str,
    device: &str,
    preprocess: &crate::imaging::Preprocess,
) -> Result<Record> {
    let base = format!("{}.{}", stem(name), method.name().replace('+', "p"));
    let files: BTreeMap<String, PathBuf> = [("view", "view.png"), ("npy", "map.npy"), ("png16", "map.png"), ("json", "json")]
        .into_iter()
        .map(|(k, s)| (k.to_string(), dir.join(format!("{base}.{s}"))))
        .collect();
    export::write_rgb_png(&files["view"], &render_view(image, map, geometry, look))?;
    export::write_map_npy(&files["npy"], map)?;
    export::write_map_png16(&files["png16"], map)?;
    let prediction = |(index, probability): (usize, f32)| Prediction { index, label: labels(index), probability };
    let (cx, cy, cw, ch) = geometry.crop_in_original();
    let target_p = logits_top.iter().find(|(c, _)| *c == class).map_or(0.0, |t| t.1);
    let record = Record {
        image: name.to_string(),
        image_size: [image.width(), image.height()],
        model: model.to_string(),
        arch: arch.to_string(),
        device: device.to_string(),
        method: method.name().to_string(),
        layer: layer.to_string(),
        target: prediction((class, target_p)),
        predictions: logits_top.iter().take(5).copied().map(prediction).collect(),
        preprocess: preprocess.clone(),
        crop_in_original: [cx, cy, cw, ch],
        map_size: [map.width, map.height],
        timing_ms: Default::default(),
        deletion_auc: None,
        insertion_auc: None,
        files: files.iter().map(|(k, p)| (k.clone(), p.display().to_string())).collect(),
    };
    export::write_json(&files["json"], &record)?;
    Ok(record)
}

fn view_look(app: &LanternApp) -> ViewLook {
    let l = &app.settings.look;
    ViewLook { style: OverlayStyle { colormap: l.colormap, alpha: l.alpha, gamma: l.gamma }, mode: l.mode, wipe: l.wipe, threshold: l.threshold, contour: l.contour }
}

/// Export what the main view shows into `dir`.
pub fn export_current(app: &mut LanternApp, dir: &Path) {
    let now = 0.0;
    let (Some(out), Some(img), Some(info)) = (&app.main.output, app.gallery.current(), &app.model.info) else {
        app.toasts.error(now, "Nothing to export yet: wait for the explanation.");
        return;
    };
    let Some(decoded) = img.decoded() else {
        app.toasts.error(now, "The image is not loaded.");
        return;
    };
    let labels = |c: usize| info.labels.get(c).cloned().unwrap_or_else(|| format!("class {c}"));
    let result = write_files(
        dir,
        &img.name(),
        &decoded.rgb,
        &out.map,
        &out.geometry,
        &view_look(app),
        out.method,
        &out.layer,
        out.class,
        &out.top,
        &labels,
        &info.name,
        &info.arch,
        &app.compute,
        &info.preprocess,
    );
    match result {
        Ok(r) => app.toasts.note(now, format!("Exported {} files to {}", r.files.len(), dir.display())),
        Err(e) => app.toasts.error(now, e.to_string()),
    }
}

/// Explain and export every image of the gallery into `dir` on a background thread.
pub fn save_all(app: &mut LanternApp, dir: PathBuf) {
    let Some(source) = app.model.source.clone() else { return };
    let images: Vec<ImageSource> = app.gallery.images.iter().map(|i| i.source.clone()).collect();
    let status = Arc::new(Mutex::new(ExportStatus { total: images.len(), ..Default::default() }));
    let cancel = Arc::new(AtomicBool::new(false));
    let job = Job {
        model: source,
        images,
        method: app.settings.method,
        target: app.target,
        layer: app.layer.clone(),
        params: app.settings.params.clone(),
        look: view_look(app),
        dir: dir.clone(),
        device: app.compute.clone(),
    };
    let (s, c) = (Arc::clone(&status), Arc::clone(&cancel));
    let spawned = std::thread::Builder::new().name("lantern-export".into()).spawn(move || job.run(&s, &c));
    match spawned {
        Ok(_) => app.export = Some(ExportJob { status, cancel, dir }),
        Err(e) => app.toasts.error(0.0, format!("could not start the export: {e}")),
    }
}

struct Job {
    model: ModelSource,
    images: Vec<ImageSource>,
    method: Method,
    target: Target,
    layer: Option<String>,
    params: Params,
    look: ViewLook,
    dir: PathBuf,
    device: String,
}

impl Job {
    fn network(&self) -> Result<(Network, String)> {
        let device = burn::tensor::Device::flex();
        match &self.model {
            ModelSource::Demo => Ok((crate::models::demo::network(&device)?, "demo classifier".into())),
            ModelSource::File(p) => Ok((crate::models::load(p, None, &device)?, p.display().to_string())),
        }
    }

    fn one(&self, net: &Arc<Network>, name: &str, source: &ImageSource, model: &str, cancel: &AtomicBool) -> Result<()> {
        let image = match source {
            ImageSource::File(p) => crate::imaging::load_image(p)?,
            ImageSource::Bytes { name, bytes } => crate::imaging::decode_image_bytes(bytes, Path::new(name))?,
        };
        let geometry = net.preprocess.geometry(image.width(), image.height());
        let mut session = Session::new(Arc::clone(net), net.preprocess.tensor(&image, &net.device()));
        let logits = session.logits().to_vec();
        let class = self.target.resolve(&logits);
        let e = session.explain(self.method, class, self.layer.as_deref(), &self.params, &mut Control::new(cancel))?;
        let probs = softmax(&logits);
        let top: Vec<(usize, f32)> = top_k(&logits, 5).into_iter().chain(std::iter::once((class, probs[class]))).collect();
        let labels = |c: usize| net.labels.name(c);
        write_files(&self.dir, name, &image, &e.map, &geometry, &self.look, self.method, &e.layer, class, &top, &labels, model, &net.arch, &self.device, &net.preprocess)?;
        Ok(())
    }

    fn run(self, status: &Mutex<ExportStatus>, cancel: &AtomicBool) {
        let fail = |e: String| {
            let mut s = status.lock().expect("export status lock");
            s.errors.push(e);
            s.finished = true;
        };
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            return fail(LanternError::io(&self.dir, e).to_string());
        }
        let (net, model) = match self.network() {
            Ok(n) => n,
            Err(e) => return fail(e.to_string()),
        };
        let net = Arc::new(net);
        for source in &self.images {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let name = source.name();
            let result = self.one(&net, &name, source, &model, cancel);
            let mut s = status.lock().expect("export status lock");
            if let Err(e) = result {
                s.errors.push(format!("{name}: {e}"));
            }
            s.done += 1;
        }
        status.lock().expect("export status lock").finished = true;
    }
}
