//! What the fuzz targets in `fuzz/` found, kept as tests (README.md, "Fuzzing"): every input that
//! crashed a target lives in `tests/fixtures/fuzz/<target>/`, and each target also has a handful
//! of hand-made hostile inputs here. Each test calls the library entry points its target calls and
//! asserts a clean `Ok` or `LanternError`; a panic or an abort fails it.

mod common;

use lantern::LanternError;
use lantern::datasets::{self, Format};
use lantern::evaluation::Protocol;
use lantern::imaging::{Preprocess, decode_image_bytes};
use lantern::models::detect::detect;
use lantern::models::state_dict::StateDict;
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn fuzz_fixtures(target: &str) -> PathBuf {
    common::fixtures().join("fuzz").join(target)
}

// ---------------------------------------------------------------------------------------------
// image_decode: decode under the size limits, then the ImageNet and wsolevaluation model inputs.
// ---------------------------------------------------------------------------------------------

/// What `fuzz/fuzz_targets/image_decode.rs` does with its input.
fn image_pipeline(bytes: &[u8], name: &str) -> lantern::Result<()> {
    let device = burn::tensor::Device::flex();
    let image = decode_image_bytes(bytes, Path::new(name))?;
    let pre = Preprocess::imagenet();
    assert_eq!(pre.tensor(&image, &device).dims(), [1, 3, 224, 224], "{name}");
    let g = Protocol::Wsol.geometry(&pre, image.width(), image.height());
    assert_eq!(pre.view_tensor(&g.view(&image), &device).dims(), [1, 3, 224, 224], "{name}");
    Ok(())
}

/// A PNG chunk: length, type, data, CRC-32 of type and data.
fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = !0u32;
    for &b in &out[start..] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
}

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 251) as u8, (y % 251) as u8, 7]))
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

#[test]
fn image_decode_hostile_inputs_fail_cleanly() {
    // A PNG header claiming 100000 x 100000 pixels (10 gigapixels), with an empty zlib stream
    // as its only data.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01");
    png_chunk(&mut png, b"IEND", &[]);
    let r = image_pipeline(&png, "bomb.png");
    assert!(matches!(r, Err(LanternError::ImageTooLarge { width: 100_000, height: 100_000, .. })), "{r:?}");

    // A GIF whose logical screen and frame claim 65535 x 65535.
    let mut gif = b"GIF89a\xff\xff\xff\xff\x00\x00\x00".to_vec();
    gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02\x44\x01\x00\x3b");
    let r = image_pipeline(&gif, "bomb.gif");
    assert!(matches!(r, Err(LanternError::ImageTooLarge { .. } | LanternError::Image { .. })), "{r:?}");

    // Truncated files and junk.
    let valid = png_of(32, 32);
    for cut in [8, 20, 40, valid.len() - 13] {
        let r = image_pipeline(&valid[..cut], "truncated.png");
        assert!(matches!(r, Err(LanternError::Image { .. })), "cut at {cut}: {r:?}");
    }
    assert!(matches!(image_pipeline(b"", "empty.png"), Err(LanternError::Image { .. })));
    assert!(matches!(image_pipeline(b"GIF89a", "short.gif"), Err(LanternError::Image { .. })));
}

#[test]
fn images_of_extreme_aspect_ratio_become_model_inputs() {
    // 22000 x 1 pixels is within the pixel limit, but its shorter side resized to 256 makes a
    // 5632000 x 256 image (4.3 GB of RGB, more than u32 arithmetic can count): only the
    // 224 x 224 crop may be computed.
    for (w, h) in [(22_000, 1), (1, 22_000), (3, 9_000)] {
        image_pipeline(&png_of(w, h), "sliver.png").unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// state_dict: `.pth` (zip and legacy pickle) and `.safetensors` files.
// ---------------------------------------------------------------------------------------------

/// What `fuzz/fuzz_targets/state_dict.rs` does with its input (a file already on disk).
fn state_dict_pipeline(path: &Path) -> lantern::Result<StateDict> {
    let bytes = std::fs::read(path).unwrap();
    let from_bytes = StateDict::from_safetensors_bytes(&bytes, "fuzz.safetensors");
    assert!(matches!(from_bytes, Ok(_) | Err(LanternError::ModelFile { .. })), "{from_bytes:?}");
    let dict = StateDict::load(path)?;
    let _ = detect(&dict);
    Ok(dict)
}

/// A safetensors file: header length, JSON header, data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn model_file_error(r: &lantern::Result<StateDict>) -> String {
    match r {
        Err(e @ LanternError::ModelFile { .. }) => e.to_string(),
        Err(e) => panic!("expected a ModelFile error, got {e:?}"),
        Ok(dict) => panic!("expected a ModelFile error, got a dict of {} tensors", dict.tensors.len()),
    }
}

#[test]
fn state_dict_hostile_inputs_fail_cleanly() {
    let hostile = fuzz_fixtures("state_dict").join("hostile");
    let e = model_file_error(&state_dict_pipeline(&hostile.join("truncated_zip.pth")));
    assert!(e.contains("truncated_zip.pth"), "{e}");
    // A shape of 2^62 elements over a one-float storage.
    model_file_error(&state_dict_pipeline(&hostile.join("absurd_shape.pth")));
    // Stride-0 views that turn a few hundred bytes into a million floats: the same trick at 2^31
    // elements would take gigabytes, so any view claiming more than the file can hold is refused.
    for name in ["expanded_legacy.pth", "expanded_zip.pth"] {
        let e = model_file_error(&state_dict_pipeline(&hostile.join(name)));
        assert!(e.contains("more than the file holds"), "{name}: {e}");
    }

    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        // A header length of 2^60 bytes.
        ("huge_header.safetensors", {
            let mut b = (1u64 << 60).to_le_bytes().to_vec();
            b.extend_from_slice(b"{\"w\":{}}");
            b
        }),
        // A million floats declared over 4 bytes of data.
        (
            "short_data.safetensors",
            safetensors(r#"{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}"#, &[0; 4]),
        ),
        // Shape and offsets that disagree, and an overflowing shape.
        ("mismatch.safetensors", safetensors(r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}"#, &[0; 4])),
        (
            "overflow.safetensors",
            safetensors(r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}"#, &[0; 4]),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        model_file_error(&state_dict_pipeline(&path));
        assert!(StateDict::from_safetensors_bytes(&bytes, name).is_err(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// annotations: CUB, VOC and COCO folders, with COCO masks rasterized.
// ---------------------------------------------------------------------------------------------

/// What `fuzz/fuzz_targets/annotations.rs` does with a dataset folder: open it, detect its format
/// and load up to 8 samples' masks. Returns the loaded masks.
fn dataset_pipeline(dir: &Path, format: Format) -> lantern::Result<Vec<image::GrayImage>> {
    let _ = Format::detect(dir);
    let dataset = datasets::open(dir, format)?;
    dataset.samples.iter().take(8).filter_map(|s| s.mask.as_ref()).map(|m| m.load()).collect()
}

/// pycocotools' compressed RLE string of `counts` (`rleToString`: counts after the second as
/// differences, 5 bits per character from '0', bit 0x20 for "more follows").
fn encode_rle(counts: &[i64]) -> String {
    let mut out = String::new();
    for (i, &c) in counts.iter().enumerate() {
        let mut x = if i > 2 { c - counts[i - 2] } else { c };
        loop {
            let mut ch = x & 0x1f;
            x >>= 5;
            let more = if ch & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                ch |= 0x20;
            }
            out.push((ch as u8 + 48) as char);
            if !more {
                break;
            }
        }
    }
    out
}

fn coco_with(width: u64, height: u64, segmentation: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let json = format!(
        r#"{{"images": [{{"id": 1, "file_name": "a.png", "width": {width}, "height": {height}}}],
            "annotations": [{{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "segmentation": {segmentation}}}],
            "categories": [{{"id": 1, "name": "thing"}}]}}"#
    );
    std::fs::write(dir.path().join("annotations.json"), json).unwrap();
    dir
}

fn invalid(r: lantern::Result<Vec<image::GrayImage>>) -> String {
    match r {
        Err(e @ LanternError::BadArgument(_)) => e.to_string(),
        Err(e) => panic!("expected a BadArgument error, got {e:?}"),
        Ok(masks) => panic!("expected a BadArgument error, got {} masks", masks.len()),
    }
}

#[test]
fn coco_rle_encoder_of_this_test_matches_pycocotools() {
    // The fixture string of src/datasets/coco.rs (pycocotools.mask.encode of a 4x3 mask).
    assert_eq!(encode_rle(&[5, 2, 2, 2, 1]), "5220O");
}

#[test]
fn annotations_hostile_inputs_fail_cleanly() {
    // COCO RLE whose counts overflow: a run of 2^32 + 12 pixels (12 once cut to 32 bits, which
    // is exactly the 4x3 image), 13 characters of one count (65 bits), and a difference that
    // overflows 64 bits.
    let rle = |s: String| format!(r#"{{"counts": "{}"}}"#, s.replace('\\', "\\\\"));
    let e = invalid(dataset_pipeline(coco_with(4, 3, &rle(encode_rle(&[(1 << 32) + 12]))).path(), Format::Coco));
    assert!(e.contains("run length"), "{e}");
    let e = invalid(dataset_pipeline(coco_with(4, 3, &rle(format!("{}@", "o".repeat(12)))).path(), Format::Coco));
    assert!(e.contains("RLE"), "{e}");
    let huge = i64::MAX - 1;
    let e = invalid(dataset_pipeline(
        coco_with(4, 3, &rle(encode_rle(&[0, huge, 0]) + &encode_rle(&[huge]))).path(),
        Format::Coco,
    ));
    assert!(e.contains("RLE"), "{e}");
    // Uncompressed counts beyond u32, and counts that do not cover the image.
    invalid(dataset_pipeline(coco_with(4, 3, r#"{"counts": [4294967308]}"#).path(), Format::Coco));
    invalid(dataset_pipeline(
        coco_with(4, 3, r#"{"counts": [4294967295, 4294967295, 4294967295]}"#).path(),
        Format::Coco,
    ));

    // A 100000 x 100000 image (10 gigapixels) with a polygon: refused before a mask is allocated.
    let e = invalid(dataset_pipeline(coco_with(100_000, 100_000, "[[0, 0, 10, 0, 10, 10]]").path(), Format::Coco));
    assert!(e.contains("megapixel"), "{e}");
    // An RLE covering 65536 x 65536 pixels in a few counts: the same limit.
    let e =
        invalid(dataset_pipeline(coco_with(65_536, 65_536, r#"{"counts": [0, 4294967295, 1]}"#).path(), Format::Coco));
    assert!(e.contains("megapixel"), "{e}");

    // Polygons far outside a 16 x 12 image: a triangle with corners at +-1e12 covers it all.
    let masks =
        dataset_pipeline(coco_with(16, 12, "[[-1e12, -1e12, 1e12, -1e12, 0, 1e12]]").path(), Format::Coco).unwrap();
    assert!(masks[0].pixels().all(|p| p.0[0] == 255), "{:?}", masks[0]);
    let masks = dataset_pipeline(
        coco_with(16, 12, "[[-1e300, 5, 1e300, 5, 1e300, 1e300, -1e300, 1e300]]").path(),
        Format::Coco,
    )
    .unwrap();
    let on: Vec<u32> = masks[0].enumerate_pixels().filter(|p| p.2.0[0] == 255).map(|p| p.1).collect();
    assert!(!on.is_empty() && on.iter().all(|&y| y >= 5), "only rows 5 and below are inside");

    // VOC: an entity expansion bomb, and absurd numbers.
    let voc = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(voc.path().join("Annotations")).unwrap();
    let xml = voc.path().join("Annotations/a.xml");
    std::fs::write(&xml, r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]><annotation><filename>&h;</filename></annotation>"#).unwrap();
    invalid(dataset_pipeline(voc.path(), Format::Voc));
    std::fs::write(&xml, "<annotation><filename>a.png</filename><size><width>1e400</width><height>-5</height></size><object><name>x</name><bndbox><xmin>NaN</xmin><ymin>-inf</ymin><xmax>1e308</xmax><ymax>4294967296</ymax></bndbox></object></annotation>").unwrap();
    dataset_pipeline(voc.path(), Format::Voc).unwrap();
    std::fs::write(&xml, format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000))).unwrap();
    invalid(dataset_pipeline(voc.path(), Format::Voc));

    // CUB: numbers that are not numbers, ids that overflow, a class index of u64::MAX.
    let cub = tempfile::tempdir().unwrap();
    let files = [
        ("classes.txt", "1 bird\n"),
        ("image_class_labels.txt", "1 1\n"),
        ("bounding_boxes.txt", "1 NaN -inf inf 1e308\n"),
        ("train_test_split.txt", "1 0\n"),
        ("images.txt", "1 a.png\n"),
    ];
    for (name, text) in files {
        std::fs::write(cub.path().join(name), text).unwrap();
    }
    std::fs::create_dir_all(cub.path().join("images")).unwrap();
    std::fs::write(cub.path().join("images/a.png"), png_of(16, 12)).unwrap();
    dataset_pipeline(cub.path(), Format::Cub).unwrap();
    std::fs::write(cub.path().join("image_class_labels.txt"), "1 18446744073709551615\n").unwrap();
    invalid(dataset_pipeline(cub.path(), Format::Cub));
    std::fs::write(cub.path().join("image_class_labels.txt"), "99999999999999999999999 1\n").unwrap();
    invalid(dataset_pipeline(cub.path(), Format::Cub));
}

// ---------------------------------------------------------------------------------------------
// onnx_model: parse and check, then plan and dry-run the graph, unguarded.
// ---------------------------------------------------------------------------------------------

/// What `fuzz/fuzz_targets/onnx_model.rs` does with its input.
fn onnx_pipeline(bytes: &[u8]) -> Result<(), String> {
    use lantern::models::onnx::{OnnxNet, proto};
    let model = proto::parse(bytes, None).map_err(|e| e.to_string())?;
    OnnxNet::from_model(model, &burn::tensor::Device::flex()).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn onnx_model_hostile_inputs_fail_cleanly() {
    // Found by the fuzzer: a Reshape whose target sizes multiply past usize (was an overflow panic).
    let mut found = 0;
    for entry in std::fs::read_dir(fuzz_fixtures("onnx_model")).unwrap() {
        let path = entry.unwrap().path();
        let err = onnx_pipeline(&std::fs::read(&path).unwrap()).expect_err("a crash input is not a model that runs");
        assert!(!err.is_empty(), "{}", path.display());
        found += 1;
    }
    assert!(found >= 1);
    // Hand-made: nothing, a lone byte, a valid model cut short.
    let resnet = std::fs::read(common::fixtures().join("onnx/resnet.onnx")).unwrap();
    for bytes in [&[][..], &[0x08][..], &resnet[..resnet.len() / 2]] {
        assert!(onnx_pipeline(bytes).is_err());
    }
    assert_eq!(onnx_pipeline(&resnet), Ok(()));
}
