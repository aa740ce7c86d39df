//! Distortion metrics: sum of squared errors (for PSNR) and single-scale SSIM.
//!
//! SSIM follows Wang et al. (2004) as scikit-image computes it by default: a 7x7 uniform window, sample
//! covariances (N - 1), K1 = 0.01, K2 = 0.03, L = 255, averaged over the windows that fit inside the
//! image (no padding) and then over the channels.

/// Sum of squared differences of two equally long sample buffers.
pub fn sse(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i64::from(x) - i64::from(y);
            (d * d) as u64
        })
        .sum()
}

/// PSNR in dB of a mean squared error over 8-bit samples (infinite for 0).
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Side of the SSIM window.
pub const SSIM_WIN: usize = 7;

/// Mean SSIM of two images of `w x h` pixels with `c` interleaved channels (mean over channels).
pub fn ssim(a: &[u8], b: &[u8], w: usize, h: usize, c: usize) -> f64 {
    let mut total = 0.0;
    for ch in 0..c {
        total += ssim_plane(a, b, w, h, c, ch);
    }
    total / c as f64
}

fn ssim_plane(a: &[u8], b: &[u8], w: usize, h: usize, c: usize, ch: usize) -> f64 {
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let win = SSIM_WIN.min(w).min(h);
    // Summed-area tables of x, y, x^2, y^2, xy, (w+1) x (h+1).
    let sw = w + 1;
    let mut sat = vec![[0f64; 5]; sw * (h + 1)];
    for yy in 0..h {
        let mut row = [0f64; 5];
        for xx in 0..w {
            let i = (yy * w + xx) * c + ch;
            let (x, y) = (f64::from(a[i]), f64::from(b[i]));
            let v = [x, y, x * x, y * y, x * y];
            for k in 0..5 {
                row[k] += v[k];
                sat[(yy + 1) * sw + xx + 1][k] = sat[yy * sw + xx + 1][k] + row[k];
            }
        }
    }
    let n = (win * win) as f64;
    let cov_norm = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
    let mut sum = 0.0;
    let mut count = 0usize;
    for y0 in 0..=(h - win) {
        for x0 in 0..=(w - win) {
            let (y1, x1) = (y0 + win, x0 + win);
            let mut s = [0f64; 5];
            for (k, sk) in s.iter_mut().enumerate() {
                *sk = sat[y1 * sw + x1][k] - sat[y0 * sw + x1][k] - sat[y1 * sw + x0][k]
                    + sat[y0 * sw + x0][k];
                *sk /= n;
            }
            let (ux, uy) = (s[0], s[1]);
            let vx = cov_norm * (s[2] - ux * ux);
            let vy = cov_norm * (s[3] - uy * uy);
            let vxy = cov_norm * (s[4] - ux * uy);
            let num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2);
            let den = (ux * ux + uy * uy + c1) * (vx + vy + c2);
            sum += num / den;
            count += 1;
        }
    }
    if count == 0 {
        1.0
    } else {
        sum / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_have_ssim_one_and_zero_sse() {
        let a: Vec<u8> = (0..28 * 28).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(sse(&a, &a), 0);
        assert!((ssim(&a, &a, 28, 28, 1) - 1.0).abs() < 1e-12);
        assert!(psnr_from_mse(0.0).is_infinite());
    }

    #[test]
    fn psnr_matches_definition() {
        // MSE 65.025 -> 10 log10(65025 / 65.025) = 30 dB.
        assert!((psnr_from_mse(65.025) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn ssim_drops_with_noise_and_is_symmetric() {
        let a: Vec<u8> = (0..28 * 28).map(|i| ((i % 28) * 9) as u8).collect();
        let b: Vec<u8> = a
            .iter()
            .enumerate()
            .map(|(i, &v)| v.saturating_add(((i * 37) % 41) as u8))
            .collect();
        let s = ssim(&a, &b, 28, 28, 1);
        assert!(s < 0.99 && s > 0.0, "{s}");
        assert!((s - ssim(&b, &a, 28, 28, 1)).abs() < 1e-12);
        // A constant offset keeps structure: SSIM stays high, but below 1.
        let c: Vec<u8> = a.iter().map(|&v| v.saturating_add(3)).collect();
        let sc = ssim(&a, &c, 28, 28, 1);
        assert!(sc > s && sc < 1.0, "{sc}");
    }
}
