//! Images of any size and colour type <-> what a model's networks see: 8-bit samples in the model's
//! channels, an alpha plane kept apart (coded losslessly, never dropped), and padding to the model's
//! stride by repeating the last row and column (cropped again after decoding).

use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use super::coding::to_u8;

/// The channel layout of an input image, which its decoded image keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channels {
    /// One channel.
    Gray,
    /// Gray and alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue and alpha.
    Rgba,
}

impl Channels {
    /// The layout of `img` (palette images decode to RGB or RGBA; 16-bit and float ones to their 8-bit
    /// counterparts).
    pub fn of(img: &DynamicImage) -> Channels {
        let c = img.color();
        match (c.has_color(), c.has_alpha()) {
            (false, false) => Channels::Gray,
            (false, true) => Channels::GrayAlpha,
            (true, false) => Channels::Rgb,
            (true, true) => Channels::Rgba,
        }
    }

    /// True for the layouts with alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, Channels::GrayAlpha | Channels::Rgba)
    }

    /// True for the colour layouts.
    pub fn has_colour(self) -> bool {
        matches!(self, Channels::Rgb | Channels::Rgba)
    }
}

/// An input image ready for a model of `channels` samples per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The input's layout (the decoded image's).
    pub layout: Channels,
    /// 8-bit samples in the model's channels, row-major, interleaved, `width x height`.
    pub samples: Vec<u8>,
    /// The alpha plane, `width x height`, for layouts with alpha.
    pub alpha: Option<Vec<u8>>,
    /// The input had more than 8 bits per sample (16-bit or float) and was reduced to 8.
    pub reduced: bool,
}

/// Converts `img` for a model of `model_channels` (1 or 3): colour to the model's channels (luma for a
/// gray model, gray repeated over R, G, B for a colour one), alpha apart, 16-bit to 8-bit.
pub fn prepare(img: &DynamicImage, model_channels: u8) -> Prepared {
    let layout = Channels::of(img);
    let reduced = !matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_)
    );
    let samples = if model_channels == 1 {
        img.to_luma8().into_raw()
    } else {
        img.to_rgb8().into_raw()
    };
    let alpha = layout.has_alpha().then(|| {
        img.to_luma_alpha8()
            .into_raw()
            .chunks_exact(2)
            .map(|p| p[1])
            .collect()
    });
    Prepared {
        width: img.width(),
        height: img.height(),
        layout,
        samples,
        alpha,
        reduced,
    }
}

/// Rows `y0..y1` of the image `samples` (`width x height`, `c` interleaved channels) padded to `pw`
/// columns, as `f32` in `[0, 1]`: rows at or past `height` repeat the last row, columns at or past
/// `width` the last column.
pub fn padded_rows(
    samples: &[u8],
    (width, height, c): (usize, usize, usize),
    pw: usize,
    (y0, y1): (usize, usize),
) -> Vec<f32> {
    padded_window(samples, (width, height, c), (0, pw), (y0, y1))
}

/// Columns `x0..x1` of rows `y0..y1` of the image `samples` extended by repeating its last row and column,
/// as `f32` in `[0, 1]`, interleaved.
pub fn padded_window(
    samples: &[u8],
    (width, height, c): (usize, usize, usize),
    (x0, x1): (usize, usize),
    (y0, y1): (usize, usize),
) -> Vec<f32> {
    let mut out = Vec::with_capacity((y1 - y0) * (x1 - x0) * c);
    for y in y0..y1 {
        let row = &samples[y.min(height - 1) * width * c..][..width * c];
        for x in x0..x1 {
            let px = &row[x.min(width - 1) * c..][..c];
            out.extend(px.iter().map(|&s| f32::from(s) / 255.0));
        }
    }
    out
}

/// The `width` leftmost columns of `rows` rows of a decoded padded image (`pw` columns, `c` channels),
/// as 8-bit samples (`round(clamp(x, 0, 1) * 255)`).
pub fn cropped_rows(x: &[f32], pw: usize, c: usize, width: usize) -> Vec<u8> {
    x.chunks_exact(pw * c)
        .flat_map(|row| row[..width * c].iter().map(|&v| to_u8(v)))
        .collect()
}

/// The decoded image in the input's `layout`: `samples` in the model's channels (`width x height`),
/// converted back (a gray input decoded by a colour model becomes gray again: the mean of R, G and B,
/// rounded), with the alpha plane put back. `None` when a buffer has the wrong length.
pub fn assemble(
    samples: Vec<u8>,
    model_channels: u8,
    alpha: Option<Vec<u8>>,
    layout: Channels,
    (width, height): (u32, u32),
) -> Option<DynamicImage> {
    let n = width as usize * height as usize;
    if samples.len() != n * usize::from(model_channels) {
        return None;
    }
    let gray: Vec<u8> = if model_channels == 1 {
        samples.clone()
    } else {
        samples
            .chunks_exact(3)
            .map(|p| ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2]) + 1) / 3) as u8)
            .collect()
    };
    let rgb = |s: Vec<u8>| -> Vec<u8> {
        if model_channels == 3 {
            s
        } else {
            s.iter().flat_map(|&v| [v, v, v]).collect()
        }
    };
    let alpha = match (layout.has_alpha(), alpha) {
        (true, Some(a)) if a.len() == n => Some(a),
        (false, None) => None,
        _ => return None,
    };
    Some(match (layout, alpha) {
        (Channels::Gray, _) => DynamicImage::ImageLuma8(GrayImage::from_raw(width, height, gray)?),
        (Channels::Rgb, _) => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb(samples))?)
        }
        (Channels::GrayAlpha, Some(a)) => {
            let v = gray.iter().zip(&a).flat_map(|(&g, &a)| [g, a]).collect();
            DynamicImage::ImageLumaA8(GrayAlphaImage::from_raw(width, height, v)?)
        }
        (Channels::Rgba, Some(a)) => {
            let v = rgb(samples)
                .chunks_exact(3)
                .zip(&a)
                .flat_map(|(p, &a)| [p[0], p[1], p[2], a])
                .collect();
            DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, v)?)
        }
        (_, None) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_round_trips_through_both_model_kinds() {
        let (w, h) = (5u32, 3u32);
        let rgba = RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x * 40) as u8, (y * 60) as u8, 7, (x + y * 5) as u8 * 10])
        });
        let base = DynamicImage::ImageRgba8(rgba);
        let inputs = [
            DynamicImage::ImageLuma8(base.to_luma8()),
            DynamicImage::ImageLumaA8(base.to_luma_alpha8()),
            DynamicImage::ImageRgb8(base.to_rgb8()),
            base.clone(),
            DynamicImage::ImageRgba16(base.to_rgba16()),
        ];
        for img in &inputs {
            for mc in [1u8, 3] {
                let p = prepare(img, mc);
                assert_eq!(p.samples.len(), 15 * usize::from(mc));
                assert_eq!(p.alpha.is_some(), Channels::of(img).has_alpha());
                let back = assemble(p.samples.clone(), mc, p.alpha.clone(), p.layout, (w, h))
                    .expect("assembles");
                assert_eq!(Channels::of(&back), Channels::of(img));
                assert_eq!((back.width(), back.height()), (w, h));
                if let Some(a) = &p.alpha {
                    // Alpha is lossless.
                    let got: Vec<u8> = back.to_luma_alpha8().pixels().map(|p| p[1]).collect();
                    assert_eq!(&got, a);
                }
                // A gray input through a colour model comes back as the same gray.
                if !Channels::of(img).has_colour() {
                    assert_eq!(back.to_luma8(), img.to_luma8());
                }
            }
            assert_eq!(
                prepare(img, 3).reduced,
                matches!(img, DynamicImage::ImageRgba16(_))
            );
        }
    }

    #[test]
    fn padding_repeats_the_edge_and_cropping_undoes_it() {
        // 3x2 gray: rows [1 2 3], [4 5 6], padded to 4x4.
        let s = [1u8, 2, 3, 4, 5, 6];
        let p = padded_rows(&s, (3, 2, 1), 4, (0, 4));
        let got: Vec<u8> = p.iter().map(|&v| (v * 255.0).round() as u8).collect();
        assert_eq!(got, [1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6, 4, 5, 6, 6]);
        assert_eq!(cropped_rows(&p[..8], 4, 1, 3), [1, 2, 3, 4, 5, 6]);
        // A band of rows.
        let band = padded_rows(&s, (3, 2, 1), 4, (1, 3));
        assert_eq!(band.len(), 8);
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert!(assemble(vec![0; 5], 1, None, Channels::Gray, (2, 3)).is_none());
        assert!(assemble(vec![0; 6], 1, None, Channels::GrayAlpha, (2, 3)).is_none());
        assert!(assemble(vec![0; 6], 1, Some(vec![0; 6]), Channels::Gray, (2, 3)).is_none());
    }
}
