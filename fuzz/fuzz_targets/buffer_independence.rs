//! Buffer independence: the same bytes give the same result whatever sizes the `Read` returns.
//!
//! The first 8 bytes seed a reader of random chunk sizes with `Interrupted` errors mixed in; the rest is
//! the input, of either version. The container and entropy layers (every event with its version-2 part,
//! every decoded latent, the error and the bytes consumed) must be identical for a slice, a
//! one-byte-per-call reader and the chunked reader; and the full decoder's images and error must be
//! identical for the three readers (the default model, or `tiny-conv` when the first stream is a
//! version-2 one).
#![no_main]

use std::io::Read;

use aez::Error;
use aez_fuzz::{decode_images, model_for, small_limits, transcript, Chunked, OneByte};
use image::DynamicImage;
use libfuzzer_sys::fuzz_target;

fn decode_all<R: Read>(r: R, input: &[u8]) -> (Vec<DynamicImage>, Option<String>) {
    let (images, err) = decode_images(r, model_for(input), small_limits(), 2);
    (images, err.as_ref().map(Error::to_string))
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
    let dec = decode_all(input, input);
    assert!(
        dec == decode_all(OneByte(input), input),
        "decoder: one byte per read differs"
    );
    assert!(
        dec == decode_all(Chunked::new(input, seed), input),
        "decoder: chunked reads differ"
    );
});
