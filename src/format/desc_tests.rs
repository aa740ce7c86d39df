//! Unit tests of the image descriptor (spec 11.2).

use super::*;

fn parse(b: &[u8]) -> Result<(ImageDesc, usize), FieldError> {
    ImageDesc::parse(b, &Limits::default())
}

#[test]
fn varints_round_trip_at_every_length_boundary() {
    for v in [
        0u32,
        1,
        127,
        128,
        16383,
        16384,
        0x1f_ffff,
        0x20_0000,
        0xfff_ffff,
        0x1000_0000,
        u32::MAX,
    ] {
        let mut b = Vec::new();
        write_varint(v, &mut b);
        assert_eq!(b.len(), varint_len(v), "{v}");
        let mut p = 0;
        assert_eq!(varint(&b, &mut p, "x").unwrap(), v);
        assert_eq!(p, b.len());
    }
}

#[test]
fn spec_vectors() {
    let enc = |d: ImageDesc| {
        let mut b = Vec::new();
        d.write(&mut b);
        b
    };
    assert_eq!(
        enc(ImageDesc::untiled(28, 28, Colour::Gray, 0)),
        [0x1c, 0x1c, 0x00, 0x00]
    );
    assert_eq!(
        enc(ImageDesc::untiled(640, 480, Colour::Rgb, 2)),
        [0x80, 0x05, 0xe0, 0x03, 0x02, 0x02]
    );
    assert_eq!(
        enc(ImageDesc::tiled(6000, 4000, Colour::Rgba, 3, 16, 16)),
        [0xf0, 0x2e, 0xa0, 0x1f, 0x07, 0x03, 0x10, 0x10]
    );
    // The longest valid descriptor is 18 bytes: (bands - 1) * band_rows < height < 2^32 leaves the
    // two tiling varints 6 bytes together. (DESC_MAX_LEN, 22, is the bound of four 5-byte varints.)
    let longest = ImageDesc::tiled(u32::MAX, u32::MAX, Colour::Rgba, 255, 1, 1 << 31);
    assert_eq!(enc(longest).len(), 18);
    assert_eq!(longest.validate(), Ok(()));
}

#[test]
fn every_colour_and_tiling_round_trips() {
    for colour in [Colour::Gray, Colour::GrayAlpha, Colour::Rgb, Colour::Rgba] {
        assert_eq!(Colour::from_id(colour.id()), colour);
        for d in [
            ImageDesc::untiled(1, 1, colour, 0),
            ImageDesc::untiled(16384, 16384, colour, 255),
            ImageDesc::tiled(6000, 4000, colour, 7, 20, 13),
            ImageDesc::tiled(1, 2, colour, 1, 1, 2),
        ] {
            let limits = Limits::default().with_max_samples(u64::MAX);
            let mut b = Vec::new();
            d.write(&mut b);
            b.push(0xAA); // what follows is not read
            assert_eq!(ImageDesc::parse(&b, &limits), Ok((d, b.len() - 1)));
            assert_eq!(d.encoded_len(), b.len() - 1);
            assert_eq!(d.validate(), Ok(()));
            assert_eq!(
                d.records(),
                u64::from(d.bands) * if colour.has_alpha() { 2 } else { 1 }
            );
        }
    }
    assert_eq!(Colour::Rgba.channels(), 4);
    assert_eq!(Colour::GrayAlpha.colour_channels(), 1);
}

/// `(bytes, offset, needle)`: each refused at `offset` with a message containing `needle`.
#[test]
fn hostile_descriptors_are_refused_at_their_offset() {
    let cases: &[(&[u8], usize, &str)] = &[
        (&[0x00, 0x1c, 0, 0], 0, "width is 0"),
        (&[0x1c, 0x00, 0, 0], 1, "height is 0"),
        (&[0x9c, 0x00, 0x1c, 0, 0], 0, "non-canonical"),
        (&[0x1c, 0x80, 0x80, 0x00, 0, 0], 1, "non-canonical"),
        (
            &[0xff, 0xff, 0xff, 0xff, 0x1f, 0x1c, 0, 0],
            0,
            "over 2^32 - 1",
        ),
        (
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x1c, 0, 0],
            0,
            "longer than 5 bytes",
        ),
        (&[0x1c, 0x1c, 0x20, 0], 2, "reserved bits"),
        (&[0x1c, 0x1c, 0x18, 0], 2, "packs images with hyper-latents"),
        // Packed (bit 3) only for whole images without alpha.
        (
            &[0x1c, 0x1c, 0x0c, 0, 1, 2],
            2,
            "packs images that are tiled",
        ),
        (
            &[0x1c, 0x1c, 0x09, 0],
            2,
            "packs images that are with alpha",
        ),
        (
            &[0x1c, 0x1c, 0x0b, 0],
            2,
            "packs images that are with alpha",
        ),
        (&[0x1c, 0x1c, 0x80, 0], 2, "reserved bits"),
        (&[0x1c, 0x1c, 0x04, 0, 0x00, 0x02], 4, "band rows is 0"),
        (&[0x1c, 0x1c, 0x04, 0, 0x01, 0x01], 5, "expected >= 2"),
        (&[0x1c, 0x1c, 0x04, 0, 0x01, 0x00], 5, "expected >= 2"),
        (&[0x1c, 0x1c, 0x04, 0, 0x1c, 0x02], 4, "do not fit"),
        (
            &[0x1c, 0x1c, 0x04, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x02],
            4,
            "do not fit",
        ),
        (&[0x1c, 0x1c, 0x04, 0, 0x0e, 0x03], 4, "do not fit"),
        (&[0x1c], 1, "ends inside its height"),
        (&[0x1c, 0x1c], 2, "layout"),
        (&[0x1c, 0x1c, 0x00], 3, "level"),
        (&[0x1c, 0x1c, 0x04, 0x00], 4, "band rows"),
        (&[0x1c, 0x1c, 0x04, 0x00, 0x02], 5, "bands"),
        (&[0x9c], 1, "width"),
        (&[], 0, "width"),
    ];
    for &(b, offset, needle) in cases {
        let e = parse(b).unwrap_err();
        assert_eq!(e.offset, offset, "{b:02x?}: {}", e.what);
        assert!(
            e.what.to_string().contains(needle),
            "{b:02x?}: {} lacks {needle}",
            e.what
        );
        assert!(
            !e.what.is_truncated(),
            "{b:02x?}: a short descriptor is damage, not truncation"
        );
    }
    // The tightest valid tiling: 14 bands of 2 rows in 28 rows would leave none for the last band.
    assert!(parse(&[0x1c, 0x1c, 0x04, 0, 0x02, 0x0e]).is_ok());
    assert!(parse(&[0x1c, 0x1c, 0x04, 0, 0x02, 0x0f]).is_err());
}

#[test]
fn limits_are_checked_in_field_order_before_allocation() {
    let over = |b: &[u8], limits: Limits| match ImageDesc::parse(b, &limits).unwrap_err() {
        FieldError {
            offset,
            what:
                FormatError::OverLimit {
                    field,
                    value,
                    limit,
                },
        } => (offset, field, value, limit),
        e => panic!("{e:?}"),
    };
    let d = Limits::default();
    // 16385 wide, 1 high: the width is over, at offset 0.
    assert_eq!(
        over(&[0x81, 0x80, 0x01, 0x01, 0, 0], d),
        (0, "width", 16385, 16384)
    );
    assert_eq!(
        over(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0], d),
        (1, "height", u32::MAX.into(), 16384)
    );
    // 16384 x 16384 RGBA: 2^30 samples, over 2^28 (reported at the width).
    assert_eq!(
        over(&[0x80, 0x80, 0x01, 0x80, 0x80, 0x01, 0x03, 0], d),
        (0, "samples per image", 1 << 30, 1 << 28)
    );
    // More bands than allowed.
    let b = [0x1c, 0x1c, 0x04, 0, 0x01, 0x05];
    assert_eq!(over(&b, d.with_max_bands(4)), (5, "bands", 5, 4));
    assert!(ImageDesc::parse(&b, &d.with_max_bands(5)).is_ok());
    // More through the limits.
    let big = [0x80, 0x80, 0x04, 0x01, 0x00, 0];
    assert!(ImageDesc::parse(&big, &d).is_err());
    assert!(ImageDesc::parse(&big, &d.with_max_side_v2(65536)).is_ok());
    // with_max_side sets both versions' side limits.
    assert_eq!(
        over(&[0x1d, 0x01, 0, 0], d.with_max_side(28)),
        (0, "width", 29, 28)
    );
}

#[test]
fn band_rows_and_the_codec_check() {
    let d = ImageDesc::tiled(6000, 4000, Colour::Rgb, 0, 16, 16);
    // 4000 rows at stride 16: 250 latent rows, 16 bands of 16 (the last has 10).
    assert_eq!(d.check_latent_rows(250), Ok(()));
    assert_eq!(d.band_latent_rows(0, 250), 0..16);
    assert_eq!(d.band_latent_rows(15, 250), 240..250);
    let e = d.check_latent_rows(500).unwrap_err();
    assert_eq!(e.offset, 7);
    assert!(e.what.to_string().contains("has 32"), "{}", e.what);
    let u = ImageDesc::untiled(28, 28, Colour::Gray, 0);
    assert_eq!(u.check_latent_rows(2), Ok(()));
    assert_eq!(u.band_latent_rows(0, 2), 0..2);
    let bad = ImageDesc { bands: 3, ..u };
    assert!(bad.validate().is_err());
}
