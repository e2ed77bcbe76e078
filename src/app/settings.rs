//! What the app remembers between runs (stored with eframe's storage): view settings, the method
//! and its parameters, recent files and which panels are open.

use crate::colormap::Colormap;
use crate::explain::{Method, Params};
pub use crate::render::ViewMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the compare grid varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareAxis {
    Methods,
    Classes,
    Layers,
}

/// Overlay appearance: only shader inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Look {
    pub colormap: Colormap,
    pub alpha: f32,
    pub gamma: f32,
    pub threshold: f32,
    pub contour: bool,
    pub boxes: bool,
    pub mode: ViewMode,
    /// Wipe divider position across the view, 0..1.
    pub wipe: f32,
    /// The map is hidden (key M): the views show the bare image. Never persisted.
    #[serde(skip)]
    pub hidden: bool,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            colormap: Colormap::Jet,
            alpha: 0.5,
            gamma: 1.0,
            threshold: 0.5,
            contour: true,
            boxes: true,
            mode: ViewMode::Overlay,
            wipe: 0.5,
            hidden: false,
        }
    }
}

impl Look {
    /// What the CPU renderer needs of the look (exports and frames without wgpu).
    pub fn view_look(&self) -> crate::render::ViewLook {
        let style = crate::render::OverlayStyle { colormap: self.colormap, alpha: self.alpha, gamma: self.gamma };
        crate::render::ViewLook {
            style,
            mode: self.mode,
            wipe: self.wipe,
            threshold: self.threshold,
            contour: self.contour,
        }
    }
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub look: Look,
    pub method: Method,
    pub params: Params,
    /// Recently opened images, folders and models, newest first.
    pub recent: Vec<PathBuf>,
    pub show_inspector: bool,
    pub show_thumbnails: bool,
    pub compare_axis: CompareAxis,
    /// Methods shown in the compare grid.
    pub compare_methods: Vec<Method>,
    /// What was open when the app last closed, reopened at the next start.
    pub last: Last,
    /// Probability from which a multi-label model's label counts as present.
    pub label_threshold: f32,
    /// How each ONNX model that does not say reads its images, as the user answered once.
    pub preprocess_by_model: std::collections::BTreeMap<PathBuf, crate::imaging::Preprocess>,
    /// The `lantern serve` last connected to (not its token: only where the token file is).
    pub server: ServerChoice,
}

/// A `lantern serve` to compute on, as "Connect to a server…" asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerChoice {
    /// `ws://host:port`, `<server id>@host:port` or `<server id>` (what the server printed).
    pub address: String,
    /// A copy of the server's token file.
    pub token_file: PathBuf,
}

/// The model, images and layer of the last session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Last {
    /// A model file (`None`: the demo).
    pub model: Option<PathBuf>,
    /// Image files and folders (empty: the demo images).
    pub paths: Vec<PathBuf>,
    pub layer: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            look: Look::default(),
            method: Method::GradCam,
            params: Params::default(),
            recent: Vec::new(),
            show_inspector: true,
            show_thumbnails: true,
            compare_axis: CompareAxis::Methods,
            compare_methods: vec![Method::GradCam, Method::GradCamPlusPlus, Method::LayerCam, Method::EigenCam],
            last: Last::default(),
            label_threshold: 0.5,
            preprocess_by_model: Default::default(),
            server: ServerChoice::default(),
        }
    }
}

impl Settings {
    /// Put `path` first in the recent list (at most ten entries).
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(10);
    }

    /// Set the method and its parameters from `name=value` pairs (the web page's address, e.g.
    /// `?method=rise&masks=1000`): `method` names a method, any other name a parameter's flag as
    /// `lantern explain` takes it, checked against its range. Why each refused pair was refused.
    pub fn apply_pairs(&mut self, pairs: &[(String, String)]) -> Vec<String> {
        let mut refused = Vec::new();
        for (name, value) in pairs {
            if name == "method" {
                match value.parse::<Method>() {
                    Ok(m) => self.method = m,
                    Err(e) => refused.push(e),
                }
                continue;
            }
            let Some(spec) = crate::explain::registry::all_params().into_iter().find(|p| p.flag == name) else {
                refused.push(format!("'{name}' is neither 'method' nor a method's parameter (such as masks)"));
                continue;
            };
            let mut params = self.params.clone();
            match spec.parse(&mut params, value).and_then(|()| spec.check(&params)) {
                Ok(()) => self.params = params,
                Err(e) => refused.push(e),
            }
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_set_the_method_and_checked_parameters_and_say_what_they_refuse() {
        let mut s = Settings::default();
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        assert!(s.apply_pairs(&pairs(&[("method", "rise"), ("masks", "1000")])).is_empty());
        assert_eq!((s.method, s.params.rise_masks), (Method::Rise, 1000));
        let refused = s.apply_pairs(&pairs(&[("method", "nope"), ("masks", "0"), ("colour", "red")]));
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(refused[0].contains("unknown method 'nope'") && refused[1].contains("--masks"), "{refused:?}");
        assert_eq!((s.method, s.params.rise_masks), (Method::Rise, 1000), "refused pairs change nothing");
    }

    #[test]
    fn recent_files_are_unique_newest_first_and_capped() {
        let mut s = Settings::default();
        for i in 0..12 {
            s.remember(PathBuf::from(format!("/img/{i}.png")));
        }
        s.remember(PathBuf::from("/img/5.png"));
        assert_eq!(s.recent.len(), 10);
        assert_eq!(s.recent[0], PathBuf::from("/img/5.png"));
        assert_eq!(s.recent.iter().filter(|p| p.ends_with("5.png")).count(), 1);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&text).unwrap(), s);
    }
}
