//! Image files: decoding any format the `image` crate reads, converting to a model's geometry, and
//! encoding decoded pixels (PNG by default, or the format an output file's extension names).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::model::Geometry;

/// Largest image side [`decode_image`] accepts (version 2's default side limit).
pub const MAX_IMAGE_SIDE: u32 = 16384;
/// Most bytes the image decoder may allocate for one image.
pub const MAX_IMAGE_ALLOC: u64 = 256 * 1024 * 1024;

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(MAX_IMAGE_SIDE);
    l.max_image_height = Some(MAX_IMAGE_SIDE);
    l.max_alloc = Some(MAX_IMAGE_ALLOC);
    l
}

/// Decodes an image file held in memory; the format is guessed from its content. `input` names it in
/// errors (a path, or `<stdin>`). Images larger than [`MAX_IMAGE_SIDE`] are refused before decoding.
pub fn decode_image(bytes: &[u8], input: &str) -> Result<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(format!("cannot read {input}"), e))?;
    if reader.format().is_none() {
        return Err(Error::Image {
            input: input.to_string(),
            what: "not an image in a known format (PNG, JPEG, GIF, BMP, TIFF, WebP, PNM, QOI, TGA, ICO) \
                   nor an IDX file"
                .into(),
        });
    }
    reader.limits(limits());
    reader.decode().map_err(|e| Error::Image {
        input: input.to_string(),
        what: format!("cannot decode image: {e}"),
    })
}

/// Reads and decodes an image file.
pub fn read_image(path: &Path) -> Result<DynamicImage> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    decode_image(&bytes, &path.display().to_string())
}

/// Converts an image to a model's input samples: 8-bit, row-major, interleaved, `geometry.channels`
/// per pixel. Gray models take the luma of colour images; RGB models repeat a gray value over R, G and B.
/// Alpha is dropped; 16-bit and float samples are scaled to 8 bits. A size other than the model's is an
/// error naming the input, its size, the model and the size it takes (no silent resizing).
pub fn to_model_pixels(
    img: &DynamicImage,
    input: &str,
    geometry: &Geometry,
    model: &str,
) -> Result<Vec<u8>> {
    if img.width() != geometry.width || img.height() != geometry.height {
        return Err(Error::Image {
            input: input.to_string(),
            what: format!(
                "image is {}x{}, model {model} takes {}x{}",
                img.width(),
                img.height(),
                geometry.width,
                geometry.height
            ),
        });
    }
    match geometry.channels {
        1 => Ok(img.to_luma8().into_raw()),
        3 => Ok(img.to_rgb8().into_raw()),
        c => Err(Error::InvalidArgument {
            what: "model channels",
            value: c.to_string(),
            expected: "1 or 3".into(),
        }),
    }
}

/// Wraps 8-bit samples in `geometry`'s layout as an image (gray or RGB).
pub fn pixels_to_image(pixels: Vec<u8>, geometry: &Geometry) -> Result<DynamicImage> {
    let bad = |len: usize| Error::InvalidArgument {
        what: "pixel buffer length",
        value: len.to_string(),
        expected: format!(
            "{} for {}x{}x{}",
            geometry.samples(),
            geometry.width,
            geometry.height,
            geometry.channels
        ),
    };
    let len = pixels.len();
    if len != geometry.samples() {
        return Err(bad(len));
    }
    match geometry.channels {
        1 => image::GrayImage::from_raw(geometry.width, geometry.height, pixels)
            .map(DynamicImage::ImageLuma8)
            .ok_or_else(|| bad(len)),
        3 => image::RgbImage::from_raw(geometry.width, geometry.height, pixels)
            .map(DynamicImage::ImageRgb8)
            .ok_or_else(|| bad(len)),
        c => Err(Error::InvalidArgument {
            what: "model channels",
            value: c.to_string(),
            expected: "1 or 3".into(),
        }),
    }
}

/// The image format an output path asks for by its extension; no extension means PNG.
pub fn format_for_path(path: &Path) -> Result<ImageFormat> {
    let Some(ext) = path.extension() else {
        return Ok(ImageFormat::Png);
    };
    let ext = ext.to_string_lossy();
    match ImageFormat::from_extension(ext.as_ref()) {
        Some(f) if f.writing_enabled() => Ok(f),
        _ => Err(Error::InvalidArgument {
            what: "output image extension",
            value: format!(".{ext} ({})", path.display()),
            expected: "png, jpg, jpeg, bmp, gif, tif, tiff, webp, pgm, ppm, pnm, qoi, tga, ico, or .idx / .idx.gz \
                       for a batch"
                .into(),
        }),
    }
}

/// Encodes an image to bytes in `format` (PNG for stdout and directory sinks). JPEG is written at
/// quality 95; WebP is written lossless (the only WebP encoder the `image` crate has).
pub fn encode_image(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        ImageFormat::Jpeg => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
            img.write_with_encoder(enc)
        }
        ImageFormat::Png => {
            let enc = image::codecs::png::PngEncoder::new(&mut out);
            img.write_with_encoder(enc)
        }
        f => img.write_to(&mut out, f),
    };
    result.map_err(|e| Error::Image {
        input: format!("{format:?} output"),
        what: format!("cannot encode image: {e}"),
    })?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/images")
            .join(name)
    }

    const GRAY28: Geometry = Geometry {
        width: 28,
        height: 28,
        channels: 1,
    };
    const RGB28: Geometry = Geometry {
        width: 28,
        height: 28,
        channels: 3,
    };

    fn idx_record(i: usize) -> Vec<u8> {
        let idx = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx"),
        )
        .unwrap();
        idx[16 + i * 784..16 + (i + 1) * 784].to_vec()
    }

    #[test]
    fn gray_png_matches_idx_record() {
        for i in [0, 7] {
            let img = read_image(&fixture(&format!("fmnist-t10k-{i:05}.png"))).unwrap();
            let px = to_model_pixels(&img, "x", &GRAY28, "m").unwrap();
            assert_eq!(px, idx_record(i));
        }
    }

    #[test]
    fn rgb_png_converts_to_gray_exactly_and_gray_to_rgb() {
        let img = read_image(&fixture("fmnist-t10k-00000-rgb.png")).unwrap();
        assert_eq!(img.color(), image::ColorType::Rgb8);
        assert_eq!(
            to_model_pixels(&img, "x", &GRAY28, "m").unwrap(),
            idx_record(0)
        );
        let gray = read_image(&fixture("fmnist-t10k-00000.png")).unwrap();
        let rgb = to_model_pixels(&gray, "x", &RGB28, "m").unwrap();
        assert_eq!(rgb.len(), 784 * 3);
        assert!(rgb
            .chunks(3)
            .zip(idx_record(0))
            .all(|(p, g)| p == [g, g, g]));
    }

    #[test]
    fn jpeg_decodes_close_to_source() {
        let img = read_image(&fixture("fmnist-t10k-00000-rgb.jpg")).unwrap();
        let px = to_model_pixels(&img, "x", &GRAY28, "m").unwrap();
        let max_err = px
            .iter()
            .zip(idx_record(0))
            .map(|(&a, b)| (i16::from(a) - i16::from(b)).abs())
            .max()
            .unwrap();
        assert!(max_err < 40, "JPEG error {max_err}");
        assert_ne!(px, vec![0u8; 784]);
    }

    #[test]
    fn wrong_size_is_a_clear_error() {
        let img = read_image(&fixture("wrong-size-32x32.png")).unwrap();
        let err = to_model_pixels(&img, "in.png", &GRAY28, "fmnist-ld32e3d3").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.png: image is 32x32, model fmnist-ld32e3d3 takes 28x28"
        );
    }

    #[test]
    fn garbage_and_truncated_images_are_errors() {
        let err = decode_image(b"hello world", "<stdin>")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("<stdin>: not an image"), "{err}");
        let png = std::fs::read(fixture("fmnist-t10k-00001.png")).unwrap();
        let err = decode_image(&png[..png.len() / 2], "half.png")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("half.png: cannot decode image"), "{err}");
    }

    #[test]
    fn png_round_trip_and_extensions() {
        let px = idx_record(3);
        let img = pixels_to_image(px.clone(), &GRAY28).unwrap();
        let png = encode_image(&img, ImageFormat::Png).unwrap();
        let back = decode_image(&png, "p").unwrap();
        assert_eq!(back.color(), image::ColorType::L8);
        assert_eq!(to_model_pixels(&back, "p", &GRAY28, "m").unwrap(), px);
        assert!(pixels_to_image(vec![0; 5], &GRAY28).is_err());
        assert_eq!(
            format_for_path(Path::new("a.PNG")).unwrap(),
            ImageFormat::Png
        );
        assert_eq!(format_for_path(Path::new("a")).unwrap(), ImageFormat::Png);
        assert_eq!(
            format_for_path(Path::new("a.pgm")).unwrap(),
            ImageFormat::Pnm
        );
        assert!(format_for_path(Path::new("a.xyz")).is_err());
        let jpg = encode_image(&img, ImageFormat::Jpeg).unwrap();
        assert_eq!(&jpg[..2], &[0xff, 0xd8]);
    }
}
