//! No heap growth per network run: a counting allocator records the live heap around 2,000 `encode` and
//! 2,000 `decode` calls of one image each (one network run apiece) with the embedded default model.
//!
//! ort 2.0.0-rc.14 leaked one type-info object per output value of every run (`Value::from_session_output_ptr`
//! asked for `GetTypeInfo` and never released it for tensors), 56 bytes per run with tract; `vendor/ort` holds
//! the fix (see `vendor/README.md`). This test fails without it (about 224 KB over the 4,000 runs).
//!
//! Backend: the process's, as for any caller (`AEZ_BACKEND`, `ORT_DYLIB_PATH`). With tract every allocation
//! goes through Rust's allocator, so the whole run is covered. With ONNX Runtime only the Rust side (ort's
//! wrapper and aez) is: ONNX Runtime allocates with its own C++ allocator, which this counter does not see, so
//! an `OrtTypeInfo` leaked inside ONNX Runtime would not fail this test there.
//!
//! This file holds one test so that no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use aez::Model;

struct Counting;

/// Live heap bytes allocated through Rust's allocator (signed: frees of memory allocated before a
/// measurement may take it below its start).
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn add(n: usize) {
    LIVE.fetch_add(n as isize, Ordering::Relaxed);
}

fn sub(n: usize) {
    LIVE.fetch_sub(n as isize, Ordering::Relaxed);
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
        sub(l.size());
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        add(n);
        sub(l.size());
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

// More than the 64 images a dense network runs on aez's own code before its backend session is built
// (src/runtime/dense.rs), so that the session exists before the count starts.
const WARM_UP: usize = 100;
const RUNS: usize = 2_000;
/// Allowed growth over all runs: room for a lazily grown buffer somewhere, far below one byte per run.
const SLACK: isize = 4 * 1024;

#[test]
fn network_runs_do_not_grow_the_heap() {
    let model = Model::default_model().expect("default model");
    let samples = model.bundle().geometry().samples();
    let pixels: Vec<f32> = (0..samples).map(|i| (i % 251) as f32 / 250.0).collect();
    let latents = model.encode(&pixels, 1).expect("encode");
    assert_eq!(latents.len(), model.bundle().latent_dim());

    let round = || {
        let z = model.encode(&pixels, 1).expect("encode");
        let y = model.decode(&latents, 1).expect("decode");
        assert_eq!((z.len(), y.len()), (latents.len(), samples));
    };
    for _ in 0..WARM_UP {
        round();
    }
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..RUNS {
        round();
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    let runs = 2 * RUNS;
    let per_run = grown as f64 / runs as f64;
    let shown = format!(
        "{} network runs on {}: live heap grew by {grown} bytes ({per_run:.1} per run)",
        runs,
        model.backend()
    );
    // Written to the stderr handle directly: libtest captures eprintln! of passing tests.
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{shown}");
    }
    assert!(grown <= SLACK, "{shown}; at most {SLACK} allowed");
}
