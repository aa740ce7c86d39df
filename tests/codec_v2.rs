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
    // The two 5x5 images are packed into one record (written when the 30x9 image changed the
    // descriptor), the 30x9 one too; the last 5x5 waits for its packed record.
    assert_eq!((enc.records_written(), enc.images_buffered()), (2, 1));
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

/// A stream of `imgs` written with `opts`, flushed after the image indices in `flush_after`.
fn stream(m: &Model, imgs: &[DynamicImage], opts: Options, flush_after: &[usize]) -> Vec<u8> {
    let mut enc = Encoder::new(Vec::new(), m, opts).unwrap();
    for (i, img) in imgs.iter().enumerate() {
        enc.push_image(img).unwrap();
        if flush_after.contains(&i) {
            enc.flush().unwrap();
            assert_eq!(
                enc.images_buffered(),
                0,
                "flush writes the open packed record"
            );
        }
    }
    enc.finish().unwrap()
}

fn decode(m: &Model, bytes: &[u8]) -> Vec<DynamicImage> {
    let mut dec = Decoder::new(bytes, m, Options::default()).unwrap();
    let mut out = Vec::new();
    while let Some(img) = dec.next_image().unwrap() {
        out.push(img);
    }
    out
}

#[test]
fn packed_records_decode_to_the_images_of_one_record_each() {
    let m = model();
    let imgs: Vec<DynamicImage> = (0..150u32)
        .map(|i| {
            let base = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(9, 7, |x, y| {
                image::Rgba([
                    ((x * 29 + i * 7) % 256) as u8,
                    ((y * 31 + i * 3) % 256) as u8,
                    ((x * y + i) % 256) as u8,
                    255,
                ])
            }));
            if i % 2 == 0 {
                DynamicImage::ImageRgb8(base.to_rgb8())
            } else {
                // Gray ones in between: every change of descriptor starts a new stream.
                DynamicImage::ImageLuma8(base.to_luma8())
            }
        })
        .collect();
    // Same-descriptor runs, so that packing has something to pack.
    let mut sorted = imgs.clone();
    sorted.sort_by_key(|i| i.color().has_color());
    let one = stream(
        &m,
        &sorted,
        Options::default().with_images_per_record(1),
        &[],
    );
    let want = decode(&m, &one);
    assert_eq!(want.len(), 150);
    let info =
        |b: &[u8]| aez::inspect(b, None, aez::Limits::default().with_max_version(2)).unwrap();
    assert_eq!(info(&one).iter().map(|s| s.records).sum::<u64>(), 150);
    for (pack, flush, max_payload, records) in [
        (2usize, vec![], 65536u32, 76u64), // 75 gray and 75 RGB, each run 38 records (37 of 2, 1 of 1)
        (64, vec![], 65536, 4),            // 75 = 64 + 11, twice
        (64, vec![9, 100], 65536, 5),      // a flush ends a record early: 10+64+1, 26+49
        (64, vec![], 200, 0),              // the payload limit ends records before 64 images
    ] {
        let opts = Options::default()
            .with_images_per_record(pack)
            .with_limits(aez::Limits::default().with_max_payload(max_payload));
        let bytes = stream(&m, &sorted, opts, &flush);
        assert_eq!(
            decode(&m, &bytes),
            want,
            "pack {pack}, flush {flush:?}, limit {max_payload}"
        );
        let s = info(&bytes);
        assert_eq!(s.iter().map(|s| s.images).sum::<u64>(), 150);
        assert!(s.iter().all(|s| s.max_payload <= u64::from(max_payload)));
        let n: u64 = s.iter().map(|s| s.records).sum();
        if records > 0 {
            assert_eq!(n, records, "pack {pack}, flush {flush:?}");
        } else {
            assert!(
                n > 4,
                "a payload limit of {max_payload} gives more records: {n}"
            );
        }
        assert!(bytes.len() < one.len(), "packing {pack} saves bytes");
    }
    // Each packed record says how many images it holds; the one-image files of the same images are
    // version-2 single-image streams, never packed.
    let single = aez::compress(&m, &sorted[0]).unwrap();
    assert_eq!(info(&single)[0].records, 1);
}
