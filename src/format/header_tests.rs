//! Tests of the version-1 header.

use super::*;

#[test]
fn header_round_trip_and_layout() {
    let h = Header {
        coder: Coder::Zstd,
        kind: Kind::Batch,
        model_id: [1, 2, 3, 4, 5, 6, 7],
        width: 28,
        height: 0x1234,
    };
    let b = h.to_bytes();
    assert_eq!(
        b,
        [0x89, 0x41, 0x45, 0x5a, 1, 0b00_11_01, 1, 2, 3, 4, 5, 6, 7, 28, 0, 0x34, 0x12]
    );
    assert_eq!(b.len(), h.stored_len());
    assert_eq!(Header::parse(&b), Ok(h));

    let m = Header::model_geometry(Coder::Range, Kind::Single, [1, 2, 3, 4, 5, 6, 7]);
    let b = m.to_bytes();
    assert_eq!(
        b,
        [0x89, 0x41, 0x45, 0x5a, 1, 0b11_00_00, 1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(b.len(), HEADER_LEN_MODEL_GEOMETRY);
    assert_eq!(Header::parse(&b), Ok(m));
    assert!(!m.geometry_stored());
    assert_eq!(
        m.resolved(28, 28).to_bytes().len(),
        HEADER_LEN_EXPLICIT_GEOMETRY
    );
    assert_eq!(h.resolved(1, 1), h);
    // The wrong length for the flags is refused.
    assert!(Header::parse(&b[..12]).is_err());
    let mut long = b.clone();
    long.extend_from_slice(&[28, 0, 28, 0]);
    assert!(Header::parse(&long).is_err());
}

#[test]
fn header_rejects_each_bad_field() {
    for geometry in [GEOMETRY_EXPLICIT, GEOMETRY_MODEL] {
        let mut h = Header::model_geometry(Coder::Range, Kind::Single, [9; 7]);
        if geometry == GEOMETRY_EXPLICIT {
            (h.width, h.height) = (28, 28);
        }
        let good = h.to_bytes();
        let g = geometry << FLAGS_GEOMETRY_SHIFT;
        let cases: &[(usize, u8, usize, &str)] = &[
            (0, 0x09, 0, "magic"),
            (3, b'Y', 3, "magic"),
            (4, 2, 4, "version 2"),
            (5, g | 0x04, 5, "invalid kind bits 01"),
            (5, g | 0x08, 5, "invalid kind bits 10"),
            (5, 0x10, 5, "invalid geometry field 01"),
            (5, 0x20, 5, "invalid geometry field 10"),
            (5, g | 0x40, 5, "reserved"),
            (5, g | 0x80, 5, "reserved"),
            (5, g | 0x02, 5, "unknown coder id 2"),
            (5, g | 0x03, 5, "unknown coder id 3"),
        ];
        for &(at, val, off, needle) in cases {
            let mut b = good.clone();
            b[at] = val;
            let e = Header::parse(&b).unwrap_err();
            assert_eq!(e.offset, off, "{needle}");
            assert!(
                e.what.to_string().contains(needle),
                "{} should contain {needle}",
                e.what
            );
        }
        // Every single-bit flip of the flags byte is refused or keeps the header's length.
        for bit in 0..8 {
            let f = good[OFF_FLAGS] ^ (1 << bit);
            if Header::check_prefix(&[0x89, 0x41, 0x45, 0x5a, 1, f]).is_ok() {
                assert_eq!(
                    Header::stored_len_of_flags(f),
                    Some(good.len()),
                    "bit {bit}"
                );
            }
        }
    }
    let good = Header {
        width: 28,
        height: 28,
        ..Header::model_geometry(Coder::Range, Kind::Single, [9; 7])
    }
    .to_bytes();
    let mut b = good.clone();
    b[OFF_WIDTH] = 0;
    assert_eq!(Header::parse(&b).unwrap_err().offset, OFF_WIDTH);
    let mut b = good;
    b[OFF_HEIGHT] = 0;
    assert_eq!(Header::parse(&b).unwrap_err().offset, OFF_HEIGHT);
}
