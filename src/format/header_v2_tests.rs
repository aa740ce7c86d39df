//! Unit tests of the version-2 header (spec 11.1).

use super::*;
use crate::format::{AnyHeader, Colour};

const ID: [u8; 7] = [1, 2, 3, 4, 5, 6, 7];

fn forms() -> Vec<HeaderV2> {
    let d = ImageDesc::untiled(640, 480, Colour::Rgb, 2);
    let t = ImageDesc::tiled(6000, 4000, Colour::Rgba, 3, 16, 16);
    let mut v = vec![];
    for coder in [Coder::Range, Coder::Zstd] {
        v.push(HeaderV2::new(coder, Kind::Single, ID, Descriptors::Model));
        v.push(HeaderV2::new(
            coder,
            Kind::Single,
            ID,
            Descriptors::InHeader(d),
        ));
        v.push(HeaderV2::new(coder, Kind::Batch, ID, Descriptors::Model));
        v.push(HeaderV2::new(
            coder,
            Kind::Batch,
            ID,
            Descriptors::InHeader(d),
        ));
        v.push(HeaderV2::new(
            coder,
            Kind::Batch,
            ID,
            Descriptors::InHeader(t),
        ));
        v.push(HeaderV2::new(coder, Kind::Batch, ID, Descriptors::PerImage));
    }
    v
}

#[test]
fn every_form_round_trips_with_its_layout() {
    for h in forms() {
        let b = h.to_bytes();
        assert_eq!(b.len(), h.stored_len());
        assert_eq!(&b[..4], &MAGIC);
        assert_eq!(b[OFF_VERSION], VERSION_2);
        let any = AnyHeader::V2(h);
        assert_eq!(AnyHeader::parse(&b, &Limits::default()), Ok(any), "{h:?}");
        assert_eq!(any.validate(), Ok(()));
        assert_eq!(any.v1_view().model_id, ID);
        assert!(!any.v1_view().geometry_stored());
        // Header::parse reads version 1 only.
        assert!(Header::parse(&b)
            .unwrap_err()
            .what
            .to_string()
            .contains("version 2"));
    }
    // The layouts, byte by byte.
    let m = HeaderV2::new(Coder::Range, Kind::Single, ID, Descriptors::Model).to_bytes();
    assert_eq!(
        m,
        [
            0x89,
            0x41,
            0x45,
            0x5a,
            2,
            0b00_11_00_00,
            1,
            2,
            3,
            4,
            5,
            6,
            7
        ]
    );
    let d = ImageDesc::untiled(640, 480, Colour::Rgb, 2);
    let h = HeaderV2::new(Coder::Zstd, Kind::Batch, ID, Descriptors::InHeader(d)).to_bytes();
    assert_eq!(
        h,
        [
            0x89,
            0x41,
            0x45,
            0x5a,
            2,
            0b00_00_11_01,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            0x06,
            0x80,
            0x05,
            0xe0,
            0x03,
            2,
            2
        ]
    );
    let p = HeaderV2::new(Coder::Range, Kind::Batch, ID, Descriptors::PerImage).to_bytes();
    assert_eq!(p[OFF_FLAGS], 0b11_00_11_00);
    assert_eq!(p.len(), 13);
    // A version-1 header is unchanged through AnyHeader.
    let v1 = Header::model_geometry(Coder::Range, Kind::Batch, ID);
    assert_eq!(
        AnyHeader::parse(&v1.to_bytes(), &Limits::default()),
        Ok(AnyHeader::V1(v1))
    );
}

#[test]
fn every_single_bit_flip_of_the_prefix_is_refused_or_caught_later() {
    for h in forms() {
        let b = h.to_bytes();
        for bit in 0..HEADER_PREFIX_LEN * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            match Header::check_prefix(&d[..HEADER_PREFIX_LEN]) {
                Err(_) => {}
                // Only a coder bit may pass the prefix: same layout, caught by the CRC.
                Ok(()) => assert!(bit / 8 == OFF_FLAGS && bit % 8 < 2, "{h:?} bit {bit}"),
            }
        }
    }
}

#[test]
fn bad_flags_and_lengths_are_refused_at_their_offset() {
    let per = HeaderV2::new(Coder::Range, Kind::Batch, ID, Descriptors::PerImage).to_bytes();
    let cases: &[(u8, &str)] = &[
        (0b11_11_11_00, "geometry 11 with descriptor 11"),
        (0b01_00_11_00, "invalid descriptor field 01"),
        (0b10_00_11_00, "invalid descriptor field 10"),
        (0b00_01_11_00, "invalid geometry field 01"),
        (
            0b11_00_00_00,
            "per-image descriptors in a single-image stream",
        ),
        (0b11_00_01_00, "invalid kind bits 01"),
        (0b11_00_11_10, "unknown coder id 2"),
    ];
    for &(flags, needle) in cases {
        let mut b = per.clone();
        b[OFF_FLAGS] = flags;
        let e = AnyHeader::parse(&b, &Limits::default()).unwrap_err();
        assert_eq!(e.offset, OFF_FLAGS, "{needle}");
        assert!(
            e.what.to_string().contains(needle),
            "{} lacks {needle}",
            e.what
        );
    }
    // Version 3 is unknown; a reader of version 1 only refuses 2.
    let mut b = per.clone();
    b[OFF_VERSION] = 3;
    let e = Header::check_prefix(&b).unwrap_err();
    assert_eq!(
        (e.offset, e.what.to_string().contains("versions 1 to 2")),
        (OFF_VERSION, true)
    );
    let e = Header::check_prefix_upto(&per, 1).unwrap_err();
    assert!(e
        .what
        .to_string()
        .contains("unsupported format version 2 (this decoder reads version 1)"));

    let d = ImageDesc::untiled(640, 480, Colour::Rgb, 2);
    let good = HeaderV2::new(Coder::Range, Kind::Batch, ID, Descriptors::InHeader(d)).to_bytes();
    let parse = |b: &[u8]| AnyHeader::parse(b, &Limits::default()).unwrap_err();
    // The length byte: odd parity, out of range, not the descriptor's length.
    for (byte, needle) in [
        (0x07, "odd parity"),
        (0x03, "expected 4..=22"),
        (with_parity(23), "expected 4..=22"),
    ] {
        let mut b = good.clone();
        b[OFF_DESC_LEN] = byte;
        let e = parse(&b);
        assert_eq!(e.offset, OFF_DESC_LEN);
        assert!(e.what.to_string().contains(needle), "{}", e.what);
    }
    let mut b = good.clone();
    b[OFF_DESC_LEN] = with_parity(7);
    b.push(0);
    let e = parse(&b);
    assert_eq!(e.offset, OFF_DESC_LEN);
    assert!(
        e.what
            .to_string()
            .contains("says 7 bytes, the descriptor has 6"),
        "{}",
        e.what
    );
    // A bad descriptor field, at its offset in the header.
    let mut b = good.clone();
    b[OFF_DESC + 4] = 0x1a;
    assert_eq!(parse(&b).offset, OFF_DESC + 4);
    // Truncated headers say so.
    for cut in 0..good.len() {
        let e = parse(&good[..cut]);
        assert!(e.what.is_truncated(), "cut {cut}: {}", e.what);
    }
    // A single-image stream is one untiled image without alpha.
    for t in [
        ImageDesc::tiled(600, 400, Colour::Rgb, 0, 4, 7),
        ImageDesc::untiled(6, 4, Colour::GrayAlpha, 0),
        ImageDesc::untiled(28, 28, Colour::Gray, 0).with_packed(true),
    ] {
        let h = AnyHeader::V2(HeaderV2::new(
            Coder::Range,
            Kind::Single,
            ID,
            Descriptors::InHeader(t),
        ));
        let e = h.validate().unwrap_err();
        assert!(e.what.to_string().contains("one record"), "{}", e.what);
        assert_eq!(
            e.offset,
            OFF_DESC + varint_len(t.width) + varint_len(t.height)
        );
    }
    // Limits on the header's descriptor.
    let e = AnyHeader::parse(&good, &Limits::default().with_max_side(600)).unwrap_err();
    assert_eq!(
        (e.offset, e.what),
        (
            OFF_DESC,
            FormatError::OverLimit {
                field: "width",
                value: 640,
                limit: 600
            }
        )
    );
}
