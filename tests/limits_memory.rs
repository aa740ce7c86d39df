//! The memory bound of decoding (spec section 6), measured: a counting allocator records the peak heap
//! in use while hostile and valid inputs are decoded with a loaded model.
//!
//! The bound: decoding holds one record's payload (at most `Limits::max_payload`, 64 KiB by default),
//! one batch of decoded images (`Options::batch_size` images of `w * h * c` samples, as `f32` and `u8`)
//! and the network's activations for that batch. An input the container refuses costs at most its one
//! record. This file holds one test so that no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use aez::format::consts::HEAD_EXTENDED;
use aez::format::{Header, Kind, StreamWriter};
use aez::{Coder, Decoder, Limits, Model, Options};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if n > l.size() {
            add(n - l.size());
        } else {
            CURRENT.fetch_sub(l.size() - n, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap growth (bytes) while `f` runs.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn decode_all(bytes: &[u8], model: &Model, opts: Options) -> usize {
    let Ok(dec) = Decoder::new(bytes, model, opts) else {
        return 0;
    };
    dec.take_while(Result::is_ok).count()
}

fn lcg(s: &mut u64) -> u8 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*s >> 33) as u8
}

#[test]
fn decoding_stays_within_the_stated_memory_bound() {
    let model = Model::default_model().expect("default model");
    let g = model.bundle().geometry();
    let samples = g.samples();
    let header = Header {
        coder: Coder::Range,
        kind: Kind::Batch,
        model_id: aez::codec::model_id(model.bundle()),
        width: g.width as u16,
        height: g.height as u16,
    };
    let head = |n: u32| {
        let mut v = StreamWriter::new(Vec::new(), header)
            .unwrap()
            .finish()
            .unwrap();
        v.truncate(21);
        v.push(HEAD_EXTENDED);
        v.extend_from_slice(&n.to_le_bytes());
        v.extend_from_slice(&(!n).to_le_bytes());
        v
    };
    // Warm up: the first decode builds caches (model sessions, tables).
    let golden = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/fmnist-t10k-64.aez"),
    )
    .expect("golden batch");
    decode_all(&golden, &model, Options::default());

    let limits = Limits::default();
    // What a decoder costs before any record: the model's coding tables, the reader. Then one record
    // (the payload limit) and a little bookkeeping on top.
    let empty = StreamWriter::new(Vec::new(), header)
        .unwrap()
        .finish()
        .unwrap();
    let setup = peak_during(|| {
        decode_all(&empty, &model, Options::default());
    });
    let record_bound = setup + limits.max_payload as usize + 16 * 1024;
    eprintln!("decoder setup {setup} bytes, bound per hostile input {record_bound}");
    let mut hostile: Vec<Vec<u8>> = vec![
        head(u32::MAX - 1),
        head(1 << 30),
        head(limits.max_payload), // allowed length, payload missing: one record's worth at most
        header.to_bytes().to_vec(),
    ];
    let mut s = 1u64;
    for len in [0usize, 1, 17, 21, 100, 5000, 100_000] {
        hostile.push((0..len).map(|_| lcg(&mut s)).collect());
        let mut v = head(limits.max_payload);
        v.extend((0..len).map(|_| lcg(&mut s)));
        hostile.push(v);
    }
    for (i, input) in hostile.iter().enumerate() {
        let peak = peak_during(|| {
            decode_all(input, &model, Options::default());
        });
        assert!(
            peak <= record_bound,
            "hostile input {i}: peak heap growth {peak} > {record_bound}"
        );
    }

    // A valid batch: batch size 1 and 256 (the default). Bound: one record plus four times the batch's
    // images as f32 and u8 (the network's input/output tensors and activations of a dense decoder).
    for batch in [1usize, 256] {
        let imgs = batch.min(64);
        let bound = record_bound + 4 * imgs * samples * (4 + 1);
        let mut n = 0;
        let peak = peak_during(|| {
            n = decode_all(&golden, &model, Options::default().with_batch_size(batch));
        });
        assert!(n > 0);
        assert!(
            peak <= bound,
            "valid batch, batch size {batch}: peak heap growth {peak} > {bound}"
        );
        eprintln!("batch size {batch}: {n} images, peak heap growth {peak} bytes (bound {bound})");
    }
}
