//! Format version 2 end to end on the small convolutional fixture `fixtures/models/tiny-conv` (random
//! weights: the decoded pixels are noise, but sizes, layouts, alpha, levels, tiles and streams are real):
//! any size from 1x1, every colour layout back as it came in, alpha lossless, large images in bands,
//! mixed sizes in one batch, lookup by model id.

use std::path::PathBuf;

use aez::{BackendChoice, Bundle, Decoder, Encoder, Model, ModelChoice, Options, Registry};
use image::DynamicImage;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/models")
}

fn model() -> Model {
    Model::load(
        Bundle::from_dir(&fixtures().join("tiny-conv")).unwrap(),
        BackendChoice::Auto,
    )
    .unwrap()
}

fn rgba(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 13 % 256) as u8,
            (y * 7 % 256) as u8,
            ((x + y) % 256) as u8,
            ((x / 3 + y * 2) % 256) as u8,
        ])
    })
}

fn layouts(w: u32, h: u32) -> Vec<DynamicImage> {
    let base = DynamicImage::ImageRgba8(rgba(w, h));
    vec![
        DynamicImage::ImageLuma8(base.to_luma8()),
        DynamicImage::ImageLumaA8(base.to_luma_alpha8()),
        DynamicImage::ImageRgb8(base.to_rgb8()),
        base.clone(),
        DynamicImage::ImageRgb16(base.to_rgb16()),
    ]
}

fn alpha(img: &DynamicImage) -> Vec<u8> {
    img.to_luma_alpha8().pixels().map(|p| p[1]).collect()
}

#[test]
fn every_size_and_layout_comes_back_as_it_went_in() {
    let m = model();
    for (w, h) in [(1u32, 1u32), (2, 7), (37, 53), (64, 16)] {
        for img in layouts(w, h) {
            let bytes = aez::compress(&m, &img).unwrap();
            assert_eq!(
                &bytes[..5],
                &[0x89, b'A', b'E', b'Z', 2],
                "a version-2 stream"
            );
            let back = aez::decompress(&m, &bytes).unwrap();
            assert_eq!((back.width(), back.height()), (w, h));
            assert_eq!(back.color().has_alpha(), img.color().has_alpha());
            assert_eq!(back.color().has_color(), img.color().has_color());
            assert_eq!(
                back.color().bytes_per_pixel() as u32,
                u32::from(img.color().channel_count()),
                "8 bits per sample"
            );
            if img.color().has_alpha() {
                assert_eq!(alpha(&back), alpha(&img), "alpha is lossless");
            }
            // The same bytes decode the same everywhere: the latents, hence the pixels, are stable.
            assert_eq!(aez::decompress(&m, &bytes).unwrap(), back);
        }
    }
}

#[test]
fn a_large_image_is_coded_in_bands_under_the_payload_limit() {
    let m = model();
    let img = DynamicImage::ImageRgba8(rgba(600, 450));
    let opts = Options::default().with_limits(aez::Limits::default().with_max_payload(4096));
    let bytes = aez::compress_with(&m, &img, &opts).unwrap();
    let info = aez::inspect(&bytes[..], None, opts.limits.with_max_version(2)).unwrap();
    assert!(info[0].records > 2, "tiled: {} records", info[0].records);
    assert!(info[0].max_payload <= 4096);
    let back = aez::decompress_with(&m, &bytes, &opts).unwrap();
    assert_eq!((back.width(), back.height()), (600, 450));
    assert_eq!(alpha(&back), alpha(&img));
    // Untiled, the same image decodes to the same pixels (tiles and bands join without seams).
    let whole = aez::decompress(&m, &aez::compress(&m, &img).unwrap()).unwrap();
    let worst = whole
        .as_bytes()
        .iter()
        .zip(back.as_bytes())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "banded and whole decodes differ by {worst}");
}

#[test]
fn mixed_sizes_in_one_batch_and_lookup_by_id() {
    let m = model();
    let imgs: Vec<DynamicImage> = [(5u32, 5u32), (5, 5), (30, 9), (5, 5)]
        .iter()
        .map(|&(w, h)| DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba(w, h)).to_rgb8()))
        .collect();
    let mut enc = Encoder::new(Vec::new(), &m, Options::default()).unwrap();
    for img in &imgs {
        enc.push_image(img).unwrap();
    }
    assert_eq!(enc.records_written(), 4);
    let bytes = enc.finish().unwrap();
    // Three streams: 5x5 twice, 30x9, 5x5 (a descriptor change starts a concatenated stream).
    assert_eq!(
        aez::inspect(&bytes[..], None, aez::Limits::default().with_max_version(2))
            .unwrap()
            .len(),
        3
    );
    let reg = Registry::with_dirs([fixtures()]);
    let dec = Decoder::new(
        &bytes[..],
        ModelChoice::Registry(reg, BackendChoice::Auto),
        Options::default(),
    )
    .unwrap();
    let mut dec = dec;
    let mut sizes = Vec::new();
    while let Some(img) = dec.next_image().unwrap() {
        sizes.push((img.width(), img.height()));
    }
    assert_eq!(sizes, vec![(5, 5), (5, 5), (30, 9), (5, 5)]);
}

#[test]
fn a_level_that_the_model_lacks_is_refused() {
    let m = model();
    let img = DynamicImage::ImageRgb8(image::RgbImage::new(4, 4));
    let e = aez::compress_with(&m, &img, &Options::default().with_quality(Some(9))).unwrap_err();
    assert!(e.to_string().contains("quality"), "{e}");
    assert!(aez::compress_with(&m, &img, &Options::default().with_quality(Some(1))).is_ok());
}
