//! The audit store through its library API, as the app's audit mode uses it, and the agreement
//! statistics against scikit-learn (tests/fixtures/audit/kappa.json, made by
//! tests/reference/make_audit_fixtures.py).

use lantern::audit::merge::{self, cohen_kappa};
use lantern::audit::{Audit, Filter, NewAudit, NewVerdict, Prediction, Setup, VerdictKind};
use lantern::datasets::{Format, synth_folder};
use lantern::map::PixelBox;
use std::path::Path;

/// Two raters' labels and scikit-learn's kappa (`None` where it is NaN).
struct KappaCase {
    name: String,
    a: Vec<VerdictKind>,
    b: Vec<VerdictKind>,
    kappa: Option<f64>,
}

fn kappa_cases() -> Vec<KappaCase> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit/kappa.json");
    let fixture: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let labels = |v: &serde_json::Value| {
        v.as_array().unwrap().iter().map(|l| l.as_str().unwrap().parse().unwrap()).collect::<Vec<VerdictKind>>()
    };
    fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| KappaCase {
            name: c["name"].as_str().unwrap().to_string(),
            a: labels(&c["a"]),
            b: labels(&c["b"]),
            kappa: c["kappa"].as_f64(),
        })
        .collect()
}

#[test]
fn kappa_matches_scikit_learn() {
    let cases = kappa_cases();
    assert!(cases.len() >= 10);
    assert!(cases.iter().any(|c| c.kappa.is_none()), "the fixture covers the undefined case");
    for KappaCase { name, a, b, kappa: expected } in cases {
        match (cohen_kappa(&a, &b), expected) {
            (Some(k), Some(e)) => assert!((k - e).abs() < 1e-12, "{name}: {k} vs scikit-learn {e}"),
            (k, e) => assert_eq!(k, e, "{name}"),
        }
    }
}

fn synth_audit(dir: &Path, count: usize, annotator: &str) -> (Setup, Audit) {
    let data = dir.join("data");
    if !data.exists() {
        synth_folder::write(&data, count, 11, 48, |_| ()).unwrap();
    }
    let setup = Setup::from_dataset(&NewAudit {
        data,
        format: Format::Synth,
        model: None,
        method: None,
        threshold: 0.5,
        annotator: Some(annotator.into()),
    })
    .unwrap();
    let audit = Audit::create(&dir.join(format!("{annotator}.db")), &setup).unwrap();
    (setup, audit)
}

/// Every fixture case as two annotators' audits merged through the library: the stored kappa is
/// scikit-learn's, and flags are left out of it.
#[test]
fn merged_audits_store_scikit_learns_kappa() {
    let cases = kappa_cases();
    let largest = cases.iter().map(|c| c.a.len()).max().unwrap();
    let dir = tempfile::tempdir().unwrap();
    synth_folder::write(&dir.path().join("data"), largest + 1, 11, 32, |_| ()).unwrap();
    for (n, KappaCase { name, a, b, kappa: expected }) in cases.iter().enumerate() {
        let case = dir.path().join(format!("case{n}"));
        std::fs::create_dir(&case).unwrap();
        std::os::unix::fs::symlink(dir.path().join("data"), case.join("data")).unwrap();
        let mut files = Vec::new();
        for (who, labels) in [("ana", a), ("ben", b)] {
            let (setup, mut audit) = synth_audit(&case, 0, who);
            for (image, kind) in setup.images.iter().zip(labels) {
                audit.record(&NewVerdict::new(&image.id, *kind)).unwrap();
            }
            audit.record(&NewVerdict::new(&setup.images[labels.len()].id, VerdictKind::Flag)).unwrap();
            files.push(audit.path().to_path_buf());
        }
        let merged = merge::merge(&files, &case.join("merged.db")).unwrap();
        let stored = merged.audit.agreement().unwrap();
        assert_eq!(stored, merged.pairs);
        assert_eq!((stored[0].images, stored[0].kappa_images), (a.len() + 1, a.len()), "{name}");
        match (stored[0].kappa, expected) {
            (Some(k), Some(e)) => assert!((k - e).abs() < 1e-12, "{name}: {k} vs scikit-learn {e}"),
            (k, e) => assert_eq!(k, *e, "{name}"),
        }
        assert_eq!(merged.audit.verdicts().unwrap().len(), 2 * (a.len() + 1));
    }
}

/// What the app's audit mode does: name the annotator once, cache predictions, judge, stop,
/// reopen and resume at the next image without a verdict, filter.
#[test]
fn an_annotator_resumes_where_they_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (setup, mut audit) = synth_audit(dir.path(), 8, "ana");
    let path = audit.path().to_path_buf();
    assert!(audit.missing_files().unwrap().is_empty());
    let settings = audit.settings().unwrap();
    assert!(settings.image_path(&setup.images[3]).is_file());
    assert_eq!(audit.resume().unwrap().unwrap().id, setup.images[0].id);
    for image in &setup.images[..3] {
        let gt = image.boxes[0];
        let predicted = PixelBox { x0: gt.x0, y0: gt.y0, x1: gt.x1.min(gt.x0 + 3), y1: gt.y1 };
        let iou = predicted.iou(&gt);
        audit
            .record_prediction(&image.id, &Prediction { class: image.class, boxes: vec![predicted], iou: Some(iou) })
            .unwrap();
        let mut v = NewVerdict::new(&image.id, if iou > 0.5 { VerdictKind::Accept } else { VerdictKind::Reject });
        v.iou = Some(iou);
        v.predicted_boxes = vec![predicted];
        v.corrected_box = (iou <= 0.5).then_some(gt);
        audit.record(&v).unwrap();
    }
    drop(audit);
    let audit = Audit::open(&path).unwrap();
    assert_eq!(audit.resume().unwrap().unwrap().id, setup.images[3].id);
    let p = audit.progress().unwrap();
    assert_eq!((p.audited, p.total), (3, 8));
    assert_eq!(audit.list(&Filter { unaudited: true, ..Filter::default() }).unwrap().len(), 5);
    let low: Vec<_> = audit.list(&Filter { iou_below: Some(0.5), ..Filter::default() }).unwrap();
    assert!(low.iter().all(|s| s.latest.as_ref().unwrap().kind == VerdictKind::Reject && s.iou().unwrap() < 0.5));
    assert_eq!(audit.list(&Filter { wrong_class: true, ..Filter::default() }).unwrap().len(), 0);
}
