//! What `aez compress` reads: the image source for a fixed-size model (images converted to its geometry)
//! or for a model that takes any image (images as decoded), with the notes each conversion calls for.

use aez::io::{to_model_pixels, ImageSource, Input, Record};
use aez::model::Geometry;
use image::DynamicImage;

use crate::cli::Global;
use crate::progress::note;

/// Where the images come from.
pub enum Source {
    /// Images converted to a fixed-size model's geometry by the source (the path without families).
    Fixed(ImageSource),
    /// Images as they were decoded: for a model that takes any image, or converted here to a fixed-size
    /// model's geometry (`fixed`: the geometry and the model's name) after the first input chose it.
    Any {
        src: ImageSource,
        fixed: Option<(Geometry, String)>,
        /// The model's name and its image channels (1 gray, 3 RGB), for `-v` notes.
        model: (String, u8),
        /// The one size a version-2 model of a fixed size takes (checked here, so that the error names
        /// the input).
        size: Option<(u32, u32)>,
        /// No model was named (and no quality): each image gets its family's bundle, as the first did;
        /// an image of another family than the one before it switches the model (a new stream).
        families: bool,
        /// The family bundle the last prepared image switched to, for the encoder to take.
        switch: Option<aez::Bundle>,
    },
}

impl Source {
    /// The family bundle the last prepared image needs, when it is not the current model's.
    pub fn take_switch(&mut self) -> Option<aez::Bundle> {
        match self {
            Source::Any { switch, .. } => switch.take(),
            Source::Fixed(_) => None,
        }
    }

    pub fn next_record(&mut self, g: &Global) -> aez::Result<Option<Record>> {
        match self {
            Source::Fixed(src) => src.next_record(),
            Source::Any { src, .. } => match src.next_record()? {
                Some(rec) => self.prepare(g, rec).map(Some),
                None => Ok(None),
            },
        }
    }

    pub fn known_total(&self) -> u64 {
        match self {
            Source::Fixed(src) | Source::Any { src, .. } => src.known_total(),
        }
    }

    /// A record of an any-size source ready for the model, with the notes it calls for: samples reduced
    /// to 8 bits (`-v`), colour coded by a gray model (always when it loses colour), alpha dropped by a
    /// fixed-size model (always).
    pub fn prepare(&mut self, g: &Global, mut rec: Record) -> aez::Result<Record> {
        let Source::Any {
            fixed,
            model,
            size,
            families,
            switch,
            ..
        } = self
        else {
            return Ok(rec);
        };
        let Some(img) = rec.image.take() else {
            return Ok(rec);
        };
        if *families && rec.idx_record.is_none() {
            // This image's family: another version-2 family bundle than the current model's switches.
            let (b, why) = crate::model::family_bundle(Some(&img), None)?;
            if b.name() != model.0 && crate::model::takes_any_image(&b) {
                if g.verbose {
                    let why = why.replacen("first input is ", "", 1);
                    note(g, &format!("{}: {why}: model {}", rec.input, b.name()));
                }
                *model = (b.name().to_string(), b.layout().image_channels);
                *size = b.layout().fixed_size();
                *switch = Some(b);
            }
        }
        if let Some((w, h)) = *size {
            if (img.width(), img.height()) != (w, h) {
                return Err(aez::Error::Image {
                    input: rec.input.clone(),
                    what: format!(
                        "image is {}x{}, model {} takes {w}x{h}",
                        img.width(),
                        img.height(),
                        model.0
                    ),
                });
            }
        }
        let c = img.color();
        if g.verbose && rec.idx_record.is_none() {
            if let Some(depth) = reduced_depth(&img) {
                note(
                    g,
                    &format!("{}: {depth} samples reduced to 8 bits", rec.input),
                );
            }
        }
        // Colour a gray model cannot keep is said always (as dropped alpha is), not only with -v; an RGB
        // image whose pixels are all gray loses nothing and gets the note with -v only.
        if c.has_color() && model.1 == 1 && rec.idx_record.is_none() {
            let lost = !crate::model::looks_gray(&img);
            if lost || g.verbose {
                let how = match (fixed.is_some(), lost) {
                    (true, true) => "converted to gray, its colour is lost",
                    (true, false) => "converted to gray (its pixels are gray)",
                    (false, true) => {
                        "coded in gray, its colour is lost: it decodes as gray, in its own layout \
                         (-m photo-hyper keeps colour)"
                    }
                    (false, false) => "coded in gray (its pixels are gray), in its own layout",
                };
                note(
                    g,
                    &format!(
                        "{}: colour image, model {} is gray: {how}",
                        rec.input, model.0
                    ),
                );
            }
        }
        match fixed {
            None => rec.image = Some(img),
            Some((geometry, name)) => {
                rec.pixels = to_model_pixels(&img, &rec.input, geometry, name)?;
                if c.has_alpha() {
                    note(
                        g,
                        &format!(
                            "{}: alpha dropped: model {name} takes {}x{} images without alpha (-m with a \
                             model that takes any image keeps it)",
                            rec.input, geometry.width, geometry.height
                        ),
                    );
                }
            }
        }
        Ok(rec)
    }
}

/// How compress starts: with the inputs, or (when the first input chose the model) with the source that
/// read it and the first record.
pub enum Start {
    Inputs(Vec<Input>),
    Read(Box<ImageSource>, Option<Record>),
}

/// `Some("16-bit")` (or `"32-bit float"`) for an image with more than 8 bits per sample.
pub fn reduced_depth(img: &DynamicImage) -> Option<&'static str> {
    match img {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => None,
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => Some("32-bit float"),
        _ => Some("16-bit"),
    }
}

/// 8-bit samples of a record as the model takes it (for the ratio in `-v`).
pub fn raw_len(rec: &Record) -> u64 {
    match &rec.image {
        Some(img) => {
            u64::from(img.width())
                * u64::from(img.height())
                * u64::from(img.color().channel_count())
        }
        None => rec.pixels.len() as u64,
    }
}
