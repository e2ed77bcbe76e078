//! Writing an animation: an infinitely looping GIF through the `image` crate's encoder, written
//! atomically (a temporary sibling renamed into place, so an interrupted run leaves no half file).
//! GIF is the only format: no MP4 (H.264) encoder exists without system libraries.

use crate::error::{LanternError, Result};
use crate::files;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, Frame, RgbImage};
use std::path::Path;

/// How many times longer the last frame stays, so the loop pauses on the end state.
const HOLD_LAST: u32 = 4;
/// The encoder's colour quantisation speed (1 best, 30 fastest).
const QUANTISE_SPEED: i32 = 10;

/// `Ok` when `path` names a file this build can write (`.gif`); a clear reason otherwise.
pub fn check_output(path: &Path) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("gif") => Ok(()),
        Some("mp4" | "m4v" | "mov" | "webm" | "mkv") => Err(LanternError::BadArgument(format!(
            "{}: video needs an encoder this build does not have (none exists without system libraries); write a .gif instead",
            path.display()
        ))),
        _ => Err(LanternError::BadArgument(format!(
            "{}: animations are written as GIF; name the file .gif",
            path.display()
        ))),
    }
}

/// Write `frames` to `path` as a GIF that loops forever, `delay_ms` per frame (the last one held
/// [`HOLD_LAST`] times as long).
pub fn write_gif(path: &Path, frames: &[RgbImage], delay_ms: u32) -> Result<()> {
    check_output(path)?;
    if frames.is_empty() {
        return Err(LanternError::BadArgument("the animation has no frames".into()));
    }
    let last = frames.len() - 1;
    files::write_atomic(path, |f| {
        let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(f), QUANTISE_SPEED);
        encoder.set_repeat(Repeat::Infinite).map_err(std::io::Error::other)?;
        for (i, picture) in frames.iter().enumerate() {
            let ms = if i == last { delay_ms * HOLD_LAST } else { delay_ms };
            let rgba = DynamicImage::ImageRgb8(picture.clone()).into_rgba8();
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            encoder.encode_frame(frame).map_err(std::io::Error::other)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder;
    use image::Rgb;
    use image::codecs::gif::GifDecoder;

    #[test]
    fn frames_round_trip_with_their_delays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gif");
        let frames = vec![RgbImage::from_pixel(8, 6, Rgb([255, 0, 0])), RgbImage::from_pixel(8, 6, Rgb([0, 0, 255]))];
        write_gif(&path, &frames, 100).unwrap();
        let decoded = GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].buffer().dimensions(), (8, 6));
        assert_eq!(decoded[0].delay().numer_denom_ms(), (100, 1));
        assert_eq!(decoded[1].delay().numer_denom_ms(), (400, 1), "the last frame is held");
        assert!(decoded[1].buffer().get_pixel(3, 3).0[2] > 200);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn only_gif_is_written() {
        assert!(check_output(Path::new("a.GIF")).is_ok());
        let mp4 = check_output(Path::new("a.mp4")).unwrap_err();
        assert!(mp4.is_bad_input() && mp4.to_string().contains("no"), "{mp4}");
        assert!(check_output(Path::new("a.png")).unwrap_err().is_bad_input());
        let empty = write_gif(Path::new("never.gif"), &[], 100).unwrap_err();
        assert!(empty.is_bad_input());
    }
}
