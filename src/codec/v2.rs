//! Format-version-2 images: any size, any colour layout, a quality level, tiled into bands when large,
//! alpha kept losslessly. One image <-> its descriptor and records (latent band, then its alpha band, for
//! each band), for models whose layout takes any size.

use image::DynamicImage;

use super::any::{
    bands, code_alpha, code_bands, decode_alpha, decode_band, quantized_latent, reconstruct,
    LazySets, LevelCoding,
};
use super::coding::{level_tables, model_id};
use super::hyper::HyperCoding;
use super::pixels::{assemble, prepare, Channels};
use super::tiles::Plan;
use crate::entropy::Coder;
use crate::error::FormatError;
use crate::error::{Error, Result};
use crate::format::consts::MODEL_ID_LEN;
use crate::format::{varint_len, Colour, FieldError, ImageDesc};
use crate::layout::Layout;
use crate::model::Model;

/// The format colour of an input layout.
pub(crate) fn colour_of(c: Channels) -> Colour {
    match c {
        Channels::Gray => Colour::Gray,
        Channels::GrayAlpha => Colour::GrayAlpha,
        Channels::Rgb => Colour::Rgb,
        Channels::Rgba => Colour::Rgba,
    }
}

fn channels_of(c: Colour) -> Channels {
    match c {
        Colour::Gray => Channels::Gray,
        Colour::GrayAlpha => Channels::GrayAlpha,
        Colour::Rgb => Channels::Rgb,
        Colour::Rgba => Channels::Rgba,
    }
}

/// What went wrong decoding one image's records.
#[derive(Debug)]
pub(crate) enum ImageFault {
    /// Record `i` of the image (in stream order) does not decode: what is wrong.
    Record(usize, String),
    /// The descriptor asks for what the model does not have (a level, a size).
    Desc(String),
    /// The network or the quantizer failed.
    Other(Error),
}

/// A model's coding constants for version-2 images.
#[derive(Debug)]
pub(crate) struct AnyCoding {
    pub(crate) model: Model,
    pub(crate) id: [u8; MODEL_ID_LEN],
    pub(crate) layout: Layout,
    pub(crate) levels: Vec<LevelCoding>,
    pub(crate) default_level: usize,
    /// The model's hyperprior, if it has one.
    pub(crate) hyper: Option<HyperCoding>,
}

impl AnyCoding {
    pub(crate) fn new(model: &Model) -> Result<AnyCoding> {
        let b = model.bundle();
        let levels = b
            .levels()
            .iter()
            .zip(level_tables(b)?)
            .enumerate()
            .map(|(l, (lv, tables))| LevelCoding {
                quality: lv.quality,
                quantizer: lv.quantizer.clone(),
                tables,
                sets: LazySets::of(model, l),
            })
            .collect();
        Ok(AnyCoding {
            model: model.clone(),
            id: model_id(b),
            layout: *model.layout(),
            levels,
            default_level: b.manifest().default_level,
            hyper: HyperCoding::new(b)?,
        })
    }

    /// Whether `desc` is the model's own image: a fixed-size model's size and channels (gray or RGB, no
    /// alpha), untiled, at its default level, which a stream without descriptors means (spec 11.1).
    pub(crate) fn is_model_image(&self, desc: &ImageDesc) -> bool {
        self.model_image() == Some(*desc)
    }

    /// The descriptor a stream without descriptors means for this model (spec 11.1), if it has a fixed
    /// size.
    pub(crate) fn model_image(&self) -> Option<ImageDesc> {
        let (w, h) = self.layout.fixed_size()?;
        let own = match self.layout.image_channels {
            1 => Colour::Gray,
            _ => Colour::Rgb,
        };
        Some(ImageDesc::untiled(
            w,
            h,
            own,
            u8::try_from(self.default_level).ok()?,
        ))
    }

    /// The index of the level of quality `quality` (the default level for `None`).
    pub(crate) fn level_index(&self, quality: Option<u8>) -> Result<u8> {
        let i = match quality {
            None => self.default_level,
            Some(q) => self
                .levels
                .iter()
                .position(|l| l.quality == q)
                .ok_or_else(|| Error::InvalidArgument {
                    what: "quality",
                    value: q.to_string(),
                    expected: format!(
                        "one of the levels of model {}: {}",
                        self.model.bundle().name(),
                        self.levels
                            .iter()
                            .map(|l| l.quality.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?,
        };
        u8::try_from(i).map_err(|_| Error::InvalidArgument {
            what: "quality level index",
            value: i.to_string(),
            expected: "0..=255".into(),
        })
    }

    /// Checks a descriptor against the model before any of its image's records is decoded: the size is one
    /// the model takes, the level exists, the band count fits the model's latent (spec 11.2). The error's
    /// offset is from the descriptor's first byte.
    pub(crate) fn check_desc(&self, desc: &ImageDesc) -> std::result::Result<(), FieldError> {
        let plan = match self.plan(desc.width, desc.height) {
            Ok(p) => p,
            Err(e) => {
                return Err(FieldError {
                    offset: 0,
                    what: FormatError::GeometryMismatch {
                        message: e.to_string(),
                    },
                })
            }
        };
        if let Some(message) = self.hyper_mismatch(desc) {
            let at = varint_len(desc.width) + varint_len(desc.height);
            return Err(FieldError {
                offset: at,
                what: FormatError::field(
                    "layout byte",
                    desc.layout_byte().into(),
                    if self.hyper.is_some() {
                        "the hyper bit set: the model has a hyperprior"
                    } else {
                        "the hyper bit clear: the model has no hyperprior"
                    },
                    message,
                ),
            });
        }
        if usize::from(desc.level) >= self.levels.len() {
            return Err(FieldError {
                offset: varint_len(desc.width) + varint_len(desc.height) + 1,
                what: FormatError::field(
                    "level",
                    desc.level.into(),
                    "an index into the model's levels",
                    format!(
                        "quality level index {} but model {} has {} level(s)",
                        desc.level,
                        self.model.bundle().name(),
                        self.levels.len()
                    ),
                ),
            });
        }
        desc.check_latent_rows(plan.latent.height)
    }

    /// Why `desc`'s hyper bit does not fit the model (set without a hyperprior, clear with one), if so.
    fn hyper_mismatch(&self, desc: &ImageDesc) -> Option<String> {
        let has = |yes: bool| if yes { "has a" } else { "has no" };
        (desc.hyper != self.hyper.is_some()).then(|| {
            format!(
                "the image {} hyper-latent, but model {} {} hyperprior",
                has(desc.hyper),
                self.model.bundle().name(),
                has(self.hyper.is_some()),
            )
        })
    }

    fn plan(&self, w: u32, h: u32) -> Result<Plan> {
        Plan::new(&self.layout, w, h, self.model.bundle().name())
    }

    /// The descriptor and records of `img` at level index `level`: untiled when every record fits in
    /// `max_payload` bytes, else in bands of as many latent rows as fit.
    pub(crate) fn encode(
        &self,
        coder: Coder,
        img: &DynamicImage,
        level: u8,
        max_payload: usize,
    ) -> Result<(ImageDesc, Vec<Vec<u8>>)> {
        self.encode_keeping_latent(coder, img, level, max_payload)
            .map(|(d, r, _)| (d, r))
    }

    /// As [`AnyCoding::encode`], with the image's quantized latent (`[C, h, w]`, channel-major) too, for
    /// packing it with others ([`AnyCoding::code_packed`]).
    pub(crate) fn encode_keeping_latent(
        &self,
        coder: Coder,
        img: &DynamicImage,
        level: u8,
        max_payload: usize,
    ) -> Result<(ImageDesc, Vec<Vec<u8>>, Vec<i32>)> {
        let lv = self
            .levels
            .get(usize::from(level))
            .ok_or_else(|| Error::InvalidArgument {
                what: "quality level index",
                value: level.to_string(),
                expected: format!("below {}", self.levels.len()),
            })?;
        let p = prepare(img, self.layout.image_channels);
        let plan = self.plan(p.width, p.height)?;
        let q = quantized_latent(&self.model, &plan, &p, lv)?;
        let rows = plan.latent.height;
        // This encoder puts descriptors in stream headers, never in records: the whole payload is the budget.
        let budget = max_payload.max(1);
        // With a hyperprior: the quantized hyper-latent and the tables it chooses.
        let (z, idx) = match &self.hyper {
            None => (Vec::new(), Vec::new()),
            Some(hc) => {
                let z = hc.analyse(&q, plan.latent);
                let idx = hc.indices(&z, plan.latent);
                (z, idx)
            }
        };
        let scales = self
            .hyper
            .as_ref()
            .map(|hc| (hc.scale_tables.as_slice(), idx.as_slice()));
        let mut band_rows = 0u32;
        loop {
            let mut latent = code_bands(coder, &plan, &q, lv, scales, band_rows)?;
            if let Some(hc) = &self.hyper {
                latent = hc.with_shares(coder, usize::from(level), plan.latent, &z, latent)?;
            }
            let alpha = match &p.alpha {
                Some(a) => code_alpha(&plan, a, band_rows)?,
                None => Vec::new(),
            };
            let biggest = latent.iter().chain(&alpha).map(Vec::len).max().unwrap_or(0);
            let current = if band_rows == 0 { rows } else { band_rows };
            if biggest <= budget || current <= 1 {
                if biggest > budget {
                    return Err(Error::Image {
                        input: "image".into(),
                        what: format!(
                            "one latent row codes to {biggest} bytes, over the record payload limit of \
                             {max_payload} (raise Limits::max_payload)"
                        ),
                    });
                }
                let n = bands(&plan, band_rows).len() as u32;
                let colour = colour_of(p.layout);
                let desc = if band_rows == 0 || n == 1 {
                    ImageDesc::untiled(p.width, p.height, colour, level)
                } else {
                    ImageDesc::tiled(p.width, p.height, colour, level, band_rows, n)
                }
                .with_hyper(self.hyper.is_some());
                let mut records = Vec::with_capacity(latent.len() + alpha.len());
                let mut alpha = alpha.into_iter();
                for l in latent {
                    records.push(l);
                    if let Some(a) = alpha.next() {
                        records.push(a);
                    }
                }
                return Ok((desc, records, q));
            }
            // Shrink the bands in proportion, at least halving them.
            let scaled = (current as usize * budget / biggest.max(1)) as u32;
            band_rows = scaled.clamp(1, (current / 2).max(1));
        }
    }

    /// The payload of a packed record (spec 11.3): the image count `k` as a varint, then the `k` quantized
    /// latents of `qs` (one after the other, of images of `desc`) coded as one.
    pub(crate) fn code_packed(
        &self,
        coder: Coder,
        desc: &ImageDesc,
        k: usize,
        qs: &[i32],
    ) -> Result<Vec<u8>> {
        let lv = self.level(desc).map_err(|m| Error::InvalidArgument {
            what: "quality level",
            value: desc.level.to_string(),
            expected: m,
        })?;
        let plan = self.plan(desc.width, desc.height)?;
        let count = u32::try_from(k).map_err(|_| Error::InvalidArgument {
            what: "images in a packed record",
            value: k.to_string(),
            expected: "at most 2^32 - 1".into(),
        })?;
        let mut out = Vec::new();
        crate::format::write_varint(count, &mut out);
        lv.encode(coder, plan.latent, k, qs, &mut out)?;
        Ok(out)
    }

    /// Decodes the `k` images of a packed record's body (its payload after the count).
    pub(crate) fn decode_packed(
        &self,
        coder: Coder,
        desc: &ImageDesc,
        k: usize,
        body: &[u8],
    ) -> std::result::Result<Vec<DynamicImage>, ImageFault> {
        let lv = self.level(desc).map_err(ImageFault::Desc)?;
        let plan = self
            .plan(desc.width, desc.height)
            .map_err(|e| ImageFault::Desc(e.to_string()))?;
        let mut q = Vec::with_capacity(plan.latent.len().saturating_mul(k).min(1 << 24));
        lv.decode(coder, plan.latent, k, body, &mut q)
            .map_err(ImageFault::Other)?
            .map_err(|e| ImageFault::Record(0, e.0))?;
        q.chunks_exact(plan.latent.len().max(1))
            .map(|one| {
                let samples =
                    reconstruct(&self.model, &plan, one, lv).map_err(ImageFault::Other)?;
                assemble(
                    samples,
                    self.layout.image_channels,
                    None,
                    channels_of(desc.colour),
                    (desc.width, desc.height),
                )
                .ok_or_else(|| ImageFault::Desc("decoded planes do not make an image".into()))
            })
            .collect()
    }

    /// The level of a descriptor, or why there is none.
    fn level(&self, desc: &ImageDesc) -> std::result::Result<&LevelCoding, String> {
        self.levels.get(usize::from(desc.level)).ok_or_else(|| {
            format!(
                "quality level index {} but model {} has {} level(s)",
                desc.level,
                self.model.bundle().name(),
                self.levels.len()
            )
        })
    }

    /// Decodes an image from its descriptor and its records' bodies (stream order).
    pub(crate) fn decode(
        &self,
        coder: Coder,
        desc: &ImageDesc,
        bodies: &[&[u8]],
    ) -> std::result::Result<DynamicImage, ImageFault> {
        let lv = self.level(desc).map_err(ImageFault::Desc)?;
        let plan = self
            .plan(desc.width, desc.height)
            .map_err(|e| ImageFault::Desc(e.to_string()))?;
        let bs = bands(&plan, desc.band_rows);
        if bs.len() as u32 != desc.bands {
            return Err(ImageFault::Desc(format!(
                "{} bands of {} latent rows, but the model's latent of a {}x{} image has {} rows",
                desc.bands, desc.band_rows, desc.width, desc.height, plan.latent.height
            )));
        }
        let alpha = desc.colour.has_alpha();
        let per_band = if alpha { 2 } else { 1 };
        if let Some(message) = self.hyper_mismatch(desc) {
            return Err(ImageFault::Desc(message));
        }
        if bodies.len() != bs.len() * per_band {
            return Err(ImageFault::Desc(format!(
                "{} records for an image of {} records",
                bodies.len(),
                bs.len() * per_band
            )));
        }
        // With a hyperprior: each latent record's share of the hyper-latent first, then the tables the
        // whole hyper-latent chooses; the latent parts follow their shares.
        let mut latent_parts: Vec<&[u8]> = (0..bs.len()).map(|i| bodies[i * per_band]).collect();
        let idx = match &self.hyper {
            None => Vec::new(),
            Some(hc) => {
                let mut z = vec![0i32; hc.shape(plan.latent).len()];
                let (level, n) = (usize::from(desc.level), bs.len());
                for (i, part) in latent_parts.iter_mut().enumerate() {
                    *part = hc
                        .read_share(coder, level, plan.latent, (n, i), part, &mut z)
                        .map_err(|e| ImageFault::Record(i * per_band, e))?;
                }
                hc.indices(&z, plan.latent)
            }
        };
        let scales = self
            .hyper
            .as_ref()
            .map(|hc| (hc.scale_tables.as_slice(), idx.as_slice()));
        let mut q = vec![0i32; plan.latent.len()];
        let mut a = if alpha {
            vec![0u8; desc.width as usize * desc.height as usize]
        } else {
            Vec::new()
        };
        for (i, band) in bs.iter().enumerate() {
            let r = i * per_band;
            decode_band(coder, &plan, lv, scales, *band, latent_parts[i], &mut q)
                .map_err(|e| ImageFault::Record(r, e))?;
            if alpha {
                decode_alpha(&plan, *band, bodies[r + 1], &mut a)
                    .map_err(|e| ImageFault::Record(r + 1, e))?;
            }
        }
        let samples = reconstruct(&self.model, &plan, &q, lv).map_err(ImageFault::Other)?;
        assemble(
            samples,
            self.layout.image_channels,
            alpha.then_some(a),
            channels_of(desc.colour),
            (desc.width, desc.height),
        )
        .ok_or_else(|| ImageFault::Desc("decoded planes do not make an image".into()))
    }
}
