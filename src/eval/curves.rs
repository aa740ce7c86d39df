//! Curves of rate-distortion rows: the Pareto front of each codec family, bytes at a PSNR, the
//! matched-quality table and BD-rate. Pure arithmetic on measured rows ([`super::rd`] measures them).

use serde::Serialize;

use super::rd::RdRow;

/// Whether a family is one of aez's curves: `aez` (the version-1 models, a row per model) or
/// `aez <bundle>` (a version-2 model, a row per quality level).
pub fn is_aez(family: &str) -> bool {
    family == "aez" || family.starts_with("aez ")
}

/// Bytes a curve needs at `target` dB.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    /// Dataset.
    pub dataset: String,
    /// Codec family.
    pub codec: String,
    /// Target PSNR (dB).
    pub target_db: f64,
    /// Interpolated mean bytes per image, if the curve reaches the target.
    pub bytes: Option<f64>,
    /// Bytes of this codec / bytes of aez (how many times smaller aez is), when both exist.
    pub ratio_to_aez: Option<f64>,
    /// How the number was found.
    pub note: String,
}

/// The families in first-seen order.
pub fn families(rows: &[RdRow]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        if !v.contains(&r.codec) {
            v.push(r.codec.clone());
        }
    }
    v
}

/// The Pareto front of a family's points, (bytes, psnr), by increasing bytes and PSNR.
pub fn front(rows: &[RdRow], family: &str) -> Vec<(f64, f64)> {
    front_of(rows, |f| f == family)
}

/// The Pareto front of the points of every family that `keep` accepts.
pub fn front_of(rows: &[RdRow], keep: impl Fn(&str) -> bool) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| keep(&r.codec))
        .map(|r| (r.bytes, r.psnr))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if out.last().is_none_or(|l| p.1 > l.1) {
            out.push(p);
        }
    }
    out
}

/// Bytes needed at `target` dB on a front: log-bytes interpolated linearly in PSNR between the two points
/// around it. Returns (bytes, note).
pub fn bytes_at(front: &[(f64, f64)], target: f64) -> (Option<f64>, String) {
    let Some(&(b0, p0)) = front.first() else {
        return (None, "no points".into());
    };
    if p0.is_infinite() {
        return (Some(b0), "lossless".into());
    }
    if target <= p0 {
        return (
            Some(b0),
            format!("upper bound: its smallest setting already gives {p0:.2} dB"),
        );
    }
    for w in front.windows(2) {
        let ((ba, pa), (bb, pb)) = (w[0], w[1]);
        if target <= pb {
            if pb.is_infinite() {
                return (Some(bb), "lossless point".into());
            }
            let f = (target - pa) / (pb - pa);
            let b = (ba.ln() + f * (bb.ln() - ba.ln())).exp();
            return (
                Some(b),
                format!("between {ba:.1} B ({pa:.2} dB) and {bb:.1} B ({pb:.2} dB)"),
            );
        }
    }
    let pmax = front.last().map_or(p0, |l| l.1);
    (None, format!("not reached (max {pmax:.2} dB)"))
}

/// The natural log of the bytes a front needs at `p` dB, interpolated linearly in PSNR (None outside it).
fn log_bytes_at(front: &[(f64, f64)], p: f64) -> Option<f64> {
    front.windows(2).find_map(|w| {
        let ((ba, pa), (bb, pb)) = (w[0], w[1]);
        (pa <= p && p <= pb).then(|| {
            let f = if pb > pa { (p - pa) / (pb - pa) } else { 0.0 };
            ba.ln() + f * (bb.ln() - ba.ln())
        })
    })
}

/// BD-rate (Bjontegaard delta rate) of the front `test` against the front `anchor`, in percent: the
/// mean difference of their log-bytes over the PSNR range both cover, each curve interpolated piecewise
/// linearly in PSNR (the piecewise variant of VCEG-M33's cubic fit, which overshoots on the few, unevenly
/// spaced points of a codec's settings). Negative: `test` needs fewer bytes at the same PSNR. None when
/// the curves (lossless points left out) have fewer than 2 points or share less than 0.05 dB.
/// Returns (percent, (low, high) dB of the range averaged over).
pub fn bd_rate(test: &[(f64, f64)], anchor: &[(f64, f64)]) -> Option<(f64, (f64, f64))> {
    let finite = |f: &[(f64, f64)]| -> Vec<(f64, f64)> {
        f.iter().copied().filter(|p| p.1.is_finite()).collect()
    };
    let (t, a) = (finite(test), finite(anchor));
    if t.len() < 2 || a.len() < 2 {
        return None;
    }
    let lo = t[0].1.max(a[0].1);
    let hi = t[t.len() - 1].1.min(a[a.len() - 1].1);
    if hi - lo < 0.05 {
        return None;
    }
    const STEPS: usize = 400;
    let mut sum = 0.0;
    for i in 0..=STEPS {
        let p = lo + (hi - lo) * i as f64 / STEPS as f64;
        let d = log_bytes_at(&t, p)? - log_bytes_at(&a, p)?;
        sum += if i == 0 || i == STEPS { d / 2.0 } else { d };
    }
    Some((((sum / STEPS as f64).exp() - 1.0) * 100.0, (lo, hi)))
}

/// The matched-quality table of a dataset's rows at the given targets.
pub fn matched(rows: &[RdRow], targets: &[f64]) -> Vec<Matched> {
    let mut out = Vec::new();
    let Some(ds) = rows.first().map(|r| r.dataset.clone()) else {
        return out;
    };
    for &t in targets {
        // The reference: every aez model together (version-1 models and version-2 levels).
        let aez = bytes_at(&front_of(rows, is_aez), t).0;
        let aez = if rows.iter().any(|r| is_aez(&r.codec)) {
            aez
        } else {
            None
        };
        for fam in families(rows) {
            let (bytes, note) = bytes_at(&front(rows, &fam), t);
            out.push(Matched {
                dataset: ds.clone(),
                codec: fam.clone(),
                target_db: t,
                bytes,
                ratio_to_aez: match (bytes, aez) {
                    (Some(b), Some(a)) if !is_aez(&fam) => Some(b / a),
                    _ => None,
                },
                note,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aez_model_is_the_matched_reference() {
        let row = |codec: &str, bytes: f64, psnr: f64| RdRow {
            dataset: "d".into(),
            codec: codec.into(),
            setting: String::new(),
            images: 1,
            bytes,
            bpp: bytes,
            psnr,
            psnr_image_mean: psnr,
            ssim: 0.0,
            lossless: false,
            single_file_bytes: None,
            seconds: 0.0,
        };
        let rows = [
            row("aez", 100.0, 20.0),
            row("aez conv", 50.0, 22.0),
            row("JPEG", 400.0, 19.0),
            row("JPEG", 800.0, 23.0),
        ];
        let m = matched(&rows, &[21.0]);
        let jpeg = m.iter().find(|x| x.codec == "JPEG").expect("JPEG row");
        // aez's front at 21 dB: <= 50 B (its conv model's smallest setting already gives 22 dB).
        let want = bytes_at(&front(&rows, "JPEG"), 21.0).0.expect("reached") / 50.0;
        assert!((jpeg.ratio_to_aez.expect("ratio") - want).abs() < 1e-9);
        assert!(m
            .iter()
            .filter(|x| is_aez(&x.codec))
            .all(|x| x.ratio_to_aez.is_none()));
    }

    #[test]
    fn bd_rate_of_a_curve_half_the_bytes_is_minus_50_percent() {
        let anchor = [
            (100.0, 20.0),
            (200.0, 23.0),
            (400.0, 25.0),
            (1000.0, f64::INFINITY),
        ];
        let half: Vec<(f64, f64)> = anchor.iter().map(|&(b, p)| (b / 2.0, p)).collect();
        assert!((bd_rate(&half, &anchor).expect("overlap").0 + 50.0).abs() < 1e-9);
        assert!((bd_rate(&anchor, &half).expect("overlap").0 - 100.0).abs() < 1e-9);
        // No common PSNR range, or one point: none.
        assert_eq!(bd_rate(&[(1.0, 10.0), (2.0, 12.0)], &anchor), None);
        assert_eq!(bd_rate(&[(1.0, 21.0)], &anchor), None);
    }

    #[test]
    fn interpolation_on_log_bytes() {
        let f = [(100.0, 20.0), (400.0, 22.0)];
        let (b, _) = bytes_at(&f, 21.0);
        assert!((b.expect("reached") - 200.0).abs() < 1e-9);
        assert!(bytes_at(&f, 23.0).0.is_none());
        assert_eq!(bytes_at(&f, 19.0).0, Some(100.0));
        assert_eq!(bytes_at(&[(50.0, f64::INFINITY)], 25.0).0, Some(50.0));
    }
}
