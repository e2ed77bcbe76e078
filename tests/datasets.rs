//! The dataset readers on small hand-written files in the official formats, and their errors on
//! malformed copies.

mod common;

use lantern::datasets::{self, Format, MaskSource};
use lantern::map::PixelBox;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A writable copy of a fixture dataset.
fn scratch(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixtures().join("datasets").join(name), dir.path());
    dir
}

#[test]
fn cub_reads_the_test_split_with_boxes() {
    let d = datasets::open(&common::fixtures().join("datasets/cub"), Format::Cub).unwrap();
    assert_eq!(d.classes, vec!["001.Albatross", "002.Sparrow"]);
    assert_eq!(d.samples.len(), 2, "image 2 is in the training split");
    assert_eq!(d.samples[0].class, Some(0));
    assert_eq!(d.samples[0].boxes, vec![PixelBox { x0: 2, y0: 3, x1: 7, y1: 7 }]);
    // A box running past the image is clamped to it.
    assert_eq!(d.samples[1].boxes, vec![PixelBox { x0: 1, y0: 1, x1: 15, y1: 4 }]);
}

#[test]
fn cub_errors_name_the_file_and_line() {
    let dir = scratch("cub");
    std::fs::write(dir.path().join("bounding_boxes.txt"), "1 2.0 3.0 5.0 4.0\n2 0 0 x 12\n").unwrap();
    let e = datasets::open(dir.path(), Format::Cub).unwrap_err().to_string();
    assert!(e.contains("bounding_boxes.txt:2") && e.contains("'x' is not a number"), "{e}");
    std::fs::write(dir.path().join("image_class_labels.txt"), "1 1\n2 9\n3 2\n").unwrap();
    let e = datasets::open(dir.path(), Format::Cub).unwrap_err().to_string();
    assert!(e.contains("image_class_labels.txt:2") && e.contains("class 9"), "{e}");
    std::fs::remove_file(dir.path().join("classes.txt")).unwrap();
    assert!(datasets::open(dir.path(), Format::Cub).unwrap_err().to_string().contains("classes.txt"));
}

#[test]
fn voc_takes_the_largest_objects_class_and_all_its_boxes() {
    let d = datasets::open(&common::fixtures().join("datasets/voc"), Format::Voc).unwrap();
    assert_eq!(d.classes, vec!["cat", "dog"]);
    let s = &d.samples[0];
    assert_eq!(s.class, Some(0));
    assert_eq!(s.boxes, vec![PixelBox { x0: 4, y0: 2, x1: 13, y1: 10 }, PixelBox { x0: 0, y0: 7, x1: 2, y1: 11 }]);
    assert!(s.image.ends_with("JPEGImages/img1.png"));
}

#[test]
fn voc_errors_name_the_file_and_line() {
    let dir = scratch("voc");
    let xml = dir.path().join("Annotations/img1.xml");
    let text = std::fs::read_to_string(&xml).unwrap();
    std::fs::write(&xml, text.replace("<xmax>14</xmax>", "<xmax>fourteen</xmax>")).unwrap();
    let e = datasets::open(dir.path(), Format::Voc).unwrap_err().to_string();
    assert!(e.contains("img1.xml") && e.contains("<xmax> is 'fourteen'") && e.contains("line 30"), "{e}");
    std::fs::write(&xml, "<annotation><filename>x</filename>").unwrap();
    assert!(datasets::open(dir.path(), Format::Voc).unwrap_err().to_string().contains("not valid XML"));
}

#[test]
fn coco_reads_boxes_polygons_and_rle() {
    let d = datasets::open(&common::fixtures().join("datasets/coco"), Format::Coco).unwrap();
    assert_eq!(d.classes, vec!["albatross", "sparrow"], "categories sorted by id");
    assert_eq!(d.samples.len(), 2, "the unannotated image is skipped");
    let first = &d.samples[0];
    assert_eq!(first.class, Some(0));
    assert_eq!(first.boxes, vec![PixelBox { x0: 2, y0: 1, x1: 8, y1: 6 }]);
    let mask = first.mask.as_ref().unwrap().load().unwrap();
    assert_eq!(mask.get_pixel(5, 3).0[0], 255);
    assert_eq!(mask.get_pixel(11, 9).0[0], 0, "the other category's polygon is not part of the mask");
    let rle = d.samples[1].mask.as_ref().unwrap().load().unwrap();
    let on: Vec<(u32, u32)> = rle.enumerate_pixels().filter(|p| p.2.0[0] == 255).map(|p| (p.0, p.1)).collect();
    assert_eq!(on, vec![(1, 1), (2, 1), (1, 2), (2, 2)]);
    assert!(matches!(d.samples[1].mask, Some(MaskSource::Coco { .. })));
}

#[test]
fn coco_errors_name_the_line_or_field() {
    let dir = scratch("coco");
    let json = dir.path().join("annotations.json");
    let text = std::fs::read_to_string(&json).unwrap();
    std::fs::write(&json, text.replace("\"counts\": [13, 2, 10, 2, 165]", "\"counts\": [13, 2]")).unwrap();
    let e = datasets::open(dir.path(), Format::Coco).unwrap_err().to_string();
    assert!(e.contains("annotations[2].segmentation") && e.contains("covers 15 pixels"), "{e}");
    std::fs::write(&json, text.replace("\"bbox\": [2, 1, 6, 5]", "\"bbox\": [2, 1]")).unwrap();
    let e = datasets::open(dir.path(), Format::Coco).unwrap_err().to_string();
    assert!(e.contains("line 9"), "{e}");
}

#[test]
fn image_folder_and_synth_formats() {
    let dir = tempfile::tempdir().unwrap();
    lantern::datasets::synth_folder::write(dir.path(), 6, 3, 64, |_| {}).unwrap();
    let synth = datasets::open(dir.path(), Format::Synth).unwrap();
    assert_eq!(synth.samples.len(), 6);
    assert!(synth.samples.iter().all(|s| s.boxes.len() == 1 && s.mask.is_some()));
    let folder = datasets::open(&dir.path().join("images"), Format::Folder).unwrap();
    assert_eq!(folder.classes, vec!["circle", "cross", "ring", "square", "star", "triangle"]);
    assert_eq!(folder.samples.len(), 6);
    assert!(datasets::open(&dir.path().join("masks"), Format::Folder).is_err(), "no class folders");
}
