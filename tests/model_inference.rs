//! Inference with the tract backend (always available) on the real default bundle: it reproduces the reference
//! made with Python's onnxruntime, takes any batch size, validates input lengths, is usable from many threads,
//! and refuses to switch the process to another backend.

use crate::model_common;

use std::sync::OnceLock;

use aez::{Backend, BackendChoice, Bundle, Error, Model};
use model_common::*;

/// One tract model for the whole test process (every test asks for tract explicitly).
fn model() -> Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        Model::load(Bundle::embedded_default().unwrap(), BackendChoice::Tract).unwrap()
    })
    .clone()
}

#[test]
fn tract_reproduces_the_python_onnxruntime_reference() {
    let m = model();
    assert_eq!(m.backend(), Backend::Tract);
    assert_eq!(m.backend().to_string(), "tract");
    let x = images_f32();
    let z = m.encode(&x, 100).unwrap();
    assert_eq!(z.len(), 100 * m.bundle().latent_dim());
    let y = m.decode(&z, 100).unwrap();
    check_against_reference(&z, &y, "tract");
}

#[test]
fn any_batch_size_gives_the_same_rows() {
    let m = model();
    let x = images_f32();
    let whole = m.encode(&x, 100).unwrap();
    // Batches of 1, 7 and 64 rows: the same latents up to float rounding.
    for batch in [1usize, 7, 64] {
        let mut got = Vec::new();
        for chunk in x.chunks(batch * 784) {
            got.extend(m.encode(chunk, chunk.len() / 784).unwrap());
        }
        assert_eq!(got.len(), whole.len());
        for (i, (a, b)) in got.iter().zip(&whole).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "batch {batch}: latent {i}: {a} vs {b}"
            );
        }
    }
    let d1 = m.decode(&whole[..m.bundle().latent_dim()], 1).unwrap();
    let d100 = m.decode(&whole, 100).unwrap();
    assert_eq!(d1.len(), 784);
    for (a, b) in d1.iter().zip(&d100[..784]) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}

#[test]
fn input_lengths_are_validated() {
    let m = model();
    let x = images_f32();
    for (n, len) in [(2usize, 784usize), (1, 783), (1, 785), (0, 784)] {
        let e = m.encode(&x[..len], n).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert!(e.to_string().contains(&len.to_string()), "{e}");
    }
    let e = m.decode(&[0.0; 33], 1).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    let e = m.encode(&x[..784], usize::MAX).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(m.encode(&[], 0).unwrap().is_empty());
    assert!(m.decode(&[], 0).unwrap().is_empty());
}

#[test]
fn one_model_from_eight_threads_gives_identical_results() {
    let m = model();
    let x = images_f32();
    let z = m.encode(&x, 100).unwrap();
    let y = m.decode(&z, 100).unwrap();
    let results: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                let x = &x;
                s.spawn(move || {
                    let mut last = (Vec::new(), Vec::new());
                    for _ in 0..3 {
                        let z = m.encode(x, 100).unwrap();
                        let y = m.decode(&z, 100).unwrap();
                        last = (z, y);
                    }
                    last
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (zt, yt)) in results.iter().enumerate() {
        // Same input, same batch size: bit-identical floats.
        assert!(
            zt.iter().zip(&z).all(|(a, b)| a.to_bits() == b.to_bits()),
            "thread {i}: latents differ"
        );
        assert!(
            yt.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
            "thread {i}: pixels differ"
        );
    }
}

#[test]
fn model_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Model>();
    assert_traits::<Bundle>();
}

#[test]
fn the_process_backend_cannot_be_switched() {
    let m = model();
    assert_eq!(aez::runtime::active_backend(), Some(Backend::Tract));
    // An explicit request for the other backend is a clear error (nothing is loaded: it fails before that).
    let e = Model::load(m.bundle().clone(), BackendChoice::OnnxRuntime).unwrap_err();
    assert!(matches!(e, Error::Runtime { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("already runs models on tract") && msg.contains("AEZ_BACKEND=onnxruntime"),
        "{msg}"
    );
    // Asking for tract again, or for Auto (unless AEZ_BACKEND says otherwise), gives tract.
    let again = Model::load(m.bundle().clone(), BackendChoice::Tract).unwrap();
    assert_eq!(again.backend(), Backend::Tract);
    if std::env::var_os("AEZ_BACKEND").is_none() {
        assert_eq!(
            Model::load(m.bundle().clone(), BackendChoice::Auto)
                .unwrap()
                .backend(),
            Backend::Tract
        );
    }
}

#[test]
fn backend_choice_parses() {
    assert_eq!(
        "tract".parse::<BackendChoice>().unwrap(),
        BackendChoice::Tract
    );
    assert_eq!(
        "ONNXRuntime".parse::<BackendChoice>().unwrap(),
        BackendChoice::OnnxRuntime
    );
    assert_eq!(
        "ort".parse::<BackendChoice>().unwrap(),
        BackendChoice::OnnxRuntime
    );
    assert_eq!(
        "auto".parse::<BackendChoice>().unwrap(),
        BackendChoice::Auto
    );
    let e = "cuda".parse::<BackendChoice>().unwrap_err().to_string();
    assert!(e.contains("cuda") && e.contains("tract"), "{e}");
}

/// `Model::load_lazily` builds each network on first use: it codes exactly as `Model::load` (see also
/// `an_any_size_nchw_bundle_loads_and_its_networks_must_fit_its_layout` for its errors).
#[test]
fn a_lazily_loaded_model_codes_as_an_eager_one() {
    let eager = model();
    let lazy = Model::load_lazily(eager.bundle().clone(), BackendChoice::Tract).unwrap();
    let x = images_f32();
    let n = x.len() / 784;
    let (z1, z2) = (eager.encode(&x, n).unwrap(), lazy.encode(&x, n).unwrap());
    assert_eq!(z1, z2);
    assert_eq!(eager.decode(&z1, n).unwrap(), lazy.decode(&z2, n).unwrap());
}

/// Runs of at most 16 images on a dense network are evaluated by aez itself (no backend session: it is
/// what makes a one-image run start fast), larger batches by the backend. Every embedded dense model, both
/// networks: one image at a time gives what a batch of 100 gives, up to float rounding.
#[test]
fn dense_networks_give_the_same_rows_alone_and_in_large_batches() {
    let x = images_f32();
    let mut dense = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let b = Bundle::from_dir(&dir).unwrap();
        if !b.manifest().architecture.starts_with("LD") {
            continue;
        }
        dense += 1;
        let name = b.name().to_string();
        let m = Model::load(b, BackendChoice::Tract).unwrap();
        let k = m.bundle().latent_dim();
        let whole = m.encode(&x, 100).unwrap();
        let pixels = m.decode(&whole, 100).unwrap();
        for i in 0..100 {
            let z = m.encode(&x[i * 784..(i + 1) * 784], 1).unwrap();
            for (j, (a, w)) in z.iter().zip(&whole[i * k..(i + 1) * k]).enumerate() {
                // Sums of up to 784 products in another order: float rounding differs by ~1e-5.
                assert!(
                    (a - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{name}: image {i}, latent {j}: {a} alone, {w} in the batch"
                );
            }
            let y = m.decode(&whole[i * k..(i + 1) * k], 1).unwrap();
            for (j, (a, w)) in y.iter().zip(&pixels[i * 784..(i + 1) * 784]).enumerate() {
                assert!(
                    (a - w).abs() <= 1e-5,
                    "{name}: image {i}, pixel {j}: {a} alone, {w} in the batch"
                );
            }
        }
    }
    assert!(dense >= 5, "{dense} dense models embedded");
}
