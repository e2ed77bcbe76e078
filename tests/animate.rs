//! `lantern animate` on the bundled demo: every sweep writes a looping GIF whose frames are the
//! image's size (plus the colour bar's panel) and change from frame to frame; bad input exits 2.

use image::AnimationDecoder;
use image::codecs::gif::GifDecoder;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn demo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo").join(path)
}

fn animate(args: &[&str], out: &Path) -> Output {
    let image = demo("images/circle.png");
    Command::new(env!("CARGO_BIN_EXE_lantern"))
        .arg("animate")
        .arg(&image)
        .args(["--device", "cpu"])
        .args(args)
        .arg("--out")
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lantern binary runs")
}

/// The decoded frames of a GIF.
fn frames(path: &Path) -> Vec<image::RgbaImage> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap()
        .into_iter()
        .map(|f| f.into_buffer())
        .collect()
}

/// Run one sweep; check size and change; the frame count.
fn sweep(args: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.gif");
    let run = animate(args, &out);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let frames = frames(&out);
    let (w, h) = image::image_dimensions(demo("images/circle.png")).unwrap();
    for f in &frames {
        assert_eq!(f.height(), h, "frames are the image's height");
        assert!(f.width() > w && f.width() < 2 * w, "the image's width plus the colour bar ({})", f.width());
    }
    let changes = frames.windows(2).filter(|p| p[0] != p[1]).count();
    assert_eq!(changes, frames.len() - 1, "every frame differs from the one before");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    frames.len()
}

#[test]
fn every_sweep_animates_the_demo() {
    assert_eq!(sweep(&["--method", "gradcam", "--sweep", "layers"]), 5, "one frame per layer of the demo CNN");
    assert_eq!(sweep(&["--method", "gradcam", "--sweep", "threshold", "--frames", "6"]), 6);
    assert_eq!(sweep(&["--method", "gradcam", "--sweep", "wipe", "--frames", "5"]), 5);
    // 256 masks in batches of 64: four partial maps, then the finished one.
    assert_eq!(sweep(&["--method", "rise", "--sweep", "progress", "--masks", "256", "--batch", "64"]), 5);
}

/// The exit code and the `lantern:` line of a failed run.
fn failure(args: &[&str], out: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let run = animate(args, &dir.path().join(out));
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join(out).exists());
    (run.status.code(), stderr)
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let cases: [(&[&str], &str, &str); 5] = [
        (&["--sweep", "sideways"], "a.gif", "sideways"),
        (&["--method", "gradcam", "--sweep", "progress"], "a.gif", "partial maps"),
        (&["--method", "rise", "--sweep", "layers"], "a.gif", "does not take a layer"),
        (&["--sweep", "threshold", "--frames", "0"], "a.gif", "--frames must be at least 2"),
        (&["--sweep", "wipe"], "a.mp4", "video needs an encoder"),
    ];
    for (args, out, reason) in cases {
        let (code, stderr) = failure(args, out);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}
