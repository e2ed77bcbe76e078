//! The seeded ResNet-50 as a state dict and as its ONNX export, the export's external weights
//! written from the same seeded values (tests/fixtures/onnx/resnet50_seeded.onnx holds only the
//! graph; tests/reference/make_onnx_resnet50.py checked that these bytes are the exporter's).

use lantern::models::StateDict;
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture's record (seed, state-dict layout, initializer offsets, onnxruntime's logits).
pub fn record() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("onnx/resnet50_seeded.json")).unwrap()).unwrap()
}

/// The seeded state dict, and the ONNX file with its external data written into `dir`.
pub fn seeded_resnet50(dir: &Path) -> (StateDict, PathBuf) {
    let record = record();
    let layout: Vec<(String, Vec<usize>)> = record["state_dict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                e[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect(),
            )
        })
        .collect();
    let dict = StateDict::seeded(&layout, record["seed"].as_u64().unwrap());
    let onnx = dir.join("resnet50_seeded.onnx");
    std::fs::copy(fixtures().join("onnx/resnet50_seeded.onnx"), &onnx).unwrap();
    let mut data = std::fs::File::create(dir.join("resnet50_seeded.onnx.data")).unwrap();
    for init in record["initializers"].as_array().unwrap() {
        let key = init["state_dict_key"].as_str().unwrap();
        let bytes: Vec<u8> = dict.tensors[key].values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(bytes.len() as u64, init["length"].as_u64().unwrap(), "{key}");
        data.seek(SeekFrom::Start(init["offset"].as_u64().unwrap())).unwrap();
        data.write_all(&bytes).unwrap();
    }
    (dict, onnx)
}
