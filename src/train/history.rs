//! What a training run measured, one record per epoch, and its CSV log: an `epoch` column
//! (counted from 1), then the loss terms averaged over the epoch's steps, then the validation
//! metrics, in the order the trainer names them. Values are written as Rust prints an `f64`
//! (the shortest text that reads back to the same number).

use crate::error::{LanternError, Result};
use crate::files::write_csv;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Named values, in a fixed order: loss terms or validation metrics.
pub type Named = Vec<(String, f64)>;

/// One epoch's numbers. In JSON (a checkpoint's state) every number is the text Rust prints
/// for it, see [`exact`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Counted from 1.
    pub epoch: usize,
    /// Loss terms, each the mean over the epoch's steps weighted by batch size; `loss` first.
    #[serde(with = "exact::named")]
    pub terms: Named,
    /// Validation metrics of the model at the end of the epoch.
    #[serde(with = "exact::named")]
    pub metrics: Named,
    /// The monitored metric, when the run monitors one.
    #[serde(with = "exact::option")]
    pub score: Option<f64>,
}

impl EpochRecord {
    /// The value named `name` among the terms and metrics.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.terms.iter().chain(&self.metrics).find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    fn columns(&self) -> Vec<&str> {
        std::iter::once("epoch").chain(self.terms.iter().chain(&self.metrics).map(|(n, _)| n.as_str())).collect()
    }
}

/// Write the whole log to `path` (replaced atomically); every record must have the first one's
/// columns.
pub fn write_log(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let columns = history.first().map(EpochRecord::columns).unwrap_or_else(|| vec!["epoch"]);
    if let Some(r) = history.iter().find(|r| r.columns() != columns) {
        return Err(LanternError::BadArgument(format!(
            "{}: epoch {} has columns {:?}, the log has {columns:?}",
            path.display(),
            r.epoch,
            r.columns()
        )));
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|r| {
            std::iter::once(r.epoch.to_string())
                .chain(r.terms.iter().chain(&r.metrics).map(|(_, v)| v.to_string()))
                .collect()
        })
        .collect();
    write_csv(path, &columns, &rows)
}

/// `f64` stored as the text Rust prints for it (`1.7946864295005798`, `NaN`), which parses back
/// to the same bits: serde_json's default float parser may be one unit in the last place off
/// and writes NaN as `null`, and a resumed run must continue from exactly the numbers it saved.
pub mod exact {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| D::Error::custom(format!("'{text}' is not a number")))
    }

    /// The same for `Option<f64>`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| text.parse().map_err(|_| D::Error::custom(format!("'{text}' is not a number"))))
                .transpose()
        }
    }

    /// The same for [`Named`](super::Named) values.
    pub mod named {
        use super::*;
        use serde::Serialize;

        pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
            let texts: Vec<(&str, String)> = v.iter().map(|(n, x)| (n.as_str(), x.to_string())).collect();
            texts.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<super::super::Named, D::Error> {
            Vec::<(String, String)>::deserialize(d)?
                .into_iter()
                .map(|(n, text)| match text.parse() {
                    Ok(x) => Ok((n, x)),
                    Err(_) => Err(D::Error::custom(format!("{n}: '{text}' is not a number"))),
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64, acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            terms: vec![("loss".into(), loss), ("train_accuracy".into(), 0.5)],
            metrics: vec![("val_accuracy".into(), acc)],
            score: Some(acc),
        }
    }

    #[test]
    fn the_log_has_one_row_per_epoch_under_named_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.csv");
        write_log(&path, &[record(1, 1.7946864295005798, 0.23125), record(2, 1.25, 1.0)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch,loss,train_accuracy,val_accuracy\n1,1.7946864295005798,0.5,0.23125\n2,1.25,0.5,1\n");
        assert_eq!(record(2, 1.25, 1.0).get("val_accuracy"), Some(1.0));
        let mut odd = record(3, 1.0, 1.0);
        odd.metrics[0].0 = "val_loss".into();
        let err = write_log(&path, &[record(1, 1.0, 1.0), odd]).unwrap_err().to_string();
        assert!(err.contains("epoch 3"), "{err}");
    }

    #[test]
    fn records_read_back_from_json_bit_for_bit() {
        let mut r = record(1, 0.1 + 0.2, 1.0 / 3.0);
        r.metrics.push(("nan".into(), f64::NAN));
        r.score = None;
        let back: EpochRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        let bits = |r: &EpochRecord| {
            r.terms.iter().chain(&r.metrics).map(|(n, v)| (n.clone(), v.to_bits())).collect::<Vec<_>>()
        };
        assert_eq!(bits(&back), bits(&r));
        assert_eq!(back.score, None);
    }
}
