//! Buffer independence: the same bytes give the same result whatever sizes the `Read` returns.
//!
//! The first 8 bytes seed a reader of random chunk sizes with `Interrupted` errors mixed in; the rest is
//! the input. The container and entropy layers (every event, every decoded latent, the error and the
//! bytes consumed) must be identical for a slice, a one-byte-per-call reader and the chunked reader;
//! and the full decoder's images and error must be identical for the slice and the one-byte reader.
#![no_main]

use std::io::Read;

use aez::codec::Options;
use aez::Decoder;
use aez_fuzz::{model, small_limits, transcript, Chunked, OneByte};
use libfuzzer_sys::fuzz_target;

fn decode_all<R: Read>(r: R) -> (Vec<Vec<u8>>, Option<String>) {
    let opts = Options::default()
        .with_limits(small_limits())
        .with_batch_size(2);
    let mut dec = match Decoder::new(r, model(), opts) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(e.to_string())),
    };
    let mut images = Vec::new();
    loop {
        match dec.next_pixels() {
            Ok(Some(p)) => images.push(p),
            Ok(None) => return (images, None),
            Err(e) => return (images, Some(e.to_string())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (seed, input) = data.split_at(8);
    let seed = u64::from_le_bytes(seed.try_into().expect("8 bytes"));
    let limits = small_limits();
    let whole = transcript(input, limits);
    assert_eq!(
        whole,
        transcript(OneByte(input), limits),
        "one byte per read differs"
    );
    assert_eq!(
        whole,
        transcript(Chunked::new(input, seed), limits),
        "chunked reads differ"
    );
    assert_eq!(
        decode_all(input),
        decode_all(OneByte(input)),
        "decoder: one byte per read differs"
    );
});
