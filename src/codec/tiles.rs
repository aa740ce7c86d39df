//! Images of any size through a convolutional model in bounded memory: the image is padded to the
//! model's stride, its latent `[C, h, w]` is computed and decoded tile by tile (at most [`TILE`] latent
//! rows and columns each, plus [`MARGIN`] latent rows and columns of context on every side that is not
//! the image's edge), and only each tile's inner part is kept, so the tiles join without seams. The
//! entropy coder codes the latent in horizontal bands of whole latent rows (records of bounded size).
//!
//! Memory: the input or output samples, the whole latent (`C * h * w` `f32`, 36 MB for a 6000x4000 photo
//! at `C = 96`, stride 16) and one tile's network activations.

use super::pixels::{cropped_rows, padded_window};
use crate::error::{Error, Result};
use crate::layout::{LatentShape, Layout};
use crate::model::Model;

/// Largest tile side, in latent units (512 pixels at stride 16).
pub const TILE: u32 = 32;
/// Context around a tile, in latent units: more than the synthesis and analysis networks' reach (a
/// 5x5-kernel, four-stage network reaches about 2 latent units), so the kept part of a tile is what the
/// untiled network computes, up to floating-point summation order.
pub const MARGIN: u32 = 4;

/// How an image of `width x height` is laid out for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Columns of the image.
    pub width: u32,
    /// Rows of the image.
    pub height: u32,
    /// Columns after padding to the stride.
    pub pw: u32,
    /// Rows after padding to the stride.
    pub ph: u32,
    /// The whole latent.
    pub latent: LatentShape,
    /// The stride per axis.
    pub stride: (u32, u32),
    /// Samples per pixel the model takes.
    pub channels: usize,
}

impl Plan {
    /// The plan of an image of `width x height` for a model of `layout`; an error when the model does not
    /// take that size.
    pub fn new(layout: &Layout, width: u32, height: u32, model: &str) -> Result<Plan> {
        let size_err = |e: crate::layout::SizeError| Error::Image {
            input: "image".into(),
            what: format!("is {width}x{height}, model {model} takes {}", e.expected),
        };
        let (pw, ph) = layout.padded_size(width, height).map_err(size_err)?;
        let latent = layout.latent_shape(width, height).map_err(size_err)?;
        Ok(Plan {
            width,
            height,
            pw,
            ph,
            latent,
            stride: layout.stride(),
            channels: usize::from(layout.image_channels),
        })
    }

    /// The latent rows `a..b` as a shape.
    pub fn band_shape(&self, a: u32, b: u32) -> LatentShape {
        LatentShape {
            height: b - a,
            ..self.latent
        }
    }

    /// The latent tiles: `(y0, y1, x0, x1)` in latent units, row by row.
    fn tiles(&self) -> Vec<(u32, u32, u32, u32)> {
        let (h, w) = (self.latent.height, self.latent.width);
        let mut out = Vec::new();
        for y0 in (0..h).step_by(TILE as usize) {
            for x0 in (0..w).step_by(TILE as usize) {
                out.push((y0, (y0 + TILE).min(h), x0, (x0 + TILE).min(w)));
            }
        }
        out
    }

    /// A tile with its context, clamped to the latent: `(cy0, cy1, cx0, cx1)`.
    fn context(&self, (y0, y1, x0, x1): (u32, u32, u32, u32)) -> (u32, u32, u32, u32) {
        (
            y0.saturating_sub(MARGIN),
            (y1 + MARGIN).min(self.latent.height),
            x0.saturating_sub(MARGIN),
            (x1 + MARGIN).min(self.latent.width),
        )
    }
}

/// The latent of an image (`samples`: `width x height`, the model's channels, interleaved), channel-major
/// `[C, h, w]`, computed tile by tile.
pub fn analyse(model: &Model, plan: &Plan, samples: &[u8]) -> Result<Vec<f32>> {
    let (sx, sy) = (plan.stride.0 as usize, plan.stride.1 as usize);
    let l = plan.latent;
    let (lw, lh) = (l.width as usize, l.height as usize);
    let mut latent = vec![0f32; l.len()];
    for tile in plan.tiles() {
        let (cy0, cy1, cx0, cx1) = plan.context(tile);
        let (cw, ch) = ((cx1 - cx0) as usize, (cy1 - cy0) as usize);
        let px = padded_window(
            samples,
            (plan.width as usize, plan.height as usize, plan.channels),
            (cx0 as usize * sx, cx1 as usize * sx),
            (cy0 as usize * sy, cy1 as usize * sy),
        );
        let (z, shape) = model.encode_images(&px, 1, (cw * sx) as u32, (ch * sy) as u32)?;
        debug_assert_eq!((shape.width as usize, shape.height as usize), (cw, ch));
        let (y0, y1, x0, x1) = tile;
        for c in 0..l.channels as usize {
            for y in y0..y1 {
                let src = &z[c * ch * cw + (y - cy0) as usize * cw..][..cw];
                let dst = &mut latent[c * lh * lw + y as usize * lw..][..lw];
                dst[x0 as usize..x1 as usize]
                    .copy_from_slice(&src[(x0 - cx0) as usize..(x1 - cx0) as usize]);
            }
        }
    }
    Ok(latent)
}

/// The decoded image of a latent (`[C, h, w]` channel-major, dequantized): `width x height` 8-bit samples
/// in the model's channels, interleaved, computed tile by tile and cropped.
pub fn synthesise(model: &Model, plan: &Plan, latent: &[f32]) -> Result<Vec<u8>> {
    let (sx, sy) = (plan.stride.0 as usize, plan.stride.1 as usize);
    let l = plan.latent;
    let (lw, lh) = (l.width as usize, l.height as usize);
    let c_img = plan.channels;
    let (w, h) = (plan.width as usize, plan.height as usize);
    let mut out = vec![0u8; w * h * c_img];
    for tile in plan.tiles() {
        let (cy0, cy1, cx0, cx1) = plan.context(tile);
        let (cw, ch) = ((cx1 - cx0) as usize, (cy1 - cy0) as usize);
        let mut z = Vec::with_capacity(l.channels as usize * ch * cw);
        for c in 0..l.channels as usize {
            for y in cy0 as usize..cy1 as usize {
                z.extend_from_slice(&latent[c * lh * lw + y * lw + cx0 as usize..][..cw]);
            }
        }
        let shape = LatentShape {
            channels: l.channels,
            height: ch as u32,
            width: cw as u32,
        };
        let x = model.decode_latents(&z, 1, shape)?;
        let (pw, (y0, y1, x0, x1)) = (cw * sx, tile);
        // Rows of this tile's inner part that lie in the image (not in the padding).
        let (ry0, ry1) = (y0 as usize * sy, (y1 as usize * sy).min(h));
        let (rx0, rx1) = (x0 as usize * sx, (x1 as usize * sx).min(w));
        if ry0 >= ry1 || rx0 >= rx1 {
            continue;
        }
        for y in ry0..ry1 {
            let src_row = &x[(y - cy0 as usize * sy) * pw * c_img..][..pw * c_img];
            let off = rx0 - cx0 as usize * sx;
            let row = cropped_rows(&src_row[off * c_img..], pw - off, c_img, rx1 - rx0);
            out[(y * w + rx0) * c_img..][..row.len()].copy_from_slice(&row);
        }
    }
    Ok(out)
}
