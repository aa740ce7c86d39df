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
pub fn load_model(g: &Global, bundle: Bundle) -> CliResult<Model> {
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

/// The codec options `--coder` asks for.
pub fn codec_options(g: &Global) -> aez::Options {
    aez::Options::default().with_coder(match g.coder {
        CoderArg::Range => aez::Coder::Range,
        CoderArg::Zstd => aez::Coder::Zstd,
    })
}
