//! The any-size path of the codec on a small convolutional fixture (`fixtures/models/tiny-conv`, random
//! weights, made by `tests/data/make_tiny_conv.py`): padding to the stride, cropping, and tiles that join
//! without seams (the tiled latent and image equal the untiled ones up to float summation order).

use std::path::PathBuf;

use aez::codec::pixels::padded_rows;
use aez::codec::tiles::{analyse, synthesise, Plan, TILE};
use aez::model::{bundle_hash, hex, Manifest};
use aez::{BackendChoice, Bundle, Model};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/tiny-conv")
}

/// The fixture's hash is computed here: `AEZ_REHASH=1` writes it into model.json after regenerating.
#[test]
fn tiny_conv_fixture_hash() {
    let dir = fixture();
    let json = std::fs::read(dir.join("model.json")).unwrap();
    let m = Manifest::from_json(&json, "tiny-conv").unwrap();
    let enc = std::fs::read(dir.join("encoder.onnx")).unwrap();
    let dec = std::fs::read(dir.join("decoder.onnx")).unwrap();
    let h = hex(&bundle_hash(&m, &enc, &dec));
    if std::env::var_os("AEZ_REHASH").is_some() {
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["hash"] = serde_json::Value::String(format!("sha256:{h}"));
        std::fs::write(
            dir.join("model.json"),
            serde_json::to_vec_pretty(&v).unwrap(),
        )
        .unwrap();
    }
    Bundle::from_dir(&dir).expect("the fixture verifies (AEZ_REHASH=1 after regenerating it)");
}

fn model() -> Model {
    Model::load(Bundle::from_dir(&fixture()).unwrap(), BackendChoice::Auto).unwrap()
}

/// A smooth test picture, `w x h`, RGB.
fn picture(w: u32, h: u32) -> Vec<u8> {
    (0..h)
        .flat_map(|y| {
            (0..w).flat_map(move |x| {
                [
                    ((x * 7 + y * 3) % 256) as u8,
                    ((x * x + y) % 251) as u8,
                    (128.0 + 100.0 * ((x as f32) / 9.0).sin()) as u8,
                ]
            })
        })
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn any_size_pads_and_crops() {
    let m = model();
    for (w, h) in [(1u32, 1u32), (5, 3), (37, 53), (4, 4)] {
        let plan = Plan::new(m.layout(), w, h, "tiny-conv").unwrap();
        assert_eq!((plan.pw % 4, plan.ph % 4), (0, 0));
        assert_eq!(
            (plan.latent.width, plan.latent.height),
            (w.div_ceil(4), h.div_ceil(4))
        );
        let px = picture(w, h);
        let z = analyse(&m, &plan, &px).unwrap();
        assert_eq!(z.len(), plan.latent.len());
        let back = synthesise(&m, &plan, &z).unwrap();
        assert_eq!(back.len(), px.len(), "{w}x{h}: cropped to the image");
    }
}

#[test]
fn tiles_join_without_seams() {
    let m = model();
    // 3 x 2 tiles of TILE latent units at stride 4, the last ones partial.
    let (w, h) = (TILE * 4 * 2 + 37, TILE * 4 + 21);
    let plan = Plan::new(m.layout(), w, h, "tiny-conv").unwrap();
    let px = picture(w, h);
    let tiled = analyse(&m, &plan, &px).unwrap();
    // The whole padded image in one network run.
    let whole_px = padded_rows(
        &px,
        (w as usize, h as usize, 3),
        plan.pw as usize,
        (0, plan.ph as usize),
    );
    let (whole, shape) = m.encode_images(&whole_px, 1, plan.pw, plan.ph).unwrap();
    assert_eq!(shape, plan.latent);
    let d = max_diff(&tiled, &whole);
    assert!(d < 1e-4, "tiled latent differs from the untiled one by {d}");
    let img_tiled = synthesise(&m, &plan, &whole).unwrap();
    let img_whole = m.decode_latents(&whole, 1, plan.latent).unwrap();
    let cropped = aez::codec::pixels::cropped_rows(&img_whole, plan.pw as usize, 3, w as usize);
    let cropped: Vec<u8> = cropped[..img_tiled.len()].to_vec();
    let worst = img_tiled
        .iter()
        .zip(&cropped)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "tiled synthesis differs by {worst} levels");
}

#[test]
fn an_rgba_image_of_any_size_round_trips_through_bands() {
    use aez::codec::any::{
        bands, code_alpha, code_bands, decode_alpha, decode_band, quantized_latent, reconstruct,
        LevelCoding,
    };
    use aez::codec::pixels::{assemble, prepare, Channels};
    use aez::entropy::SymbolTable;
    let m = model();
    let b = m.bundle();
    let lv = b.default_level();
    let level = LevelCoding {
        quality: lv.quality,
        quantizer: lv.quantizer.clone(),
        tables: lv
            .tables
            .iter()
            .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).unwrap())
            .collect(),
        sets: None,
    };
    let (w, h) = (301u32, 157u32);
    let rgb = picture(w, h);
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
        let i = ((y * w + x) * 3) as usize;
        image::Rgba([rgb[i], rgb[i + 1], rgb[i + 2], ((x / 10 + y) % 256) as u8])
    }));
    let p = prepare(&img, 3);
    let plan = Plan::new(m.layout(), w, h, "tiny-conv").unwrap();
    let q = quantized_latent(&m, &plan, &p, &level).unwrap();
    let whole = reconstruct(&m, &plan, &q, &level).unwrap();
    for band_rows in [0u32, 1, 7] {
        for coder in aez::Coder::ALL {
            let payloads = code_bands(coder, &plan, &q, &level, None, band_rows).unwrap();
            let alpha = code_alpha(&plan, p.alpha.as_ref().unwrap(), band_rows).unwrap();
            let bs = bands(&plan, band_rows);
            assert_eq!(payloads.len(), bs.len());
            let mut back = vec![0i32; q.len()];
            let mut a = vec![0u8; (w * h) as usize];
            for ((band, pl), al) in bs.iter().zip(&payloads).zip(&alpha) {
                decode_band(coder, &plan, &level, None, *band, pl, &mut back).unwrap();
                decode_alpha(&plan, *band, al, &mut a).unwrap();
            }
            assert_eq!(
                back, q,
                "the same latents whatever the bands ({band_rows}, {coder})"
            );
            let samples = reconstruct(&m, &plan, &back, &level).unwrap();
            assert_eq!(samples, whole);
            let out = assemble(samples, 3, Some(a), Channels::Rgba, (w, h)).unwrap();
            assert_eq!(Channels::of(&out), Channels::Rgba);
            assert_eq!(
                out.to_rgba8().pixels().map(|p| p[3]).collect::<Vec<_>>(),
                img.to_rgba8().pixels().map(|p| p[3]).collect::<Vec<_>>()
            );
        }
    }
}
