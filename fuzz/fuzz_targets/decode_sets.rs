//! Decoding streams of a model whose levels code each image with one of several table sets
//! (`models/fmnist-conv-sets`, spec/model-bundle.md section 7): the set index before each image's latent,
//! in single records and in packed ones.
//!
//! The first byte picks a mode:
//! - bit 0 clear: the rest is decoded as is (small limits, batch size 1 or 2 from bit 1);
//! - bit 0 set: 1..=6 28x28 gray images drawn from the input are compressed at a quality drawn from it
//!   (8..=13), packed (bit 1 set) or one per record, with the range coder (zstd when bit 2 is set), and the
//!   stream rebuilt with valid CRCs around records changed as the input says: a byte changed, records
//!   replaced by raw bytes, cut short or lengthened, the packed count changed.
//!
//! Checks: no panic, no allocation over 64 MiB; every error has a location inside the input; an unchanged
//! stream decodes to exactly what was encoded (the same images as `aez::decompress` of each one alone);
//! a decoded image is 28x28 gray.
#![no_main]

use std::sync::OnceLock;

use aez::format::{Descriptors, Event, StreamReader};
use aez::{Coder, Limits, Model, Options};
use aez_fuzz::{
    check_location, decode_images, load_repo_model, small_limits, RawPlacement, RawStream, Src,
};
use image::DynamicImage;
use libfuzzer_sys::fuzz_target;

fn sets() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load_repo_model("models/fmnist-conv-sets"))
}

fn image_of(src: &mut Src) -> DynamicImage {
    let seed = src.take(16).to_vec();
    let kind = src.u8();
    let img = image::GrayImage::from_fn(28, 28, |x, y| {
        let s = seed
            .get(((x / 4 + y / 4 * 7) % 16) as usize)
            .copied()
            .unwrap_or(0);
        image::Luma([match kind % 3 {
            0 => s,
            1 => s ^ (x * 9 + y * 5) as u8,
            _ => {
                if (x as i32 - 14).pow(2) + (y as i32 - 14).pow(2) < i32::from(s % 200) {
                    255
                } else {
                    0
                }
            }
        }])
    });
    DynamicImage::ImageLuma8(img)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = small_limits();
    if mode & 1 == 0 {
        let (images, err) = decode_images(rest, sets(), limits, 1 + usize::from((mode >> 1) & 1));
        if let Some(e) = &err {
            check_location(e, rest.len());
        }
        for im in &images {
            assert_eq!(
                (im.width(), im.height(), im.color()),
                (28, 28, image::ColorType::L8)
            );
        }
        return;
    }
    let mut src = Src(rest);
    let n = 1 + usize::from(src.u8() % 6);
    let imgs: Vec<DynamicImage> = (0..n).map(|_| image_of(&mut src)).collect();
    let coder = if mode & 4 != 0 {
        Coder::Zstd
    } else {
        Coder::Range
    };
    let opts = Options::default()
        .with_coder(coder)
        .with_threads(1)
        .with_quality(Some(8 + src.u8() % 6))
        .with_images_per_record(if mode & 2 != 0 { 64 } else { 1 });
    let mut enc = aez::Encoder::new(Vec::new(), sets(), opts).expect("an encoder");
    for im in &imgs {
        enc.push_image(im).expect("a 28x28 gray image encodes");
    }
    let bytes = enc.finish().expect("the stream ends");
    let (clean, err) = decode_images(&bytes[..], sets(), Limits::default(), 1);
    assert!(err.is_none(), "a fresh stream fails: {err:?}");
    assert_eq!(clean.len(), n);
    // The stream's descriptor placement and records.
    let mut rd = StreamReader::new(&bytes[..], None, Limits::default().with_max_version(2));
    let mut placement = RawPlacement::Model;
    let mut header_desc = Vec::new();
    let mut bodies = Vec::new();
    while let Some(ev) = rd.next_event().expect("a fresh stream parses") {
        match ev {
            Event::Header(h) => {
                if let Some(Descriptors::InHeader(d)) = h.descriptors {
                    placement = RawPlacement::InHeader;
                    d.write(&mut header_desc);
                }
            }
            // As stored: a packed record's count included (no descriptor is in a record here).
            Event::Record(r) => bodies.push(r.payload),
        }
    }
    let mut changed = false;
    for b in bodies.iter_mut() {
        match src.u8() {
            0xf0..=0xf7 if !b.is_empty() => {
                let i = usize::from(src.u8()) % b.len();
                b[i] ^= 1 << (src.u8() % 8);
                changed = true;
            }
            0xf8 | 0xf9 => {
                let k = usize::from(src.u8() % 48);
                *b = src.take(k).to_vec();
                changed = true;
            }
            0xfa | 0xfb => {
                b.pop();
                changed = true;
            }
            0xfc => {
                b.push(src.u8());
                changed = true;
            }
            0xfd if placement == RawPlacement::InHeader && !b.is_empty() => {
                // The packed count (one varint byte for up to 64 images).
                b[0] = src.u8() & 0x7f;
                changed = true;
            }
            _ => {}
        }
    }
    let stream = RawStream {
        coder,
        single: false,
        model_id: aez::codec::model_id(sets().bundle()),
        placement,
        header_desc,
        records: bodies,
    };
    let (built, _) = stream.build();
    let (images, err) = decode_images(&built[..], sets(), limits, 1);
    if let Some(e) = &err {
        check_location(e, built.len());
    }
    for im in &images {
        assert_eq!(
            (im.width(), im.height(), im.color()),
            (28, 28, image::ColorType::L8)
        );
    }
    if !changed {
        assert!(err.is_none(), "an unchanged stream fails: {err:?}");
        assert_eq!(images, clean);
    }
});
