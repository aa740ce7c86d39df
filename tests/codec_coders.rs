//! Measurement on the 10,000 Fashion-MNIST test images with the default model (slow in a debug build):
//!
//! ```text
//! cargo test --release --test suite codec_coders:: -- --ignored --nocapture
//! ```
//!
//! Prints bytes per record of each entropy coder (ours and `constriction`'s, on the same symbols), bytes
//! of whole batch streams per image for both stream coders, and one-image file sizes; asserts the byte
//! budgets of `spec/aez-format.md` and that the chosen coder is the smallest.

use std::path::PathBuf;

use aez::entropy::{encode_symbols, SymbolTable};
use aez::{Coder, Encoder, Model, Options};
use constriction::stream::model::ContiguousCategoricalEntropyModel;
use constriction::stream::queue::RangeEncoder;
use constriction::stream::stack::AnsCoder;
use constriction::stream::Encode;

fn t10k() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz")
}

type M16 = ContiguousCategoricalEntropyModel<u16, Vec<u16>, 16>;
type M32 = ContiguousCategoricalEntropyModel<u32, Vec<u32>, 16>;

/// Symbol indices of one image for constriction: (dimension or 256-uniform, index).
fn symbols(model: &Model, q: &[i32]) -> Vec<(usize, usize)> {
    let mut s = vec![];
    for (d, (t, &v)) in model.bundle().tables().iter().zip(q).enumerate() {
        let i = i64::from(v) - i64::from(t.min);
        if i >= 0 && (i as usize) < t.freqs.len() {
            s.push((d, i as usize));
        } else {
            s.push((d, t.freqs.len()));
            let u = (v + 32768) as usize;
            s.push((usize::MAX, u >> 8));
            s.push((usize::MAX, u & 0xff));
        }
    }
    s
}

#[test]
#[ignore = "slow measurement: cargo test --release --test suite codec_coders:: -- --ignored --nocapture"]
fn measure_coders_on_fashion_mnist_test_set() {
    // The default model, or the bundle folder named by AEZ_TEST_BUNDLE.
    let model = match std::env::var_os("AEZ_TEST_BUNDLE") {
        Some(dir) => Model::load(
            aez::Bundle::from_dir(std::path::Path::new(&dir)).unwrap(),
            aez::BackendChoice::Auto,
        )
        .unwrap(),
        None => Model::default_model().unwrap(),
    };
    let path = t10k();
    let imgs: Vec<Vec<u8>> = aez::io::IdxReader::open(&path, Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .collect::<aez::Result<Vec<_>>>()
        .unwrap();
    let n = imgs.len();
    assert_eq!(n, 10_000);

    // Latents, through the same path as the codec (batched encoder network, quantizer).
    let bundle = model.bundle();
    let mut q_all: Vec<Vec<i32>> = Vec::with_capacity(n);
    for chunk in imgs.chunks(256) {
        let x: Vec<f32> = chunk
            .iter()
            .flatten()
            .map(|&s| f32::from(s) / 255.0)
            .collect();
        let z = model.encode(&x, chunk.len()).unwrap();
        let q = aez::quant::quantize(&z, bundle.quantizer(), latent_shape(bundle)).unwrap();
        q_all.extend(q.chunks(bundle.latent_dim()).map(<[i32]>::to_vec));
    }
    let tables: Vec<SymbolTable> = bundle
        .tables()
        .iter()
        .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).unwrap())
        .collect();

    // Information content and escapes.
    let mut bits = 0f64;
    let mut escapes = 0usize;
    for q in &q_all {
        for (t, &v) in bundle.tables().iter().zip(q) {
            let i = i64::from(v) - i64::from(t.min);
            let f = if i >= 0 && (i as usize) < t.freqs.len() {
                t.freqs[i as usize]
            } else {
                escapes += 1;
                bits += 16.0;
                t.escape
            };
            bits -= (f64::from(f) / 65536.0).log2();
        }
    }
    let info = bits / 8.0 / n as f64;
    println!(
        "{n} images, K = {}, escapes {escapes}, information {info:.2} bytes/image",
        bundle.latent_dim()
    );

    let mut results: Vec<(&str, f64)> = vec![];
    for coder in Coder::ALL {
        let total: usize = q_all
            .iter()
            .map(|q| {
                let mut p = vec![];
                encode_symbols(coder, &tables, q, &mut p).unwrap();
                p.len()
            })
            .sum();
        results.push((
            if coder == Coder::Range {
                "aez range (chosen)"
            } else {
                "aez zstd"
            },
            total as f64 / n as f64,
        ));
    }
    let m16: Vec<M16> = bundle
        .tables()
        .iter()
        .map(|t| {
            M16::from_nonzero_fixed_point_probabilities(
                t.freqs.iter().copied().chain([t.escape]),
                false,
            )
            .unwrap()
        })
        .collect();
    let m32: Vec<M32> = bundle
        .tables()
        .iter()
        .map(|t| {
            M32::from_nonzero_fixed_point_probabilities(
                t.freqs
                    .iter()
                    .map(|&f| u32::from(f))
                    .chain([u32::from(t.escape)]),
                false,
            )
            .unwrap()
        })
        .collect();
    let u16m = M16::from_nonzero_fixed_point_probabilities([256u16; 256], false).unwrap();
    let u32m = M32::from_nonzero_fixed_point_probabilities([256u32; 256], false).unwrap();
    let (mut a32, mut a16, mut r32, mut r16) = (0usize, 0usize, 0usize, 0usize);
    for q in &q_all {
        let s = symbols(&model, q);
        let pick16 = |&(d, i): &(usize, usize)| (i, if d == usize::MAX { &u16m } else { &m16[d] });
        let pick32 = |&(d, i): &(usize, usize)| (i, if d == usize::MAX { &u32m } else { &m32[d] });
        let mut c = AnsCoder::<u32, u64>::new();
        c.encode_symbols_reverse(s.iter().map(pick32)).unwrap();
        a32 += 4 * c.into_compressed().unwrap().len();
        let mut c = AnsCoder::<u16, u32>::new();
        c.encode_symbols_reverse(s.iter().map(pick16)).unwrap();
        a16 += 2 * c.into_compressed().unwrap().len();
        let mut c = RangeEncoder::<u32, u64>::new();
        c.encode_symbols(s.iter().map(pick32)).unwrap();
        r32 += 4 * c.into_compressed().unwrap().len();
        let mut c = RangeEncoder::<u16, u32>::new();
        c.encode_symbols(s.iter().map(pick16)).unwrap();
        r16 += 2 * c.into_compressed().unwrap().len();
    }
    for (name, total) in [
        ("constriction DefaultAnsCoder (u32)", a32),
        ("constriction SmallAnsCoder (u16)", a16),
        ("constriction DefaultRangeEncoder (u32)", r32),
        ("constriction SmallRangeEncoder (u16)", r16),
    ] {
        results.push((name, total as f64 / n as f64));
    }
    println!("payload bytes per image (information {info:.2}):");
    for (name, b) in &results {
        println!("  {name:<40} {b:7.3}  (+{:.2})", b - info);
    }
    let ours = results[0].1;
    for (name, b) in &results[1..] {
        assert!(
            ours <= *b,
            "{name} ({b:.3}) beats the chosen coder ({ours:.3})"
        );
    }

    // Whole streams, container included.
    for coder in Coder::ALL {
        let t = std::time::Instant::now();
        let mut enc =
            Encoder::new(Vec::new(), &model, Options::default().with_coder(coder)).unwrap();
        for p in &imgs {
            enc.push_pixels(p).unwrap();
        }
        let bytes = enc.finish().unwrap();
        let t_enc = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let decoded = aez::Decoder::new(&bytes[..], &model, Options::default())
            .unwrap()
            .collect::<aez::Result<Vec<_>>>()
            .unwrap();
        let t_dec = t.elapsed().as_secs_f64();
        assert_eq!(decoded.len(), n);
        let per = bytes.len() as f64 / n as f64;
        println!(
            "batch stream, {coder}: {} bytes, {per:.3} bytes/image; encode {:.0} images/s, decode {:.0} images/s ({})",
            bytes.len(),
            n as f64 / t_enc,
            n as f64 / t_dec,
            model.backend()
        );
        if coder == Coder::Range {
            assert!(
                per <= 27.0,
                "batch: {per:.3} bytes/image is over the 27-byte budget"
            );
        }
    }
    // One-image files: 18 bytes of container (13-byte header with the model's geometry, head, CRC) plus
    // the payload.
    let mut sizes: Vec<usize> = q_all
        .iter()
        .map(|q| {
            let mut p = vec![];
            encode_symbols(Coder::Range, &tables, q, &mut p).unwrap();
            aez::format::consts::SINGLE_OVERHEAD
                + p.len()
                + if p.is_empty() || p.len() > 126 { 8 } else { 0 }
        })
        .collect();
    // The container overhead is what the codec writes: checked on real one-image files.
    for (i, p) in imgs.iter().enumerate().take(500) {
        let file = aez::codec::compress_pixels(&model, p, &Options::default()).unwrap();
        let head = file[aez::format::consts::HEADER_LEN_MODEL_GEOMETRY];
        assert_eq!(
            file.len(),
            aez::format::consts::SINGLE_OVERHEAD + usize::from(head & 0x7f),
            "image {i}: one-image file size"
        );
    }
    sizes.sort_unstable();
    let mean = sizes.iter().sum::<usize>() as f64 / n as f64;
    let over = sizes.iter().filter(|&&s| s > 48).count();
    println!(
        "one-image files: mean {mean:.2}, median {}, p99 {}, max {} bytes; {over} of {n} over 48",
        sizes[n / 2],
        sizes[n * 99 / 100],
        sizes[n - 1]
    );
    assert!(
        over == 0,
        "one-image files: {over} of {n} are over the 48-byte budget"
    );
}

/// The latent shape of one image of the bundle's (fixed) size.
fn latent_shape(bundle: &aez::Bundle) -> aez::layout::LatentShape {
    let g = bundle.geometry();
    bundle
        .layout()
        .latent_shape(g.width, g.height)
        .expect("the bundle's own size fits its layout")
}
