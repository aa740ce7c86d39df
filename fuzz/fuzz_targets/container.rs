//! The container parser on arbitrary bytes (no model, no entropy decoding), versions 1 and 2.
//!
//! Checks: no panic; every error carries a location inside the input (or its end) that names the
//! record being read (or none); the reader stays finished after an error; `inspect` agrees (records,
//! images, alpha records, tiled images, largest sizes); every accepted input is canonical: writing its
//! headers and records back with the crate's writers (`AnyHeader`, `write_record`, `write_image`) gives
//! the same bytes (so the parser accepts exactly what the writers produce, nothing more); version 2's
//! parts (image, band, plane, descriptor) are what the descriptors say, counted here; and a reader of
//! version 1 only reads the same as the reader of both up to the first version-2 header, which it
//! refuses at its version byte.
#![no_main]

use aez::format::consts::{MAGIC, VERSION_2};
use aez::format::{inspect, AnyHeader, Descriptors, Event, ImageDesc, Limits, StreamReader};
use aez::{Error, FormatError};
use aez_fuzz::{location, rebuild, small_limits, Parsed};
use libfuzzer_sys::fuzz_target;

/// Everything a reader made of an input: events (as text), the parse, the error.
struct Read {
    events: Vec<(u64, String)>,
    parsed: Parsed,
    result: Result<(), Error>,
    records: u64,
}

/// The part the next record of a version-2 stream must be, counted here from the descriptors.
#[derive(Default)]
struct Expect {
    image: u64,
    left: u64,
    done: u64,
}

fn read(data: &[u8], limits: Limits, v2: bool) -> Read {
    let mut rd = StreamReader::new(data, None, limits);
    if v2 {
        rd = rd.accept_version_2();
    }
    let mut parsed: Parsed = Vec::new();
    let mut events = Vec::new();
    let mut records = 0u64;
    let mut expect = Expect::default();
    let mut descriptors = None;
    let result = loop {
        match rd.next_event() {
            Ok(None) => break Ok(()),
            Ok(Some(Event::Header(h))) => {
                assert!(h.offset < data.len() as u64);
                assert!(expect.left == 0, "a new stream inside an image");
                let any = h.any();
                assert_eq!(any.version(), h.version);
                assert_eq!(h.version == VERSION_2, h.descriptors.is_some());
                if !v2 {
                    assert!(h.version != VERSION_2, "a version-1 reader read version 2");
                }
                // The header as stored parses back to itself, and the writers take it.
                let bytes = any.to_bytes();
                assert_eq!(bytes.len(), any.stored_len());
                assert_eq!(
                    &data[h.offset as usize..][..bytes.len()],
                    &bytes[..],
                    "header bytes"
                );
                assert_eq!(
                    AnyHeader::parse(&bytes, &limits.with_max_version(2)),
                    Ok(any)
                );
                if h.version == VERSION_2 {
                    any.validate()
                        .expect("an accepted version-2 header validates");
                }
                descriptors = h.descriptors;
                expect = Expect::default();
                events.push((h.offset, format!("{h:?}")));
                parsed.push((any, Vec::new()));
            }
            Ok(Some(Event::Record(rec))) => {
                assert!(rec.payload.len() <= limits.max_payload as usize);
                assert!(rec.offset < rec.payload_offset);
                assert!(rec.payload_offset + rec.payload.len() as u64 <= data.len() as u64);
                assert_eq!(rec.index, records, "record index in the whole input");
                assert_eq!(
                    &data[rec.payload_offset as usize..][..rec.payload.len()],
                    &rec.payload[..]
                );
                check_part(&rec, descriptors, &mut expect, limits);
                records += 1;
                events.push((rec.offset, format!("{rec:?}")));
                match parsed.last_mut() {
                    Some(s) => s.1.push((rec.part, rec.payload)),
                    None => panic!("record before any header"),
                }
            }
            Err(e) => break Err(e),
        }
    };
    assert!(matches!(rd.next_event(), Ok(None)), "reader not finished");
    if let Err(e) = &result {
        // The error names the record being read (the next one) or none.
        let at = location(e).expect("a container error has a location");
        assert!(
            at.record.is_none() || at.record == Some(records),
            "{e}: names record {:?}, {records} records read",
            at.record
        );
    }
    Read {
        events,
        parsed,
        result,
        records,
    }
}

/// Checks a version-2 record's part against the image framing counted here (spec 11.3).
fn check_part(
    rec: &aez::format::Record,
    descriptors: Option<Descriptors>,
    e: &mut Expect,
    limits: Limits,
) {
    let Some(descriptors) = descriptors else {
        assert!(rec.part.is_none(), "a version-1 record with a part");
        assert_eq!(rec.body(), &rec.payload[..]);
        return;
    };
    let part = rec.part.expect("a version-2 record has a part");
    if let Descriptors::InHeader(d) = descriptors {
        if d.packed {
            // A packed record (spec 11.3): a count k (a canonical varint, 1 to the pack limit), then
            // k whole images; the next record's first image is k on.
            let mut p = 0;
            let k = aez::format::varint(&rec.payload, &mut p, "k").expect("a parsed count");
            assert!(k >= 1 && k <= limits.max_pack, "count {k}");
            assert_eq!((part.images, part.desc_len), (k, p));
            assert_eq!(part.image, e.image, "first image of a packed record");
            assert_eq!(part.desc, Some(d));
            assert!(part.is_first() && part.is_last());
            assert_eq!(rec.body(), &rec.payload[p..]);
            e.image += u64::from(k);
            return;
        }
    }
    assert_eq!(part.images, 1);
    let first = e.left == 0;
    if first {
        if e.done > 0 {
            e.image += 1;
        }
        let desc = match descriptors {
            Descriptors::Model => None,
            Descriptors::InHeader(d) => Some(d),
            Descriptors::PerImage => {
                let (d, used) =
                    ImageDesc::parse(&rec.payload, &limits).expect("a parsed descriptor");
                assert_eq!(used, part.desc_len);
                Some(d)
            }
        };
        assert_eq!(part.desc, desc);
        e.left = desc.map_or(1, |d| d.records());
        e.done = 0;
        if let Some(d) = desc {
            d.validate().expect("an accepted descriptor validates");
        }
    }
    let per_band = if part.desc.is_some_and(|d| d.colour.has_alpha()) {
        2
    } else {
        1
    };
    assert_eq!(part.image, e.image, "image index");
    assert_eq!(u64::from(part.band), e.done / per_band, "band");
    assert_eq!(part.alpha, e.done % per_band == 1, "plane");
    assert_eq!(part.bands, part.desc.map_or(1, |d| d.bands));
    assert_eq!(part.is_first(), first);
    if !(first && descriptors == Descriptors::PerImage) {
        assert_eq!(part.desc_len, 0);
    }
    assert_eq!(rec.body(), &rec.payload[part.desc_len..]);
    e.done += 1;
    e.left -= 1;
    assert_eq!(part.is_last(), e.left == 0, "last record of the image");
}

/// An error as both readers must agree on it: the message, except for an unsupported version, whose
/// message names the versions each reads (its location and version byte then).
fn key(e: &Error) -> String {
    let unsupported = |w: &FormatError| match w {
        FormatError::UnsupportedVersion { found, .. } => Some(*found),
        FormatError::TrailingBytes(inner) => match **inner {
            FormatError::UnsupportedVersion { found, .. } => Some(found),
            _ => None,
        },
        _ => None,
    };
    match e {
        Error::Format { at, what } => match unsupported(what) {
            Some(v) => format!("{at}: unsupported version {v}"),
            None => e.to_string(),
        },
        _ => e.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = small_limits();
    let both = read(data, limits, true);
    let summary = inspect(data, None, limits.with_max_version(2));
    match &both.result {
        Ok(()) => {
            assert!(!both.parsed.is_empty(), "an accepted input has a stream");
            assert_eq!(
                rebuild(&both.parsed),
                data,
                "accepted input is not canonical"
            );
            let summary = summary.expect("inspect disagrees: parse ok, inspect failed");
            assert_eq!(summary.len(), both.parsed.len());
            for (s, (h, recs)) in summary.iter().zip(&both.parsed) {
                assert_eq!(&s.header, &h.v1_view());
                assert_eq!(s.version, h.version());
                assert_eq!(s.descriptors.as_ref(), h.descriptors());
                assert_eq!(s.records, recs.len() as u64);
                let firsts: Vec<_> = recs
                    .iter()
                    .filter_map(|(p, _)| p.filter(|p| p.is_first()))
                    .collect();
                let images = if h.version() == VERSION_2 {
                    firsts.iter().map(|p| u64::from(p.images)).sum()
                } else {
                    s.records
                };
                assert_eq!(s.images, images);
                let alpha = recs
                    .iter()
                    .filter(|(p, _)| p.is_some_and(|p| p.alpha))
                    .count();
                assert_eq!(s.alpha_records, alpha as u64);
                let descs = firsts.iter().filter_map(|p| p.desc);
                assert_eq!(
                    s.tiled_images,
                    descs.clone().filter(|d| d.is_tiled()).count() as u64
                );
                assert_eq!(
                    s.max_width,
                    descs.clone().map(|d| d.width).max().unwrap_or(0)
                );
                assert_eq!(s.max_height, descs.map(|d| d.height).max().unwrap_or(0));
                let bytes: u64 = recs.iter().map(|(_, p)| p.len() as u64).sum();
                assert_eq!(s.payload_bytes, bytes);
            }
        }
        Err(e) => {
            let at = location(e).expect("a container error has a location");
            assert!(at.offset <= data.len() as u64, "{e}: offset past the input");
            assert!(!e.to_string().is_empty());
            let se = summary.expect_err("inspect disagrees: parse failed, inspect ok");
            assert_eq!(se.to_string(), e.to_string());
        }
    }

    // A reader of version 1 only: the same up to the first version-2 header, refused at its version byte.
    let v1 = read(data, limits, false);
    let refused_v2 = v1.result.as_ref().err().and_then(|e| {
        let unsupported = matches!(
            e,
            Error::Format {
                what: FormatError::UnsupportedVersion {
                    found: VERSION_2,
                    ..
                },
                ..
            }
        ) || matches!(
            e,
            Error::Format { what: FormatError::TrailingBytes(w), .. }
                if matches!(**w, FormatError::UnsupportedVersion { found: VERSION_2, .. })
        );
        let o = location(e)?.offset as usize;
        if !unsupported {
            return None;
        }
        (o >= 4 && data.get(o) == Some(&VERSION_2) && data[o - 4..o] == MAGIC).then_some(o - 4)
    });
    let first_v2 = both
        .parsed
        .iter()
        .position(|(h, _)| h.version() == VERSION_2)
        .map(|s| {
            both.events
                .iter()
                .filter(|(_, e)| e.starts_with("StreamHeader"))
                .nth(s)
                .map(|(o, _)| *o as usize)
                .expect("the stream's header event")
        });
    match refused_v2 {
        None => {
            assert_eq!(first_v2, None, "version-1 reader read a version-2 stream");
            assert_eq!(v1.events, both.events, "version-1 reader reads otherwise");
            assert_eq!(
                v1.result.as_ref().map_err(key),
                both.result.as_ref().map_err(key),
                "version-1 reader ends otherwise"
            );
        }
        Some(start) => {
            let before: Vec<_> = both
                .events
                .iter()
                .take_while(|(o, _)| (*o as usize) < start)
                .cloned()
                .collect();
            assert_eq!(
                v1.events, before,
                "version-1 reader reads otherwise before version 2"
            );
            if let Some(at) = first_v2 {
                assert_eq!(
                    at, start,
                    "version-1 reader refused another stream than the first v2 one"
                );
            }
            assert!(v1.records <= both.records);
        }
    }
});
