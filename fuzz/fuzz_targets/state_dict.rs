//! A user's weights file: the bytes are written to a file and read with `StateDict::load`, which
//! tells `.pth` (zip), legacy pickle and `.safetensors` apart by their first bytes; the in-memory
//! safetensors reader gets the same bytes, and a dict that loads has its architecture detected.
//! Any panic (even one the loader's unwind guard would catch) or abort is a finding.

#![no_main]

use lantern::models::detect::detect;
use lantern::models::state_dict::StateDict;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::LazyLock;

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().expect("a temp folder"));
static FILE: LazyLock<PathBuf> = LazyLock::new(|| SCRATCH.path().join("weights.pth"));

fuzz_target!(|data: &[u8]| {
    std::fs::write(&*FILE, data).expect("the scratch file is writable");
    if let Ok(dict) = StateDict::load(&FILE) {
        let _ = detect(&dict);
    }
    let _ = StateDict::from_safetensors_bytes(data, "fuzz.safetensors");
});
