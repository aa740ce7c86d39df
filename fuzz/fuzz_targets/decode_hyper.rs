//! Decoding streams of a model with a scale hyperprior (the test bundle `fixtures/models/tiny-hyper`): the
//! hyper-latent shares of the latent records, the integer hyper-synthesis on any hyper-latent, the bands
//! coded with the tables it chooses.
//!
//! The first byte picks a mode:
//! - bit 0 clear: the rest is decoded as is, with tiny-hyper (small limits, batch size 1 or 2 from bit 1);
//! - bit 0 set: an image drawn from the input (size 1..=40 per side, any colour layout, quality from bit
//!   1, banded by a small payload limit when bit 2 is set, coder zstd when bit 3 is set) is compressed,
//!   and its stream rebuilt with valid CRCs around records changed as the input says: the first record's
//!   share of the hyper-latent replaced by a valid coding of any values (hostile magnitudes included, so
//!   the integer network sees the int16 extremes), records replaced by raw bytes, cut short or
//!   lengthened, the descriptor's hyper bit cleared (bit 4).
//!
//! Checks: no panic, no allocation over 64 MiB; every error has a location inside the input; an unchanged
//! stream decodes to exactly what `aez::decompress` gives; a decoded image has its descriptor's size and
//! colour layout; a stream whose hyper-latent share alone was replaced (by a valid coding) decodes, or
//! fails in a latent record's entropy decoding.
#![no_main]

use std::sync::OnceLock;

use aez::entropy::{encode_latent, SymbolTable};
use aez::format::{Event, StreamReader};
use aez::{Coder, Error, Limits, Model, Options};
use aez_fuzz::{
    check_location, decode_images, load_repo_model, small_limits, RawPlacement, RawStream, Src,
};
use image::DynamicImage;
use libfuzzer_sys::fuzz_target;

fn hyper() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load_repo_model("fixtures/models/tiny-hyper"))
}

/// The hyperprior of [`hyper`].
fn hyper_of() -> &'static aez::model::Hyper {
    hyper()
        .bundle()
        .manifest()
        .hyper
        .as_ref()
        .expect("a hyperprior")
}

/// The hyper-latent tables of each level.
fn z_tables() -> &'static [Vec<SymbolTable>] {
    static T: OnceLock<Vec<Vec<SymbolTable>>> = OnceLock::new();
    T.get_or_init(|| {
        hyper_of()
            .level_tables
            .iter()
            .map(|ts| {
                ts.iter()
                    .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).expect("valid"))
                    .collect()
            })
            .collect()
    })
}

fn image_of(src: &mut Src) -> DynamicImage {
    let w = 1 + u32::from(src.u8() % 40);
    let h = 1 + u32::from(src.u8() % 40);
    let kind = src.u8() % 4;
    let seed = src.take(8).to_vec();
    let px = |x: u32, y: u32, k: u32| -> u8 {
        let s = seed
            .get(((x + 3 * y + k) % 8) as usize)
            .copied()
            .unwrap_or(0);
        (x * 7 + y * 3 + k * 50) as u8 ^ s
    };
    let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([px(x, y, 0), px(x, y, 1), px(x, y, 2), px(x, y, 3)])
    });
    let img = DynamicImage::ImageRgba8(rgba);
    match kind {
        0 => DynamicImage::ImageLuma8(img.to_luma8()),
        1 => DynamicImage::ImageLumaA8(img.to_luma_alpha8()),
        2 => DynamicImage::ImageRgb8(img.to_rgb8()),
        _ => img,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = small_limits();
    if mode & 1 == 0 {
        let (_, err) = decode_images(rest, hyper(), limits, 1 + usize::from((mode >> 1) & 1));
        if let Some(e) = &err {
            check_location(e, rest.len());
        }
        return;
    }
    let mut src = Src(rest);
    let img = image_of(&mut src);
    let coder = if mode & 8 != 0 {
        Coder::Zstd
    } else {
        Coder::Range
    };
    let mut opts = Options::default()
        .with_coder(coder)
        .with_quality(Some(1 + ((mode >> 1) & 1)));
    if mode & 4 != 0 {
        opts = opts.with_limits(Limits::default().with_max_payload(60));
    }
    let Ok(bytes) = aez::compress_with(hyper(), &img, &opts) else {
        return; // a payload limit too small for one latent row
    };
    let clean = aez::decompress(hyper(), &bytes).expect("a fresh file decodes");
    // The stream's descriptor and records.
    let mut rd = StreamReader::new(&bytes[..], None, Limits::default().with_max_version(2));
    let mut desc = None;
    let mut bodies = Vec::new();
    while let Some(ev) = rd.next_event().expect("a fresh file parses") {
        if let Event::Record(r) = ev {
            desc = r.part.expect("version 2").desc;
            bodies.push(r.body().to_vec());
        }
    }
    let mut desc = desc.expect("a descriptor");
    let level = usize::from(desc.level);
    let hy = hyper_of();
    let latent = hyper()
        .layout()
        .latent_shape(desc.width, desc.height)
        .expect("its own size");
    let zshape = aez::codec::hyper_shape(hy, latent);
    let mut changed = false;
    let mut only_z = true;
    for (i, b) in bodies.iter_mut().enumerate() {
        match src.u8() {
            0xf0..=0xf7 if i == 0 => {
                // Record 0's share of the hyper-latent: its first ceil(zh / bands) rows.
                let rows = zshape.height.div_ceil(desc.bands.max(1)).min(zshape.height);
                let share = aez::layout::LatentShape {
                    height: rows,
                    ..zshape
                };
                let raw = src.take(share.len()).to_vec();
                let big = src.u8();
                let z: Vec<i32> = (0..share.len())
                    .map(|k| {
                        let v = i32::from(raw.get(k).copied().unwrap_or(0) as i8);
                        match big % 4 {
                            0 => v >> 4,
                            1 => v,
                            2 => v * 256,
                            _ => {
                                if v < 0 {
                                    -32768
                                } else {
                                    32767
                                }
                            }
                        }
                    })
                    .collect();
                let mut p = 0;
                let Ok(len) = aez::format::varint(b, &mut p, "share") else {
                    return;
                };
                let rest = b[p + len as usize..].to_vec();
                let mut coded = Vec::new();
                encode_latent(coder, &z_tables()[level], share, &z, &mut coded)
                    .expect("valid values");
                b.clear();
                aez::format::write_varint(coded.len() as u32, b);
                b.extend_from_slice(&coded);
                b.extend_from_slice(&rest);
                changed = true;
            }
            0xf8..=0xfb => {
                let n = usize::from(src.u8() % 48);
                *b = src.take(n).to_vec();
                changed = true;
                only_z = false;
            }
            0xfc | 0xfd => {
                b.pop();
                changed = true;
                only_z = false;
            }
            0xfe => {
                b.push(src.u8());
                changed = true;
                only_z = false;
            }
            _ => {}
        }
    }
    if mode & 0x10 != 0 {
        desc = desc.with_hyper(false);
        changed = true;
        only_z = false;
    }
    let mut header_desc = Vec::new();
    desc.write(&mut header_desc);
    let stream = RawStream {
        coder,
        single: false,
        model_id: aez::codec::model_id(hyper().bundle()),
        placement: RawPlacement::InHeader,
        header_desc,
        records: bodies,
    };
    let (built, _) = stream.build();
    let (images, err) = decode_images(&built[..], hyper(), limits, 1);
    if let Some(e) = &err {
        check_location(e, built.len());
    }
    for im in &images {
        assert_eq!((im.width(), im.height()), (desc.width, desc.height));
        assert_eq!(im.color(), clean.color());
    }
    if !changed {
        assert!(err.is_none(), "an unchanged stream fails: {err:?}");
        assert_eq!(images, vec![clean]);
    } else if only_z {
        // A valid share with other values: the latent part, coded for other tables, may fail to decode,
        // but only as an entropy error of a latent record.
        if let Some(e) = &err {
            assert!(matches!(e, Error::Entropy { .. }), "{e:?}");
        }
    }
});
