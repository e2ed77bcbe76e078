//! Mean average precision against scikit-learn's `average_precision_score` (per label and
//! macro) on the cases of tests/reference/make_map_fixture.py: random scores, heavy ties,
//! constant columns, a label every item has and one no item has.

mod common;

use lantern::metrics::average_precision::mean_average_precision;
use serde_json::Value;

#[test]
fn map_equals_scikit_learn_to_1e6_including_ties() {
    let text = std::fs::read_to_string(common::fixtures().join("map").join("cases.json")).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    let cases = record["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let labels = case["labels"].as_u64().unwrap() as usize;
        let scores: Vec<f32> = case["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let truth: Vec<bool> = case["truth"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
        let (map, per_label) = mean_average_precision(&scores, &truth, labels);
        let expected: Vec<f64> = case["per_label"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(per_label.len(), expected.len());
        for (c, (ours, theirs)) in per_label.iter().zip(&expected).enumerate() {
            assert!((ours - theirs).abs() <= 1e-6, "{name} label {c}: {ours} vs scikit-learn {theirs}");
        }
        let macro_ = case["macro"].as_f64().unwrap();
        assert!((map - macro_).abs() <= 1e-6, "{name}: mAP {map} vs scikit-learn {macro_}");
    }
    // The tie case's ties matter: breaking them by item order gives another mAP.
    let ties = &cases[1];
    let labels = ties["labels"].as_u64().unwrap() as usize;
    let broken: Vec<f32> = ties["scores"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_f64().unwrap() as f32 + (i / labels) as f32 * 1e-4)
        .collect();
    let truth: Vec<bool> = ties["truth"].as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
    let (_, by_order) = mean_average_precision(&broken, &truth, labels);
    let constant = ties["per_label"][2].as_f64().unwrap();
    assert!(
        (by_order[2] - constant).abs() > 0.01,
        "the constant column: {} by order, {constant} with ties",
        by_order[2]
    );
}
