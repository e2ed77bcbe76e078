//! What a weights file says about how its model runs, beyond its tensors: Lantern's keys in a
//! safetensors file's `__metadata__` header (PyTorch files carry none; `--multilabel` says the
//! same thing on the command line).
//!
//! | key | values | meaning |
//! |---|---|---|
//! | `lantern.output` | `softmax` (default), `sigmoid` | exclusive classes, or independent labels (multi-label) |
//! | `lantern.boost_alpha` | a number >= 1 (default 1) | BoostLU's `alpha` on the class activation maps of a GAP + linear head |
//! | `lantern.input_size` | pixels, 16 to 4096 (default: the architecture's) | the side the model was trained at: resize the shorter side to it, centre-crop a square |

use super::network::Network;
use super::scores::OutputKind;
use crate::error::{LanternError, Result};
use std::collections::BTreeMap;

/// The key naming the output kind.
pub const OUTPUT: &str = "lantern.output";
/// The key holding BoostLU's `alpha`.
pub const BOOST_ALPHA: &str = "lantern.boost_alpha";
/// The key holding the input side.
pub const INPUT_SIZE: &str = "lantern.input_size";
/// The largest BoostLU `alpha` a file or an explanation may ask for.
pub const MAX_BOOST_ALPHA: f32 = 100.0;

/// How a model runs, as its weights file records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunAs {
    /// The output kind, when the file sets one (else the architecture's own).
    pub output: Option<OutputKind>,
    pub boost_alpha: f32,
    /// The input side, when it is not the architecture's own.
    pub input_size: Option<u32>,
}

impl Default for RunAs {
    fn default() -> Self {
        Self { output: None, boost_alpha: 1.0, input_size: None }
    }
}

impl RunAs {
    /// Read Lantern's keys (absent keys keep their defaults); a value it cannot use is an error
    /// naming the key.
    pub fn read(metadata: &BTreeMap<String, String>) -> Result<Self> {
        let mut run = Self::default();
        if let Some(v) = metadata.get(OUTPUT) {
            run.output = match v.as_str() {
                "softmax" => Some(OutputKind::Softmax),
                "sigmoid" => Some(OutputKind::Sigmoid),
                other => {
                    return Err(LanternError::BadArgument(format!(
                        "metadata {OUTPUT} = '{other}': expected softmax or sigmoid"
                    )));
                }
            };
        }
        if let Some(v) = metadata.get(BOOST_ALPHA) {
            run.boost_alpha =
                v.parse::<f32>().ok().filter(|a| (1.0..=MAX_BOOST_ALPHA).contains(a)).ok_or_else(|| {
                    LanternError::BadArgument(format!(
                        "metadata {BOOST_ALPHA} = '{v}': expected a number from 1 to {MAX_BOOST_ALPHA}"
                    ))
                })?;
        }
        if let Some(v) = metadata.get(INPUT_SIZE) {
            let size = v.parse::<u32>().ok().filter(|s| (16..=4096).contains(s));
            run.input_size = Some(size.ok_or_else(|| {
                LanternError::BadArgument(format!("metadata {INPUT_SIZE} = '{v}': expected pixels from 16 to 4096"))
            })?);
        }
        Ok(run)
    }

    /// The metadata entries that record this (defaults are written too, so a file says what it is).
    pub fn entries(&self) -> Vec<(String, String)> {
        let output = self.output.and_then(|o| match o {
            OutputKind::Sigmoid => Some("sigmoid"),
            OutputKind::Softmax => Some("softmax"),
            OutputKind::Embedding => None,
        });
        let mut entries: Vec<(String, String)> =
            output.map(|o| (OUTPUT.to_string(), o.to_string())).into_iter().collect();
        entries.push((BOOST_ALPHA.to_string(), self.boost_alpha.to_string()));
        entries.extend(self.input_size.map(|s| (INPUT_SIZE.to_string(), s.to_string())));
        entries
    }

    /// `net` run this way; BoostLU needs a GAP + linear head.
    pub fn apply(&self, net: Network) -> Result<Network> {
        let mut net = if self.boost_alpha == 1.0 {
            net
        } else {
            net.boosted(self.boost_alpha).ok_or_else(|| {
                LanternError::Mismatch(format!(
                    "{BOOST_ALPHA} needs a global-average-pool + linear head, which {} does not have",
                    net.arch
                ))
            })?
        };
        if let Some(output) = self.output {
            net.output = output;
        }
        if let Some(side) = self.input_size {
            net.preprocess.resize = side;
            net.preprocess.crop = side;
        }
        Ok(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn keys_read_back_and_bad_values_are_refused() {
        assert_eq!(RunAs::read(&meta(&[])).unwrap(), RunAs::default());
        let run = RunAs { output: Some(OutputKind::Sigmoid), boost_alpha: 5.0, input_size: Some(64) };
        let written: BTreeMap<String, String> = run.entries().into_iter().collect();
        assert_eq!(RunAs::read(&written).unwrap(), run);
        assert_eq!(RunAs::read(&meta(&[(OUTPUT, "sigmoid")])).unwrap().boost_alpha, 1.0);
        for bad in [
            (OUTPUT, "logits"),
            (BOOST_ALPHA, "0.5"),
            (BOOST_ALPHA, "five"),
            (BOOST_ALPHA, "NaN"),
            (BOOST_ALPHA, "1000"),
            (INPUT_SIZE, "8"),
            (INPUT_SIZE, "-64"),
        ] {
            let e = RunAs::read(&meta(&[bad])).unwrap_err().to_string();
            assert!(e.contains(bad.0), "{e}");
        }
    }
}
