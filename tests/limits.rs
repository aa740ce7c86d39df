//! Limits (spec section 6): a header or head that claims huge dimensions or lengths is refused with
//! `Error::Limit`, naming the field's offset, before anything is read or allocated for it; caller
//! limits below the defaults are honoured the same way. (The memory bound itself is measured in
//! `tests/limits_memory.rs`.)

use aez::format::consts::{HEADER_LEN, HEAD_EXTENDED};
use aez::format::{single_image, Header, Kind, StreamWriter};
use aez::{Coder, Decoder, Error, Limits, Model, Options};

fn model() -> Model {
    Model::default_model().expect("default model")
}

fn header(model: &Model, w: u16, h: u16, coder: Coder) -> Header {
    Header {
        coder,
        kind: Kind::Batch,
        model_id: aez::codec::model_id(model.bundle()),
        width: w,
        height: h,
    }
}

/// A batch header (with its CRC) followed by `rest`.
fn batch(h: Header, rest: &[u8]) -> Vec<u8> {
    let mut v = StreamWriter::new(Vec::new(), h)
        .expect("Vec")
        .finish()
        .expect("Vec");
    v.truncate(HEADER_LEN + 4); // drop the end marker
    v.extend_from_slice(rest);
    v
}

fn extended(n: u32) -> Vec<u8> {
    let mut v = vec![HEAD_EXTENDED];
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(&(!n).to_le_bytes());
    v
}

/// Decodes everything; returns the images delivered and the error.
fn run(bytes: &[u8], model: &Model, limits: Limits) -> (usize, Error) {
    let opts = Options::default().with_limits(limits);
    let mut dec = match Decoder::new(bytes, model, opts) {
        Ok(d) => d,
        Err(e) => return (0, e),
    };
    let mut n = 0;
    loop {
        match dec.next_pixels() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("expected an error, decoded {n} images"),
            Err(e) => return (n, e),
        }
    }
}

fn expect_limit(e: Error, what_: &str, value_: u64, limit_: u64, record: Option<u64>, offset: u64) {
    match e {
        Error::Limit {
            at,
            what,
            value,
            limit,
        } => {
            assert_eq!(what, what_);
            assert_eq!((value, limit), (value_, limit_));
            assert_eq!((at.record, at.offset), (record, offset));
        }
        other => panic!("expected a limit error on {what_}, got: {other}"),
    }
}

#[test]
fn huge_dimensions_are_refused_at_their_offset() {
    let m = model();
    let (_, e) = run(
        &batch(header(&m, 65535, 28, Coder::Range), &[]),
        &m,
        Limits::default(),
    );
    expect_limit(e, "width", 65535, 4096, None, 13);
    let (_, e) = run(
        &batch(header(&m, 28, 4097, Coder::Range), &[]),
        &m,
        Limits::default(),
    );
    expect_limit(e, "height", 4097, 4096, None, 15);
    // A one-image file: the same, after its CRC (the only CRC there is covers the header).
    let single = single_image(header(&m, 65535, 65535, Coder::Range), &[1, 2, 3]);
    let (_, e) = run(&single, &m, Limits::default());
    expect_limit(e, "width", 65535, 4096, None, 13);
}

#[test]
fn huge_lengths_are_refused_before_reading_the_payload() {
    let m = model();
    let h = header(&m, 28, 28, Coder::Range);
    // The payload is not even there: a limit error, not a truncation, so nothing was read or allocated.
    for n in [65537u32, 1 << 30, u32::MAX - 1] {
        let (_, e) = run(&batch(h, &extended(n)), &m, Limits::default());
        expect_limit(e, "record payload length", n.into(), 65536, Some(0), 21);
        let mut single = h.to_bytes().to_vec();
        single[5] &= !0x0c; // kind bits 00: single image
        single.extend_from_slice(&extended(n));
        let (_, e) = run(&single, &m, Limits::default());
        expect_limit(e, "record payload length", n.into(), 65536, Some(0), 17);
    }
    // u32::MAX is the complement of 0: its head says n = 0xffffffff, !n = 0; over the limit as well.
    let (_, e) = run(&batch(h, &extended(u32::MAX)), &m, Limits::default());
    expect_limit(
        e,
        "record payload length",
        u32::MAX.into(),
        65536,
        Some(0),
        21,
    );
}

#[test]
fn a_huge_zstd_content_size_is_refused() {
    let m = model();
    // A zstd frame header declaring 2^40 bytes of content (single segment, 8-byte size), then an
    // empty last raw block: refused by its declared size, before any decompression.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
    frame.extend_from_slice(&[0x01, 0x00, 0x00]);
    let mut w = StreamWriter::new(Vec::new(), header(&m, 28, 28, Coder::Zstd)).expect("Vec");
    w.write_record(&frame).expect("Vec");
    let bytes = w.finish().expect("Vec");
    let (n, e) = run(&bytes, &m, Limits::default());
    assert_eq!(n, 0);
    match e {
        Error::Entropy { at, what } => {
            assert_eq!((at.record, at.offset), (Some(0), 22));
            assert!(what.contains("content size"), "{what}");
        }
        other => panic!("expected an entropy error, got {other}"),
    }
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/golden")
            .join(name),
    )
    .expect("golden file")
}

#[test]
fn caller_limits_are_honoured() {
    let m = model();
    let bytes = golden("fmnist-t10k-3.aez");
    let g = m.bundle().geometry();
    let id: [u8; 7] = bytes[6..13].try_into().unwrap();
    if id != aez::codec::model_id(m.bundle()) {
        // The golden files are regenerated with the default model; until then this test needs them.
        panic!(
            "fixtures/golden is not the default model's: regenerate it (fixtures/golden/README.md)"
        );
    }
    // Geometry stored (width at offset 13) or the model's (the flags byte's geometry field, offset 5).
    let (geo_off, header_len) = if bytes[5] & 0x30 == 0x30 {
        (5, 13)
    } else {
        (13, 17)
    };
    let d = Limits::default();
    let (n, e) = run(&bytes, &m, d.with_max_side(g.width - 1));
    assert_eq!(n, 0);
    expect_limit(
        e,
        "width",
        g.width.into(),
        u64::from(g.width - 1),
        None,
        geo_off,
    );

    let samples = g.samples() as u64;
    let (_, e) = run(&bytes, &m, d.with_max_samples(samples - 1));
    expect_limit(e, "samples per image", samples, samples - 1, None, geo_off);

    // Payloads of the golden batch are 10..=126 bytes: a limit of 1 refuses record 0 at its head.
    let (n, e) = run(&bytes, &m, d.with_max_payload(1));
    assert_eq!(n, 0);
    let first = header_len + 4;
    let head = u64::from(bytes[first] & 0x7f);
    expect_limit(e, "record payload length", head, 1, Some(0), first as u64);

    // Two records allowed: both delivered, then the third refused.
    let (n, e) = run(&bytes, &m, d.with_max_records(2));
    assert_eq!(n, 2, "the records within the limit are delivered");
    match e {
        Error::Limit {
            what,
            value,
            limit,
            at,
        } => {
            assert_eq!(
                (what, value, limit, at.record),
                ("records in one stream", 3, 2, Some(2))
            );
        }
        other => panic!("expected a record limit, got {other}"),
    }
}

#[test]
fn header_checks_come_before_the_crc_is_trusted() {
    let m = model();
    // A batch header whose CRC does not match is refused before any field is acted on: even a
    // width over the limit is reported as the CRC mismatch it is.
    let mut bytes = batch(header(&m, 65535, 65535, Coder::Range), &[]);
    bytes[HEADER_LEN] ^= 1;
    let (_, e) = run(&bytes, &m, Limits::default());
    match e {
        Error::Format { at, what } => {
            assert_eq!(at.offset, HEADER_LEN as u64);
            assert!(what.to_string().contains("header CRC"), "{what}");
        }
        other => panic!("expected a header CRC error, got {other}"),
    }
}
