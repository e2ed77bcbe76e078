//! A user's dataset folder: the input's first byte picks CUB, VOC or COCO, the rest is split at
//! NUL bytes into that format's annotation files, which are written into a scratch dataset
//! folder and read with `datasets::open` (then `Format::detect`, and up to 8 samples' masks are
//! loaded, which rasterizes COCO polygons and RLE). Any panic or abort is a finding.
//!
//! Files per format (a missing part leaves the file out):
//! - CUB: classes.txt, image_class_labels.txt, bounding_boxes.txt, train_test_split.txt,
//!   images.txt (`images/a.png` is a real 16x12 PNG);
//! - VOC: Annotations/a.xml, ImageSets/Main/val.txt (JPEGImages/ exists, empty);
//! - COCO: annotations.json.

#![no_main]

use lantern::datasets::{self, Format};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::LazyLock;

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().expect("a temp folder"));
const PNG: &[u8] = include_bytes!("../../tests/fixtures/datasets/cub/images/001.Albatross/a1.png");

fn write(dir: &Path, name: &str, part: Option<&&[u8]>) {
    if let Some(bytes) = part {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("scratch is writable");
        std::fs::write(path, bytes).expect("scratch is writable");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let parts: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    let dir = SCRATCH.path().join("dataset");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch is writable");
    let format = match selector % 3 {
        0 => {
            let names =
                ["classes.txt", "image_class_labels.txt", "bounding_boxes.txt", "train_test_split.txt", "images.txt"];
            for (i, name) in names.iter().enumerate() {
                write(&dir, name, parts.get(i));
            }
            write(&dir, "images/a.png", Some(&PNG));
            Format::Cub
        }
        1 => {
            std::fs::create_dir_all(dir.join("JPEGImages")).expect("scratch is writable");
            write(&dir, "Annotations/a.xml", parts.first());
            write(&dir, "ImageSets/Main/val.txt", parts.get(1));
            Format::Voc
        }
        _ => {
            write(&dir, "annotations.json", parts.first());
            Format::Coco
        }
    };
    let _ = Format::detect(&dir);
    if let Ok(dataset) = datasets::open(&dir, format) {
        for sample in dataset.samples.iter().take(8) {
            if let Some(mask) = &sample.mask {
                let _ = mask.load();
            }
        }
    }
});
