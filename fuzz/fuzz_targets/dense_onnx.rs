//! aez's own reader of dense ONNX networks (src/runtime/dense.rs), on arbitrary bytes: a network it
//! accepts runs one image to one output row, anything else is left to the backend; never a panic, never an
//! allocation beyond what the bytes hold (fuzz/src/lib.rs aborts on any over 64 MiB). Seeded with a small
//! Gemm / Relu / Gemm / Sigmoid network (fixtures/onnx/dense-tiny.onnx).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = aez::runtime::dense_probe(data, "latent", "pixels");
});
