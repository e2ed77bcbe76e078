//! [`super::frames`] on the bundled demo: frames per sweep, frames that change, the caption and
//! the colour bar in every frame, and the plans that cannot make frames.

use super::*;
use crate::colormap::Colormap;
use crate::models::demo;
use std::path::Path;
use std::sync::Arc;

fn plan(method: Method, sweep: Sweep) -> Plan {
    Plan {
        method,
        objective: Objective::Class(0),
        class_name: "circle".into(),
        sweep,
        steps: 4,
        layer: None,
        params: Params { batch: 32, rise_masks: 128, ..Params::default() },
        style: OverlayStyle { colormap: Colormap::Gray, alpha: 0.5, gamma: 1.0 },
    }
}

/// The frames of `plan` on the demo's first image, and the image's size.
fn run(plan: &Plan) -> (Vec<RgbImage>, (u32, u32)) {
    let device = burn::tensor::Device::flex();
    let net = Arc::new(demo::network(&device).unwrap());
    let image = crate::imaging::decode_image_bytes(demo::IMAGES[0].1, Path::new("star.png")).unwrap();
    let geometry = net.preprocess.geometry(image.width(), image.height());
    let mut session = Session::new(Arc::clone(&net), net.preprocess.tensor(&image, &device));
    let frames =
        frames(&mut session, Picture { image: &image, geometry: &geometry }, plan, &mut Control::none()).unwrap();
    (frames, image.dimensions())
}

/// Every frame differs from the one before; each has a caption (light text in the top strip,
/// which is darkened to under 80)
/// and a colour bar (the gray colormap's white and black in the panel right of the picture).
fn check(frames: &[RgbImage], (w, h): (u32, u32)) {
    assert!(frames.windows(2).all(|p| p[0] != p[1]), "every frame changes");
    for f in frames {
        assert_eq!(f.height(), h);
        assert!(f.width() > w, "a colour-bar panel right of the picture");
        let caption = (0..12)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| f.get_pixel(x, y).0.iter().all(|&c| c > 200))
            .count();
        assert!(caption > 5, "the caption is drawn ({caption} text pixels)");
        let panel: Vec<[u8; 3]> = (h / 4..h * 3 / 4)
            .flat_map(|y| (w..f.width()).map(move |x| (x, y)))
            .map(|(x, y)| f.get_pixel(x, y).0)
            .collect();
        assert!(panel.iter().any(|p| p[0] > 150 && p[0] == p[2]), "the bar's light end");
        assert!(panel.iter().any(|p| p[0] < 100 && p[0] == p[2] && p[0] > 30), "the bar's dark half");
    }
}

#[test]
fn a_layer_sweep_has_a_frame_per_layer() {
    let (frames, size) = run(&plan(Method::GradCam, Sweep::Layers));
    assert_eq!(frames.len(), 5, "the demo CNN's five blocks");
    check(&frames, size);
}

#[test]
fn threshold_and_wipe_sweeps_have_their_steps() {
    for sweep in [Sweep::Threshold, Sweep::Wipe] {
        let (frames, size) = run(&plan(Method::GradCam, sweep));
        assert_eq!(frames.len(), 4, "{sweep}");
        check(&frames, size);
    }
}

#[test]
fn a_progress_sweep_has_a_frame_per_batch_and_the_end() {
    let (frames, size) = run(&plan(Method::Rise, Sweep::Progress));
    assert_eq!(frames.len(), 128 / 32 + 1);
    check(&frames, size);
}

#[test]
fn plans_without_frames_are_bad_arguments() {
    let net = demo::network(&burn::tensor::Device::flex()).unwrap();
    let bad = [
        plan(Method::GradCam, Sweep::Progress),
        plan(Method::Rise, Sweep::Layers),
        Plan { steps: 1, ..plan(Method::GradCam, Sweep::Wipe) },
        Plan { steps: 0, ..plan(Method::GradCam, Sweep::Threshold) },
    ];
    for p in bad {
        let e = p.check(&net).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
    }
    assert!(plan(Method::Rise, Sweep::Progress).check(&net).is_ok());
}
