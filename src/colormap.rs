//! Colormaps for weight maps: one 256-entry table each, used by the CPU overlay renderer
//! ([`crate::render`]) and baked into the GPU overlay's lookup texture, so both draw the same colours.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The colormaps Lantern offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Colormap {
    /// The classic jet: `r = clamp(1.5 - |4t - 3|)`, `g = clamp(1.5 - |4t - 2|)`,
    /// `b = clamp(1.5 - |4t - 1|)`, the shape of OpenCV's `COLORMAP_JET` that pytorch-grad-cam uses.
    #[default]
    Jet,
    /// Matplotlib's perceptually uniform viridis.
    Viridis,
    /// Matplotlib's inferno.
    Inferno,
    /// Google's turbo.
    Turbo,
    /// Black to white.
    Gray,
}

impl Colormap {
    pub const ALL: [Colormap; 5] =
        [Colormap::Jet, Colormap::Viridis, Colormap::Inferno, Colormap::Turbo, Colormap::Gray];

    /// Lower-case name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Jet => "jet",
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
            Colormap::Turbo => "turbo",
            Colormap::Gray => "gray",
        }
    }

    /// Colour for `t` in `[0, 1]` (clamped).
    pub fn color(self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let from = |c: colorous::Color| [c.r, c.g, c.b];
        match self {
            Colormap::Jet => {
                let ch = |c: f32| ((1.5 - (4.0 * t - c).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
                [ch(3.0), ch(2.0), ch(1.0)]
            }
            Colormap::Viridis => from(colorous::VIRIDIS.eval_continuous(f64::from(t))),
            Colormap::Inferno => from(colorous::INFERNO.eval_continuous(f64::from(t))),
            Colormap::Turbo => from(colorous::TURBO.eval_continuous(f64::from(t))),
            Colormap::Gray => {
                let g = (t * 255.0).round() as u8;
                [g, g, g]
            }
        }
    }

    /// The 256-entry table: entry `i` is the colour of `i / 255`.
    pub fn table(self) -> [[u8; 3]; 256] {
        let mut lut = [[0u8; 3]; 256];
        for (i, entry) in lut.iter_mut().enumerate() {
            *entry = self.color(i as f32 / 255.0);
        }
        lut
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Colormap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Colormap::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown colormap '{s}' (choose jet, viridis, inferno, turbo or gray)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_runs_blue_to_red() {
        assert_eq!(Colormap::Jet.color(0.0), [0, 0, 128]);
        assert_eq!(Colormap::Jet.color(0.5), [128, 255, 128]);
        assert_eq!(Colormap::Jet.color(1.0), [128, 0, 0]);
    }

    #[test]
    fn tables_and_names_round_trip() {
        for c in Colormap::ALL {
            assert_eq!(c.name().parse::<Colormap>().unwrap(), c);
            let t = c.table();
            assert_eq!(t[0], c.color(0.0));
            assert_eq!(t[255], c.color(1.0));
        }
        assert_eq!(Colormap::Gray.table()[17], [17, 17, 17]);
        assert!("rainbow".parse::<Colormap>().is_err());
        // Viridis starts dark purple and ends yellow.
        let v = Colormap::Viridis.table();
        assert!(v[0][2] > v[0][1] && v[255][0] > 200 && v[255][1] > 200);
    }
}
