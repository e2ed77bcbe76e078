//! Turning a layer's tensor into feature maps `[B, C, H, W]` and back, what pytorch-grad-cam's
//! `reshape_transform` does by hand: a transformer's tokens `[B, N, C]` (ViT, DeiT: 1 or 2
//! prefix tokens first, the rest a grid in the input's aspect ratio) and channels-last maps
//! `[B, H, W, C]` (Swin blocks, ConvNeXt blocks) become channels-first maps; the way back lets a
//! method change the map and run the rest of the graph from it, the prefix tokens kept as they
//! were.

use burn::tensor::Tensor;

use super::OnnxError;
use super::value::F;

/// How a layer's tensor is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[B, C, H, W]`: a convolutional feature map.
    ChannelsFirst,
    /// `[B, H, W, C]`.
    ChannelsLast,
    /// `[B, prefix + H * W, C]`: `prefix` class/distillation tokens, then the patch grid row by row.
    Tokens { prefix: usize, grid: (usize, usize) },
}

impl Layout {
    /// The layout as the CLI's `--tokens` flag writes it: `nchw`, `nhwc` or `PREFIX:HxW`.
    pub fn parse(text: &str) -> Result<Layout, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nchw" => Ok(Layout::ChannelsFirst),
            "nhwc" => Ok(Layout::ChannelsLast),
            other => {
                let (prefix, grid) = other
                    .split_once(':')
                    .ok_or_else(|| format!("'{text}': expected nchw, nhwc or PREFIX:HxW (e.g. 1:14x14)"))?;
                let (h, w) = grid.split_once('x').ok_or_else(|| format!("'{grid}': expected HxW"))?;
                let num = |s: &str| s.parse::<usize>().map_err(|_| format!("'{s}' is not a whole number"));
                let (prefix, h, w) = (num(prefix)?, num(h)?, num(w)?);
                if h == 0 || w == 0 {
                    return Err("the token grid must not be empty".into());
                }
                Ok(Layout::Tokens { prefix, grid: (h, w) })
            }
        }
    }

    /// Whether a tensor of shape `dims` fits this layout.
    pub fn fits(&self, dims: &[usize]) -> bool {
        match (self, dims) {
            (Layout::ChannelsFirst | Layout::ChannelsLast, [_, _, _, _]) => true,
            (Layout::Tokens { prefix, grid }, [_, n, _]) => *n == prefix + grid.0 * grid.1,
            _ => false,
        }
    }

    /// A short description for listings.
    pub fn describe(&self) -> String {
        match self {
            Layout::ChannelsFirst => "NCHW".into(),
            Layout::ChannelsLast => "NHWC".into(),
            Layout::Tokens { prefix, grid } => format!("tokens {prefix}+{}x{}", grid.0, grid.1),
        }
    }
}

/// Whether `(h, w)` has the input's aspect ratio `(ih, iw)`.
fn same_aspect(h: usize, w: usize, (ih, iw): (usize, usize)) -> bool {
    h > 0 && w > 0 && h * iw == w * ih
}

/// The layout of a tensor of shape `dims` in a model whose input is `input` (height, width)
/// pixels, or `None` when it is not a map. `channels_last_hint`: the producer normalises the last
/// axis (a LayerNorm), which is how channels-last maps are told from channels-first ones when
/// the shape alone cannot tell.
pub fn detect(dims: &[usize], input: (usize, usize), channels_last_hint: bool) -> Option<Layout> {
    match *dims {
        [_, c, h, w] => {
            let first = same_aspect(h, w, input) && h <= input.0 && w <= input.1;
            let last = same_aspect(c, h, input) && c <= input.0 && h <= input.1;
            match (first, last) {
                (true, true) => Some(if channels_last_hint { Layout::ChannelsLast } else { Layout::ChannelsFirst }),
                (true, false) => Some(Layout::ChannelsFirst),
                (false, true) => Some(Layout::ChannelsLast),
                (false, false) => None,
            }
        }
        [_, n, _] => (0..n.min(9)).find_map(|prefix| {
            let cells = n - prefix;
            // The grid has the input's aspect: h = sqrt(cells * ih / iw).
            let h = ((cells * input.0) as f64 / input.1 as f64).sqrt().round() as usize;
            (h > 0 && cells % h == 0 && same_aspect(h, cells / h, input))
                .then_some(Layout::Tokens { prefix, grid: (h, cells / h) })
        }),
        _ => None,
    }
}

/// The map `[B, C, H, W]` of a tensor in `layout`, and its prefix tokens `[B, prefix, C]` if any.
pub fn to_map(t: F, layout: Layout) -> Result<(Tensor<4>, Option<Tensor<3>>), OnnxError> {
    let dims = t.dims();
    if !layout.fits(&dims) {
        return Err(OnnxError::Shape(format!("a tensor of shape {dims:?} is not laid out as {}", layout.describe())));
    }
    Ok(match (layout, t) {
        (Layout::ChannelsFirst, F::R4(x)) => (x, None),
        (Layout::ChannelsLast, F::R4(x)) => (x.permute([0, 3, 1, 2]), None),
        (Layout::Tokens { prefix, grid: (h, w) }, F::R3(x)) => {
            let [b, n, c] = x.dims();
            let prefix_tokens = (prefix > 0).then(|| x.clone().slice([0..b, 0..prefix, 0..c]));
            let patches = x.slice([0..b, prefix..n, 0..c]).reshape([b, h, w, c]).permute([0, 3, 1, 2]);
            (patches, prefix_tokens)
        }
        _ => unreachable!("checked by fits"),
    })
}

/// The tensor in `layout` of a map `[B, C, H, W]`, with the prefix tokens put back (repeated
/// over the batch when they come from one image).
pub fn from_map(a: Tensor<4>, layout: Layout, prefix: Option<&Tensor<3>>) -> F {
    let [b, c, h, w] = a.dims();
    match layout {
        Layout::ChannelsFirst => F::R4(a),
        Layout::ChannelsLast => F::R4(a.permute([0, 2, 3, 1])),
        Layout::Tokens { .. } => {
            let tokens = a.permute([0, 2, 3, 1]).reshape([b, h * w, c]);
            match prefix {
                Some(p) => {
                    let p = if p.dims()[0] == b { p.clone() } else { p.clone().repeat_dim(0, b) };
                    F::R3(Tensor::cat(vec![p, tokens], 1))
                }
                None => F::R3(tokens),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn detection_tells_tokens_and_layouts() {
        assert_eq!(detect(&[1, 197, 768], (224, 224), false), Some(Layout::Tokens { prefix: 1, grid: (14, 14) }));
        assert_eq!(detect(&[1, 198, 768], (224, 224), false), Some(Layout::Tokens { prefix: 2, grid: (14, 14) }));
        assert_eq!(detect(&[1, 196, 768], (224, 224), false), Some(Layout::Tokens { prefix: 0, grid: (14, 14) }));
        assert_eq!(detect(&[1, 7, 7, 768], (224, 224), false), Some(Layout::ChannelsLast));
        assert_eq!(detect(&[1, 2048, 7, 7], (224, 224), false), Some(Layout::ChannelsFirst));
        assert_eq!(detect(&[1, 8, 8, 8], (32, 32), true), Some(Layout::ChannelsLast));
        assert_eq!(detect(&[1, 1000], (224, 224), false), None);
        // A 2:1 input: 8x16 patches.
        assert_eq!(detect(&[1, 129, 64], (128, 256), false), Some(Layout::Tokens { prefix: 1, grid: (8, 16) }));
    }

    #[test]
    fn maps_round_trip_with_prefix_tokens() {
        let device = Device::flex();
        let values: Vec<f32> = (0..2 * 5 * 3).map(|v| v as f32).collect();
        let t = F::from_values(values.clone(), &[2, 5, 3], &device).unwrap();
        let layout = Layout::Tokens { prefix: 1, grid: (2, 2) };
        let (map, prefix) = to_map(t, layout).unwrap();
        assert_eq!(map.dims(), [2, 3, 2, 2]);
        // Channel 0 of image 0 holds the patch tokens' first features: 3, 6, 9, 12.
        let first: Vec<f32> = map.clone().slice([0..1, 0..1, 0..2, 0..2]).into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(first, vec![3.0, 6.0, 9.0, 12.0]);
        let back = from_map(map, layout, prefix.as_ref());
        assert_eq!(back.values(), values);
    }

    #[test]
    fn the_flag_parses() {
        assert_eq!(Layout::parse("1:14x14"), Ok(Layout::Tokens { prefix: 1, grid: (14, 14) }));
        assert_eq!(Layout::parse("NHWC"), Ok(Layout::ChannelsLast));
        assert!(Layout::parse("14x14").is_err());
    }
}
