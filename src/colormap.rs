//! Colormaps for weight maps: one 256-entry table each, used by the CPU overlay renderer
//! ([`crate::render`]) and baked into the GPU overlay's lookup texture, so both draw the same colours.

use serde::{Deserialize, Serialize};

crate::names::named_enum! {
    /// The colormaps Lantern offers.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    pub enum Colormap ("colormap") {
        /// The classic jet: `r = clamp(1.5 - |4t - 3|)`, `g = clamp(1.5 - |4t - 2|)`,
        /// `b = clamp(1.5 - |4t - 1|)`, the shape of OpenCV's `COLORMAP_JET` that pytorch-grad-cam uses.
        #[default]
        Jet = "jet",
        /// Matplotlib's perceptually uniform viridis.
        Viridis = "viridis",
        /// Matplotlib's inferno.
        Inferno = "inferno",
        /// Google's turbo.
        Turbo = "turbo",
        /// Black to white.
        Gray = "gray",
    }
}

impl Colormap {
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
        for &c in Colormap::ALL {
            assert_eq!(c.as_str().parse::<Colormap>().unwrap(), c);
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
