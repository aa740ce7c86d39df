//! End-to-end tests of the `aez` binary with a model that takes any image (a version-2 bundle): every
//! colour type and bit depth of PNG in and out at its own size, alpha lossless, mixed sizes through one
//! stream, quality levels, `aez info` of version-2 streams, the family choice without `-m`, and the
//! outputs that cannot hold an image refused clearly.
//!
//! They use the small fixture `fixtures/models/tiny-conv` (random weights: decoded pixels are noise, but
//! sizes, layouts, alpha and streams are real) on the tract backend, each test in its own temporary
//! directory. Test images are made here with the `image` crate; the palette and interlaced PNGs, which
//! it cannot write, are put together chunk by chunk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use image::{ColorType, DynamicImage};

use crate::cli_common;
use cli_common::*;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models")
}

fn tiny() -> PathBuf {
    models_dir().join("tiny-conv")
}

/// `aez` in `dir` with the fixture models in `AEZ_MODEL_PATH` (decompress finds tiny-conv by its id).
fn run(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> Output {
    run_in(args, dir, Some(&models_dir()))
}

fn run_stdin(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path, stdin: &[u8]) -> Output {
    run_stdin_in(args, dir, stdin, Some(&models_dir()))
}

fn json(o: &Output) -> serde_json::Value {
    ok(o);
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// A smooth RGBA pattern with a varied alpha plane.
fn rgba(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + 2 * y) % 256) as u8,
            ((x * 7 + y * 3) % 256) as u8,
        ])
    })
}

fn rgb(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba(w, h)).to_rgb8())
}

fn gray(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(rgba(w, h)).to_luma8())
}

/// `(width, height)` of an image.
trait Dims {
    fn dims(&self) -> (u32, u32);
}

impl Dims for DynamicImage {
    fn dims(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
}

fn png(img: &DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// One PNG chunk: length, type, data, CRC of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// A PNG of 8-bit samples (`bpp` bytes per pixel, colour type `colour`), written by hand: optionally
/// with a palette (`PLTE`, and `tRNS` alpha) and optionally Adam7-interlaced.
fn handmade_png(
    w: u32,
    h: u32,
    colour: u8,
    bpp: usize,
    samples: &[u8],
    palette: Option<(&[u8], &[u8])>,
    interlaced: bool,
) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, colour, 0, 0, u8::from(interlaced)]);
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some((plte, trns)) = palette {
        chunk(&mut out, b"PLTE", plte);
        if !trns.is_empty() {
            chunk(&mut out, b"tRNS", trns);
        }
    }
    // Scanlines with filter type 0 (none), per Adam7 pass when interlaced.
    let passes: &[(u32, u32, u32, u32)] = if interlaced {
        &[
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ]
    } else {
        &[(0, 0, 1, 1)]
    };
    let mut raw = Vec::new();
    for &(x0, y0, dx, dy) in passes {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..w).step_by(dx as usize) {
                let i = (y * w + x) as usize * bpp;
                raw.extend_from_slice(&samples[i..i + bpp]);
            }
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The input kinds: a name, the PNG bytes, the image as the `image` crate reads it, and the colour type
/// the decoded image must have.
fn inputs(w: u32, h: u32) -> Vec<(&'static str, Vec<u8>, DynamicImage, ColorType)> {
    let base = DynamicImage::ImageRgba8(rgba(w, h));
    let mut v = Vec::new();
    for (name, img, back) in [
        (
            "l8",
            DynamicImage::ImageLuma8(base.to_luma8()),
            ColorType::L8,
        ),
        (
            "la8",
            DynamicImage::ImageLumaA8(base.to_luma_alpha8()),
            ColorType::La8,
        ),
        (
            "rgb8",
            DynamicImage::ImageRgb8(base.to_rgb8()),
            ColorType::Rgb8,
        ),
        ("rgba8", base.clone(), ColorType::Rgba8),
        (
            "rgb16",
            DynamicImage::ImageRgb16(base.to_rgb16()),
            ColorType::Rgb8,
        ),
        (
            "rgba16",
            DynamicImage::ImageRgba16(base.to_rgba16()),
            ColorType::Rgba8,
        ),
    ] {
        v.push((name, png(&img), img, back));
    }
    // A palette PNG: 4 colours, one of them half transparent (tRNS), indices varying over the image.
    let plte = [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250];
    let trns = [255, 128, 255, 0];
    let idx: Vec<u8> = (0..w * h).map(|i| ((i / 3 + i % 5) % 4) as u8).collect();
    let pal = handmade_png(w, h, 3, 1, &idx, Some((&plte, &trns)), false);
    let pal_img = image::load_from_memory(&pal).expect("the palette PNG decodes");
    assert_eq!(pal_img.color(), ColorType::Rgba8, "palette with tRNS: RGBA");
    v.push(("palette", pal, pal_img, ColorType::Rgba8));
    // An Adam7-interlaced RGBA PNG.
    let il = handmade_png(w, h, 6, 4, base.as_bytes(), None, true);
    let il_img = image::load_from_memory(&il).expect("the interlaced PNG decodes");
    assert_eq!(il_img, base, "the interlaced PNG holds the pattern");
    v.push(("interlaced", il, il_img, ColorType::Rgba8));
    v
}

fn alpha(img: &DynamicImage) -> Vec<u8> {
    img.to_luma_alpha8().pixels().map(|p| p[1]).collect()
}

fn read(p: &Path) -> DynamicImage {
    image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_colour_type_comes_back_at_its_size_and_layout() {
    let d = tmp();
    for (w, h) in [(1u32, 1u32), (3, 5), (300, 200)] {
        for (name, bytes, img, back_type) in inputs(w, h) {
            // The large size for a few kinds only: the debug binary's inference is slow.
            if w == 300 && !matches!(name, "l8" | "rgba8" | "palette") {
                continue;
            }
            let src = d.path().join(format!("{name}-{w}x{h}.png"));
            std::fs::write(&src, &bytes).unwrap();
            let aez_file = d.path().join(format!("{name}-{w}x{h}.aez"));
            let back = d.path().join(format!("{name}-{w}x{h}-back.png"));
            ok(&run(
                &[&"compress", &"-m", &tiny(), &src, &aez_file],
                d.path(),
            ));
            let head = std::fs::read(&aez_file).unwrap();
            assert_eq!(&head[..5], b"\x89AEZ\x02", "{name}: a version-2 stream");
            ok(&run(&[&"decompress", &aez_file, &back], d.path()));
            let out = read(&back);
            assert_eq!((out.width(), out.height()), (w, h), "{name} {w}x{h}");
            assert_eq!(out.color(), back_type, "{name} {w}x{h}");
            if img.color().has_alpha() {
                assert_eq!(
                    alpha(&out),
                    alpha(&img),
                    "{name} {w}x{h}: alpha is lossless"
                );
            }
        }
    }
}

#[test]
fn stdin_to_stdout_and_a_one_image_batch() {
    let d = tmp();
    let img = DynamicImage::ImageRgba8(rgba(17, 9));
    let o = run_stdin(
        &[&"compress", &"-m", &tiny(), &"-", &"-"],
        d.path(),
        &png(&img),
    );
    ok(&o);
    let stream = o.stdout.clone();
    let o = run_stdin(&[&"decompress", &"-", &"-"], d.path(), &stream);
    ok(&o);
    let back = image::load_from_memory(&o.stdout).expect("a PNG on stdout");
    assert_eq!(
        (back.width(), back.height(), back.color()),
        (17, 9, ColorType::Rgba8)
    );
    assert_eq!(alpha(&back), alpha(&img));

    // --batch: a batch stream of one image, still one PNG on stdout.
    std::fs::write(d.path().join("a.png"), png(&img)).unwrap();
    ok(&run(
        &[&"compress", &"--batch", &"-m", &tiny(), &"a.png", &"b.aez"],
        d.path(),
    ));
    let o = run(&[&"decompress", &"b.aez", &"-"], d.path());
    ok(&o);
    assert_eq!(image::load_from_memory(&o.stdout).unwrap(), back);
}

#[test]
fn a_directory_of_mixed_sizes_goes_into_one_stream_and_back_to_a_directory() {
    let d = tmp();
    let pngs = d.path().join("pngs");
    std::fs::create_dir(&pngs).unwrap();
    let base = |w, h| DynamicImage::ImageRgba8(rgba(w, h));
    let imgs = [
        DynamicImage::ImageRgb8(base(3, 5).to_rgb8()),
        DynamicImage::ImageRgb8(base(3, 5).to_rgb8()),
        DynamicImage::ImageLuma8(base(1, 1).to_luma8()),
        base(40, 30),
        DynamicImage::ImageLumaA8(base(8, 2).to_luma_alpha8()),
        DynamicImage::ImageRgb16(base(3, 5).to_rgb16()),
    ];
    let mut names = Vec::new();
    for (i, img) in imgs.iter().enumerate() {
        let p = pngs.join(format!("img{i}.png"));
        std::fs::write(&p, png(img)).unwrap();
        names.push(p);
    }
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"compress", &"-m"];
    let t = tiny();
    args.push(&t);
    for n in &names {
        args.push(n);
    }
    args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &"mixed.aez"]);
    ok(&run(&args, d.path()));
    // The directory itself as the input: its image files in name order, the same stream; a file that
    // is no image by its name is not read, and a directory without images is an error naming it.
    std::fs::write(pngs.join("README.txt"), "not an image").unwrap();
    ok(&run(&[&"compress", &"-m", &t, &pngs, &"dir.aez"], d.path()));
    assert_eq!(
        std::fs::read(d.path().join("dir.aez")).unwrap(),
        std::fs::read(d.path().join("mixed.aez")).unwrap()
    );
    std::fs::create_dir(d.path().join("none")).unwrap();
    let o = run(&[&"compress", &"-m", &t, &"none", &"none.aez"], d.path());
    fails_with(&o, 1, &["input directory", "none", "image files"]);
    assert!(!d.path().join("none.aez").exists());

    let v = json(&run(&[&"info", &"--json", &"mixed.aez"], d.path()));
    assert_eq!(v[0]["images"], 6);
    let streams = v[0]["streams"].as_array().unwrap();
    assert!(
        streams.len() >= 4,
        "one stream per run of alike images: {v}"
    );
    assert!(streams
        .iter()
        .all(|s| s["version"] == 2 && s["model"] == "tiny-conv"));

    ok(&run(&[&"decompress", &"mixed.aez", &"out/"], d.path()));
    let out = d.path().join("out");
    let files = ls(&out);
    assert_eq!(files.len(), 6, "{files:?}");
    assert_eq!(files[0], "000000.png");
    for (f, img) in files.iter().zip(&imgs) {
        let back = read(&out.join(f));
        assert_eq!(
            (back.width(), back.height()),
            (img.width(), img.height()),
            "{f}"
        );
        assert_eq!(back.color().has_alpha(), img.color().has_alpha(), "{f}");
        assert_eq!(back.color().has_color(), img.color().has_color(), "{f}");
        if img.color().has_alpha() {
            assert_eq!(alpha(&back), alpha(img), "{f}: alpha is lossless");
        }
    }

    // Several sizes do not make one IDX file, nor one image.
    let o = run(&[&"decompress", &"mixed.aez", &"mixed.idx"], d.path());
    fails_with(&o, 1, &["IDX", "directory", "mixed/"]);
    assert!(!d.path().join("mixed.idx").exists());
    let o = run(&[&"decompress", &"mixed.aez", &"-"], d.path());
    fails_with(&o, 1, &["IDX", "directory"]);
    assert!(o.stdout.is_empty(), "nothing on stdout");
    let o = run(&[&"decompress", &"mixed.aez", &"one.png"], d.path());
    fails_with(&o, 1, &["more than one image"]);
    assert!(!d.path().join("one.png").exists());
}

#[test]
fn images_of_one_size_gray_or_rgb_make_an_idx_file() {
    let d = tmp();
    let idx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx.gz");
    ok(&run(
        &[&"compress", &"-m", &tiny(), &idx, &"t.aez"],
        d.path(),
    ));
    let v = json(&run(&[&"info", &"--json", &"t.aez"], d.path()));
    assert_eq!(v[0]["images"], 64);
    assert_eq!(v[0]["streams"][0]["descriptors"], "header");
    assert_eq!(v[0]["streams"][0]["colour"], "gray");
    for out in ["t.idx", "t.idx.gz"] {
        ok(&run(&[&"decompress", &"t.aez", &out], d.path()));
    }
    let raw = std::fs::read(d.path().join("t.idx")).unwrap();
    assert_eq!(
        &raw[..16],
        &[0, 0, 8, 3, 0, 0, 0, 64, 0, 0, 0, 28, 0, 0, 0, 28]
    );
    assert_eq!(raw.len(), 16 + 64 * 784);
    // On stdout, several images are an IDX file too.
    let o = run(&[&"decompress", &"t.aez", &"-"], d.path());
    ok(&o);
    assert_eq!(o.stdout, raw);
    // RGBA images of one size: no IDX (no alpha in IDX).
    let a = d.path().join("a.png");
    std::fs::write(&a, png(&DynamicImage::ImageRgba8(rgba(4, 4)))).unwrap();
    ok(&run(
        &[&"compress", &"-m", &tiny(), &a, &a, &"-o", &"aa.aez"],
        d.path(),
    ));
    let o = run(&[&"decompress", &"aa.aez", &"aa.idx"], d.path());
    fails_with(
        &o,
        1,
        &["image 0", "4x4 RGBA", "alpha", "directory instead (aa/)"],
    );
}

#[test]
fn quality_levels() {
    let d = tmp();
    let a = d.path().join("a.png");
    std::fs::write(&a, png(&rgb(6, 6))).unwrap();
    ok(&run(
        &[
            &"compress",
            &"-m",
            &tiny(),
            &"--quality",
            &"1",
            &a,
            &"q1.aez",
        ],
        d.path(),
    ));
    let v = json(&run(&[&"info", &"--json", &"q1.aez"], d.path()));
    assert_eq!(v[0]["streams"][0]["quality"], 1);

    let o = run(
        &[
            &"compress",
            &"-m",
            &tiny(),
            &"--quality",
            &"7",
            &a,
            &"q7.aez",
        ],
        d.path(),
    );
    fails_with(&o, 2, &["--quality 7", "tiny-conv", "quality 1"]);
    assert!(!d.path().join("q7.aez").exists());
    let o = run(&[&"compress", &"--quality", &"300", &a, &"x.aez"], d.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A version-1 (fixed-size) model has one level, quality 0.
    let fm = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");
    ok(&run(
        &[
            &"-m",
            &"default",
            &"compress",
            &"--quality",
            &"0",
            &fm,
            &"v1.aez",
        ],
        d.path(),
    ));
    let o = run(
        &[
            &"-m",
            &"default",
            &"compress",
            &"--quality",
            &"5",
            &fm,
            &"v1b.aez",
        ],
        d.path(),
    );
    fails_with(
        &o,
        2,
        &["--quality 5", "fmnist-ld64e3d3", "one level, quality 0"],
    );
    // Without -m, the Fashion-MNIST size gets the version-2 bundle of the same networks, which has
    // levels 1 to 7 (4, the default, is the version-1 model's quantizer): a higher one is bigger.
    let idx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx");
    let sizes: Vec<u64> = ["2", "4", "6"]
        .iter()
        .map(|q| {
            let f = format!("fm-q{q}.aez");
            ok(&run(&[&"compress", &"--quality", q, &idx, &f], d.path()));
            ok(&run(
                &[&"decompress", &f, &format!("fm-q{q}.idx")],
                d.path(),
            ));
            std::fs::metadata(d.path().join(&f)).unwrap().len()
        })
        .collect();
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    let o = run(
        &[&"compress", &"--quality", &"0", &fm, &"fm-q0.aez"],
        d.path(),
    );
    fails_with(
        &o,
        2,
        &["--quality 0", "fmnist-ld64e3d3-v2", "1, 2, 3, 4, 5, 6, 7"],
    );

    // Above the version-2 bundle's levels, the Fashion-MNIST size's scale goes on with fmnist-conv-sets (a
    // convolutional model run at 28x28, 64 sets of per-latent tables): quality 9 is finer than quality 6,
    // and the error for a quality neither has names both.
    ok(&run(
        &[&"compress", &"--quality", &"9", &idx, &"fm-q9.aez"],
        d.path(),
    ));
    let v = json(&run(&[&"info", &"--json", &"fm-q9.aez"], d.path()));
    assert_eq!(v[0]["streams"][0]["model"], "fmnist-conv-sets");
    assert_eq!(v[0]["streams"][0]["quality"], 9);
    ok(&run(&[&"decompress", &"fm-q9.aez", &"fm-q9.idx"], d.path()));
    // IDX3 files of 64 28x28 images: a 16-byte header, then the samples.
    let original = std::fs::read(&idx).unwrap();
    let err = |f: &str| {
        let back = std::fs::read(d.path().join(f)).unwrap();
        assert_eq!(back.len(), original.len(), "{f}");
        original[16..]
            .iter()
            .zip(&back[16..])
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
    };
    assert!(
        err("fm-q9.idx") < err("fm-q6.idx"),
        "quality 9 is not finer than 6"
    );
    let o = run(
        &[&"compress", &"--quality", &"0", &fm, &"fm-q0.aez"],
        d.path(),
    );
    fails_with(&o, 2, &["fmnist-conv-sets the levels 8, 9"]);

    // `aez models` says which qualities each model has.
    let v = json(&run(&[&"models", &"--json"], d.path()));
    let t = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "tiny-conv")
        .expect("tiny-conv listed");
    assert_eq!(t["qualities"], serde_json::json!([1]));
    assert_eq!(t["default_quality"], 1);
    assert_eq!(t["any_size"], true);
    // Each model's entropy model: tiny-conv factorized, the embedded sets and hyperprior bundles theirs.
    let prior = |name: &str| {
        let m = v
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        (m["prior"].clone(), m["table_sets"].clone())
    };
    assert_eq!(prior("tiny-conv"), ("factorized".into(), 0.into()));
    assert_eq!(prior("fmnist-conv-sets"), ("table sets".into(), 64.into()));
    assert_eq!(prior("photo-hyper"), ("hyperprior".into(), 0.into()));
    let o = run(&[&"models"], d.path());
    ok(&o);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("tiny-conv"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("any-size") && line.contains("quality 1"),
        "{line}"
    );
}

#[test]
fn info_describes_version_2_streams() {
    let d = tmp();
    let a = d.path().join("a.png");
    std::fs::write(&a, png(&DynamicImage::ImageRgba8(rgba(30, 20)))).unwrap();
    ok(&run(&[&"compress", &"-m", &tiny(), &a, &"a.aez"], d.path()));
    let o = run(&[&"info", &"a.aez"], d.path());
    ok(&o);
    let text = stdout(&o);
    for w in [
        "a.aez",
        "1 image",
        "aez version 2",
        "tiny-conv",
        "descriptors: in the header",
        "30x20 RGBA",
        "quality 1",
        "1 alpha",
    ] {
        assert!(text.contains(w), "info lacks {w:?}:\n{text}");
    }
    let v = json(&run(&[&"info", &"--json", &"a.aez"], d.path()));
    let s = &v[0]["streams"][0];
    assert_eq!(s["version"], 2);
    assert_eq!(s["descriptors"], "header");
    assert_eq!(
        (s["width"].clone(), s["height"].clone()),
        (30.into(), 20.into())
    );
    assert_eq!(s["colour"], "RGBA");
    assert_eq!(s["images"], 1);
    assert_eq!(s["alpha_records"], 1);
    assert_eq!(s["records"], 2);
    assert_eq!(s["tiled_images"], 0);
    assert_eq!(s["max_width"], 30);
    assert_eq!(
        v[0]["bytes"],
        std::fs::metadata(d.path().join("a.aez")).unwrap().len()
    );

    // Without the model in reach, info still reads the stream.
    let o = run_in(&[&"info", &"a.aez"], d.path(), None);
    ok(&o);
    assert!(stdout(&o).contains("not a known model"), "{}", stdout(&o));
}

#[test]
fn verbose_says_when_16_bit_input_is_reduced() {
    let d = tmp();
    let p = d.path().join("deep.png");
    std::fs::write(
        &p,
        png(&DynamicImage::ImageRgb16(
            DynamicImage::ImageRgba8(rgba(5, 4)).to_rgb16(),
        )),
    )
    .unwrap();
    let o = run(
        &[&"-v", &"compress", &"-m", &tiny(), &p, &"o.aez"],
        d.path(),
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("deep.png: 16-bit samples reduced to 8 bits"),
        "{err}"
    );
    let o = run(
        &[&"compress", &"-m", &tiny(), &p, &"--force", &"o.aez"],
        d.path(),
    );
    ok(&o);
    assert!(!stderr(&o).contains("16-bit"), "only with -v");
    // An 8-bit input gets no such note.
    let q = d.path().join("flat.png");
    std::fs::write(&q, png(&rgb(5, 4))).unwrap();
    let o = run(
        &[&"-v", &"compress", &"-m", &tiny(), &q, &"p.aez"],
        d.path(),
    );
    ok(&o);
    assert!(!stderr(&o).contains("reduced"), "{}", stderr(&o));
}

#[test]
fn an_output_format_that_cannot_hold_the_layout_is_refused() {
    let d = tmp();
    let a = d.path().join("a.png");
    std::fs::write(&a, png(&DynamicImage::ImageRgba8(rgba(9, 7)))).unwrap();
    ok(&run(
        &[&"compress", &"-m", &tiny(), &a, &"rgba.aez"],
        d.path(),
    ));
    let o = run(&[&"decompress", &"rgba.aez", &"back.jpg"], d.path());
    fails_with(&o, 1, &["back.jpg", "JPEG", "9x7 RGBA", "alpha", ".png"]);
    assert_eq!(ls(d.path()), vec!["a.png", "rgba.aez"], "nothing written");
    // Formats that hold alpha take it.
    for out in ["back.png", "back.webp", "back.tga", "back.tiff"] {
        ok(&run(&[&"decompress", &"rgba.aez", &out], d.path()));
        let back = read(&d.path().join(out));
        assert_eq!(back.color(), ColorType::Rgba8, "{out}");
    }
    // An RGB image goes to JPEG.
    let b = d.path().join("b.png");
    std::fs::write(&b, png(&rgb(9, 7))).unwrap();
    ok(&run(
        &[&"compress", &"-m", &tiny(), &b, &"rgb.aez"],
        d.path(),
    ));
    ok(&run(&[&"decompress", &"rgb.aez", &"rgb.jpg"], d.path()));
    assert_eq!(read(&d.path().join("rgb.jpg")).dims(), (9, 7));
}

/// A model folder holding copies of tiny-conv under the family names.
fn family_folder(dir: &Path, names: &[&str]) -> PathBuf {
    let root = dir.join("families");
    for n in names {
        let f = root.join(n);
        std::fs::create_dir_all(&f).unwrap();
        for file in ["model.json", "encoder.onnx", "decoder.onnx"] {
            std::fs::copy(tiny().join(file), f.join(file)).unwrap();
        }
    }
    root
}

/// The version and model name of an .aez file, as `aez info --json` says them.
fn version_and_model(d: &Path, f: &str, model_path: &Path) -> (u64, String) {
    let v = json(&run_in(&[&"info", &"--json", &f], d, Some(model_path)));
    let s = &v[0]["streams"][0];
    (
        s["version"].as_u64().unwrap(),
        s["model"].as_str().unwrap_or("?").to_string(),
    )
}

#[test]
fn without_a_model_the_first_input_chooses_the_family() {
    let d = tmp();
    let families = family_folder(d.path(), &["gray-conv", "photo-hyper"]);
    let colour = d.path().join("colour.png");
    std::fs::write(&colour, png(&rgb(10, 6))).unwrap();
    let gray_png = d.path().join("gray.png");
    std::fs::write(&gray_png, png(&gray(10, 6))).unwrap();
    let fm = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");

    let o = run_in(
        &[&"-v", &"compress", &colour, &"c.aez"],
        d.path(),
        Some(&families),
    );
    ok(&o);
    assert!(stderr(&o).contains("photo family"), "{}", stderr(&o));
    // The embedded family bundles come first (the copies in AEZ_MODEL_PATH are not needed).
    assert_eq!(
        version_and_model(d.path(), "c.aez", &families),
        (2, "photo-hyper".into())
    );
    let o = run_in(
        &[&"-v", &"compress", &gray_png, &"g.aez"],
        d.path(),
        Some(&families),
    );
    ok(&o);
    assert!(stderr(&o).contains("gray family"), "{}", stderr(&o));
    assert_eq!(
        version_and_model(d.path(), "g.aez", &families),
        (2, "gray-conv".into())
    );
    // The Fashion-MNIST size gets the default model's networks as a version-2 bundle (packed batches,
    // quality levels); a one-image file of it has no descriptor (the model's size, channels and default
    // level), so it is as small as version 1's.
    ok(&run_in(
        &[&"compress", &fm, &"f.aez"],
        d.path(),
        Some(&families),
    ));
    assert_eq!(
        version_and_model(d.path(), "f.aez", &families),
        (2, "fmnist-ld64e3d3-v2".into())
    );
    ok(&run_in(
        &[&"-m", &"default", &"compress", &fm, &"f1.aez"],
        d.path(),
        Some(&families),
    ));
    let len = |f: &str| std::fs::metadata(d.path().join(f)).unwrap().len();
    assert!(
        len("f.aez") <= len("f1.aez") + 1,
        "{} vs {}",
        len("f.aez"),
        len("f1.aez")
    );
    // A batch of them is packed: 64 images per record.
    let idx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx");
    ok(&run_in(&[&"compress", &idx, &"b2.aez"], d.path(), None));
    ok(&run_in(
        &[&"-m", &"default", &"compress", &idx, &"b1.aez"],
        d.path(),
        None,
    ));
    let v = json(&run_in(&[&"info", &"--json", &"b2.aez"], d.path(), None));
    assert_eq!(
        (v[0]["images"].as_u64(), v[0]["records"].as_u64()),
        (Some(64), Some(1))
    );
    assert_eq!(v[0]["streams"][0]["packed"], true);
    assert!(
        len("b2.aez") + 64 * 4 < len("b1.aez"),
        "packing saves 4 bytes or more per image: {} vs {}",
        len("b2.aez"),
        len("b1.aez")
    );
    ok(&run_in(
        &[&"decompress", &"b2.aez", &"b2.idx"],
        d.path(),
        None,
    ));
    assert_eq!(
        std::fs::metadata(d.path().join("b2.idx")).unwrap().len(),
        16 + 64 * 784
    );
    // Mixed inputs: each its own family (a new stream where the family changes), unless --quality
    // names one model's level: then the first one's model for all.
    ok(&run_in(
        &[&"compress", &colour, &gray_png, &colour, &"-o", &"mix.aez"],
        d.path(),
        Some(&families),
    ));
    let models = |f: &str| -> Vec<String> {
        let v = json(&run_in(
            &[&"info", &"--json", &f],
            d.path(),
            Some(&families),
        ));
        v[0]["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["model"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        models("mix.aez"),
        ["photo-hyper", "gray-conv", "photo-hyper"]
    );
    ok(&run_in(
        &[&"decompress", &"mix.aez", &"mix/"],
        d.path(),
        Some(&families),
    ));
    assert_eq!(
        read(&d.path().join("mix/000000.png")).color(),
        image::ColorType::Rgb8
    );
    assert_eq!(
        read(&d.path().join("mix/000001.png")).color(),
        image::ColorType::L8
    );
    ok(&run_in(
        &[
            &"compress",
            &"--quality",
            &"2",
            &colour,
            &gray_png,
            &"-o",
            &"mixq.aez",
        ],
        d.path(),
        Some(&families),
    ));
    assert!(models("mixq.aez").iter().all(|m| m == "photo-hyper"));
    // The family round trip.
    ok(&run_in(
        &[&"decompress", &"c.aez", &"c.png"],
        d.path(),
        Some(&families),
    ));
    assert_eq!(read(&d.path().join("c.png")).dims(), (10, 6));

    // With -m default, the dense model refuses another size.
    let o = run_in(
        &[&"-m", &"default", &"compress", &colour, &"c3.aez"],
        d.path(),
        None,
    );
    fails_with(
        &o,
        1,
        &[
            "colour.png",
            "image is 10x6, model fmnist-ld64e3d3 takes 28x28",
        ],
    );
    // -m overrides the families.
    ok(&run_in(
        &[&"compress", &"-m", &"default", &fm, &"f2.aez"],
        d.path(),
        Some(&families),
    ));
}

#[test]
fn output_safety_holds_for_version_2_streams() {
    let d = tmp();
    let imgs = [rgb(6, 4), gray(3, 3), DynamicImage::ImageRgba8(rgba(5, 5))];
    let mut names = Vec::new();
    for (i, img) in imgs.iter().enumerate() {
        let p = d.path().join(format!("i{i}.png"));
        std::fs::write(&p, png(img)).unwrap();
        names.push(p);
    }
    let t = tiny();
    ok(&run(
        &[
            &"compress",
            &"-m",
            &t,
            &names[0],
            &names[1],
            &names[2],
            &"-o",
            &"s.aez",
        ],
        d.path(),
    ));
    // An existing output is not replaced without --force.
    std::fs::write(d.path().join("taken.png"), b"mine").unwrap();
    ok(&run(
        &[&"compress", &"-m", &t, &names[2], &"one.aez"],
        d.path(),
    ));
    let o = run(&[&"decompress", &"one.aez", &"taken.png"], d.path());
    fails_with(&o, 1, &["taken.png", "--force"]);
    assert_eq!(std::fs::read(d.path().join("taken.png")).unwrap(), b"mine");
    ok(&run(
        &[&"decompress", &"--force", &"one.aez", &"taken.png"],
        d.path(),
    ));
    assert_eq!(read(&d.path().join("taken.png")).dims(), (5, 5));

    // A stream cut inside its last image: the directory keeps the complete images before it, and a
    // file output gets nothing.
    let bytes = std::fs::read(d.path().join("s.aez")).unwrap();
    std::fs::write(d.path().join("cut.aez"), &bytes[..bytes.len() - 12]).unwrap();
    let o = run(&[&"decompress", &"cut.aez", &"dir/"], d.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let kept = ls(&d.path().join("dir"));
    assert_eq!(kept, vec!["000000.png", "000001.png"], "{}", stderr(&o));
    assert_eq!(read(&d.path().join("dir/000001.png")).dims(), (3, 3));
    let o = run(&[&"decompress", &"cut.aez", &"cut.png"], d.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!d.path().join("cut.png").exists());
    assert!(
        !ls(d.path()).iter().any(|n| n.starts_with(".aez-tmp-")),
        "no temporary file left: {:?}",
        ls(d.path())
    );
}
