//! What every row of `state.jsonl` depends on, so that a resumed run never mixes rows made with
//! different settings.
//!
//! Each row carries the SHA-256 of the run's [`RunSettings`] (as JSON); `settings.json` beside it
//! holds them readable. A run whose settings differ from the rows already in the output folder is
//! refused with the settings that changed; `--fresh` discards the old state, or another `--out`
//! keeps it. The device is not part of the key (CPU and GPU agree to float rounding).

use super::protocol::Protocol;
use crate::digest::sha256_hex;
use crate::error::{LanternError, Result};
use crate::explain::{Baseline, Params};
use crate::imaging::Preprocess;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Everything that changes a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// SHA-256 of the weights file (of the bundled bytes for the demo classifier).
    pub model_sha256: String,
    pub arch: String,
    pub preprocess: Preprocess,
    /// Dataset format and folder.
    pub dataset: String,
    pub protocol: Protocol,
    pub layer: String,
    pub interval: f64,
    pub faithfulness: bool,
    pub limit: Option<usize>,
    /// Model class of each dataset class (the class map, or the identity).
    pub class_map: Vec<Option<usize>>,
    /// The method settings; a custom baseline image by the SHA-256 of its values.
    pub params: Value,
    /// SHA-256 of the weight-map generator's file, when the `generator` method runs (absent
    /// otherwise, which keeps the keys of runs without it unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_sha256: Option<String>,
    /// The part of the dataset a sharded run evaluates (`--shard I/N`; absent otherwise, which
    /// keeps the keys of unsharded runs unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::Shard>,
}

impl RunSettings {
    /// The key stored in every row: SHA-256 of the settings' JSON, in hex.
    pub fn key(&self) -> String {
        sha256_hex(serde_json::to_string(self).expect("settings serialise").as_bytes())
    }

    /// The settings that differ from `earlier` (a `settings.json`), as `name: old -> new`.
    pub fn changes_from(&self, earlier: &Value) -> Vec<String> {
        let now = serde_json::to_value(self).expect("settings serialise");
        let Some(fields) = now.as_object() else { return Vec::new() };
        fields
            .iter()
            .filter(|(name, value)| earlier.get(name.as_str()) != Some(value))
            .map(|(name, value)| {
                let old = earlier.get(name.as_str()).map_or_else(|| "(none)".to_string(), short);
                format!("{name}: {old} -> {}", short(value))
            })
            .collect()
    }
}

/// A JSON value in at most 60 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 60 { s } else { format!("{}...", s.chars().take(57).collect::<String>()) }
}

/// The method settings as keyed: a custom baseline by its hash rather than its values.
pub fn params_value(params: &Params) -> Value {
    let mut v = serde_json::to_value(params).expect("parameters serialise");
    if let Baseline::Custom(values) = &params.baseline {
        let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        v["baseline"] = Value::String(format!("custom image, sha256 {}", sha256_hex(&bytes)));
    }
    v
}

/// Refuse rows of `state` made with other settings than `settings`; `earlier` is the output
/// folder's `settings.json`, if any, used to say what changed.
pub fn check_state(
    state: &Path,
    rows: &[super::ImageResult],
    settings: &RunSettings,
    earlier: Option<&Value>,
) -> Result<()> {
    let key = settings.key();
    let Some(other) = rows.iter().find(|r| r.settings != key) else { return Ok(()) };
    let what = match earlier
        .filter(|e| serde_json::from_value::<RunSettings>((*e).clone()).is_ok_and(|s| s.key() == other.settings))
    {
        Some(e) => settings.changes_from(e).join("; "),
        None => "they were made by another version of lantern or their settings.json is gone".to_string(),
    };
    Err(LanternError::Mismatch(format!(
        "{} holds {} results made with other settings ({what}); use another --out, or --fresh to discard them",
        state.display(),
        rows.iter().filter(|r| r.settings != key).count()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RunSettings {
        RunSettings {
            model_sha256: sha256_hex(b"weights"),
            arch: "lantern_cnn".into(),
            preprocess: Preprocess::imagenet(),
            dataset: "synth:/data".into(),
            protocol: Protocol::Wsol,
            layer: "blocks.4".into(),
            interval: 0.01,
            faithfulness: false,
            limit: None,
            class_map: vec![Some(0), Some(1)],
            params: params_value(&Params::default()),
            generator_sha256: None,
            shard: None,
        }
    }

    #[test]
    fn every_setting_changes_the_key_and_is_named() {
        let base = settings();
        let earlier = serde_json::to_value(&base).unwrap();
        let params = Params { rise_masks: 10, ..Params::default() };
        let changed: Vec<RunSettings> = vec![
            RunSettings { model_sha256: sha256_hex(b"other"), ..base.clone() },
            RunSettings { arch: "resnet18".into(), ..base.clone() },
            RunSettings { preprocess: Preprocess { crop: 200, ..Preprocess::imagenet() }, ..base.clone() },
            RunSettings { dataset: "voc:/data".into(), ..base.clone() },
            RunSettings { protocol: Protocol::Crop, ..base.clone() },
            RunSettings { layer: "blocks.3".into(), ..base.clone() },
            RunSettings { interval: 0.05, ..base.clone() },
            RunSettings { faithfulness: true, ..base.clone() },
            RunSettings { limit: Some(3), ..base.clone() },
            RunSettings { class_map: vec![Some(1), Some(0)], ..base.clone() },
            RunSettings { params: params_value(&params), ..base.clone() },
            RunSettings { generator_sha256: Some(sha256_hex(b"generator")), ..base.clone() },
            RunSettings { shard: Some(super::super::Shard { index: 1, count: 3 }), ..base.clone() },
        ];
        for c in &changed {
            assert_ne!(c.key(), base.key(), "{c:?}");
            assert_eq!(c.changes_from(&earlier).len(), 1, "{:?}", c.changes_from(&earlier));
        }
        assert_eq!(changed[6].changes_from(&earlier), vec!["interval: 0.01 -> 0.05".to_string()]);
        assert_eq!(base.key(), settings().key());
        assert!(
            !earlier.as_object().unwrap().contains_key("generator_sha256"),
            "runs without a generator keep their key"
        );
        assert!(!earlier.as_object().unwrap().contains_key("shard"), "unsharded runs keep their key");
        let custom = Params { baseline: Baseline::Custom(vec![0.5; 3 * 224 * 224]), ..Params::default() };
        assert!(params_value(&custom)["baseline"].as_str().unwrap().starts_with("custom image, sha256 "));
    }
}
