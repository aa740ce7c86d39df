//! The classical codecs, each as a round trip: image -> whole file bytes -> decoded samples.
//!
//! - PNG: the `png` crate. `Png` is its `Compression::High` preset (used for speed); `PngBest` is deflate
//!   level 9 with the smallest of the seven filter strategies per image (best compression).
//! - QOI: the `qoi` crate (RGB; gray is expanded, QOI has no gray mode).
//! - JPEG: mozjpeg at its defaults (as its `cjpeg`: trellis quantization, progressive, optimized Huffman
//!   tables; 4:2:0 for RGB, gray as one channel), decoded by `image` (zune-jpeg).
//! - WebP lossy: libwebp through the `webp` crate at method 6 (as `cwebp -m 6`; gray expanded to RGB first),
//!   decoded by `image`.
//! - AVIF: `rav1e` still picture wrapped by `avif-serialize`, as `ravif` does (ravif's quality to quantizer
//!   mapping); gray as AV1 monochrome (4:0:0), RGB as BT.601 full-range YCbCr 4:4:4. The decoded samples are
//!   rav1e's reconstruction (the frame a conforming decoder outputs), converted back to RGB here.

use std::sync::Arc;

use super::data::Image;
use super::BoxResult;

/// One codec setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Codec {
    /// PNG, `Compression::High` preset (adaptive filter).
    Png,
    /// PNG, deflate level 9, best of 7 filter strategies per image.
    PngBest,
    /// QOI.
    Qoi,
    /// JPEG at a quality (1..=100): mozjpeg's defaults (trellis, progressive, optimized Huffman tables).
    Jpeg(u8),
    /// JPEG at a quality (1..=100), baseline with optimized Huffman tables: libjpeg-turbo's `cjpeg
    /// -optimize` (mozjpeg's libjpeg-v6 profile). On tiny images its one scan costs fewer header bytes than
    /// progressive scans; both are on the JPEG curve, whose Pareto front takes the better at each rate.
    JpegBaseline(u8),
    /// WebP lossy at a quality (0..=100).
    Webp(u8),
    /// AVIF at a quality (1..=100, ravif's scale) and rav1e speed (0..=10).
    Avif(u8, u8),
}

impl Codec {
    /// The family name (one curve per family).
    pub fn family(&self) -> &'static str {
        match self {
            Codec::Png => "PNG",
            Codec::PngBest => "PNG best",
            Codec::Qoi => "QOI",
            Codec::Jpeg(_) | Codec::JpegBaseline(_) => "JPEG",
            Codec::Webp(_) => "WebP",
            Codec::Avif(..) => "AVIF",
        }
    }

    /// The setting, e.g. "q50".
    pub fn setting(&self) -> String {
        match self {
            Codec::Png => "High".into(),
            Codec::PngBest => "L9 best filter".into(),
            Codec::Qoi => "-".into(),
            Codec::Jpeg(q) | Codec::Webp(q) => format!("q{q}"),
            Codec::JpegBaseline(q) => format!("q{q} baseline"),
            Codec::Avif(q, s) => format!("q{q} s{s}"),
        }
    }
}

/// Encodes `img` and decodes it back: (whole file bytes, decoded samples in the layout of `img`).
pub fn roundtrip(codec: Codec, img: &Image) -> BoxResult<(Vec<u8>, Vec<u8>)> {
    let file = encode(codec, img)?;
    let back = match codec {
        Codec::Avif(..) => return Ok(file),
        _ => decode(codec, &file.0, img)?,
    };
    Ok((file.0, back))
}

/// Encodes (AVIF returns its reconstruction too; the others an empty vector).
fn encode(codec: Codec, img: &Image) -> BoxResult<(Vec<u8>, Vec<u8>)> {
    Ok(match codec {
        Codec::Png => (png_encode(img, png::Compression::High)?, Vec::new()),
        Codec::PngBest => (png_best(img)?, Vec::new()),
        Codec::Qoi => (
            qoi::encode_to_vec(img.to_rgb(), img.w as u32, img.h as u32)?,
            Vec::new(),
        ),
        Codec::Jpeg(q) => (jpeg_encode(img, q, false)?, Vec::new()),
        Codec::JpegBaseline(q) => (jpeg_encode(img, q, true)?, Vec::new()),
        Codec::Webp(q) => {
            let rgb = img.to_rgb();
            let mut config =
                webp::WebPConfig::new().map_err(|_| "libwebp: WebPConfigInit failed")?;
            config.quality = f32::from(q);
            config.method = 6;
            let mem = webp::Encoder::from_rgb(&rgb, img.w as u32, img.h as u32)
                .encode_advanced(&config)
                .map_err(|e| format!("libwebp: {e:?}"))?;
            (mem.to_vec(), Vec::new())
        }
        Codec::Avif(q, s) => avif_encode(img, q, s)?,
    })
}

fn decode(codec: Codec, bytes: &[u8], like: &Image) -> BoxResult<Vec<u8>> {
    let out = match codec {
        Codec::Png | Codec::PngBest => png_decode(bytes)?,
        Codec::Qoi => {
            let (_, rgb) = qoi::decode_to_vec(bytes)?;
            from_rgb(&rgb, like.c)
        }
        Codec::Jpeg(_) | Codec::JpegBaseline(_) => {
            let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)?;
            if like.c == 1 {
                img.into_luma8().into_raw()
            } else {
                img.into_rgb8().into_raw()
            }
        }
        Codec::Webp(_) => {
            let img = image::load_from_memory_with_format(bytes, image::ImageFormat::WebP)?;
            from_rgb(&img.into_rgb8().into_raw(), like.c)
        }
        Codec::Avif(..) => return Err("AVIF is decoded by its encoder's reconstruction".into()),
    };
    if out.len() != like.data.len() {
        return Err(format!(
            "{} decoded {} samples, expected {}",
            codec.family(),
            out.len(),
            like.data.len()
        )
        .into());
    }
    Ok(out)
}

/// RGB samples to `c` channels (gray: the mean of the three, which is exact for an expanded gray image
/// and the neutral choice for a codec's colour drift).
fn from_rgb(rgb: &[u8], c: usize) -> Vec<u8> {
    if c == 3 {
        return rgb.to_vec();
    }
    rgb.chunks_exact(3)
        .map(|p| ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2]) + 1) / 3) as u8)
        .collect()
}

fn png_color(c: usize) -> png::ColorType {
    if c == 1 {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    }
}

/// PNG with a compression preset.
pub fn png_encode(img: &Image, preset: png::Compression) -> BoxResult<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.w as u32, img.h as u32);
        enc.set_color(png_color(img.c));
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(preset);
        let mut w = enc.write_header()?;
        w.write_image_data(&img.data)?;
        w.finish()?;
    }
    Ok(out)
}

fn png_with(img: &Image, filter: png::Filter) -> BoxResult<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.w as u32, img.h as u32);
        enc.set_color(png_color(img.c));
        enc.set_depth(png::BitDepth::Eight);
        enc.set_deflate_compression(png::DeflateCompression::Level(9));
        enc.set_filter(filter);
        let mut w = enc.write_header()?;
        w.write_image_data(&img.data)?;
        w.finish()?;
    }
    Ok(out)
}

/// PNG at deflate level 9, the smallest of the seven filter strategies.
pub fn png_best(img: &Image) -> BoxResult<Vec<u8>> {
    use png::Filter::*;
    let mut best: Option<Vec<u8>> = None;
    for f in [NoFilter, Sub, Up, Avg, Paeth, Adaptive, MinEntropy] {
        let b = png_with(img, f)?;
        if best.as_ref().is_none_or(|x| b.len() < x.len()) {
            best = Some(b);
        }
    }
    best.ok_or_else(|| "no PNG filter".into())
}

/// Decodes a PNG to its 8-bit samples.
pub fn png_decode(bytes: &[u8]) -> BoxResult<Vec<u8>> {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut r = dec.read_info()?;
    let size = r
        .output_buffer_size()
        .ok_or("PNG output buffer size overflows")?;
    let mut buf = vec![0u8; size];
    let info = r.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    Ok(buf)
}

/// mozjpeg at its defaults (what its `cjpeg -quality q` writes: trellis quantization, progressive scans,
/// optimized Huffman tables) or, `baseline`, at libjpeg-turbo's (`cjpeg -optimize -quality q`: one scan,
/// optimized Huffman tables); one gray channel for gray input, YCbCr 4:2:0 for RGB. mozjpeg reports errors
/// by unwinding, caught here.
fn jpeg_encode(img: &Image, q: u8, baseline: bool) -> BoxResult<Vec<u8>> {
    let space = if img.c == 1 {
        mozjpeg::ColorSpace::JCS_GRAYSCALE
    } else {
        mozjpeg::ColorSpace::JCS_RGB
    };
    std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(space);
        if baseline {
            c.set_fastest_defaults();
        }
        c.set_size(img.w, img.h);
        c.set_quality(f32::from(q));
        c.set_optimize_coding(true);
        let mut started = c.start_compress(Vec::new())?;
        started.write_scanlines(&img.data)?;
        started.finish()
    })
    .map_err(|_| "mozjpeg failed (unwound)")?
    .map_err(Into::into)
}

/// ravif's mapping of a 1..=100 quality to rav1e's quantizer (0..=255).
fn quality_to_quantizer(quality: f32) -> u8 {
    let q = quality / 100.;
    let x = if q >= 0.85 {
        (1. - q) * 3.
    } else if q > 0.25 {
        1. - 0.125 - q * 0.5
    } else {
        1. - q
    };
    (x * 255.).round() as u8
}

const BT601: [f32; 3] = [0.2990, 0.5870, 0.1140];

fn avif_encode(img: &Image, q: u8, speed: u8) -> BoxResult<(Vec<u8>, Vec<u8>)> {
    use rav1e::prelude::*;
    let (w, h) = (img.w, img.h);
    let mono = img.c == 1;
    let quantizer = quality_to_quantizer(f32::from(q));
    let enc = EncoderConfig {
        width: w,
        height: h,
        bit_depth: 8,
        chroma_sampling: if mono {
            ChromaSampling::Cs400
        } else {
            ChromaSampling::Cs444
        },
        pixel_range: PixelRange::Full,
        color_description: if mono {
            None
        } else {
            Some(ColorDescription {
                color_primaries: ColorPrimaries::BT709,
                transfer_characteristics: TransferCharacteristics::SRGB,
                matrix_coefficients: MatrixCoefficients::BT601,
            })
        },
        still_picture: true,
        quantizer: usize::from(quantizer),
        min_quantizer: quantizer,
        tune: Tune::Psychovisual,
        speed_settings: SpeedSettings::from_preset(speed),
        ..EncoderConfig::with_speed_preset(speed)
    };
    // threads 0: rav1e runs on the current (global) rayon pool, whose threads have large stacks (main.rs).
    let cfg = Config::new().with_encoder_config(enc).with_threads(0);
    let mut ctx: Context<u8> = cfg.new_context()?;
    let mut frame = ctx.new_frame();
    // Planes: Y (gray, or BT.601 luma) then Cb, Cr for colour.
    let (yp, cb, cr): (Vec<u8>, Vec<u8>, Vec<u8>) = if mono {
        (img.data.clone(), Vec::new(), Vec::new())
    } else {
        let mut y = Vec::with_capacity(w * h);
        let mut u = Vec::with_capacity(w * h);
        let mut v = Vec::with_capacity(w * h);
        for p in img.data.chunks_exact(3) {
            let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
            let yy = BT601[0] * r + BT601[1] * g + BT601[2] * b;
            let cbv = (b - yy).mul_add(0.5 / (1. - BT601[2]), 128.);
            let crv = (r - yy).mul_add(0.5 / (1. - BT601[0]), 128.);
            y.push(yy.round().clamp(0., 255.) as u8);
            u.push(cbv.round().clamp(0., 255.) as u8);
            v.push(crv.round().clamp(0., 255.) as u8);
        }
        (y, u, v)
    };
    frame.planes[0].copy_from_raw_u8(&yp, w, 1);
    if !mono {
        frame.planes[1].copy_from_raw_u8(&cb, w, 1);
        frame.planes[2].copy_from_raw_u8(&cr, w, 1);
    }
    ctx.send_frame(frame)?;
    ctx.flush();
    let mut av1 = Vec::new();
    let mut rec: Option<Arc<Frame<u8>>> = None;
    loop {
        match ctx.receive_packet() {
            Ok(mut packet) => {
                if packet.frame_type == FrameType::KEY {
                    av1.append(&mut packet.data);
                    rec = packet.rec.take();
                }
            }
            Err(EncoderStatus::Encoded) => continue,
            Err(EncoderStatus::LimitReached) => break,
            Err(e) => return Err(format!("rav1e: {e}").into()),
        }
    }
    let rec = rec.ok_or("rav1e returned no reconstruction")?;
    let plane = |i: usize| -> Vec<u8> {
        let p = &rec.planes[i];
        let stride = p.cfg.stride;
        let o = p.data_origin();
        (0..h)
            .flat_map(|y| o[y * stride..y * stride + w].to_vec())
            .collect()
    };
    let decoded = if mono {
        plane(0)
    } else {
        let (y, u, v) = (plane(0), plane(1), plane(2));
        let mut out = Vec::with_capacity(w * h * 3);
        let (kr, kb) = (BT601[0], BT601[2]);
        let kg = 1. - kr - kb;
        for i in 0..w * h {
            let (yy, cbv, crv) = (
                f32::from(y[i]),
                f32::from(u[i]) - 128.,
                f32::from(v[i]) - 128.,
            );
            let r = yy + 2. * (1. - kr) * crv;
            let b = yy + 2. * (1. - kb) * cbv;
            let g = (yy - kr * r - kb * b) / kg;
            for x in [r, g, b] {
                out.push(x.round().clamp(0., 255.) as u8);
            }
        }
        out
    };
    let mut aviffy = avif_serialize::Aviffy::new();
    aviffy.set_full_color_range(true);
    if mono {
        aviffy.set_monochrome(true);
    } else {
        aviffy.set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601);
    }
    let file = aviffy.to_vec(&av1, None, w as u32, h as u32, 8);
    Ok((file, decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image(c: usize) -> Image {
        let (w, h) = (28, 28);
        let data = (0..w * h * c)
            .map(|i| ((i / c % w) * 8 + (i / c / w) * 2) as u8)
            .collect();
        Image { w, h, c, data }
    }

    #[test]
    fn lossless_codecs_round_trip_exactly() {
        for c in [1, 3] {
            let img = test_image(c);
            for codec in [Codec::Png, Codec::PngBest, Codec::Qoi] {
                let (bytes, back) = roundtrip(codec, &img).expect("round trip");
                assert!(!bytes.is_empty());
                assert_eq!(back, img.data, "{codec:?} c={c}");
            }
        }
    }

    #[test]
    fn lossy_codecs_give_close_images_and_grow_with_quality() {
        for c in [1, 3] {
            let img = test_image(c);
            for (lo, hi) in [
                (Codec::Jpeg(20), Codec::Jpeg(95)),
                (Codec::JpegBaseline(20), Codec::JpegBaseline(95)),
                (Codec::Webp(10), Codec::Webp(95)),
                (Codec::Avif(20, 8), Codec::Avif(95, 8)),
            ] {
                let (bl, dl) = roundtrip(lo, &img).expect("low");
                let (bh, dh) = roundtrip(hi, &img).expect("high");
                assert_eq!(dl.len(), img.data.len());
                // mozjpeg's progressive scans can make a smooth 28x28 image smaller at q95 than at q20
                // (measured: 494 against 507 bytes), so for it only the quality must grow.
                if !matches!(lo, Codec::Jpeg(_)) {
                    assert!(
                        bh.len() >= bl.len(),
                        "{hi:?} {} < {lo:?} {}",
                        bh.len(),
                        bl.len()
                    );
                }
                let psnr = |d: &[u8]| {
                    let mse =
                        super::super::metrics::sse(d, &img.data) as f64 / img.data.len() as f64;
                    super::super::metrics::psnr_from_mse(mse)
                };
                assert!(psnr(&dh) > 28.0, "{hi:?} c={c}: {} dB", psnr(&dh));
                assert!(psnr(&dh) > psnr(&dl), "{hi:?} c={c}: no better than {lo:?}");
            }
        }
    }
}
