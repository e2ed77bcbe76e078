//! The approximate modes against their exact methods on the demo model: Score-CAM on the top-k
//! channels and RISE with early stop. Each is exactly its method when nothing is skipped, says
//! what it skipped, and otherwise equals the exact method on what it did run.

mod common;

use burn::tensor::Device;
use common::pearson;
use lantern::explain::perturbation::{self, RiseMasks};
use lantern::explain::score_cam::{ScoreCamOptions, score_cam, score_cam_channels};
use lantern::explain::{Control, Method, Params, Session};
use lantern::models::{Network, demo};
use std::sync::Arc;

fn demo_session() -> (Arc<Network>, Session) {
    let device = Device::flex();
    let net = Arc::new(demo::network(&device).unwrap());
    let img = image::load_from_memory(demo::IMAGES[0].1).unwrap().into_rgb8();
    let x = net.preprocess.tensor(&img, &device);
    (Arc::clone(&net), Session::new(net, x))
}

#[test]
fn score_cam_top_k_is_score_cam_when_every_channel_is_kept() {
    let (net, mut session) = demo_session();
    let layer = net.default_layer.clone();
    let channels = session.activations(&layer).unwrap().maps.channels;
    let all = Params { score_cam_top_k: channels, ..Params::default() };
    let exact = session.explain(Method::ScoreCam, 0usize, None, &all, &mut Control::none()).unwrap();
    let top = session.explain(Method::ScoreCamTopK, 0usize, None, &all, &mut Control::none()).unwrap();
    assert_eq!(top.map.values, exact.map.values);
    assert_eq!(top.approximation, None, "nothing was skipped");
    assert_eq!(exact.approximation, None);

    let k = channels / 4;
    let few = Params { score_cam_top_k: k, ..Params::default() };
    let approx = session.explain(Method::ScoreCamTopK, 0usize, None, &few, &mut Control::none()).unwrap();
    let note = approx.approximation.expect("a skipped channel is reported");
    assert!(note.contains(&format!("{k} of {channels} channels")), "{note}");
    let r = pearson(&approx.map.values, &exact.map.values);
    eprintln!("score-cam top {k} of {channels}: pearson r with the exact map {r:.4}");
    assert!(r > 0.5, "top-{k} Score-CAM is unrelated to Score-CAM: r = {r}");
}

#[test]
fn score_cam_top_k_weights_only_the_most_varied_channels() {
    let (net, mut session) = demo_session();
    let x = session.input().clone();
    let acts = session.activations(&net.default_layer.clone()).unwrap();
    let (_, exact) = score_cam(&net, &x, acts, 0usize, 32, &mut Control::none()).unwrap();
    let (_, top) =
        score_cam_channels(&net, &x, acts, 0usize, ScoreCamOptions { batch: 32, top_k: Some(3) }, &mut Control::none())
            .unwrap();
    let kept: Vec<usize> = (0..top.len()).filter(|&k| top[k] != 0.0).collect();
    assert_eq!(kept.len(), 3, "{top:?}");
    assert!((top.iter().sum::<f32>() - 1.0).abs() < 1e-5, "a softmax over the kept channels");
    let a = &acts.maps;
    let variance = |k: usize| {
        let c = a.channel(k);
        let m = c.iter().sum::<f32>() / c.len() as f32;
        c.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / c.len() as f32
    };
    let least_kept = kept.iter().map(|&k| variance(k)).fold(f32::INFINITY, f32::min);
    assert!((0..a.channels).filter(|k| !kept.contains(k)).all(|k| variance(k) <= least_kept));
    // Among the kept channels, the weights keep the exact method's order.
    let mut by_exact = kept.clone();
    by_exact.sort_by(|&i, &j| exact[j].total_cmp(&exact[i]));
    let mut by_top = kept.clone();
    by_top.sort_by(|&i, &j| top[j].total_cmp(&top[i]));
    assert_eq!(by_exact, by_top);
}

#[test]
fn rise_early_stop_is_rise_on_the_masks_it_ran() {
    let (net, mut session) = demo_session();
    let x = session.input().clone();
    let [_, _, h, w] = x.dims();
    let params = Params { rise_masks: 200, batch: 20, rise_tolerance: 0.5, ..Params::default() };
    let early = session.explain(Method::RiseEarlyStop, 0usize, None, &params, &mut Control::none()).unwrap();
    // A change under 0.5 per pixel after the second and third batch: three batches ran.
    assert_eq!(early.approximation.as_deref(), Some("stopped after 60 of 200 masks (map change under 0.5 per batch)"));
    let mut masks = RiseMasks::generate(200, params.rise_cells, params.rise_keep, h, w, params.seed);
    masks.grids.truncate(60);
    masks.shifts.truncate(60);
    let (mut first60, _) = perturbation::rise(&net, &x, &masks, 0usize, 20, &mut Control::none()).unwrap();
    first60.normalize();
    assert_eq!(early.map.values, first60.values);

    // A tolerance no batch meets runs every mask: the exact method.
    let strict = Params { rise_tolerance: 1e-6, ..params.clone() };
    let all = session.explain(Method::RiseEarlyStop, 0usize, None, &strict, &mut Control::none()).unwrap();
    let exact = session.explain(Method::Rise, 0usize, None, &params, &mut Control::none()).unwrap();
    assert_eq!(all.approximation, None, "every mask ran");
    assert_eq!(all.map.values, exact.map.values);
}
