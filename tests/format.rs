//! The container without a model: layouts, every decoder error path, every single-bit flip and every
//! truncation of real streams, concatenation, and independence from how `Read` splits the bytes.

use crate::readers;
use readers::OneByte;

use aez::entropy::Coder;
use aez::format::consts::*;
use aez::format::{self, Event, Header, Kind, Limits, StreamReader, StreamWriter};
use aez::Error;

const ID: [u8; 7] = [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07];

/// A header of the model's geometry (not stored: what the codec writes), 13 bytes.
fn header(kind: Kind) -> Header {
    Header::model_geometry(Coder::Range, kind, ID)
}

/// A header with a stored 28x28 geometry, 17 bytes.
fn header_explicit(kind: Kind) -> Header {
    Header {
        coder: Coder::Range,
        kind,
        model_id: ID,
        width: 28,
        height: 28,
    }
}

/// Both layouts: `false` the model's geometry (13-byte header), `true` an explicit one (17 bytes).
const LAYOUTS: [bool; 2] = [false, true];

fn header_g(kind: Kind, explicit: bool) -> Header {
    if explicit {
        header_explicit(kind)
    } else {
        header(kind)
    }
}

fn hlen(explicit: bool) -> usize {
    if explicit {
        HEADER_LEN_EXPLICIT_GEOMETRY
    } else {
        HEADER_LEN_MODEL_GEOMETRY
    }
}

/// Payloads of assorted lengths, including an empty one and extended-head ones.
fn payloads() -> Vec<Vec<u8>> {
    let lens = [20usize, 1, 17, 126, 127, 0, 22, 300, 19];
    lens.iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect()
}

fn batch(ps: &[Vec<u8>]) -> Vec<u8> {
    batch_g(ps, false)
}

fn batch_g(ps: &[Vec<u8>], explicit: bool) -> Vec<u8> {
    let mut w = StreamWriter::new(Vec::new(), header_g(Kind::Batch, explicit)).unwrap();
    for p in ps {
        w.write_record(p).unwrap();
    }
    w.finish().unwrap()
}

/// Everything a reader yields: records' payloads, headers, and the final error if any.
#[derive(Debug)]
struct Outcome {
    headers: Vec<Header>,
    records: Vec<Vec<u8>>,
    error: Option<Error>,
}

fn read_all<R: std::io::Read>(r: R, limits: Limits) -> Outcome {
    let mut rd = StreamReader::new(r, None, limits);
    let mut o = Outcome {
        headers: vec![],
        records: vec![],
        error: None,
    };
    loop {
        match rd.next_event() {
            Ok(Some(Event::Header(h))) => o.headers.push(h.header),
            Ok(Some(Event::Record(r))) => {
                assert_eq!(r.index, o.records.len() as u64);
                o.records.push(r.payload)
            }
            Ok(None) => break,
            Err(e) => {
                o.error = Some(e);
                // Fused after an error.
                assert!(matches!(rd.next_event(), Ok(None)));
                break;
            }
        }
    }
    o
}

fn read(bytes: &[u8]) -> Outcome {
    read_all(bytes, Limits::default())
}

fn err_text(o: &Outcome) -> String {
    o.error.as_ref().map(|e| e.to_string()).unwrap_or_default()
}

fn err_offset(o: &Outcome) -> (Option<u64>, u64) {
    match o.error.as_ref() {
        Some(Error::Format { at, .. }) | Some(Error::Limit { at, .. }) => (at.record, at.offset),
        other => panic!("expected a format/limit error, got {other:?}"),
    }
}

#[test]
fn batch_round_trip_and_layout() {
    for explicit in LAYOUTS {
        let ps = payloads();
        let b = batch_g(&ps, explicit);
        let o = read(&b);
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(o.records, ps);
        assert_eq!(o.headers, vec![header_g(Kind::Batch, explicit)]);
        // Size: header + CRC + per record (head + payload + CRC) + end marker.
        let heads: usize = ps
            .iter()
            .map(|p| if (1..=126).contains(&p.len()) { 1 } else { 9 })
            .sum();
        let expect = hlen(explicit)
            + CRC_LEN
            + heads
            + ps.iter().map(|p| p.len() + CRC_LEN).sum::<usize>()
            + END_MARKER_LEN;
        assert_eq!(b.len(), expect);
        assert_eq!(&b[..4], &MAGIC);
        assert_eq!(b[OFF_FLAGS], if explicit { 0b00_11_00 } else { 0b11_11_00 });
        assert_eq!(b[b.len() - END_MARKER_LEN], END_MARKER);
    }
}

#[test]
fn empty_batch_is_valid() {
    let b = batch(&[]);
    assert_eq!(b.len(), BATCH_STREAM_OVERHEAD);
    let b = batch_g(&[], true);
    assert_eq!(b.len(), BATCH_STREAM_OVERHEAD + EXPLICIT_GEOMETRY_OVERHEAD);
    let o = read(&b);
    assert!(o.error.is_none());
    assert!(o.records.is_empty());
    assert_eq!(o.headers.len(), 1);
}

#[test]
fn single_round_trip_and_layout() {
    let p: Vec<u8> = (1..=20).collect();
    let b = format::single_image(header(Kind::Single), &p);
    assert_eq!(b.len(), SINGLE_OVERHEAD + 20);
    assert_eq!(b[OFF_FLAGS], 0b11_00_00);
    let o = read(&b);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.records, vec![p.clone()]);
    assert_eq!(o.headers, vec![header(Kind::Single)]);
    let b = format::single_image(header_explicit(Kind::Single), &p);
    assert_eq!(b.len(), SINGLE_OVERHEAD + EXPLICIT_GEOMETRY_OVERHEAD + 20);
    assert_eq!(b[OFF_FLAGS], 0);
    assert_eq!(&b[OFF_WIDTH..OFF_HEIGHT + 2], &[28, 0, 28, 0]);
    let o = read(&b);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.records, vec![p]);
    assert_eq!(o.headers, vec![header_explicit(Kind::Single)]);
}

#[test]
fn every_single_bit_flip_is_detected_batch() {
    for explicit in LAYOUTS {
        let ps = payloads();
        let b = batch_g(&ps, explicit);
        for bit in 0..b.len() * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let o = read(&d);
            assert!(
                o.error.is_some(),
                "flip of bit {bit} (byte {}) not detected",
                bit / 8
            );
            // Every record delivered is an original one, in order.
            assert_eq!(&o.records[..], &ps[..o.records.len()], "bit {bit}");
        }
    }
}

#[test]
fn every_single_bit_flip_is_detected_single() {
    for explicit in LAYOUTS {
        let p: Vec<u8> = (0..23).map(|i| i * 11).collect();
        let b = format::single_image(header_g(Kind::Single, explicit), &p);
        for bit in 0..b.len() * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            let o = read(&d);
            assert!(o.error.is_some(), "flip of bit {bit} not detected");
            assert!(o.records.is_empty());
        }
    }
}

#[test]
fn every_truncation_is_detected_and_good_records_come_first() {
    for explicit in LAYOUTS {
        let ps = payloads();
        let b = batch_g(&ps, explicit);
        for cut in 0..b.len() {
            let o = read(&b[..cut]);
            assert!(o.error.is_some(), "truncation at {cut} not detected");
            assert_eq!(&o.records[..], &ps[..o.records.len()]);
            let (_, off) = err_offset(&o);
            assert!(off <= cut as u64, "cut {cut}: error offset {off}");
            if cut > 0 {
                assert!(
                    err_text(&o).contains("truncated"),
                    "cut {cut}: {}",
                    err_text(&o)
                );
            }
        }
        let single = format::single_image(header_g(Kind::Single, explicit), &[5; 20]);
        for cut in 0..single.len() {
            let o = read(&single[..cut]);
            assert!(
                o.error.is_some(),
                "single: truncation at {cut} not detected"
            );
            assert!(o.records.is_empty());
            if cut > 0 {
                assert!(
                    err_text(&o).contains("truncated"),
                    "single, cut {cut}: {}",
                    err_text(&o)
                );
            }
        }
    }
}

#[test]
fn truncation_reports_record_index_and_offset() {
    let ps = payloads();
    let b = batch(&ps);
    // Cut in the middle of record 3's payload.
    let rec3_start =
        HEADER_LEN_MODEL_GEOMETRY + CRC_LEN + (1 + 20 + 4) + (1 + 1 + 4) + (1 + 17 + 4);
    let o = read(&b[..rec3_start + 10]);
    assert_eq!(o.records.len(), 3);
    assert_eq!(err_offset(&o), (Some(3), (rec3_start + 10) as u64));
    // Cut exactly at a record boundary: the end marker is missing.
    let o = read(&b[..rec3_start]);
    assert_eq!(o.records.len(), 3);
    assert!(
        err_text(&o).contains("without its end marker"),
        "{}",
        err_text(&o)
    );
}

#[test]
fn header_errors() {
    for explicit in LAYOUTS {
        let b = batch_g(&payloads()[..2], explicit);
        let g = b[OFF_FLAGS] & FLAGS_GEOMETRY_MASK;
        let cases: &[(usize, u8, &str)] = &[
            (0, 0x50, "not an aez stream"),
            (2, b'X', "not an aez stream"),
            (4, 2, "unsupported format version 2"),
            (5, g | 0x4c, "reserved flag bits"),
            (5, g | 0x8c, "reserved flag bits"),
            (5, g | 0x08, "invalid kind bits"),
            (5, g | 0x0e, "unknown coder id 2"),
            (5, 0x1c, "invalid geometry field 01"),
            (5, 0x2c, "invalid geometry field 10"),
            (8, 0x00, "header CRC mismatch"),
            (12, 0x00, "header CRC mismatch"),
            (hlen(explicit) + 1, 0x00, "header CRC mismatch"),
        ];
        for &(at, val, needle) in cases {
            let mut d = b.clone();
            d[at] = val;
            let o = read(&d);
            assert!(err_text(&o).contains(needle), "byte {at}: {}", err_text(&o));
            assert!(o.records.is_empty());
            assert!(o.headers.is_empty());
        }
        if explicit {
            let mut d = b.clone();
            d[OFF_WIDTH] = 0x1d;
            assert!(err_text(&read(&d)).contains("header CRC mismatch"));
        }
    }
    let o = read(&[]);
    assert!(err_text(&o).contains("empty input"));
    let o = read(b"P5\n28 28\n255\n");
    assert!(err_text(&o).contains("not an aez stream"));
    assert_eq!(err_offset(&o), (None, 0));
}

#[test]
fn width_zero_and_over_limit() {
    // A valid CRC over a bad width: the field itself is reported.
    let mut h = header_explicit(Kind::Batch).to_bytes();
    h[OFF_WIDTH] = 0;
    h[OFF_WIDTH + 1] = 0;
    let mut b = h.clone();
    b.extend_from_slice(&format::crc32(&[&h]).to_le_bytes());
    let o = read(&b);
    assert!(err_text(&o).contains("width is 0"), "{}", err_text(&o));
    assert_eq!(err_offset(&o), (None, OFF_WIDTH as u64));

    let big = Header {
        width: 5000,
        ..header_explicit(Kind::Batch)
    };
    let b = StreamWriter::new(Vec::new(), big)
        .unwrap()
        .finish()
        .unwrap();
    let o = read(&b);
    assert!(
        matches!(
            o.error,
            Some(Error::Limit {
                what: "width",
                value: 5000,
                limit: 4096,
                ..
            })
        ),
        "{:?}",
        o.error
    );
}

#[test]
fn payload_over_limit_is_refused_before_reading_it() {
    let b = batch(&[vec![1; 300]]);
    let limits = Limits::default().with_max_payload(299);
    let o = read_all(&b[..], limits);
    match o.error {
        Some(Error::Limit {
            at,
            what,
            value: 300,
            limit: 299,
        }) => {
            assert_eq!(what, "record payload length");
            assert_eq!(at.record, Some(0));
            assert_eq!(at.offset, (HEADER_LEN_MODEL_GEOMETRY + CRC_LEN) as u64);
        }
        other => panic!("{other:?}"),
    }
    // A huge extended length in a crafted stream is refused without allocating.
    let mut b = batch(&[]);
    b.truncate(HEADER_LEN_MODEL_GEOMETRY + CRC_LEN);
    b.push(HEAD_EXTENDED);
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&(!u32::MAX).to_le_bytes());
    let o = read(&b);
    assert!(
        matches!(
            o.error,
            Some(Error::Limit {
                value: 4294967295,
                ..
            })
        ),
        "{:?}",
        o.error
    );
}

#[test]
fn record_count_limit() {
    let b = batch(&[vec![1], vec![2], vec![3]]);
    let o = read_all(&b[..], Limits::default().with_max_records(2));
    assert_eq!(o.records.len(), 2);
    assert!(matches!(
        o.error,
        Some(Error::Limit {
            what: "records in one stream",
            ..
        })
    ));
}

#[test]
fn records_are_bound_to_their_index_and_stream() {
    let ps = vec![vec![7u8; 20], vec![8u8; 20], vec![9u8; 20]];
    let b = batch(&ps);
    let rec = 1 + 20 + 4;
    let start = HEADER_LEN_MODEL_GEOMETRY + CRC_LEN;
    // Swap records 0 and 1: both CRCs are valid for their bytes, but not at that index.
    let mut d = b.clone();
    let (r0, r1) = (
        b[start..start + rec].to_vec(),
        b[start + rec..start + 2 * rec].to_vec(),
    );
    d[start..start + rec].copy_from_slice(&r1);
    d[start + rec..start + 2 * rec].copy_from_slice(&r0);
    let o = read(&d);
    assert!(o.records.is_empty());
    assert!(err_text(&o).contains("record CRC mismatch"));
    // Drop record 2 entirely: the end marker's count no longer matches.
    let mut d = b[..start + 2 * rec].to_vec();
    d.extend_from_slice(&b[start + 3 * rec..]);
    let o = read(&d);
    assert_eq!(o.records.len(), 2);
    assert!(
        err_text(&o).contains("end marker CRC mismatch"),
        "{}",
        err_text(&o)
    );
    // A record spliced from a stream with another header.
    let other = {
        let mut w = StreamWriter::new(
            Vec::new(),
            Header {
                coder: Coder::Zstd,
                ..header(Kind::Batch)
            },
        )
        .unwrap();
        w.write_record(&[7u8; 20]).unwrap();
        w.finish().unwrap()
    };
    let mut d = b.clone();
    d[start..start + rec].copy_from_slice(&other[start..start + rec]);
    assert!(err_text(&read(&d)).contains("record CRC mismatch"));
}

#[test]
fn concatenated_streams_yield_all_records() {
    let a = batch(&payloads()[..3]);
    let s = format::single_image(header(Kind::Single), &[42; 19]);
    let c = batch(&payloads()[3..]);
    let e = batch(&[]);
    let sx = format::single_image(header_explicit(Kind::Single), &[43; 18]);
    let ex = batch_g(&payloads()[..1], true);
    let all: Vec<u8> = [a.clone(), s, e, sx, c, ex].concat();
    let o = read(&all);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.headers.len(), 6);
    assert_eq!(o.headers[3], header_explicit(Kind::Single));
    assert_eq!(o.headers[5], header_explicit(Kind::Batch));
    let mut want = payloads()[..3].to_vec();
    want.push(vec![42; 19]);
    want.push(vec![43; 18]);
    want.extend_from_slice(&payloads()[3..]);
    want.push(payloads()[0].clone());
    assert_eq!(o.records, want);
    // Garbage after a complete stream is reported as trailing bytes, at its offset.
    let mut g = a.clone();
    g.extend_from_slice(b"\n");
    let o = read(&g);
    assert_eq!(o.records.len(), 3);
    assert!(err_text(&o).contains("trailing bytes"), "{}", err_text(&o));
    assert_eq!(err_offset(&o), (None, a.len() as u64));
}

#[test]
fn reading_is_independent_of_read_sizes() {
    let all: Vec<u8> = [
        batch(&payloads()),
        format::single_image(header(Kind::Single), &[3; 30]),
        batch_g(&payloads()[..2], true),
        format::single_image(header_explicit(Kind::Single), &[4; 30]),
    ]
    .concat();
    let whole = read(&all);
    let bytewise = read_all(OneByte(&all), Limits::default());
    assert_eq!(whole.records, bytewise.records);
    assert_eq!(whole.headers, bytewise.headers);
    // And the same errors at the same places.
    for cut in (0..all.len()).step_by(3) {
        let a = read(&all[..cut]);
        let b = read_all(OneByte(&all[..cut]), Limits::default());
        assert_eq!(a.records, b.records);
        assert_eq!(err_text(&a), err_text(&b));
    }
}

#[test]
fn head_and_extended_length_errors() {
    let b = batch(&[vec![1; 10]]);
    let head = HEADER_LEN_MODEL_GEOMETRY + CRC_LEN;
    let mut d = b.clone();
    d[head] = 0x8a; // 10 with the parity bit wrong
    assert!(err_text(&read(&d)).contains("odd parity"));
    // Non-canonical extended length for 10 bytes.
    let mut w = Vec::new();
    w.extend_from_slice(&b[..head]);
    w.push(HEAD_EXTENDED);
    w.extend_from_slice(&10u32.to_le_bytes());
    w.extend_from_slice(&(!10u32).to_le_bytes());
    let o = read(&w);
    assert!(err_text(&o).contains("non-canonical"), "{}", err_text(&o));
    assert_eq!(err_offset(&o), (Some(0), (head + 1) as u64));
    // Single-image stream with an end-marker head.
    let mut s = format::single_image(header(Kind::Single), &[1; 5]);
    s[HEADER_LEN_MODEL_GEOMETRY] = END_MARKER;
    assert!(err_text(&read(&s)).contains("no end marker"));
}

#[test]
fn inspect_summarises_without_a_model() {
    let ps = payloads();
    let a = batch(&ps);
    let s = format::single_image(header(Kind::Single), &[1; 21]);
    let all = [a.clone(), s.clone()].concat();
    let info = format::inspect(&all[..], None, Limits::default()).unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0].records, ps.len() as u64);
    assert_eq!(info[0].bytes, a.len() as u64);
    assert_eq!(
        info[0].payload_bytes,
        ps.iter().map(|p| p.len() as u64).sum::<u64>()
    );
    assert_eq!(info[0].min_payload, 0);
    assert_eq!(info[0].max_payload, 300);
    assert_eq!(info[1].offset, a.len() as u64);
    assert_eq!(info[1].bytes, s.len() as u64);
    assert_eq!(info[1].header.kind, Kind::Single);
    let mut bad = all.clone();
    bad[30] ^= 4;
    assert!(format::inspect(&bad[..], None, Limits::default()).is_err());
}

#[test]
fn errors_name_the_file() {
    let b = batch(&[vec![1; 10]]);
    let mut rd = StreamReader::new(&b[..10], Some("x/y.aez".into()), Limits::default());
    let e = rd.next_event().unwrap_err().to_string();
    assert!(e.starts_with("x/y.aez: "), "{e}");
}

#[test]
fn the_geometry_field_decides_the_header_length() {
    // 01 and 10 are refused at the flags byte, before anything else is read.
    for explicit in LAYOUTS {
        let b = format::single_image(header_g(Kind::Single, explicit), &[9; 20]);
        for bit in [4, 5] {
            let mut d = b.clone();
            d[OFF_FLAGS] ^= 1 << bit;
            let o = read(&d);
            assert!(
                err_text(&o).contains("invalid geometry field"),
                "{}",
                err_text(&o)
            );
            assert_eq!(err_offset(&o), (None, OFF_FLAGS as u64));
        }
    }
    // The same payload in both layouts: 4 bytes apart, the same record.
    let p = vec![1u8; 20];
    let short = format::single_image(header(Kind::Single), &p);
    let long = format::single_image(header_explicit(Kind::Single), &p);
    assert_eq!(long.len(), short.len() + 4);
    assert_eq!(read(&short).records, read(&long).records);
    // A truncated short header says what it needs.
    let o = read(&short[..10]);
    assert!(err_text(&o).contains("needs 13 bytes"), "{}", err_text(&o));
    let o = read(&long[..15]);
    assert!(err_text(&o).contains("needs 17 bytes"), "{}", err_text(&o));
    // inspect reports the header as stored.
    let info = format::inspect(&[short, long].concat()[..], None, Limits::default()).unwrap();
    assert!(!info[0].header.geometry_stored());
    assert_eq!(info[0].header.geometry_text(), "the model's");
    assert_eq!(info[1].header.geometry_text(), "28x28");
    assert_eq!(info[1].offset, SINGLE_OVERHEAD as u64 + 20);
}
