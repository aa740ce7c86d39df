//! Container version 2 without a model (spec section 11): every header form and descriptor, the golden
//! vectors in `fixtures/golden-v2/` and the spec's hex dumps of them, every single-bit flip and every
//! truncation of every golden stream, hostile descriptors, image framing, and version 1 left alone.
//!
//! The golden streams carry opaque payloads (fixed byte strings, no model): they pin the container's
//! bytes only. Regenerate them, and the dumps in `spec/aez-format.md` section 11.9, with
//! `AEZ_BLESS=1 cargo test --test suite format_v2::`.

use crate::readers;
use crate::spec_dump;
use readers::OneByte;
use spec_dump::{dump, hex, replace_block};

use std::path::PathBuf;

use aez::entropy::Coder;
use aez::format::consts::*;
use aez::format::{
    self, AnyHeader, Colour, Descriptors, Event, HeaderV2, ImageDesc, Kind, Limits, Part,
    StreamHeader, StreamReader, StreamWriter,
};
use aez::{Error, FormatError};

/// The model id of the version-1 golden files (`fixtures/golden/`), so that the two versions compare
/// byte for byte. The version-2 vectors do not depend on the model: it is only a 7-byte string here.
const ID: [u8; 7] = [0xa2, 0x04, 0x64, 0xdb, 0xd4, 0x86, 0x41];

/// The payload of `fixtures/golden/fmnist-t10k-00000.aez`.
const FMNIST_0: [u8; 12] = [
    0xd2, 0xda, 0x3f, 0xc4, 0x07, 0x75, 0xe8, 0x8b, 0xb5, 0xb2, 0x0e, 0x47,
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn v2() -> Limits {
    Limits::default().with_max_version(2)
}

/// An opaque payload of `n` bytes, different for each `seed`.
fn opaque(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|j| {
            seed.wrapping_mul(37)
                .wrapping_add((j as u8).wrapping_mul(11))
                ^ 0x5a
        })
        .collect()
}

/// One image of a golden stream: its descriptor (for a per-image stream) and its payloads in record
/// order (latent band 0, alpha band 0, latent band 1, ...).
struct Img {
    desc: Option<ImageDesc>,
    payloads: Vec<Vec<u8>>,
}

fn img(desc: Option<ImageDesc>, sizes: &[usize], seed: u8) -> Img {
    Img {
        desc,
        payloads: sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| opaque(seed.wrapping_add(i as u8), n))
            .collect(),
    }
}

struct Golden {
    file: &'static str,
    header: HeaderV2,
    images: Vec<Img>,
    /// Shown as a hex dump in the spec.
    dump: bool,
}

fn batch_header(descriptors: Descriptors) -> HeaderV2 {
    HeaderV2::new(Coder::Range, Kind::Batch, ID, descriptors)
}

fn goldens() -> Vec<Golden> {
    let gray28 = ImageDesc::untiled(28, 28, Colour::Gray, 0);
    // 48x32 RGBA at stride 16: 2 latent rows, bands of 1 row.
    let rgba = ImageDesc::tiled(48, 32, Colour::Rgba, 1, 1, 2);
    // 100x60 RGBA at stride 16: 4 latent rows, bands of 2.
    let rgba_h = ImageDesc::tiled(100, 60, Colour::Rgba, 1, 2, 2);
    // 300x200 RGBA at stride 16: 13 latent rows, bands of 5.
    let rgba_t = ImageDesc::tiled(300, 200, Colour::Rgba, 4, 5, 3);
    // 6000x4000 RGB at stride 16: 250 latent rows, bands of 125.
    let photo = ImageDesc::tiled(6000, 4000, Colour::Rgb, 3, 125, 2);
    let ga = ImageDesc::untiled(1, 1, Colour::GrayAlpha, 0);
    vec![
        Golden {
            file: "single-model.aez",
            header: HeaderV2::new(Coder::Range, Kind::Single, ID, Descriptors::Model),
            images: vec![Img {
                desc: None,
                payloads: vec![FMNIST_0.to_vec()],
            }],
            dump: true,
        },
        Golden {
            file: "single-header.aez",
            header: HeaderV2::new(
                Coder::Range,
                Kind::Single,
                ID,
                Descriptors::InHeader(ImageDesc::untiled(640, 480, Colour::Rgb, 2)),
            ),
            images: vec![img(None, &[24], 1)],
            dump: true,
        },
        Golden {
            file: "batch-model.aez",
            header: batch_header(Descriptors::Model),
            images: vec![
                img(None, &[12], 2),
                img(None, &[16], 3),
                img(None, &[11], 4),
            ],
            dump: false,
        },
        Golden {
            file: "batch-header-tiled-rgba.aez",
            header: batch_header(Descriptors::InHeader(rgba_h)),
            images: vec![img(None, &[9, 3, 7, 2], 5), img(None, &[8, 3, 6, 2], 9)],
            dump: false,
        },
        Golden {
            file: "batch-per-image.aez",
            header: batch_header(Descriptors::PerImage),
            images: vec![
                img(Some(gray28), &[4], 20),
                img(Some(rgba), &[3, 2, 3, 2], 30),
            ],
            dump: true,
        },
        Golden {
            file: "batch-per-image-mixed.aez",
            header: HeaderV2 {
                coder: Coder::Zstd,
                ..batch_header(Descriptors::PerImage)
            },
            images: vec![
                img(Some(gray28), &[13], 40),
                img(Some(rgba_t), &[30, 5, 31, 6, 12, 3], 50),
                img(Some(photo), &[200, 0], 60),
                img(Some(ga), &[1, 9], 70),
            ],
            dump: false,
        },
    ]
}

/// The golden stream's bytes, written by the crate's writers.
fn make(g: &Golden) -> Vec<u8> {
    if g.header.kind == Kind::Single {
        return format::single_image(g.header, &g.images[0].payloads[0]);
    }
    let mut w = StreamWriter::new(Vec::new(), g.header).unwrap();
    for im in &g.images {
        for (i, p) in im.payloads.iter().enumerate() {
            match (i, im.desc) {
                (0, Some(d)) => w.write_image(&d, p).unwrap(),
                _ => w.write_record(p).unwrap(),
            }
        }
    }
    assert_eq!(w.images(), g.images.len() as u64);
    w.finish().unwrap()
}

/// The parts and bodies a reader should deliver for `g`.
fn expected_parts(g: &Golden) -> Vec<(Part, Vec<u8>)> {
    let shared = g.header.descriptors.header_desc().copied();
    let mut out = vec![];
    for (k, im) in g.images.iter().enumerate() {
        let desc = im.desc.or(shared);
        let per = if desc.is_some_and(|d| d.colour.has_alpha()) {
            2
        } else {
            1
        };
        for (i, p) in im.payloads.iter().enumerate() {
            out.push((
                Part {
                    image: k as u64,
                    images: 1,
                    band: (i / per) as u32,
                    bands: desc.map_or(1, |d| d.bands),
                    alpha: i % per == 1,
                    desc,
                    desc_len: if i == 0 {
                        im.desc.map_or(0, |d| d.encoded_len())
                    } else {
                        0
                    },
                },
                p.clone(),
            ));
        }
    }
    out
}

struct Outcome {
    headers: Vec<StreamHeader>,
    records: Vec<(Part, Vec<u8>)>,
    /// The payloads' offsets and lengths, in record order.
    spans: Vec<(u64, usize)>,
    error: Option<Error>,
}

fn read_with<R: std::io::Read>(r: R, limits: Limits) -> Outcome {
    let mut rd = StreamReader::new(r, None, limits);
    let mut o = Outcome {
        headers: vec![],
        records: vec![],
        spans: vec![],
        error: None,
    };
    loop {
        match rd.next_event() {
            Ok(Some(Event::Header(h))) => o.headers.push(h),
            Ok(Some(Event::Record(r))) => {
                o.spans.push((r.payload_offset, r.payload.len()));
                let part = r.part.expect("a version-2 record has a part");
                o.records.push((part, r.body().to_vec()));
            }
            Ok(None) => break,
            Err(e) => {
                o.error = Some(e);
                assert!(matches!(rd.next_event(), Ok(None)), "fused after an error");
                break;
            }
        }
    }
    o
}

fn read(b: &[u8]) -> Outcome {
    read_with(b, v2())
}

fn err_at(e: &Error) -> (Option<u64>, u64) {
    let at = e.location().expect("a located error");
    (at.record, at.offset)
}

fn bless() -> bool {
    std::env::var_os("AEZ_BLESS").is_some_and(|v| v != "0")
}

#[test]
fn golden_v2_files_are_what_the_writers_write() {
    let dir = root().join("fixtures/golden-v2");
    if bless() {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for g in goldens() {
        let bytes = make(&g);
        let path = dir.join(g.file);
        if bless() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (AEZ_BLESS=1 cargo test --test suite format_v2::)",
                path.display()
            )
        });
        assert_eq!(stored, bytes, "{}: the writers give other bytes", g.file);
        // It reads back as written.
        let o = read(&stored);
        assert!(o.error.is_none(), "{}: {:?}", g.file, o.error);
        assert_eq!(o.headers.len(), 1);
        assert_eq!(o.headers[0].version, VERSION_2);
        assert_eq!(o.headers[0].any(), AnyHeader::V2(g.header));
        assert_eq!(
            o.headers[0].header_desc(),
            g.header.descriptors.header_desc()
        );
        assert_eq!(o.records, expected_parts(&g), "{}", g.file);
        // One byte per read gives the same.
        let ob = read_with(OneByte(&stored), v2());
        assert_eq!(ob.records, o.records);
        // A reader of version 1 only (the default) refuses it at the version byte.
        let d = read_with(&stored[..], Limits::default());
        let e = d.error.expect("refused");
        assert!(
            e.to_string()
                .contains("unsupported format version 2 (this decoder reads version 1)"),
            "{e}"
        );
        assert_eq!(err_at(&e), (None, OFF_VERSION as u64));
    }
}

#[test]
fn a_one_image_v2_file_of_the_model_is_as_small_as_version_1() {
    let v1 = std::fs::read(root().join("fixtures/golden/fmnist-t10k-00000.aez")).unwrap();
    let g = &goldens()[0];
    let v2 = make(g);
    assert_eq!(
        v2.len(),
        v1.len(),
        "same 13-byte header, no per-image bytes"
    );
    assert_eq!(v2.len(), SINGLE_OVERHEAD + FMNIST_0.len());
    // The same bytes but for the version byte and the CRC that covers it.
    for (i, (a, b)) in v1.iter().zip(&v2).enumerate() {
        if i == OFF_VERSION {
            assert_eq!((*a, *b), (VERSION_1, VERSION_2));
        } else if i < v1.len() - CRC_LEN {
            assert_eq!(a, b, "byte {i}");
        }
    }
}

#[test]
fn every_header_form_round_trips_through_both_layouts() {
    let descs = [
        ImageDesc::untiled(1, 1, Colour::Gray, 0),
        ImageDesc::untiled(28, 28, Colour::Gray, 0),
        ImageDesc::untiled(16384, 16384, Colour::Gray, 255),
        ImageDesc::untiled(640, 480, Colour::Rgb, 2),
        ImageDesc::untiled(7, 5, Colour::GrayAlpha, 1),
        ImageDesc::tiled(6000, 4000, Colour::Rgba, 3, 16, 16),
        ImageDesc::tiled(2, 2, Colour::Rgb, 0, 1, 2),
    ];
    for coder in [Coder::Range, Coder::Zstd] {
        let mut forms = vec![Descriptors::Model, Descriptors::PerImage];
        forms.extend(descs.iter().map(|&d| Descriptors::InHeader(d)));
        for descriptors in forms {
            let h = HeaderV2::new(coder, Kind::Batch, ID, descriptors);
            // A batch with no images, then with one.
            let empty = StreamWriter::new(Vec::new(), h).unwrap().finish().unwrap();
            assert_eq!(empty.len(), h.stored_len() + CRC_LEN + END_MARKER_LEN);
            let o = read(&empty);
            assert!(o.error.is_none(), "{h:?}: {:?}", o.error);
            assert_eq!(o.headers[0].any(), AnyHeader::V2(h));
            let mut w = StreamWriter::new(Vec::new(), h).unwrap();
            let d = descriptors.header_desc().copied().unwrap_or(descs[3]);
            let n = match descriptors {
                Descriptors::Model => 1,
                _ => d.records(),
            };
            for i in 0..n {
                if i == 0 && descriptors == Descriptors::PerImage {
                    w.write_image(&d, &[7; 5]).unwrap();
                } else {
                    w.write_record(&[i as u8; 5]).unwrap();
                }
            }
            let b = w.finish().unwrap();
            let o = read(&b);
            assert!(o.error.is_none(), "{h:?}: {:?}", o.error);
            assert_eq!(o.records.len() as u64, n);
            assert!(o.records[0].0.is_first());
            assert!(o.records.last().unwrap().0.is_last());
            // And the single-image layout, for the forms it has.
            let single = HeaderV2 {
                kind: Kind::Single,
                ..h
            };
            if AnyHeader::V2(single).validate().is_ok() {
                let s = format::single_image(single, &[3; 9]);
                let o = read(&s);
                assert!(o.error.is_none(), "{single:?}: {:?}", o.error);
                assert_eq!(o.records[0].1, vec![3; 9]);
                assert_eq!(s.len(), single.stored_len() + 1 + 9 + CRC_LEN);
            } else {
                assert!(descriptors == Descriptors::PerImage || d.records() > 1);
            }
        }
    }
}

/// The byte ranges of the payloads of a golden stream.
fn payload_ranges(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let o = read(b);
    assert!(o.error.is_none());
    o.spans
        .iter()
        .map(|&(off, n)| off as usize..off as usize + n)
        .collect()
}

#[test]
fn every_single_bit_flip_of_every_golden_stream_is_refused() {
    for g in goldens() {
        let b = make(&g);
        let want = expected_parts(&g);
        let payloads = payload_ranges(&b);
        for bit in 0..b.len() * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let o = read(&d);
            let e = o.error.unwrap_or_else(|| {
                panic!(
                    "{}: flip of bit {bit} (byte {}) not detected",
                    g.file,
                    bit / 8
                )
            });
            // Every record delivered before the error is an original one.
            assert_eq!(
                &o.records[..],
                &want[..o.records.len()],
                "{} bit {bit}",
                g.file
            );
            // A flip in a payload (a per-image descriptor included) is caught by the CRC.
            if payloads.iter().any(|r| r.contains(&(bit / 8))) {
                assert!(
                    matches!(e.format_error(), Some(FormatError::CrcMismatch { .. })),
                    "{} bit {bit}: {e}",
                    g.file
                );
            }
        }
    }
}

#[test]
fn every_truncation_of_every_golden_stream_is_refused_as_truncated() {
    for g in goldens() {
        let b = make(&g);
        let want = expected_parts(&g);
        for cut in 0..b.len() {
            let o = read(&b[..cut]);
            let e = o
                .error
                .unwrap_or_else(|| panic!("{}: truncation at {cut} not detected", g.file));
            assert!(e.is_truncated(), "{} cut {cut}: {e}", g.file);
            assert!(err_at(&e).1 <= cut as u64, "{} cut {cut}: {e}", g.file);
            assert_eq!(&o.records[..], &want[..o.records.len()]);
        }
    }
}

/// A batch with per-image descriptors whose first record's payload is `first` (CRCs valid).
fn per_image_with(first: &[u8]) -> Vec<u8> {
    let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::PerImage)).unwrap();
    w.write_image(&ImageDesc::untiled(28, 28, Colour::Gray, 0), &[1, 2, 3])
        .unwrap();
    let mut b = w.finish().unwrap();
    // Replace the last record by one with `first` as its payload, CRC bound to index 0.
    let start = HEADER_LEN_V2_NO_DESC + CRC_LEN;
    b.truncate(start);
    let mut head = vec![];
    format::head::write(first.len() as u32, &mut head);
    let hc: [u8; 4] = b[HEADER_LEN_V2_NO_DESC..start].try_into().unwrap();
    let crc = format::record_crc(&hc, 0, &head, first);
    b.extend_from_slice(&head);
    b.extend_from_slice(first);
    b.extend_from_slice(&crc.to_le_bytes());
    let end = format::record_crc(&hc, 1, &[END_MARKER], &[]);
    b.push(END_MARKER);
    b.extend_from_slice(&end.to_le_bytes());
    b
}

/// A batch whose header descriptor is the bytes `desc` (header CRC valid).
fn header_desc_with(desc: &[u8]) -> Vec<u8> {
    let mut h = batch_header(Descriptors::Model).to_bytes();
    h[OFF_FLAGS] = Descriptors::InHeader(ImageDesc::untiled(1, 1, Colour::Gray, 0)).flags_bits()
        | (KIND_BATCH << FLAGS_KIND_SHIFT);
    h.push(format::head::with_parity(desc.len() as u8));
    h.extend_from_slice(desc);
    let hc = format::crc32(&[&h]).to_le_bytes();
    let mut b = h.clone();
    b.extend_from_slice(&hc);
    b.push(END_MARKER);
    b.extend_from_slice(&format::record_crc(&hc, 0, &[END_MARKER], &[]).to_le_bytes());
    b
}

#[test]
fn hostile_descriptors_are_refused_at_their_offset() {
    enum Want {
        Limit(&'static str, u64, u64),
        Format(&'static str),
    }
    use Want::*;
    let cases: Vec<(Vec<u8>, usize, Want)> = vec![
        // Huge sizes: over the side limit, over the samples limit.
        (
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0, 0],
            0,
            Limit("width", u32::MAX.into(), 16384),
        ),
        (
            vec![0x01, 0x81, 0x80, 0x01, 0, 0],
            1,
            Limit("height", 16385, 16384),
        ),
        (
            vec![0x80, 0x80, 0x01, 0x80, 0x80, 0x01, 0x02, 0],
            0,
            Limit("samples per image", 3 << 28, 1 << 28),
        ),
        // Zero sizes.
        (vec![0x00, 0x01, 0, 0], 0, Format("width is 0")),
        (vec![0x01, 0x00, 0, 0], 1, Format("height is 0")),
        // Non-canonical and overlong varints.
        (vec![0x81, 0x00, 0x01, 0, 0], 0, Format("non-canonical")),
        (
            vec![0x01, 0x9c, 0x80, 0x00, 0, 0],
            1,
            Format("non-canonical"),
        ),
        (
            vec![0x80, 0x80, 0x80, 0x80, 0x10, 0x01, 0, 0],
            0,
            Format("over 2^32 - 1"),
        ),
        (
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0, 0],
            0,
            Format("longer than 5 bytes"),
        ),
        // Reserved layout bits.
        (vec![0x1c, 0x1c, 0x20, 0], 2, Format("reserved bits")),
        (vec![0x1c, 0x1c, 0x80, 0], 2, Format("reserved bits")),
        // A packed image with a hyper-latent.
        (
            vec![0x1c, 0x1c, 0x18, 0],
            2,
            Format("packs images with hyper-latents"),
        ),
        // Absurd band heights and counts.
        (
            vec![0x1c, 0x1c, 0x04, 0, 0x1c, 0x02],
            4,
            Format("do not fit"),
        ),
        (
            vec![0x1c, 0x1c, 0x04, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x02],
            4,
            Format("do not fit"),
        ),
        (
            vec![0x1c, 0x1c, 0x04, 0, 0x00, 0x02],
            4,
            Format("band rows is 0"),
        ),
        (
            vec![0x1c, 0x1c, 0x04, 0, 0x01, 0x01],
            5,
            Format("expected >= 2"),
        ),
        (
            vec![0x80, 0x40, 0x80, 0x40, 0x04, 0, 0x01, 0x81, 0x20],
            7,
            Limit("bands", 4097, 4096),
        ),
        // Cut short inside the descriptor.
        (
            vec![0x1c, 0x1c, 0x04, 0x00, 0x02],
            5,
            Format("ends inside its bands"),
        ),
    ];
    for (desc, field_off, want) in &cases {
        // In the first record of a per-image batch (its payload is the descriptor alone).
        let b = per_image_with(desc);
        let payload_off = (HEADER_LEN_V2_NO_DESC + CRC_LEN + 1) as u64;
        let check = |e: &Error, base: u64, record: Option<u64>| {
            assert_eq!(
                err_at(e),
                (record, base + *field_off as u64),
                "{desc:02x?}: {e}"
            );
            match (want, e) {
                (
                    Limit(w, v, l),
                    Error::Limit {
                        what, value, limit, ..
                    },
                ) => {
                    assert_eq!((*what, *value, *limit), (*w, *v, *l), "{desc:02x?}")
                }
                (Format(needle), Error::Format { what, .. }) => {
                    assert!(
                        what.to_string().contains(needle),
                        "{desc:02x?}: {what} lacks {needle}"
                    );
                    assert!(!what.is_truncated());
                }
                _ => panic!("{desc:02x?}: {e:?}"),
            }
        };
        let o = read(&b);
        assert!(o.records.is_empty());
        check(&o.error.expect("refused"), payload_off, Some(0));
        // In the header (the descriptor length byte gives its length).
        if desc.len() >= DESC_MIN_LEN {
            let o = read(&header_desc_with(desc));
            assert!(o.headers.is_empty());
            check(&o.error.expect("refused"), OFF_DESC as u64, None);
        }
    }
    // More through the limits: the same 16385-high descriptor passes with a larger side limit.
    let o = read_with(
        &per_image_with(&[0x01, 0x81, 0x80, 0x01, 0, 0])[..],
        v2().with_max_side_v2(20000),
    );
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.records[0].0.desc.unwrap().height, 16385);
}

#[test]
fn a_single_image_stream_is_one_untiled_image_without_alpha() {
    for d in [
        ImageDesc::tiled(64, 64, Colour::Gray, 0, 2, 2),
        ImageDesc::untiled(64, 64, Colour::Rgba, 0),
    ] {
        let h = HeaderV2::new(Coder::Range, Kind::Single, ID, Descriptors::InHeader(d));
        assert!(AnyHeader::V2(h).validate().is_err());
        // Written by hand with a valid file CRC, it is refused at the layout byte after the CRC check.
        let mut b = h.to_bytes();
        b.push(format::head::with_parity(5));
        b.extend_from_slice(&[1, 2, 3, 4, 5]);
        let crc = format::crc32(&[&b]);
        b.extend_from_slice(&crc.to_le_bytes());
        let o = read(&b);
        let e = o.error.expect("refused");
        assert!(e.to_string().contains("one record"), "{e}");
        assert_eq!(err_at(&e), (None, (OFF_DESC + 2) as u64));
    }
    // Per-image descriptors in a single-image stream are invalid flags.
    let mut b = format::single_image(
        HeaderV2::new(Coder::Range, Kind::Single, ID, Descriptors::Model),
        &[1; 8],
    );
    b[OFF_FLAGS] = Descriptors::PerImage.flags_bits();
    let e = read(&b).error.expect("refused");
    assert_eq!(err_at(&e), (None, OFF_FLAGS as u64));
    assert!(e.to_string().contains("single-image stream"), "{e}");
}

#[test]
fn an_end_marker_inside_an_image_is_refused() {
    // Image 0 is tiled in 2 bands (2 records); the stream ends after one, with a valid end marker.
    let d = ImageDesc::tiled(64, 64, Colour::Gray, 0, 2, 2);
    let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::PerImage)).unwrap();
    w.write_image(&d, &[9; 6]).unwrap();
    w.write_record(&[8; 6]).unwrap();
    let full = w.finish().unwrap();
    let start = HEADER_LEN_V2_NO_DESC + CRC_LEN;
    let first_len = 1 + d.encoded_len() + 6 + CRC_LEN;
    let mut b = full[..start + first_len].to_vec();
    let hc: [u8; 4] = full[HEADER_LEN_V2_NO_DESC..start].try_into().unwrap();
    b.push(END_MARKER);
    b.extend_from_slice(&format::record_crc(&hc, 1, &[END_MARKER], &[]).to_le_bytes());
    let o = read(&b);
    assert_eq!(o.records.len(), 1);
    let e = o.error.expect("refused");
    assert!(
        matches!(
            e.format_error(),
            Some(FormatError::IncompleteImage {
                image: 0,
                records: 1,
                expected: 2
            })
        ),
        "{e}"
    );
    assert_eq!(err_at(&e), (None, (start + first_len) as u64));
    assert!(!e.is_truncated());
    // Cut there instead, it is a truncation.
    let e = read(&full[..start + first_len]).error.unwrap();
    assert!(e.is_truncated(), "{e}");
}

#[test]
fn the_writer_refuses_what_a_reader_would_refuse() {
    let invalid = |r: std::io::Result<()>| {
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    };
    let d = ImageDesc::tiled(64, 64, Colour::Rgba, 0, 2, 2);
    // Per-image: every image starts with write_image, and has all its records before the next.
    let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::PerImage)).unwrap();
    invalid(w.write_record(&[1]));
    w.write_image(&d, &[1]).unwrap();
    invalid(w.write_image(&d, &[1]));
    for _ in 1..d.records() {
        w.write_record(&[2]).unwrap();
    }
    invalid(w.write_image(&ImageDesc::untiled(0, 4, Colour::Gray, 0), &[1]));
    invalid(w.write_image(&ImageDesc::tiled(4, 4, Colour::Gray, 0, 4, 2), &[1]));
    w.write_image(&d, &[3]).unwrap();
    assert_eq!(w.images(), 2);
    let e = w.finish().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("image 1 still has 3 records"), "{e}");
    // write_image is for per-image streams only.
    let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::Model)).unwrap();
    invalid(w.write_image(&d, &[1]));
    // Invalid headers are refused before anything is written.
    let bad = batch_header(Descriptors::InHeader(ImageDesc::untiled(
        5,
        0,
        Colour::Gray,
        0,
    )));
    assert!(StreamWriter::new(Vec::new(), bad).is_err());
    // Version 1 is written as before, whatever the framing.
    let v1 = format::Header::model_geometry(Coder::Range, Kind::Batch, ID);
    let mut w = StreamWriter::new(Vec::new(), v1).unwrap();
    w.write_record(&[1]).unwrap();
    assert_eq!(w.finish().unwrap()[OFF_VERSION], VERSION_1);
}

#[test]
fn inspect_reports_version_descriptors_and_counts() {
    let gs = goldens();
    let v1 = std::fs::read(root().join("fixtures/golden/fmnist-t10k-3.aez")).unwrap();
    let mut all = v1.clone();
    for g in &gs {
        all.extend_from_slice(&make(g));
    }
    // The default limits read version 1 only, as the default reader does.
    assert!(format::inspect(&all[..], None, Limits::default()).is_err());
    let info = format::inspect(&all[..], None, v2()).unwrap();
    assert_eq!(info.len(), 1 + gs.len());
    assert_eq!(
        (info[0].version, info[0].descriptors, info[0].images),
        (1, None, 3)
    );
    let mut offset = v1.len() as u64;
    for (s, g) in info[1..].iter().zip(&gs) {
        let parts = expected_parts(g);
        assert_eq!(s.offset, offset);
        assert_eq!(s.bytes, make(g).len() as u64);
        offset += s.bytes;
        assert_eq!(s.version, 2);
        assert_eq!(s.descriptors, Some(g.header.descriptors));
        assert_eq!(s.header.kind, g.header.kind);
        assert_eq!(s.records, parts.len() as u64);
        assert_eq!(s.images, g.images.len() as u64, "{}", g.file);
        assert_eq!(
            s.alpha_records,
            parts.iter().filter(|p| p.0.alpha).count() as u64
        );
        let firsts: Vec<ImageDesc> = parts
            .iter()
            .filter(|p| p.0.is_first())
            .filter_map(|p| p.0.desc)
            .collect();
        assert_eq!(
            s.tiled_images,
            firsts.iter().filter(|d| d.is_tiled()).count() as u64
        );
        assert_eq!(
            s.max_width,
            firsts.iter().map(|d| d.width).max().unwrap_or(0)
        );
    }
    let mixed = &info[gs.len()];
    assert_eq!(
        (mixed.images, mixed.tiled_images, mixed.alpha_records),
        (4, 2, 4)
    );
    assert_eq!((mixed.max_width, mixed.max_height), (6000, 4000));
}

#[test]
fn version_1_and_2_streams_concatenate() {
    let v1 = std::fs::read(root().join("fixtures/golden/fmnist-t10k-3.aez")).unwrap();
    let gs = goldens();
    let all: Vec<u8> = [make(&gs[4]), v1.clone(), make(&gs[0]), make(&gs[5])].concat();
    let mut rd = StreamReader::new(&all[..], None, v2());
    let mut versions = vec![];
    let mut records = 0;
    while let Some(ev) = rd.next_event().unwrap() {
        match ev {
            Event::Header(h) => versions.push(h.version),
            Event::Record(r) => {
                assert_eq!(r.index, records);
                assert_eq!(r.part.is_none(), versions.last() == Some(&1));
                records += 1;
            }
        }
    }
    assert_eq!(versions, [2, 1, 2, 2]);
    assert_eq!(records, 5 + 3 + 1 + 11);
}

// The spec's dumps (section 11.9).

fn desc_text(b: &[u8]) -> String {
    let (d, n) = ImageDesc::parse(b, &Limits::unlimited()).unwrap();
    let mut p = 0;
    let mut field = |name: &str, len: usize| {
        let s = format!("{name} {}", hex(&b[p..p + len]));
        p += len;
        s
    };
    let mut parts = vec![
        field("width", varint_len_of(d.width)),
        field("height", varint_len_of(d.height)),
        field("layout", 1),
        field("level", 1),
    ];
    if d.is_tiled() {
        parts.push(field("band rows", varint_len_of(d.band_rows)));
        parts.push(field("bands", varint_len_of(d.bands)));
    }
    assert_eq!(p, n);
    format!("{} ({d})", parts.join(" "))
}

fn varint_len_of(v: u32) -> usize {
    format::varint_len(v)
}

/// The field-by-field reading of a version-2 stream, for the spec.
fn fields(b: &[u8]) -> String {
    let flags = b[OFF_FLAGS];
    let mut s = format!(
        "magic {} | version {:02x} | flags {:02x} | model id {}",
        hex(&b[0..4]),
        b[OFF_VERSION],
        flags,
        hex(&b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN]),
    );
    let o = read(b);
    assert!(o.error.is_none());
    let h = &o.headers[0];
    let hlen = h.any().stored_len();
    match h.descriptors.unwrap() {
        Descriptors::Model => s.push_str(" | (no descriptor: the model's)"),
        Descriptors::PerImage => s.push_str(" | (descriptors per image)"),
        Descriptors::InHeader(_) => s.push_str(&format!(
            "\ndescriptor length {:02x} | {}",
            b[OFF_DESC_LEN],
            desc_text(&b[OFF_DESC..hlen])
        )),
    }
    s.push('\n');
    let single = h.header.kind == Kind::Single;
    let mut p = if single { hlen } else { hlen + CRC_LEN };
    if !single {
        s.push_str(&format!("header CRC {}\n", hex(&b[hlen..hlen + 4])));
    }
    for (i, ((part, _), &(off, n))) in o.records.iter().zip(&o.spans).enumerate() {
        let off = off as usize;
        let what = if part.alpha { "alpha" } else { "latent" };
        s.push_str(&format!(
            "record {i} (image {}, band {} of {}, {what}): head {} ({n} bytes) | ",
            part.image,
            part.band,
            part.bands,
            hex(&b[off - head_len(b, off)..off]),
        ));
        if part.desc_len > 0 {
            s.push_str(&format!("{} | ", desc_text(&b[off..off + part.desc_len])));
        }
        s.push_str(&format!(
            "payload {} | {} {}\n",
            hex(&b[off + part.desc_len..off + n]),
            if single { "file CRC" } else { "CRC" },
            hex(&b[off + n..off + n + 4])
        ));
        p = off + n + 4;
    }
    if !single {
        s.push_str(&format!("end marker 00 | CRC {}\n", hex(&b[p + 1..p + 5])));
    }
    s
}

/// Bytes of the record head that ends at `payload_off` (1 or 9).
fn head_len(b: &[u8], payload_off: usize) -> usize {
    if payload_off >= HEAD_EXTENDED_LEN && b[payload_off - HEAD_EXTENDED_LEN] == HEAD_EXTENDED {
        HEAD_EXTENDED_LEN
    } else {
        1
    }
}

fn spec_block(name: &str, bytes: &[u8]) -> String {
    format!(
        "<!-- golden-v2-hex {name} -->\n`fixtures/golden-v2/{name}` ({} bytes):\n\n```text\n{}\n{}```\n<!-- /golden-v2-hex -->",
        bytes.len(),
        fields(bytes).trim_end(),
        dump(bytes)
    )
}

#[test]
fn the_spec_dumps_are_the_golden_v2_files() {
    let path = root().join("spec/aez-format.md");
    let mut spec = std::fs::read_to_string(&path).unwrap();
    let mut problems = vec![];
    for g in goldens().iter().filter(|g| g.dump) {
        let want = spec_block(g.file, &make(g));
        let open = format!("<!-- golden-v2-hex {} -->", g.file);
        match replace_block(&mut spec, &open, "<!-- /golden-v2-hex -->", &want) {
            None => problems.push(format!(
                "no dump of {} (mark its place with {open})",
                g.file
            )),
            Some(false) => problems.push(format!("the dump of {} is not the golden file", g.file)),
            Some(true) => {}
        }
    }
    if bless() {
        std::fs::write(&path, &spec).unwrap();
        return;
    }
    assert!(
        problems.is_empty(),
        "spec/aez-format.md: {}\n(AEZ_BLESS=1 cargo test --test suite format_v2::)",
        problems.join("\n")
    );
}

#[test]
fn version_1_streams_read_the_same_when_version_2_is_accepted() {
    let summary = |b: &[u8], limits: Limits| {
        let mut rd = StreamReader::new(b, None, limits);
        let mut events = vec![];
        let error = loop {
            match rd.next_event() {
                Ok(Some(Event::Header(h))) => events.push(format!("{h:?}")),
                Ok(Some(Event::Record(r))) => {
                    assert!(r.part.is_none());
                    events.push(format!("{r:?}"));
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        (events, error)
    };
    let dir = root().join("fixtures/golden");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "aez") {
            continue;
        }
        n += 1;
        let b = std::fs::read(&path).unwrap();
        let (events, error) = summary(&b, Limits::default());
        assert!(error.is_none(), "{}: {error:?}", path.display());
        assert_eq!(summary(&b, v2()), (events, None), "{}", path.display());
        // Every single-bit flip is still refused, with the same message, by a reader of both versions
        // (version 1's byte 01 is two flips from 02).
        for bit in 0..b.len().min(64) * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let (_, e1) = summary(&d, Limits::default());
            let (_, e2) = summary(&d, v2());
            assert!(e2.is_some(), "{} bit {bit}", path.display());
            if d[OFF_VERSION] == VERSION_1 {
                assert_eq!(e1, e2, "{} bit {bit}", path.display());
            }
        }
    }
    assert!(
        n >= 7,
        "the version-1 golden files are in {}",
        dir.display()
    );
}

#[test]
fn packed_record_counts_are_checked_before_anything_is_allocated() {
    // A batch of 28x28 gray images, packed: each record's payload starts with its image count.
    let d = ImageDesc::untiled(28, 28, Colour::Gray, 0).with_packed(true);
    let stream = |payloads: &[&[u8]]| {
        let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::InHeader(d))).unwrap();
        for p in payloads {
            w.write_record(p).unwrap();
        }
        w.finish().unwrap()
    };
    // Good counts: records of 3 and 1 images, the second record's first image is image 3.
    let o = read(&stream(&[&[3, 7, 7], &[1, 9]]));
    assert!(o.error.is_none(), "{:?}", o.error);
    let parts: Vec<(u64, u32, usize)> = o
        .records
        .iter()
        .map(|(p, _)| (p.image, p.images, p.desc_len))
        .collect();
    assert_eq!(parts, vec![(0, 3, 1), (3, 1, 1)]);
    assert_eq!(
        o.records[0].1,
        vec![7, 7],
        "the body is the payload after the count"
    );
    // A count of 0, a non-canonical count, one cut short, one over the pack limit, and k images over
    // the samples limit: refused at the payload's first byte, naming the record.
    let first_payload = (HEADER_LEN_V2_NO_DESC + 1 + d.encoded_len() + CRC_LEN + 1) as u64;
    for (payload, limits, needle) in [
        (&[0u8, 1][..], v2(), "0 images"),
        (&[0x81, 0x00, 1][..], v2(), "varint"),
        (&[0x80][..], v2(), "ends inside its image count"),
        (&[0x81, 0x01, 1][..], v2().with_max_pack(128), "over"),
        (
            &[100, 1][..],
            v2().with_max_samples(784 * 99),
            "samples per record",
        ),
    ] {
        let o = read_with(&stream(&[&[1, 5], payload])[..], limits);
        let e = o.error.unwrap_or_else(|| panic!("{payload:02x?} accepted"));
        assert_eq!(o.records.len(), 1, "{payload:02x?}: the good record first");
        let second = first_payload + 2 + CRC_LEN as u64 + 1;
        assert_eq!(err_at(&e), (Some(1), second), "{payload:02x?}: {e}");
        assert!(
            e.to_string().contains(needle),
            "{payload:02x?}: {e} lacks {needle}"
        );
        assert!(!e.is_truncated(), "{payload:02x?}: damage, not truncation");
    }
    // The packed bit is refused where it cannot be: in a per-image descriptor, in a single-image
    // stream, with tiling or alpha.
    let mut w = StreamWriter::new(Vec::new(), batch_header(Descriptors::PerImage)).unwrap();
    assert!(
        w.write_image(&d, &[1]).is_err() || {
            let b = w.finish().unwrap();
            read(&b).error.is_some()
        }
    );
    let single = HeaderV2::new(Coder::Range, Kind::Single, [1; 7], Descriptors::InHeader(d));
    assert!(AnyHeader::V2(single).validate().is_err());
    for bad in [
        ImageDesc::tiled(28, 28, Colour::Gray, 0, 2, 4).with_packed(true),
        ImageDesc::untiled(28, 28, Colour::GrayAlpha, 0).with_packed(true),
    ] {
        assert!(bad.validate().is_err(), "{bad}");
    }
}
