//! Full decoding (entropy decoding and the default model's decoder network) of arbitrary input.
//!
//! The first byte picks a mode:
//! - bit 0 clear: the rest is decoded as is (`aez::Decoder`, small limits, batch size from bits 1-2);
//! - bit 0 set: the rest is a list of payloads (`len` byte, then `len` bytes), wrapped in a stream with
//!   valid CRCs for the default model (coder from bit 1, single image if bit 2 and one payload), so the
//!   entropy decoders and the network see arbitrary payloads past the CRCs.
//!
//! Checks: no panic; errors carry locations; an input that decodes fully is one `inspect` accepts with
//! as many records as images; in the structured mode, exactly the payloads before the first invalid one
//! are delivered, then an entropy error naming that record and its payload offset.
#![no_main]

use aez::codec::Options;
use aez::entropy::decode_symbols;
use aez::format::{single_image, Header, Kind, StreamWriter};
use aez::{Coder, Decoder, Error};
use aez_fuzz::{location, model, model_id, small_limits, tables};
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

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let samples = model().bundle().geometry().samples();
    let batch = 1 + usize::from((mode >> 1) & 3);
    if mode & 1 == 0 {
        let (images, err) = decode_all(rest, batch);
        assert!(images.iter().all(|p| p.len() == samples));
        match err {
            None => {
                let s =
                    aez::inspect(rest, None, small_limits()).expect("decoded, but inspect fails");
                assert_eq!(
                    s.iter().map(|s| s.records).sum::<u64>(),
                    images.len() as u64
                );
            }
            Some(e) => {
                if let Some(at) = location(&e) {
                    assert!(at.offset <= rest.len() as u64, "{e}: offset past the input");
                }
            }
        }
        return;
    }
    // Structured mode.
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
});
