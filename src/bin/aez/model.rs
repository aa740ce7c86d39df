//! Choosing and loading the model and the codec options from the global options.

use aez::model::{Bundle, Model};
use aez::BackendChoice;

use crate::cli::{BackendArg, CoderArg, Global};
use crate::error::CliResult;
use crate::progress::note;

/// The library's backend choice for `--backend`.
pub fn backend_choice(b: BackendArg) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Tract => BackendChoice::Tract,
        BackendArg::Onnxruntime => BackendChoice::OnnxRuntime,
    }
}

/// Loads `bundle` on `--backend`, and says which with `-v`.
pub fn load_model(g: &Global, bundle: Bundle) -> aez::Result<Model> {
    let model = crate::registry().load(&bundle, backend_choice(g.backend))?;
    if let Some(n) = aez::backend_note() {
        note(g, &n);
    }
    if g.verbose {
        note_model(g, &model);
    }
    Ok(model)
}

/// `model NAME (sha256:..., SOURCE), backend BACKEND` on stderr.
pub fn note_model(g: &Global, model: &Model) {
    let b = model.bundle();
    note(
        g,
        &format!(
            "model {} (sha256:{}, {}), backend {}",
            b.name(),
            &b.hash_hex()[..16],
            b.source(),
            model.backend()
        ),
    );
}

/// The bundle `--model` names (default: the embedded model).
pub fn open_bundle(g: &Global) -> CliResult<Bundle> {
    Ok(match &g.model {
        Some(spec) => crate::registry().open(spec)?,
        None => Bundle::embedded_default()?,
    })
}

/// The codec options `--coder` asks for (and `--quality`, given by compress).
pub fn codec_options(g: &Global) -> aez::Options {
    aez::Options::default().with_coder(match g.coder {
        CoderArg::Range => aez::Coder::Range,
        CoderArg::Zstd => aez::Coder::Zstd,
    })
}

/// True for a model that takes any image (a version-2 bundle): any size, its colour layout and alpha
/// kept. Version-1 bundles take one fixed size.
pub fn takes_any_image(b: &Bundle) -> bool {
    b.manifest().bundle_version >= aez::model::BUNDLE_VERSION_2
}

/// The bundle of 28x28 gray inputs (the Fashion-MNIST size): the default model's networks as a
/// version-2 bundle, whose batches pack many images per record and which has quality levels.
pub const FMNIST_FAMILY: &str = "fmnist-ld64e3d3-v2";
/// The bundle of 28x28 gray inputs at the qualities above [`FMNIST_FAMILY`]'s (whose networks stop near
/// 22 dB): a convolutional model run at that size (fmnist-conv's networks) with 64 sets of per-latent
/// tables per level, the encoder choosing one per image; levels numbered on from FMNIST_FAMILY's so that
/// `--quality` is one scale for the size.
pub const FMNIST_HIGH: &str = "fmnist-conv-sets";
/// The bundle of the gray family (gray inputs of any size but the Fashion-MNIST one).
pub const GRAY_FAMILY: &str = "gray-conv";
/// The bundle of the photo family (colour inputs): photo-conv's networks with a scale hyperprior (11% to
/// 15% smaller files on Kodak at the same pixels).
pub const PHOTO_FAMILY: &str = "photo-hyper";

/// Which inputs get the family bundle `name` when no model is named (for `aez models`).
pub fn family_of(name: &str) -> Option<&'static str> {
    match name {
        FMNIST_FAMILY => Some("28x28 gray inputs"),
        FMNIST_HIGH => Some("28x28 gray inputs, the higher qualities"),
        GRAY_FAMILY => Some("other gray inputs"),
        PHOTO_FAMILY => Some("colour inputs"),
        _ => None,
    }
}

/// Whether a bundle named `name` is in reach: the embedded one, or a bundle folder of that name in the
/// registry's folders (what [`aez::Registry::open`] finds by name), looked up without reading or hashing
/// any bundle in them.
pub fn family_in_reach(name: &str) -> bool {
    let manifest = aez::model::MANIFEST_FILE;
    if Bundle::embedded_names().any(|n| n == name) {
        return true;
    }
    crate::registry().dirs().iter().any(|d| {
        if d.join(manifest).is_file() {
            d.file_name().is_some_and(|n| n == name)
        } else {
            d.join(name).join(manifest).is_file()
        }
    })
}

/// The model for inputs whose first image is `first` when `--model` is not given: the embedded default
/// for a gray image of the default model's size (28x28, no alpha) or when there is no image; else the
/// gray family for a gray image and the photo family for a colour one, when that bundle is in reach;
/// else the embedded default. At the Fashion-MNIST size, a `quality` that [`FMNIST_FAMILY`] lacks and
/// [`FMNIST_HIGH`] has gets FMNIST_HIGH. Returns the bundle and why it was chosen (for `-v`).
pub fn family_bundle(
    first: Option<&image::DynamicImage>,
    quality: Option<u8>,
) -> aez::Result<(Bundle, String)> {
    let default = Bundle::embedded_default()?;
    let Some(img) = first else {
        return Ok((default, "no input image: the default model".into()));
    };
    let c = img.color();
    let g = default.geometry();
    let what = format!(
        "{}x{} {}",
        img.width(),
        img.height(),
        match (c.has_color(), c.has_alpha()) {
            (false, false) => "gray",
            (false, true) => "gray+alpha",
            (true, false) => "RGB",
            (true, true) => "RGBA",
        }
    );
    // An RGB image whose pixels are all gray (R, G and B within 3 levels: a gray image saved as RGB, or
    // such a JPEG) counts as gray.
    let colour = c.has_color() && !looks_gray(img);
    let default_fits =
        !colour && !c.has_alpha() && (img.width(), img.height()) == (g.width, g.height);
    if default_fits {
        let low = if family_in_reach(FMNIST_FAMILY) {
            Some(crate::registry().open(FMNIST_FAMILY)?)
        } else {
            None
        };
        if let Some(q) = quality.filter(|&q| !low.as_ref().is_some_and(|b| has_quality(b, q))) {
            if family_in_reach(FMNIST_HIGH) {
                let high = crate::registry().open(FMNIST_HIGH)?;
                if has_quality(&high, q) {
                    return Ok((
                        high,
                        format!("first input is {what}: the Fashion-MNIST size at quality {q}"),
                    ));
                }
            }
        }
        if let Some(b) = low {
            return Ok((
                b,
                format!("first input is {what}: the Fashion-MNIST model (its size)"),
            ));
        }
        return Ok((
            default,
            format!("first input is {what}: the default model (the Fashion-MNIST size)"),
        ));
    }
    let (family, label) = if colour {
        (PHOTO_FAMILY, "photo")
    } else {
        (GRAY_FAMILY, "gray")
    };
    if family_in_reach(family) {
        let b = crate::registry().open(family)?;
        return Ok((b, format!("first input is {what}: the {label} family")));
    }
    Ok((
        default,
        format!("first input is {what}: the default model ({family} is neither embedded nor in AEZ_MODEL_PATH)"),
    ))
}

/// Whether every pixel of `img` has R, G and B within 3 levels of each other.
pub fn looks_gray(img: &image::DynamicImage) -> bool {
    let gray =
        |p: &[u8]| p[0].abs_diff(p[1]) <= 3 && p[1].abs_diff(p[2]) <= 3 && p[0].abs_diff(p[2]) <= 3;
    // 8-bit images are read in place (the first colourful pixel ends the scan); others are converted.
    match img {
        image::DynamicImage::ImageRgb8(i) => i.as_raw().chunks_exact(3).all(gray),
        image::DynamicImage::ImageRgba8(i) => i.as_raw().chunks_exact(4).all(gray),
        other => other.to_rgb8().as_raw().chunks_exact(3).all(gray),
    }
}

/// Whether the bundle has a level of quality `q`.
fn has_quality(b: &Bundle, q: u8) -> bool {
    b.levels().iter().any(|l| l.quality == q)
}

/// The qualities of a bundle's levels, as `1, 3, 5`.
pub fn qualities(b: &Bundle) -> String {
    b.levels()
        .iter()
        .map(|l| l.quality.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `--quality` against the bundle's levels (a usage error naming the ones it has).
pub fn check_quality(b: &Bundle, quality: Option<u8>) -> CliResult {
    let Some(q) = quality else {
        return Ok(());
    };
    if has_quality(b, q) {
        return Ok(());
    }
    let levels = b.levels();
    let mut has = if levels.len() == 1 {
        format!("has one level, quality {}", levels[0].quality)
    } else {
        format!(
            "has the quality levels {} (default {})",
            qualities(b),
            b.default_level().quality
        )
    };
    // The Fashion-MNIST size's scale goes on in FMNIST_HIGH (what `family_bundle` chooses there).
    if b.name() == FMNIST_FAMILY && family_in_reach(FMNIST_HIGH) {
        if let Ok(high) = crate::registry().open(FMNIST_HIGH) {
            has.push_str(&format!(
                ", and for its size {FMNIST_HIGH} the levels {}",
                qualities(&high)
            ));
        }
    }
    Err(crate::error::CliError::Usage(
        "compress",
        format!(
            "--quality {q}: model {} {has}; higher is better (see `aez models`, and -m for another model)",
            b.name()
        ),
    ))
}
