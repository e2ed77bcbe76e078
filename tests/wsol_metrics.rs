//! The WSOL metrics against clovaai/wsolevaluation's own functions on 16 score maps
//! (fixtures from tests/reference/make_wsol_fixtures.py): every box at every threshold, every
//! count, MaxBoxAcc, MaxBoxAccV2 and PxAP.

mod common;

use lantern::map::{BoxMode, PixelBox, WeightMap};
use lantern::metrics::wsol::{BoxAccuracy, PixelPrecision, cam_thresholds, localization_accuracy};
use serde_json::Value;

struct Fixture {
    maps: Vec<WeightMap>,
    masks: Vec<Vec<u8>>,
    expected: Value,
}

fn load() -> Fixture {
    let dir = common::fixtures().join("wsol");
    let bytes = std::fs::read(dir.join("scoremaps.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values: Vec<f32> = npy.into_vec().unwrap();
    let (n, h, w) = (shape[0], shape[1], shape[2]);
    let maps = values.chunks(h * w).map(|c| WeightMap::new(w, h, c.to_vec())).collect::<Vec<_>>();
    assert_eq!(maps.len(), n);
    let bytes = std::fs::read(dir.join("gt_masks.npy")).unwrap();
    let masks: Vec<u8> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    let masks = masks.chunks(h * w).map(<[u8]>::to_vec).collect();
    let expected = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    Fixture { maps, masks, expected }
}

fn pixel_box(b: &Value) -> PixelBox {
    let c: Vec<u32> = b.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
    PixelBox { x0: c[0], y0: c[1], x1: c[2], y1: c[3] }
}

fn boxes(v: &Value) -> Vec<PixelBox> {
    v.as_array().unwrap().iter().map(pixel_box).collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

#[test]
fn thresholds_match() {
    let f = load();
    // numpy's arange gives i * 0.01; the JSON stores them rounded to 15 digits.
    let expected = floats(&f.expected["cam_threshold_list"]);
    let ours = cam_thresholds(0.01);
    assert_eq!(ours.len(), expected.len());
    for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(*a, i as f64 * 0.01);
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
}

#[test]
fn boxes_at_every_threshold_match_opencv() {
    let f = load();
    let thresholds = cam_thresholds(0.01);
    for (i, map) in f.maps.iter().enumerate() {
        let e = &f.expected["maps"][i];
        let name = e["name"].as_str().unwrap();
        for (t, &th) in thresholds.iter().enumerate() {
            let v1 = map.boxes(th as f32, BoxMode::Largest);
            assert_eq!(v1, vec![pixel_box(&e["v1_boxes"][t])], "{name} V1 at t = {th}");
            let v2 = map.boxes(th as f32, BoxMode::All);
            assert_eq!(v2, boxes(&e["v2_boxes"][t]), "{name} V2 at t = {th}");
        }
    }
}

#[test]
fn max_box_acc_v1_v2_and_localization_match() {
    let f = load();
    let thresholds = cam_thresholds(0.01);
    let mut v1 = BoxAccuracy::v1(thresholds.clone());
    let mut v2 = BoxAccuracy::v2(thresholds.clone());
    let mut v1_ious = Vec::new();
    let mut class_correct = Vec::new();
    for (i, map) in f.maps.iter().enumerate() {
        let e = &f.expected["maps"][i];
        let gt = boxes(&e["gt_boxes"]);
        let a = v1.add(map, &gt);
        let b = v2.add(map, &gt);
        for (ours, theirs) in [(&a, floats(&e["v1_best_iou"])), (&b, floats(&e["v2_best_iou"]))] {
            for (x, y) in ours.iter().zip(&theirs) {
                assert!((x - y).abs() < 1e-12, "map {i}: IoU {x} vs {y}");
            }
        }
        v1_ious.push(a);
        class_correct.push(e["class_correct"].as_bool().unwrap());
    }
    for (acc, key) in [(&v1, "v1"), (&v2, "v2")] {
        let e = &f.expected["box"][key];
        for iou in [30u32, 50, 70] {
            let counts: Vec<u64> =
                e["num_correct"][iou.to_string()].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            let k = acc.iou_thresholds.iter().position(|&t| t == iou).unwrap();
            assert_eq!(acc.correct[k], counts, "{key} IoU {iou}");
            let (best, at) = acc.max_accuracy(iou);
            assert!((best - e["max_box_acc"][iou.to_string()].as_f64().unwrap()).abs() < 1e-6);
            assert_eq!(at as u64, e["optimal_threshold_index"][iou.to_string()].as_u64().unwrap());
        }
    }
    assert!((v1.max_accuracy(50).0 - f.expected["box"]["MaxBoxAcc"].as_f64().unwrap()).abs() < 1e-6);
    assert!((v2.mean_max_accuracy() - f.expected["box"]["MaxBoxAccV2"].as_f64().unwrap()).abs() < 1e-6);
    let loc = &f.expected["localization"]["v1"];
    let (gt_known, top1) = localization_accuracy(&v1_ious, &class_correct, v1.max_accuracy(50).1);
    assert!((gt_known - loc["gt_known_loc"].as_f64().unwrap()).abs() < 1e-6);
    assert!((top1 - loc["top1_loc"].as_f64().unwrap()).abs() < 1e-6);
}

#[test]
fn pxap_matches() {
    let f = load();
    let mut p = PixelPrecision::new(&cam_thresholds(0.01));
    for (map, mask) in f.maps.iter().zip(&f.masks) {
        p.add(map, mask);
    }
    let e = &f.expected["pxap"];
    assert_eq!(p.foreground, floats(&e["gt_true_score_hist"]));
    assert_eq!(p.background, floats(&e["gt_false_score_hist"]));
    let curve = p.curve().unwrap();
    assert!((curve.pxap - e["PxAP"].as_f64().unwrap()).abs() < 1e-6, "{} vs {}", curve.pxap, e["PxAP"]);
    for (x, y) in curve.recall.iter().zip(floats(&e["recall"])) {
        assert!((x - y).abs() < 1e-12);
    }
}
