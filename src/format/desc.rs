//! The version-2 image descriptor (spec 11.2): what a decoder needs to know about one image before it
//! decodes it (size, colour layout, quality level, tiling), in 4 to 22 bytes.

use super::consts::*;
use super::header::FieldError;
use super::limits::Limits;
use super::varint::{varint, varint_len, write_varint};
use crate::error::FormatError;

/// The colour layout of a decoded image (layout byte bits 0-1, spec 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    /// One sample per pixel ([`COLOUR_GRAY`]).
    Gray,
    /// Gray and alpha ([`COLOUR_GRAY_ALPHA`]): the alpha plane is in alpha records.
    GrayAlpha,
    /// Red, green, blue ([`COLOUR_RGB`]).
    Rgb,
    /// Red, green, blue and alpha ([`COLOUR_RGBA`]): the alpha plane is in alpha records.
    Rgba,
}

impl Colour {
    /// The colour id (layout byte bits 0-1).
    pub fn id(self) -> u8 {
        match self {
            Colour::Gray => COLOUR_GRAY,
            Colour::GrayAlpha => COLOUR_GRAY_ALPHA,
            Colour::Rgb => COLOUR_RGB,
            Colour::Rgba => COLOUR_RGBA,
        }
    }

    /// The colour of an id (only the low two bits are looked at, so every value gives one).
    pub fn from_id(id: u8) -> Colour {
        match id & LAYOUT_COLOUR_MASK {
            COLOUR_GRAY => Colour::Gray,
            COLOUR_GRAY_ALPHA => Colour::GrayAlpha,
            COLOUR_RGB => Colour::Rgb,
            _ => Colour::Rgba,
        }
    }

    /// Samples per pixel of the decoded image: 1, 2, 3 or 4.
    pub fn channels(self) -> u32 {
        match self {
            Colour::Gray => 1,
            Colour::GrayAlpha => 2,
            Colour::Rgb => 3,
            Colour::Rgba => 4,
        }
    }

    /// Samples per pixel the model codes (the latent's image): 1 (gray) or 3 (RGB), alpha excluded.
    pub fn colour_channels(self) -> u32 {
        match self {
            Colour::Gray | Colour::GrayAlpha => 1,
            Colour::Rgb | Colour::Rgba => 3,
        }
    }

    /// Whether the image has an alpha plane (and so alpha records).
    pub fn has_alpha(self) -> bool {
        matches!(self, Colour::GrayAlpha | Colour::Rgba)
    }
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Colour::Gray => "gray",
            Colour::GrayAlpha => "gray+alpha",
            Colour::Rgb => "RGB",
            Colour::Rgba => "RGBA",
        })
    }
}

/// A version-2 image descriptor (spec 11.2): in the header for every image of a stream, or at the start of
/// each image's first record.
///
/// An untiled image has `band_rows == 0` and `bands == 1`; a tiled one `band_rows >= 1` and
/// `bands >= 2`, with `(bands - 1) * band_rows < height` ([`ImageDesc::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageDesc {
    /// Width in pixels, `1..=u32::MAX` (and at most the caller's [`Limits::max_side_v2`]).
    pub width: u32,
    /// Height in pixels, as the width.
    pub height: u32,
    /// The decoded image's colour layout.
    pub colour: Colour,
    /// The model's quality level: an index into the bundle's `levels` (the decoder checks it).
    pub level: u8,
    /// Latent rows per band (the last band may have fewer); 0: untiled.
    pub band_rows: u32,
    /// Bands of the image, `ceil(latent rows / band_rows)`; 1: untiled.
    pub bands: u32,
    /// Packed (layout bit 3): the stream's records each hold several whole images (spec 11.3). Only in
    /// a header descriptor of a batch, of an untiled image without alpha.
    pub packed: bool,
    /// Hyper (layout bit 4): each latent record starts with its share of the image's hyper-latent (spec
    /// 11.5), for models with a hyperprior. Never with `packed`.
    pub hyper: bool,
}

impl ImageDesc {
    /// An untiled image: one latent record (and one alpha record when the colour has alpha).
    pub fn untiled(width: u32, height: u32, colour: Colour, level: u8) -> ImageDesc {
        ImageDesc {
            width,
            height,
            colour,
            level,
            band_rows: 0,
            bands: 1,
            packed: false,
            hyper: false,
        }
    }

    /// This descriptor with its hyper bit set or cleared.
    pub fn with_hyper(self, hyper: bool) -> ImageDesc {
        ImageDesc { hyper, ..self }
    }

    /// This (untiled, alpha-less) descriptor with its packed bit set or cleared.
    pub fn with_packed(self, packed: bool) -> ImageDesc {
        ImageDesc { packed, ..self }
    }

    /// A tiled image of `bands` bands of `band_rows` latent rows (the codec computes `bands` from the
    /// latent's row count: `latent_rows.div_ceil(band_rows)`).
    pub fn tiled(
        width: u32,
        height: u32,
        colour: Colour,
        level: u8,
        band_rows: u32,
        bands: u32,
    ) -> ImageDesc {
        ImageDesc {
            width,
            height,
            colour,
            level,
            band_rows,
            bands,
            packed: false,
            hyper: false,
        }
    }

    /// Whether the image is tiled (layout bit 2): `band_rows != 0`.
    pub fn is_tiled(&self) -> bool {
        self.band_rows != 0
    }

    /// Records the image takes in a stream: `bands`, twice that with alpha (spec 11.3).
    pub fn records(&self) -> u64 {
        u64::from(self.bands) * if self.colour.has_alpha() { 2 } else { 1 }
    }

    /// `width * height * channels` (all channels, alpha included), in `u128` so that it never overflows.
    pub fn samples(&self) -> u128 {
        u128::from(self.width) * u128::from(self.height) * u128::from(self.colour.channels())
    }

    /// The layout byte [`ImageDesc::write`] writes.
    pub fn layout_byte(&self) -> u8 {
        let tiled = if self.is_tiled() { LAYOUT_TILED } else { 0 };
        let packed = if self.packed { LAYOUT_PACKED } else { 0 };
        let hyper = if self.hyper { LAYOUT_HYPER } else { 0 };
        self.colour.id() | tiled | packed | hyper
    }

    /// Bytes of [`ImageDesc::write`]'s output.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::with_capacity(DESC_MAX_LEN);
        self.write(&mut v);
        v.len()
    }

    /// Appends the descriptor's bytes (spec 11.2): varint width, varint height, layout, level, and when
    /// tiled varint band rows and varint band count. Writes what the struct holds, checked or not (see
    /// [`ImageDesc::validate`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        write_varint(self.width, out);
        write_varint(self.height, out);
        out.push(self.layout_byte());
        out.push(self.level);
        if self.is_tiled() {
            write_varint(self.band_rows, out);
            write_varint(self.bands, out);
        }
    }

    /// Checks the format's rules (not the caller's limits): the errors [`ImageDesc::parse`] would give
    /// for this descriptor's bytes, at the same offsets.
    pub fn validate(&self) -> Result<(), FieldError> {
        let mut b = Vec::with_capacity(DESC_MAX_LEN);
        self.write(&mut b);
        let (back, _) = ImageDesc::parse(&b, &Limits::unlimited())?;
        if back != *self {
            // Only an untiled descriptor whose `bands` is not 1 reads back differently.
            return Err(FieldError {
                offset: b.len(),
                what: FormatError::field(
                    "bands",
                    self.bands.into(),
                    "1 for an untiled image",
                    format!("an untiled image has 1 band, not {}", self.bands),
                ),
            });
        }
        Ok(())
    }

    /// Parses a descriptor at the start of `bytes`, checking every rule of spec 11.2 and the caller's
    /// `limits` in field order, before anything is allocated. Returns the descriptor and the bytes it used.
    /// Error offsets are from `bytes[0]`; a limit is reported as [`FormatError::OverLimit`].
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<(ImageDesc, usize), FieldError> {
        let mut p = 0usize;
        let width = side(bytes, &mut p, "width", limits)?;
        let height = side(bytes, &mut p, "height", limits)?;
        let layout = *bytes.get(p).ok_or_else(|| short(p, "layout byte"))?;
        if layout & LAYOUT_RESERVED_MASK != 0 {
            return Err(FieldError {
                offset: p,
                what: FormatError::field(
                    "layout byte",
                    layout.into(),
                    "bits 5-7 zero",
                    format!("reserved bits set in the layout byte 0x{layout:02x} (bits 5-7 must be zero)"),
                ),
            });
        }
        let colour = Colour::from_id(layout);
        let packed = layout & LAYOUT_PACKED != 0;
        if packed && (layout & LAYOUT_TILED != 0 || colour.has_alpha()) {
            return Err(range(
                p,
                "layout byte",
                layout.into(),
                "packed only when untiled and without alpha",
                &format!(
                    "the layout byte 0x{layout:02x} packs images that are {} (packed records hold whole \
                     images without alpha)",
                    if layout & LAYOUT_TILED != 0 { "tiled" } else { "with alpha" }
                ),
            ));
        }
        let hyper = layout & LAYOUT_HYPER != 0;
        if packed && hyper {
            return Err(range(
                p,
                "layout byte",
                layout.into(),
                "packed only without a hyper-latent",
                &format!(
                    "the layout byte 0x{layout:02x} packs images with hyper-latents (a packed record's \
                     payload holds latents only)"
                ),
            ));
        }
        p += 1;
        let level = *bytes.get(p).ok_or_else(|| short(p, "level"))?;
        p += 1;
        let (mut band_rows, mut bands) = (0u32, 1u32);
        if layout & LAYOUT_TILED != 0 {
            let rows_at = p;
            band_rows = varint(bytes, &mut p, "band rows")?;
            if band_rows == 0 {
                return Err(range(
                    rows_at,
                    "band rows",
                    0,
                    ">= 1",
                    "band rows is 0 (expected >= 1)",
                ));
            }
            let bands_at = p;
            bands = varint(bytes, &mut p, "bands")?;
            if bands < 2 {
                return Err(range(
                    bands_at,
                    "bands",
                    bands.into(),
                    ">= 2 for a tiled image",
                    &format!(
                        "a tiled image has {bands} bands (expected >= 2: one band is untiled)"
                    ),
                ));
            }
            if bands > limits.max_bands {
                return Err(over(
                    bands_at,
                    "bands",
                    bands.into(),
                    limits.max_bands.into(),
                ));
            }
            // Every band but the last is full and the last has a row: (bands - 1) * band_rows < latent
            // rows <= height (no model's latent has more rows than its image).
            if u64::from(bands - 1) * u64::from(band_rows) >= u64::from(height) {
                return Err(range(
                    rows_at,
                    "band rows",
                    band_rows.into(),
                    "(bands - 1) * band rows < height",
                    &format!(
                        "{bands} bands of {band_rows} latent rows do not fit an image of {height} rows \
                         ((bands - 1) * band rows must be < height)"
                    ),
                ));
            }
        }
        let desc = ImageDesc {
            packed,
            hyper,
            ..ImageDesc::tiled(width, height, colour, level, band_rows, bands)
        };
        within_samples(desc.samples(), "samples per image", limits)?;
        Ok((desc, p))
    }

    /// The latent rows of band `band` of a latent of `latent_rows` rows: `band * band_rows ..
    /// min((band + 1) * band_rows, latent_rows)`; all rows for an untiled image.
    pub fn band_latent_rows(&self, band: u32, latent_rows: u32) -> std::ops::Range<u32> {
        if !self.is_tiled() {
            return 0..latent_rows;
        }
        let start = u64::from(band) * u64::from(self.band_rows);
        let end = (start + u64::from(self.band_rows)).min(u64::from(latent_rows));
        (start.min(end) as u32)..(end as u32)
    }

    /// For the codec, once it knows the latent's row count (from the height and the model's stride):
    /// checks `bands == ceil(latent_rows / band_rows)` (spec 11.2, a decoder MUST). The error's offset is
    /// the band count's, from the descriptor's first byte.
    pub fn check_latent_rows(&self, latent_rows: u32) -> Result<(), FieldError> {
        if !self.is_tiled() {
            return Ok(());
        }
        let want = latent_rows.div_ceil(self.band_rows);
        if self.bands == want {
            return Ok(());
        }
        let mut b = Vec::with_capacity(DESC_MAX_LEN);
        self.write(&mut b);
        let offset = b.len() - varint_len(self.bands);
        Err(FieldError {
            offset,
            what: FormatError::field(
                "bands",
                self.bands.into(),
                "ceil(latent rows / band rows)",
                format!(
                    "{} bands, but a latent of {latent_rows} rows in bands of {} rows has {want}",
                    self.bands, self.band_rows
                ),
            ),
        })
    }
}

impl std::fmt::Display for ImageDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} {}, level {}",
            self.width, self.height, self.colour, self.level
        )?;
        if self.is_tiled() {
            let rows = if self.band_rows == 1 { "row" } else { "rows" };
            write!(
                f,
                ", {} bands of {} latent {rows}",
                self.bands, self.band_rows
            )?;
        }
        if self.packed {
            f.write_str(", packed")?;
        }
        if self.hyper {
            f.write_str(", hyper-latent")?;
        }
        Ok(())
    }
}

/// A width or height: a varint, at least 1, at most the version-2 side limit.
fn side(b: &[u8], p: &mut usize, field: &'static str, limits: &Limits) -> Result<u32, FieldError> {
    let at = *p;
    let v = varint(b, p, field)?;
    if v == 0 {
        return Err(range(
            at,
            field,
            0,
            ">= 1",
            &format!("{field} is 0 (expected >= 1)"),
        ));
    }
    if v > limits.max_side_v2 {
        return Err(over(at, field, v.into(), limits.max_side_v2.into()));
    }
    Ok(v)
}

pub(crate) fn short(offset: usize, field: &'static str) -> FieldError {
    FieldError {
        offset,
        what: FormatError::ShortDescriptor { field },
    }
}

/// `samples` against the samples limit (`u64::MAX` is no limit: a descriptor may describe up to 2^66
/// samples, a packed record 2^32 times that); the error is at offset 0 of what `field` counts.
pub(crate) fn within_samples(
    samples: u128,
    field: &'static str,
    limits: &Limits,
) -> Result<(), FieldError> {
    if limits.max_samples != u64::MAX && samples > u128::from(limits.max_samples) {
        let value = u64::try_from(samples).unwrap_or(u64::MAX);
        return Err(over(0, field, value, limits.max_samples));
    }
    Ok(())
}

pub(crate) fn over(offset: usize, field: &'static str, value: u64, limit: u64) -> FieldError {
    FieldError {
        offset,
        what: FormatError::OverLimit {
            field,
            value,
            limit,
        },
    }
}

pub(crate) fn range(
    offset: usize,
    field: &'static str,
    value: u64,
    valid: &'static str,
    message: &str,
) -> FieldError {
    FieldError {
        offset,
        what: FormatError::field(field, value, valid, message.to_string()),
    }
}

#[cfg(test)]
#[path = "desc_tests.rs"]
mod tests;
