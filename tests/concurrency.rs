//! One loaded model used from many threads at once gives exactly the results it gives from one thread:
//! the same compressed bytes for every image and coder, and the same pixels for every decoded image
//! (single files and batches, at several batch sizes), while the threads interleave their calls.

use std::path::PathBuf;

use aez::codec::compress_pixels;
use aez::{Coder, Decoder, Encoder, Model, Options};

const THREADS: usize = 8;
const ROUNDS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `n` images of the fixture IDX file (raw, 16-byte header), as 8-bit samples.
fn idx_images(n: usize, samples: usize) -> Vec<Vec<u8>> {
    let raw = std::fs::read(root().join("fixtures/idx/fmnist-t10k-64.idx")).expect("fixture idx");
    raw[16..]
        .chunks_exact(samples)
        .take(n)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Everything one thread computes: per image and coder the one-image file, then per batch size the
/// batch stream and its decoded pixels.
#[derive(Debug, PartialEq, Eq)]
struct Work {
    files: Vec<Vec<u8>>,
    decoded_files: Vec<Vec<u8>>,
    streams: Vec<Vec<u8>>,
    decoded_streams: Vec<Vec<Vec<u8>>>,
}

fn work(model: &Model, images: &[Vec<u8>]) -> Work {
    let mut files = Vec::new();
    let mut decoded_files = Vec::new();
    for coder in Coder::ALL {
        for img in images.iter().take(8) {
            let f = compress_pixels(model, img, &Options::new(coder)).expect("compress");
            decoded_files.push(aez::decompress(model, &f).expect("decompress").into_bytes());
            files.push(f);
        }
    }
    let mut streams = Vec::new();
    let mut decoded_streams = Vec::new();
    for batch in [1usize, 7, 256] {
        let opts = Options::default().with_batch_size(batch);
        let mut enc = Encoder::new(Vec::new(), model, opts.clone()).expect("encoder");
        for img in images {
            enc.push_pixels(img).expect("push");
        }
        let s = enc.finish().expect("finish");
        let dec = Decoder::new(&s[..], model, opts).expect("decoder");
        decoded_streams.push(dec.collect::<aez::Result<Vec<_>>>().expect("decode"));
        streams.push(s);
    }
    Work {
        files,
        decoded_files,
        streams,
        decoded_streams,
    }
}

#[test]
fn one_model_from_many_threads_gives_identical_results() {
    let model = Model::default_model().expect("default model");
    let images = idx_images(40, model.bundle().geometry().samples());
    assert_eq!(images.len(), 40);
    let reference = work(&model, &images);
    assert_eq!(reference.decoded_streams[0].len(), images.len());

    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let model = if t % 2 == 0 {
                    model.clone()
                } else {
                    Model::default_model().expect("again")
                };
                let images = &images;
                s.spawn(move || {
                    (0..ROUNDS)
                        .map(|_| work(&model, images))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            for (r, w) in h.join().expect("a thread panicked").into_iter().enumerate() {
                assert!(
                    w == reference,
                    "thread {t}, round {r}: results differ from one thread's"
                );
            }
        }
    });
}

#[test]
fn decoders_sharing_a_model_interleave_record_by_record() {
    // Many decoders of one stream advanced in lockstep from many threads: each gets every image,
    // identical to a lone decoder's.
    let model = Model::default_model().expect("default model");
    let images = idx_images(16, model.bundle().geometry().samples());
    let mut enc = Encoder::new(Vec::new(), &model, Options::default()).expect("encoder");
    for img in &images {
        enc.push_pixels(img).expect("push");
    }
    let stream = enc.finish().expect("finish");
    let opts = Options::default().with_batch_size(1);
    let alone: Vec<Vec<u8>> = Decoder::new(&stream[..], &model, opts.clone())
        .expect("decoder")
        .collect::<aez::Result<_>>()
        .expect("decode");
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (model, stream, opts, alone, barrier) =
                (&model, &stream, opts.clone(), &alone, &barrier);
            s.spawn(move || {
                let mut dec = Decoder::new(&stream[..], model, opts).expect("decoder");
                for want in alone {
                    barrier.wait();
                    assert_eq!(&dec.next_pixels().expect("decode").expect("an image"), want);
                }
                assert!(dec.next_pixels().expect("end").is_none());
            });
        }
    });
}
