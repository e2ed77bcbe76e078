//! The pair methods' settings ([`PairSettings`], with the authors' defaults: the one place they
//! are set) and what each parameter takes ([`ParamSpec`]s over them): `lantern similar`'s flags
//! and the Pair view's controls are drawn from these, as the registry's methods' are from
//! [`super::params`].

use super::params::{Number, ParamKind, ParamSpec};
use crate::error::{LanternError, Result};
use serde::{Deserialize, Serialize};

/// What the query is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReferenceMode {
    /// The whole reference: `f(r)`.
    Fixed,
    /// The reference under `count` random masks: `f(r * R_j)`, `j < count`.
    Masked { count: usize },
}

/// Settings of the pair-saliency methods, with the authors' defaults (Plummer et al., ECCV 2020).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSettings {
    pub masks: usize,
    /// Grid cells per side of a RISE mask.
    pub cells: usize,
    /// Probability of a cell being kept.
    pub keep: f32,
    pub seed: u64,
    pub reference: ReferenceMode,
    /// Images per model pass.
    pub batch: usize,
}

impl Default for PairSettings {
    fn default() -> Self {
        Self { masks: 2000, cells: 8, keep: 0.5, seed: 0, reference: ReferenceMode::Fixed, batch: 64 }
    }
}

impl PairSettings {
    /// A clear error for settings no method can run with (the flags' ranges catch these from
    /// the command line; a library caller can still build them).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(LanternError::BadArgument(m.into()));
        if self.masks == 0 || self.cells == 0 || self.batch == 0 {
            return bad("masks, cells and batch must be at least 1");
        }
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            return bad("the keep probability must be in (0, 1]");
        }
        if let ReferenceMode::Masked { count: 0 } = self.reference {
            return bad("a masked reference needs at least one mask");
        }
        Ok(())
    }
}

/// Images per model pass.
pub const BATCH: ParamSpec<PairSettings> = ParamSpec {
    flag: "batch",
    label: "batch",
    help: "Images per model pass of the pair methods that mask an image.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 1024.0,
        integer: true,
        logarithmic: true,
        get: |p| p.batch as f64,
        set: |p, v| p.batch = v as usize,
    }),
};

/// Seed of the random masks (the reference's are drawn from the next seed).
pub const SEED: ParamSpec<PairSettings> = ParamSpec {
    flag: "seed",
    label: "seed",
    help: "Seed of the random masks.",
    kind: ParamKind::Number(Number {
        min: 0.0,
        max: super::params::MAX_SEED,
        integer: true,
        logarithmic: false,
        get: |p| p.seed as f64,
        set: |p, v| p.seed = v as u64,
    }),
};

/// Masks over the reference (the authors' "variable reference"); 0 compares with the whole one.
pub const REFERENCE_MASKS: ParamSpec<PairSettings> = ParamSpec {
    flag: "reference-masks",
    label: "reference masks",
    help: "Random masks over the reference, the query map averaged over them (0: the whole reference).",
    kind: ParamKind::Number(Number {
        min: 0.0,
        max: 1000.0,
        integer: true,
        logarithmic: false,
        get: |p| match p.reference {
            ReferenceMode::Fixed => 0.0,
            ReferenceMode::Masked { count } => count as f64,
        },
        set: |p, v| {
            p.reference = match v as usize {
                0 => ReferenceMode::Fixed,
                count => ReferenceMode::Masked { count },
            }
        },
    }),
};

/// Similarity RISE's masks.
pub const MASKS: ParamSpec<PairSettings> = ParamSpec {
    flag: "masks",
    label: "masks",
    help: "Random masks of similarity RISE.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 100_000.0,
        integer: true,
        logarithmic: true,
        get: |p| p.masks as f64,
        set: |p, v| p.masks = v as usize,
    }),
};

/// Similarity RISE's grid cells per side.
pub const CELLS: ParamSpec<PairSettings> = ParamSpec {
    flag: "cells",
    label: "grid cells",
    help: "Similarity RISE: grid cells per side of a mask.",
    kind: ParamKind::Number(Number {
        min: 1.0,
        max: 64.0,
        integer: true,
        logarithmic: false,
        get: |p| p.cells as f64,
        set: |p, v| p.cells = v as usize,
    }),
};

/// Probability of a similarity RISE cell being kept; 0 would keep nothing.
pub const KEEP: ParamSpec<PairSettings> = ParamSpec {
    flag: "keep",
    label: "keep probability",
    help: "Similarity RISE: probability of a grid cell being kept.",
    kind: ParamKind::Number(Number {
        min: 0.01,
        max: 1.0,
        integer: false,
        logarithmic: false,
        get: |p| f64::from(p.keep),
        set: |p, v| p.keep = v as f32,
    }),
};

/// The parameters every pair run shares, whichever methods declare them: the seed of the random
/// masks and the reference's masks.
pub const COMMON: [ParamSpec<PairSettings>; 2] = [SEED, REFERENCE_MASKS];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::params::ParamSet;

    #[test]
    fn defaults_are_in_range_and_the_reference_masks_read_as_a_number() {
        let mut p = PairSettings::default();
        p.validate().unwrap();
        ParamSet::validate(&p).unwrap();
        assert_eq!(
            (MASKS.text(&p), KEEP.text(&p), REFERENCE_MASKS.text(&p)),
            ("2000".into(), "0.5".into(), "0".into())
        );
        REFERENCE_MASKS.parse(&mut p, "30").unwrap();
        assert_eq!(p.reference, ReferenceMode::Masked { count: 30 });
        REFERENCE_MASKS.parse(&mut p, "0").unwrap();
        assert_eq!(p.reference, ReferenceMode::Fixed);
        KEEP.parse(&mut p, "0").unwrap();
        assert!(ParamSet::validate(&p).unwrap_err().starts_with("--keep"));
    }
}
