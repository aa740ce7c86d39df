//! Criterion benchmarks of aez's stages on a batch of 256 Fashion-MNIST test images (the first 256 of
//! `AEZ_BENCH_FMNIST`, default `../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz` from the repository
//! root), with the embedded default model on the tract backend (`AEZ_BACKEND=onnxruntime` and
//! `ORT_DYLIB_PATH` for ONNX Runtime):
//! inference (encoder, decoder), quantization (quantize, dequantize), entropy coding (range coder, both
//! directions) and the container (writing and reading a batch stream of the coded payloads).
//!
//! Run: `cargo bench -p aez-bench --bench stages`; results in `target/criterion/stages/<stage>/`, which
//! `aez-bench all --criterion-dir target/criterion` (as `benches/run.sh` does) copies into BENCHMARKS.md.

use std::path::PathBuf;

use aez::entropy::{decode_symbols, encode_symbols, Coder, SymbolTable};
use aez::format::{Event, Header, Kind, StreamReader, StreamWriter};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const N: usize = 256;

fn images(samples: usize) -> Vec<u8> {
    let path = std::env::var_os("AEZ_BENCH_FMNIST").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz")
        },
        PathBuf::from,
    );
    let mut out = Vec::with_capacity(N * samples);
    if let Ok(mut r) = aez::io::IdxReader::open(&path, aez::io::IdxLimits::default()) {
        while out.len() < N * samples {
            match r.next_record() {
                Ok(Some(rec)) if rec.len() == samples => out.extend_from_slice(&rec),
                _ => break,
            }
        }
    }
    if out.len() < N * samples {
        eprintln!(
            "stages: {} not readable; using synthetic images",
            path.display()
        );
        out = (0..N * samples)
            .map(|i| ((i * 31 + i / 28 * 7) % 256) as u8)
            .collect();
    }
    out
}

fn stages(c: &mut Criterion) {
    let model = match aez::Bundle::embedded_default()
        .and_then(|b| aez::Model::load(b, aez::BackendChoice::Auto))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("stages: cannot load the default model: {e}");
            return;
        }
    };
    let bundle = model.bundle().clone();
    let samples = bundle.geometry().samples();
    let pixels: Vec<f32> = images(samples)
        .iter()
        .map(|&v| f32::from(v) / 255.0)
        .collect();
    let tables: Vec<SymbolTable> = bundle
        .tables()
        .iter()
        .filter_map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).ok())
        .collect();
    let Ok(latents) = model.encode(&pixels, N) else {
        eprintln!("stages: encoder failed");
        return;
    };
    let Ok(q) = aez::quant::quantize(&latents, bundle.quantizer(), latent_shape(&bundle)) else {
        eprintln!("stages: quantize failed");
        return;
    };
    let k = bundle.latent_dim();
    let payloads: Vec<Vec<u8>> = q
        .chunks_exact(k)
        .map(|qi| {
            let mut p = Vec::new();
            let _ = encode_symbols(Coder::Range, &tables, qi, &mut p);
            p
        })
        .collect();
    let header = Header {
        coder: Coder::Range,
        kind: Kind::Batch,
        model_id: aez::codec::model_id(&bundle),
        width: bundle.geometry().width as u16,
        height: bundle.geometry().height as u16,
    };
    let write_stream = |payloads: &[Vec<u8>]| -> Vec<u8> {
        let mut w = match StreamWriter::new(Vec::new(), header) {
            Ok(w) => w,
            Err(_) => return Vec::new(),
        };
        for p in payloads {
            let _ = w.write_record(p);
        }
        w.finish().unwrap_or_default()
    };
    let stream = write_stream(&payloads);

    eprintln!(
        "stages: {} on {}, {N} images per iteration",
        bundle.name(),
        model.backend()
    );
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("inference-encoder", |b| b.iter(|| model.encode(&pixels, N)));
    g.bench_function("inference-decoder", |b| {
        b.iter(|| model.decode(&latents, N))
    });
    g.bench_function("quantize", |b| {
        b.iter(|| aez::quant::quantize(&latents, bundle.quantizer(), latent_shape(&bundle)))
    });
    g.bench_function("dequantize", |b| {
        b.iter(|| aez::quant::dequantize(&q, bundle.quantizer(), latent_shape(&bundle)))
    });
    g.bench_function("entropy-range-encode", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            for qi in q.chunks_exact(k) {
                let _ = encode_symbols(Coder::Range, &tables, qi, &mut out);
            }
            out
        })
    });
    g.bench_function("entropy-range-decode", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for p in &payloads {
                let _ = decode_symbols(Coder::Range, &tables, p, &mut out);
            }
        })
    });
    g.bench_function("container-write-batch", |b| {
        b.iter(|| write_stream(&payloads))
    });
    g.bench_function("container-read-batch", |b| {
        b.iter_batched(
            || stream.clone(),
            |s| {
                let mut r = StreamReader::new(&s[..], None, aez::Limits::default());
                let mut n = 0usize;
                while let Ok(Some(ev)) = r.next_event() {
                    if let Event::Record(rec) = ev {
                        n += rec.payload.len();
                    }
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);

/// The latent shape of one image of the bundle's (fixed) size.
fn latent_shape(bundle: &aez::Bundle) -> aez::layout::LatentShape {
    let g = bundle.geometry();
    bundle
        .layout()
        .latent_shape(g.width, g.height)
        .expect("the bundle's own size fits its layout")
}
