//! The container parser on arbitrary bytes (no model, no entropy decoding).
//!
//! Checks: no panic; every error carries a location inside the input (or its end); the reader stays
//! finished after an error; `inspect` agrees; and every accepted input is canonical: writing its
//! headers and payloads back with the crate's writers gives the same bytes (so the parser accepts
//! exactly what the writers produce, nothing more).
#![no_main]

use aez::format::{inspect, Event, StreamReader};
use aez_fuzz::{location, rebuild, small_limits, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = small_limits();
    let mut rd = StreamReader::new(data, None, limits);
    let mut parsed: Parsed = Vec::new();
    let result = loop {
        match rd.next_event() {
            Ok(None) => break Ok(()),
            Ok(Some(Event::Header(h))) => {
                assert!(h.offset < data.len() as u64);
                parsed.push((h.header, Vec::new()));
            }
            Ok(Some(Event::Record(rec))) => {
                assert!(rec.payload.len() <= limits.max_payload as usize);
                assert!(rec.offset < rec.payload_offset);
                assert!(rec.payload_offset + rec.payload.len() as u64 <= data.len() as u64);
                match parsed.last_mut() {
                    Some(s) => s.1.push(rec.payload),
                    None => panic!("record before any header"),
                }
            }
            Err(e) => break Err(e),
        }
    };
    assert!(matches!(rd.next_event(), Ok(None)), "reader not finished");
    let summary = inspect(data, None, limits);
    match result {
        Ok(()) => {
            assert!(!parsed.is_empty(), "an accepted input has a stream");
            assert_eq!(rebuild(&parsed), data, "accepted input is not canonical");
            let summary = summary.expect("inspect disagrees: parse ok, inspect failed");
            assert_eq!(summary.len(), parsed.len());
            for (s, (h, recs)) in summary.iter().zip(&parsed) {
                assert_eq!(&s.header, h);
                assert_eq!(s.records, recs.len() as u64);
            }
        }
        Err(e) => {
            let at = location(&e).expect("a container error has a location");
            assert!(at.offset <= data.len() as u64, "{e}: offset past the input");
            assert!(!e.to_string().is_empty());
            let se = summary.expect_err("inspect disagrees: parse failed, inspect ok");
            assert_eq!(se.to_string(), e.to_string());
        }
    }
});
