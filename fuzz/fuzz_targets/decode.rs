//! Full decoding (entropy decoding and a model's decoder network) of arbitrary input, versions 1 and 2.
//!
//! The first byte picks a mode:
//! - bit 0 clear: the rest is decoded as is (`aez::Decoder`, small limits, batch size from bits 1-2),
//!   with the default model, or with the version-2 bundle `tiny-conv` when the first stream is a
//!   version-2 one (then the result must be what [`aez_fuzz::expect_v2`] computes);
//! - bit 0 set, bit 4 clear: the rest is a list of payloads (`len` byte, then `len` bytes), wrapped in a
//!   version-1 stream with valid CRCs for the default model (coder from bit 1, single image if bit 2 and
//!   one payload, geometry stored unless bit 3), so the entropy decoders and the network see arbitrary
//!   payloads past the CRCs;
//! - bit 0 and bit 4 set: a version-2 stream for `tiny-conv` with valid CRCs around arbitrary contents
//!   (see `v2_stream`): coder from bit 1, single image if bit 2, batch size 1 or 3 from bit 3, descriptor
//!   placement from bits 5-6 (header, per image, none, header), descriptors made of fields (bit 7 clear:
//!   small sizes mostly, hostile ones sometimes: 0, the limits and one over, the model's largest side,
//!   2^32 - 1; any colour, level, band rows and band count) or of raw bytes (bit 7 set); per record a
//!   valid latent or alpha payload of the band, one of the wrong size, with a trailing byte, empty, or
//!   raw bytes; sometimes a record more or less than the descriptor says.
//!
//! Checks: no panic, no allocation over 64 MiB; errors carry locations; an input that decodes fully is
//! one `inspect` accepts with as many records as images (version 1); in the version-1 structured mode,
//! exactly the payloads before the first invalid one are delivered, then an entropy error naming that
//! record and its payload offset; for version 2, exactly the images before the first failure (container,
//! descriptor against the model, latent, alpha) are delivered, each of its descriptor's size and colour
//! layout and with its alpha plane exactly, then that failure's error at its record and offset.
#![no_main]

use aez::codec::Options;
use aez::entropy::{decode_symbols, encode_latent};
use aez::format::{single_image, Colour, Header, ImageDesc, Kind, StreamWriter};
use aez::layout::LatentShape;
use aez::{Coder, Decoder, Error};
use aez_fuzz::{
    alpha_frame, band_rows_of, check_expected, decode_images, expect_v2, latent_of, location,
    model, model_for, model_id, pixel_rows_of, small_limits, tables, tiny, tiny_id, tiny_tables,
    RawPlacement, RawStream, Src, SMALL_SAMPLES, SMALL_SIDE_V2,
};
use libfuzzer_sys::fuzz_target;

fn decode_all(bytes: &[u8], batch: usize) -> (Vec<Vec<u8>>, Option<Error>) {
    let opts = Options::default()
        .with_limits(small_limits())
        .with_batch_size(batch);
    let mut dec = match Decoder::new(bytes, model(), opts) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut images = Vec::new();
    loop {
        match dec.next_pixels() {
            Ok(Some(p)) => images.push(p),
            Ok(None) => return (images, None),
            Err(e) => {
                assert!(
                    matches!(dec.next_pixels(), Ok(None)),
                    "decoder not finished after an error"
                );
                return (images, Some(e));
            }
        }
    }
}

/// A side: mostly small, sometimes hostile.
fn side(src: &mut Src) -> u32 {
    let s = src.u8();
    if s < 0xf0 {
        return 1 + u32::from(s % 48);
    }
    match s & 0x0f {
        0 => 0,
        1 => SMALL_SIDE_V2,
        2 => SMALL_SIDE_V2 + 1,
        3 => u32::MAX,
        4 => 16384, // the model's largest side (over the small limit)
        5 => 16385,
        6 => src.u32(),
        7 => 1 + u32::from(src.u8()) * 4, // wide or tall, within the sample limit for a thin image
        8 => (SMALL_SAMPLES / 4) as u32,
        9 => 2,
        _ => 1 + u32::from(src.u8()),
    }
}

/// A descriptor made of fields (possibly breaking the format's rules): its struct and bytes.
fn field_desc(src: &mut Src) -> (ImageDesc, Vec<u8>) {
    let b = src.u8();
    let width = side(src);
    let height = side(src);
    let colour = Colour::from_id(b & 3);
    let level = if b & 0x04 != 0 { src.u8() } else { 0 };
    let mut d = ImageDesc::untiled(width, height, colour, level);
    if b & 0x08 != 0 {
        let r = src.u8();
        d.band_rows = if b & 0x10 != 0 {
            u32::from(r)
        } else {
            1 + u32::from(r % 8)
        };
        let rows = height.div_ceil(4).max(1);
        d.bands = if b & 0x20 != 0 {
            u32::from(src.u8())
        } else {
            rows.div_ceil(d.band_rows.max(1))
        };
    }
    if b & 0x40 != 0 && d.band_rows == 0 {
        d.bands = u32::from(src.u8()); // an untiled image that says several bands: written as untiled
    }
    let mut bytes = Vec::new();
    d.write(&mut bytes);
    (d, bytes)
}

/// A descriptor: of fields, or `len` raw bytes; with the struct when it parses (without limits).
fn any_desc(src: &mut Src, raw: bool) -> (Option<ImageDesc>, Vec<u8>) {
    if raw {
        let n = usize::from(src.u8() % 23);
        let bytes = src.take(n).to_vec();
        // A descriptor that parses from fewer bytes: in a header the length byte is wrong; per image
        // the rest is the start of the body.
        let d = aez::format::ImageDesc::parse(&bytes, &aez::Limits::unlimited())
            .ok()
            .map(|(d, _)| d);
        (d, bytes)
    } else {
        let (d, bytes) = field_desc(src);
        let ok = aez::format::ImageDesc::parse(&bytes, &aez::Limits::unlimited())
            .ok()
            .map(|(d, _)| d);
        (ok.or(Some(d)), bytes)
    }
}

/// Bytes `n` long cycled from the input.
fn cycled(src: &mut Src, n: usize) -> Vec<u8> {
    let seed = src.take(16).to_vec();
    if seed.is_empty() {
        return vec![0; n];
    }
    (0..n)
        .map(|i| seed[i % seed.len()].wrapping_add((i / seed.len()) as u8))
        .collect()
}

/// A latent payload of `shape`: valid values (small ones mostly, escapes sometimes) coded with `coder`.
fn latent_payload(src: &mut Src, coder: Coder, level: usize, shape: LatentShape) -> Vec<u8> {
    let raw = cycled(src, shape.len());
    let big = src.u8();
    let q: Vec<i32> = raw
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let v = i32::from(v as i8);
            if big != 0 && i % usize::from(big) == 0 {
                v * 200
            } else {
                v >> 4
            }
        })
        .collect();
    let tables = &tiny_tables()[level.min(tiny_tables().len() - 1)];
    let mut p = Vec::new();
    encode_latent(coder, tables, shape, &q, &mut p).expect("valid latents encode");
    p
}

/// The payload of record `r` (latent or alpha of band `band`) of an image of `desc`.
fn payload(
    src: &mut Src,
    coder: Coder,
    desc: Option<&ImageDesc>,
    band: u32,
    alpha: bool,
) -> Vec<u8> {
    let choice = src.u8();
    let shape = desc.and_then(|d| {
        let latent = latent_of(d)?;
        let rows = band_rows_of(d, latent, band);
        let s = LatentShape {
            height: rows.1 - rows.0,
            ..latent
        };
        (!s.is_empty() && s.len() <= 1 << 16).then_some((d, latent, rows, s))
    });
    let raw = |src: &mut Src| {
        let n = usize::from(src.u8() % 64);
        src.take(n).to_vec()
    };
    let Some((d, latent, rows, shape)) = shape else {
        return raw(src);
    };
    let level = usize::from(d.level);
    let valid = |src: &mut Src, grow: i64| -> Vec<u8> {
        if alpha {
            let (y0, y1) = pixel_rows_of(d, rows);
            let n = (i64::from(y1 - y0) * i64::from(d.width) + grow).max(0) as usize;
            if n > 1 << 20 {
                return raw(src);
            }
            alpha_frame(&cycled(src, n))
        } else {
            let mut s = shape;
            if grow != 0 {
                s.height = (s.height as i64 + grow).max(1) as u32;
                s.width = latent.width;
            }
            if s.len() > 1 << 16 {
                return raw(src);
            }
            latent_payload(src, coder, level, s)
        }
    };
    match choice % 16 {
        0..=9 => valid(src, 0),
        10 => valid(src, 1),
        11 => valid(src, -1),
        12 => {
            let mut p = valid(src, 0);
            p.push(src.u8());
            p
        }
        13 => {
            let mut p = valid(src, 0);
            p.pop();
            p
        }
        14 => Vec::new(),
        _ => raw(src),
    }
}

/// A version-2 stream for `tiny-conv` with valid CRCs around contents drawn from the input.
fn v2_stream(mode: u8, src: &mut Src) -> RawStream {
    let coder = if mode & 2 == 0 {
        Coder::Range
    } else {
        Coder::Zstd
    };
    let placement = match (mode >> 5) & 3 {
        1 => RawPlacement::PerImage,
        2 => RawPlacement::Model,
        _ => RawPlacement::InHeader,
    };
    let raw = mode & 0x80 != 0;
    let mut s = RawStream {
        coder,
        single: mode & 4 != 0,
        model_id: tiny_id(),
        placement,
        header_desc: Vec::new(),
        records: Vec::new(),
    };
    let mut shared = None;
    if placement == RawPlacement::InHeader {
        let (d, bytes) = any_desc(src, raw);
        shared = d;
        s.header_desc = bytes;
    }
    // A batch may hold no image.
    let images = usize::from(src.u8() % 5).max(usize::from(s.single));
    for _ in 0..images {
        let (desc, prefix) = match placement {
            RawPlacement::PerImage => any_desc(src, raw),
            RawPlacement::InHeader => (shared, Vec::new()),
            RawPlacement::Model => (None, Vec::new()),
        };
        let per_band = if desc.is_some_and(|d| d.colour.has_alpha()) {
            2
        } else {
            1
        };
        let mut n = desc.map_or(1, |d| u64::from(d.bands) * per_band).min(24) as usize;
        match src.u8() {
            0xff => n += 1,
            0xfe => n = n.saturating_sub(1),
            _ => {}
        }
        for r in 0..n {
            let band = (r / per_band as usize) as u32;
            let alpha = r % per_band as usize == 1;
            let mut p = payload(src, coder, desc.as_ref(), band, alpha);
            if r == 0 {
                let mut with = prefix.clone();
                with.append(&mut p);
                p = with;
            }
            s.records.push(p);
            if s.records.len() >= 40 {
                return s;
            }
        }
    }
    s
}

fn v1_structured(mode: u8, rest: &[u8], batch: usize) {
    let samples = model().bundle().geometry().samples();
    let coder = if mode & 2 == 0 {
        Coder::Range
    } else {
        Coder::Zstd
    };
    let mut payloads: Vec<&[u8]> = Vec::new();
    let mut r = rest;
    while let Some((&n, tail)) = r.split_first() {
        let n = usize::from(n % 64).min(tail.len());
        payloads.push(&tail[..n]);
        r = &tail[n..];
        if payloads.len() == 16 {
            break;
        }
    }
    let g = model().bundle().geometry();
    let header = Header {
        coder,
        kind: Kind::Batch,
        model_id: model_id(),
        // Bit 3: the model's geometry, not stored (13-byte header); else stored (17 bytes).
        width: if mode & 8 != 0 { 0 } else { g.width as u16 },
        height: if mode & 8 != 0 { 0 } else { g.height as u16 },
    };
    let single = mode & 4 != 0 && payloads.len() == 1;
    let (bytes, offsets) = if single {
        let b = single_image(header, payloads[0]);
        // header, head, payload, CRC: the payload ends 4 bytes before the end.
        let off = (b.len() - 4 - payloads[0].len()) as u64;
        (b, vec![off])
    } else {
        let mut w = StreamWriter::new(Vec::new(), header).expect("Vec");
        let mut offsets = Vec::new();
        for p in &payloads {
            let head = if (1..=126).contains(&p.len()) { 1 } else { 9 };
            offsets.push(w.bytes_written() + head);
            w.write_record(p).expect("Vec");
        }
        (w.finish().expect("Vec"), offsets)
    };
    let mut q = Vec::new();
    let first_bad = payloads
        .iter()
        .position(|p| decode_symbols(coder, tables(), p, &mut q).is_err());
    let (images, err) = decode_all(&bytes, batch);
    assert!(images.iter().all(|p| p.len() == samples));
    match first_bad {
        None => {
            assert!(err.is_none(), "valid payloads, but: {err:?}");
            assert_eq!(images.len(), payloads.len());
        }
        Some(i) => {
            assert_eq!(
                images.len(),
                i,
                "good records before the bad one must all be delivered"
            );
            match err {
                Some(Error::Entropy { at, .. }) => {
                    assert_eq!(at.record, Some(i as u64));
                    assert_eq!(at.offset, offsets[i]);
                }
                other => panic!("expected an entropy error at record {i}, got {other:?}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = small_limits();
    let batch = 1 + usize::from((mode >> 1) & 3);
    if mode & 1 == 0 {
        let m = model_for(rest);
        let (images, err) = decode_images(rest, m, limits, batch);
        if std::ptr::eq(m, tiny()) {
            check_expected(&expect_v2(rest, limits), &images, err.as_ref(), "raw v2");
        } else {
            let samples = model().bundle().geometry().samples();
            assert!(images.iter().all(|p| p.as_bytes().len() == samples));
            if err.is_none() {
                let s = aez::inspect(rest, None, limits).expect("decoded, but inspect fails");
                assert_eq!(
                    s.iter().map(|s| s.records).sum::<u64>(),
                    images.len() as u64
                );
            }
        }
        if let Some(e) = &err {
            if let Some(at) = location(e) {
                assert!(at.offset <= rest.len() as u64, "{e}: offset past the input");
            }
        }
        return;
    }
    if mode & 0x10 == 0 {
        v1_structured(mode, rest, batch);
        return;
    }
    let mut src = Src(rest);
    let stream = v2_stream(mode, &mut src);
    let (bytes, _) = stream.build();
    let batch = if mode & 8 != 0 { 3 } else { 1 };
    let (images, err) = decode_images(&bytes[..], tiny(), limits, batch);
    if let Some(e) = &err {
        if let Some(at) = location(e) {
            assert!(
                at.offset <= bytes.len() as u64,
                "{e}: offset past the input"
            );
        }
    }
    check_expected(
        &expect_v2(&bytes, limits),
        &images,
        err.as_ref(),
        "structured v2",
    );
});
