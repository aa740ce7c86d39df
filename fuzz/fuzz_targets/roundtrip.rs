//! Round trips of arbitrary small images and arbitrary latents.
//!
//! - latents: any `i16` values (one per latent dimension, from the input) go through both entropy coders
//!   and come back exactly, and the payload passes the decoder's one-to-one check;
//! - images: any 8-bit image of the model's geometry (the input, repeated) compresses with either coder
//!   to a file that decodes (to an image of the right size) and that `inspect` reads as one record;
//!   compression is deterministic; a batch of the image and its negative decodes to two images.
#![no_main]

use aez::codec::{compress_pixels, Options};
use aez::entropy::{decode_symbols, encode_symbols};
use aez::{Coder, Decoder, Encoder};
use aez_fuzz::{model, small_limits, tables};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let t = tables();
    // Latents: pairs of bytes as i16, cycled to K values.
    let q: Vec<i32> = (0..t.len())
        .map(|d| {
            let a = data[(2 * d) % data.len()];
            let b = data[(2 * d + 1) % data.len()];
            i32::from(i16::from_le_bytes([a, b]))
        })
        .collect();
    for coder in Coder::ALL {
        let mut p = Vec::new();
        encode_symbols(coder, t, &q, &mut p).expect("encoding valid latents");
        let mut back = Vec::new();
        decode_symbols(coder, t, &p, &mut back).expect("decoding what was encoded");
        assert_eq!(back, q, "{coder} round trip");
    }

    // Images: only every 8th input, the network is the slow part.
    if data[0] & 7 != 0 {
        return;
    }
    let m = model();
    let g = m.bundle().geometry();
    let img: Vec<u8> = (0..g.samples()).map(|i| data[i % data.len()]).collect();
    let coder = if data.len() % 2 == 0 {
        Coder::Range
    } else {
        Coder::Zstd
    };
    let opts = Options::new(coder);
    let file = compress_pixels(m, &img, &opts).expect("compressing a valid image");
    assert_eq!(
        compress_pixels(m, &img, &opts).expect("again"),
        file,
        "not deterministic"
    );
    let info = aez::inspect(&file[..], None, small_limits()).expect("inspect of a fresh file");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].records, 1);
    let back = aez::decompress(m, &file).expect("decompressing a fresh file");
    assert_eq!((back.width(), back.height()), (g.width, g.height));

    let neg: Vec<u8> = img.iter().map(|&v| 255 - v).collect();
    let mut enc = Encoder::new(Vec::new(), m, opts.clone().with_batch_size(2)).expect("encoder");
    enc.push_pixels(&img).expect("push");
    enc.push_pixels(&neg).expect("push");
    let stream = enc.finish().expect("finish");
    let dec = Decoder::new(&stream[..], m, opts.with_limits(small_limits())).expect("decoder");
    let images: Vec<Vec<u8>> = dec
        .collect::<aez::Result<_>>()
        .expect("decoding a fresh batch");
    assert_eq!(images.len(), 2);
    assert!(images.iter().all(|p| p.len() == g.samples()));
});
