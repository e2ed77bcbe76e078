//! `lantern similar` and `lantern eval-similarity` end to end on a small generated gallery
//! (`lantern synth`): the report's JSON shape and self-contained HTML, the gallery's embedding
//! cache reused on a second run, and one-line errors with exit code 2 on bad input; the outfits
//! benchmark written by `lantern synth --outfits` and measured with the bundled outfits models.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lantern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the lantern binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A gallery of `count` procedural images (in class sub-folders), written by `lantern synth`.
fn gallery(dir: &Path, count: usize) -> PathBuf {
    let out = lantern(&["synth", "--out", s(dir), "--count", &count.to_string(), "--seed", "41", "--size", "64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("images")
}

fn first_image(dir: &Path) -> PathBuf {
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect() } else { vec![p] }
        })
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    images.remove(0)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Exit code 2 and a one-line reason on standard error that mentions `needle`.
fn assert_bad_input(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("lantern:")).collect();
    assert_eq!(reason.len(), 1, "one reason line expected: {stderr}");
    assert!(reason[0].contains(needle), "'{}' should mention '{needle}'", reason[0]);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn similar_writes_the_report_and_reuses_the_gallery_cache() {
    let data = tempfile::tempdir().unwrap();
    let images = gallery(data.path(), 12);
    let query = first_image(&images);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("report");
    let args = [
        "similar",
        s(&query),
        "--gallery",
        s(&images),
        "--out",
        s(&out),
        "--top",
        "3",
        "--method",
        "rise",
        "--masks",
        "60",
        "--device",
        "cpu",
    ];
    let run = lantern(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["query"], s(&query));
    assert_eq!(report["method"], "rise");
    assert_eq!(
        (report["cache"]["images"].as_u64(), report["cache"]["cached"].as_u64(), report["cache"]["computed"].as_u64()),
        (Some(12), Some(0), Some(12))
    );
    let matches = report["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 3);
    let mut last = f64::INFINITY;
    for m in matches {
        let image = m["image"].as_str().unwrap();
        assert_ne!(image, s(&query), "the query is not its own neighbour");
        assert!(Path::new(image).is_file());
        let sim = m["similarity"].as_f64().unwrap();
        assert!((-1.0..=1.0 + 1e-6).contains(&sim) && sim <= last + 1e-6, "ranked by similarity");
        last = sim;
        let attributes = m["attributes"].as_array().unwrap();
        assert_eq!(attributes.len(), 3);
        for a in attributes {
            assert!(["colour", "texture", "size"].contains(&a["name"].as_str().unwrap()), "{a}");
            assert!(!a["value"].as_str().unwrap().is_empty());
            assert!(a["score"].as_f64().unwrap() >= 0.0 && a["score"].as_f64().unwrap() <= 1.0);
        }
        let maps = m["maps"].as_object().unwrap();
        for kind in ["query", "reference", "attribute_query", "attribute_reference"] {
            let file = out.join(maps[kind].as_str().unwrap());
            let picture = image::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(picture.width() > 0);
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,").count(),
        1 + 3 * 5,
        "query, then reference and four overlays per match"
    );
    assert!(!html.contains("src=\"match-"), "no external files");

    // Second run: every embedding comes from the cache file, which is not rewritten.
    let cache = PathBuf::from(report["cache"]["file"].as_str().unwrap());
    let before = (std::fs::read(&cache).unwrap(), cache.metadata().unwrap().modified().unwrap());
    let again = lantern(&args);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let second = read_json(&out.join("report.json"));
    assert_eq!((second["cache"]["cached"].as_u64(), second["cache"]["computed"].as_u64()), (Some(12), Some(0)));
    assert_eq!((std::fs::read(&cache).unwrap(), cache.metadata().unwrap().modified().unwrap()), before);
    assert_eq!(second["matches"], report["matches"], "the same answer from cached embeddings");
    assert!(String::from_utf8_lossy(&again.stdout).contains("12 from the cache"));
}

#[test]
fn bad_input_gives_one_line_and_exit_code_2() {
    let data = tempfile::tempdir().unwrap();
    let images = gallery(data.path(), 3);
    let query = first_image(&images);
    let out = tempfile::tempdir().unwrap();
    let o = s(out.path());
    assert_bad_input(
        &lantern(&["similar", "no/such/query.png", "--gallery", s(&images), "--out", o, "--method", "gradcam"]),
        "query.png",
    );
    assert_bad_input(&lantern(&["similar", s(&query), "--gallery", s(&images), "--out", o, "--top", "0"]), "--top");
    let empty = tempfile::tempdir().unwrap();
    assert_bad_input(
        &lantern(&[
            "similar",
            s(&query),
            "--gallery",
            s(empty.path()),
            "--out",
            o,
            "--method",
            "gradcam",
            "--device",
            "cpu",
        ]),
        "no images",
    );
    assert_bad_input(&lantern(&["similar", s(&query), "--gallery", "no/such/gallery", "--out", o]), "not a folder");
    std::fs::write(images.join("broken.png"), b"not a png").unwrap();
    assert_bad_input(
        &lantern(&[
            "similar",
            s(&query),
            "--gallery",
            s(&images),
            "--out",
            o,
            "--method",
            "gradcam",
            "--device",
            "cpu",
        ]),
        "broken.png",
    );
    let corrupt = out.path().join("corrupt.jpg");
    std::fs::write(&corrupt, b"\xff\xd8 truncated").unwrap();
    assert_bad_input(&lantern(&["similar", s(&corrupt), "--gallery", s(empty.path()), "--out", o]), "corrupt.jpg");
    assert_bad_input(&lantern(&["eval-similarity", "--pairs", "0"]), "--pairs");
    assert_bad_input(&lantern(&["eval-similarity", "--outfits"]), "--outfits needs --model and --attributes");
    let bad_rule = lantern(&["eval-similarity", "--outfits", "hat:colour"]);
    assert_eq!(bad_rule.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_rule.stderr).contains("not a match rule like top:colour+texture"));
}

#[test]
fn eval_similarity_prints_both_tables() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("evidence.json");
    let out = lantern(&[
        "eval-similarity",
        "--pairs",
        "2",
        "--methods",
        "gradcam,window",
        "--device",
        "cpu",
        "--json",
        s(&json),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| confidence | - | 1 |")
            && stdout.contains("| Sliding window |")
            && stdout.contains("| random |"),
        "{stdout}"
    );
    let e = read_json(&json);
    assert_eq!(e["pairs"].as_array().unwrap().len(), 2);
    assert_eq!(e["top1"].as_array().unwrap().len(), 5);
    assert_eq!(e["faithfulness"].as_array().unwrap().len(), 3);
}

#[test]
fn outfits_are_written_with_item_masks_and_measured_with_the_bundled_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("outfits");
    let out = lantern(&["synth", "--outfits", "--out", s(&data), "--count", "3", "--size", "64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = read_json(&data.join("outfits.json"));
    let items = a["images"][0]["items"].as_array().unwrap();
    assert!(items.len() >= 2 && items[0]["slot"] == "top");
    assert!(data.join(items[0]["mask"].as_str().unwrap()).is_file());

    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let json = dir.path().join("outfits-evidence.json");
    let out = lantern(&[
        "eval-similarity",
        "--outfits",
        "top:colour+texture",
        "--model",
        s(&demo.join("lantern_outfits_embedding.safetensors")),
        "--attributes",
        s(&demo.join("lantern_outfits_attributes.safetensors")),
        "--pairs",
        "2",
        "--methods",
        "gradcam",
        "--device",
        "cpu",
        "--json",
        s(&json),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("top-3 explains") && stdout.contains("pointing game"), "{stdout}");
    let e = read_json(&json);
    assert_eq!(e["rule"]["slots"], serde_json::json!([0]));
    assert_eq!(e["pairs"].as_array().unwrap().len(), 2);
    assert_eq!(e["top3"].as_array().unwrap().len(), 3);
    assert_eq!(e["localisation"].as_array().unwrap().len(), 2);
}
