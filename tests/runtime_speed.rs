//! Throughput of encode + decode, batch 256, on the backend `AEZ_BACKEND` selects. A measurement, not a check:
//! ignored in normal runs. Run it in release, once per backend:
//!
//!     AEZ_BACKEND=tract cargo test --release --test runtime_speed -- --ignored --nocapture
//!     AEZ_BACKEND=onnxruntime ORT_DYLIB_PATH=/path/to/libonnxruntime.so.1.x \
//!         cargo test --release --test runtime_speed -- --ignored --nocapture

use crate::model_common;

use std::time::Instant;

use aez::Model;
use model_common::*;

#[test]
#[ignore = "measurement: run in release with --ignored --nocapture"]
fn encode_decode_throughput_batch_256() {
    let m = Model::default_model().unwrap();
    let one = images_f32();
    // 256 images: the 100 reference images, repeated.
    let x: Vec<f32> = one.iter().cycle().take(256 * 784).copied().collect();
    for _ in 0..3 {
        m.decode(&m.encode(&x, 256).unwrap(), 256).unwrap(); // warm up
    }
    let mut rates = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let mut n = 0usize;
        while t.elapsed().as_secs_f64() < 0.5 {
            let z = m.encode(&x, 256).unwrap();
            let y = m.decode(&z, 256).unwrap();
            assert_eq!(y.len(), x.len());
            n += 256;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "backend {}: encode+decode, batch 256: median {:.0} images/s (min {:.0}, max {:.0}, 9 runs of 0.5 s)",
        m.backend(),
        rates[4],
        rates[0],
        rates[8]
    );
}
