//! Several annotators' audits of one dataset combined into one file, and how much they agree.
//!
//! A rater is an annotator name; a rater's judgement of an image is their latest verdict about
//! it. For every pair of raters:
//! - per-image agreement: of the images both judged, how many got the same verdict;
//! - Cohen's kappa on the images both judged accept or reject (Cohen, "A coefficient of agreement
//!   for nominal scales", 1960): `kappa = (p_o - p_e) / (1 - p_e)` with `p_o` the observed
//!   agreement and `p_e = sum_k p_a(k) p_b(k)` the agreement expected from each rater's label
//!   frequencies; undefined when `p_e = 1` (both raters gave one and the same label to every
//!   image), where scikit-learn's `cohen_kappa_score` returns NaN;
//! - the mean IoU (+1 pixel convention, [`PixelBox::iou`]) of their corrected boxes on the images
//!   where both drew one.

use super::rows::PairAgreement;
use super::setup::ModelRef;
use super::store::{Audit, insert_agreement, insert_verdict};
use super::verdict::{Verdict, VerdictKind};
use super::{AuditError, Result};
use crate::map::PixelBox;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cohen's kappa of two raters' labels of the same items (see the module documentation);
/// `None` for no items or when chance agreement is certain.
pub fn cohen_kappa<T: Ord>(a: &[T], b: &[T]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "both raters label the same items");
    let n = a.len() as f64;
    if a.is_empty() {
        return None;
    }
    let observed = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n;
    let mut counts: BTreeMap<&T, (f64, f64)> = BTreeMap::new();
    for (x, y) in a.iter().zip(b) {
        counts.entry(x).or_default().0 += 1.0;
        counts.entry(y).or_default().1 += 1.0;
    }
    let expected: f64 = counts.values().map(|(ca, cb)| (ca / n) * (cb / n)).sum();
    (expected < 1.0).then(|| (observed - expected) / (1.0 - expected))
}

/// The mean IoU of paired boxes; `None` for no pairs.
pub fn mean_iou(pairs: &[(PixelBox, PixelBox)]) -> Option<f64> {
    (!pairs.is_empty()).then(|| pairs.iter().map(|(a, b)| a.iou(b)).sum::<f64>() / pairs.len() as f64)
}

/// The raters' verdicts about one image judged by two or more of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageAgreement {
    pub image_id: String,
    /// Each rater's latest verdict, by rater name.
    pub verdicts: BTreeMap<String, VerdictKind>,
}

impl ImageAgreement {
    pub fn unanimous(&self) -> bool {
        let mut kinds = self.verdicts.values();
        let first = kinds.next();
        kinds.all(|k| Some(k) == first)
    }
}

/// Each rater's latest verdict per image, from verdicts in commit order.
fn judgements(verdicts: &[Verdict]) -> BTreeMap<&str, BTreeMap<&str, &Verdict>> {
    let mut by_rater: BTreeMap<&str, BTreeMap<&str, &Verdict>> = BTreeMap::new();
    for v in verdicts {
        by_rater.entry(v.annotator.as_str()).or_default().insert(v.image_id.as_str(), v);
    }
    by_rater
}

/// Agreement of every pair of raters, from verdicts in commit order.
pub fn pair_agreement(verdicts: &[Verdict]) -> Vec<PairAgreement> {
    let by_rater = judgements(verdicts);
    let raters: Vec<&str> = by_rater.keys().copied().collect();
    let mut pairs = Vec::new();
    for (i, a) in raters.iter().enumerate() {
        for b in &raters[i + 1..] {
            let (ja, jb) = (&by_rater[a], &by_rater[b]);
            let common: Vec<(&Verdict, &Verdict)> =
                ja.iter().filter_map(|(image, va)| jb.get(image).map(|vb| (*va, *vb))).collect();
            let decided: Vec<(VerdictKind, VerdictKind)> = common
                .iter()
                .map(|(va, vb)| (va.kind, vb.kind))
                .filter(|(x, y)| *x != VerdictKind::Flag && *y != VerdictKind::Flag)
                .collect();
            let (la, lb): (Vec<VerdictKind>, Vec<VerdictKind>) = decided.iter().copied().unzip();
            let boxes: Vec<(PixelBox, PixelBox)> =
                common.iter().filter_map(|(va, vb)| Some((va.corrected_box?, vb.corrected_box?))).collect();
            pairs.push(PairAgreement {
                rater_a: a.to_string(),
                rater_b: b.to_string(),
                images: common.len(),
                agreed: common.iter().filter(|(va, vb)| va.kind == vb.kind).count(),
                kappa: cohen_kappa(&la, &lb),
                kappa_images: decided.len(),
                mean_iou: mean_iou(&boxes),
                iou_images: boxes.len(),
            });
        }
    }
    pairs
}

/// The images judged by two or more raters, with each rater's latest verdict, sorted by id.
pub fn image_agreement(verdicts: &[Verdict]) -> Vec<ImageAgreement> {
    let mut by_image: BTreeMap<&str, BTreeMap<String, VerdictKind>> = BTreeMap::new();
    for (rater, judged) in judgements(verdicts) {
        for (image, v) in judged {
            by_image.entry(image).or_default().insert(rater.to_string(), v.kind);
        }
    }
    by_image
        .into_iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(image_id, verdicts)| ImageAgreement { image_id: image_id.to_string(), verdicts })
        .collect()
}

/// What a merge produced.
#[derive(Debug)]
pub struct Merged {
    pub audit: Audit,
    pub verdicts: usize,
    pub raters: Vec<String>,
    pub pairs: Vec<PairAgreement>,
    pub images: Vec<ImageAgreement>,
}

/// Merge audits of the same dataset, model, method and threshold into a new file `out`: every
/// verdict of every input (with its time and annotator, ordered by time) and the agreement
/// statistics of every pair of raters. Inputs are opened like any audit (an input of an older
/// schema is migrated in place); nothing else is written to them.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<Merged> {
    if inputs.len() < 2 {
        return Err(AuditError::BadRequest(format!("merge needs two or more audits, got {}", inputs.len())));
    }
    let audits = inputs.iter().map(|p| Audit::open(p)).collect::<Result<Vec<_>>>()?;
    let first = audits[0].settings()?;
    let mut all: Vec<(usize, Verdict)> = Vec::new();
    for (i, audit) in audits.iter().enumerate() {
        let s = audit.settings()?;
        let differs = |what: &str| {
            AuditError::Incompatible(format!(
                "{} and {} audit different {what}; only audits of the same predictions can be merged",
                inputs[0].display(),
                inputs[i].display()
            ))
        };
        if s.dataset_digest != first.dataset_digest {
            return Err(differs("datasets (their image lists or ground truth differ)"));
        }
        if s.model.as_ref().map(|m: &ModelRef| &m.sha256) != first.model.as_ref().map(|m| &m.sha256) {
            return Err(differs("model files"));
        }
        if s.method != first.method || s.threshold != first.threshold {
            return Err(differs("methods or thresholds"));
        }
        all.extend(audit.verdicts()?.into_iter().map(|v| (i, v)));
    }
    all.sort_by(|(ia, a), (ib, b)| a.time.cmp(&b.time).then(ia.cmp(ib)).then(a.id.cmp(&b.id)));
    let verdicts: Vec<Verdict> = all.into_iter().map(|(_, v)| v).collect();
    let pairs = pair_agreement(&verdicts);
    let images = image_agreement(&verdicts);
    let raters: Vec<String> =
        verdicts.iter().map(|v| v.annotator.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let setup = audits[0].setup()?;
    drop(audits);
    let audit = Audit::create_with(out, &setup, |tx| {
        for v in &verdicts {
            insert_verdict(tx, v)?;
        }
        for p in &pairs {
            insert_agreement(tx, p)?;
        }
        Ok(())
    })?;
    Ok(Merged { audit, verdicts: verdicts.len(), raters, pairs, images })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verdict::VerdictId;
    use VerdictKind::{Accept as A, Flag as F, Reject as R};

    #[test]
    fn kappa_matches_a_hand_computed_table() {
        // 10 items: both accept 4, both reject 3, a accepts / b rejects 2, a rejects / b accepts 1.
        let a = [A, A, A, A, R, R, R, A, A, R];
        let b = [A, A, A, A, R, R, R, R, R, A];
        // p_o = 0.7; a: 6 A, 4 R; b: 5 A, 5 R; p_e = 0.6*0.5 + 0.4*0.5 = 0.5; kappa = 0.4.
        assert!((cohen_kappa(&a, &b).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(cohen_kappa(&a, &a), Some(1.0));
    }

    #[test]
    fn kappa_is_undefined_without_items_or_variation_and_negative_for_systematic_disagreement() {
        assert_eq!(cohen_kappa::<VerdictKind>(&[], &[]), None);
        assert_eq!(cohen_kappa(&[A, A, A], &[A, A, A]), None);
        assert_eq!(cohen_kappa(&[A, A], &[R, R]), Some(0.0), "p_o = 0 and p_e = 0");
        assert!((cohen_kappa(&[A, R, A, R], &[R, A, R, A]).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn mean_iou_uses_the_plus_one_convention() {
        let a = PixelBox { x0: 0, y0: 0, x1: 9, y1: 9 };
        let b = PixelBox { x0: 5, y0: 0, x1: 14, y1: 9 };
        assert!((mean_iou(&[(a, b), (a, a)]).unwrap() - (50.0 / 150.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(mean_iou(&[]), None);
    }

    fn v(id: i64, who: &str, image: &str, kind: VerdictKind, corrected: Option<PixelBox>) -> Verdict {
        Verdict {
            id: VerdictId(id),
            time: format!("2026-01-01T00:00:{id:02}.000Z"),
            annotator: who.into(),
            image_id: image.into(),
            kind,
            iou: None,
            predicted_class: None,
            predicted_boxes: Vec::new(),
            corrected_box: corrected,
            comment: String::new(),
        }
    }

    #[test]
    fn pairs_use_each_raters_latest_verdict_and_leave_flags_out_of_kappa() {
        let bx = |x1| Some(PixelBox { x0: 0, y0: 0, x1, y1: 9 });
        let verdicts = vec![
            v(1, "ana", "a", R, None),
            v(2, "ana", "a", A, bx(9)), // ana changed her mind: accept counts
            v(3, "ben", "a", A, bx(4)),
            v(4, "ana", "b", R, None),
            v(5, "ben", "b", A, None),
            v(6, "ana", "c", F, None),
            v(7, "ben", "c", F, None),
            v(8, "ben", "d", A, None), // only ben judged d
        ];
        let pairs = pair_agreement(&verdicts);
        assert_eq!(pairs.len(), 1);
        let p = &pairs[0];
        assert_eq!((p.rater_a.as_str(), p.rater_b.as_str(), p.images, p.agreed), ("ana", "ben", 3, 2));
        assert_eq!(p.kappa_images, 2, "the flagged image is left out of kappa");
        assert_eq!(p.kappa, cohen_kappa(&[A, R], &[A, A]));
        assert_eq!((p.iou_images, p.mean_iou), (1, Some(0.5)));
        assert_eq!(p.agreement(), Some(2.0 / 3.0));
        let images = image_agreement(&verdicts);
        assert_eq!(
            images.iter().map(|i| (i.image_id.as_str(), i.unanimous())).collect::<Vec<_>>(),
            [("a", true), ("b", false), ("c", true)]
        );
    }
}
