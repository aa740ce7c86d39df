//! `aez models`: the embedded default and the bundles found in AEZ_MODEL_PATH (the working directory is
//! not searched), each with its image size (fixed, or any) and its quality levels.

use std::io::Write;

use aez::model::Bundle;
use aez::Error;

use crate::cli::ModelsArgs;
use crate::error::CliResult;
use crate::model::qualities;
use crate::output::stdout_err;

/// Runs `aez models`.
pub fn models(a: &ModelsArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let entries = crate::registry().scan();
    let default_hash = Bundle::embedded_default().ok().map(|b| b.hash_hex());
    if a.json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match &e.bundle {
                Ok(b) => {
                    let (prior, table_sets) = prior(b);
                    serde_json::json!({
                    "name": b.name(),
                    "hash": format!("sha256:{}", b.hash_hex()),
                    "id": &b.hash_hex()[..2 * aez::MODEL_ID_LEN],
                    "source": e.source.to_string(),
                    "default": matches!(e.source, aez::model::BundleSource::Embedded)
                        && default_hash.as_deref() == Some(b.hash_hex().as_str()),
                    "geometry": {"width": b.geometry().width, "height": b.geometry().height, "channels": b.geometry().channels},
                    "latent_dim": b.latent_dim(),
                    "bundle_version": b.manifest().bundle_version,
                    "any_size": b.layout().fixed_size().is_none(),
                    "qualities": b.levels().iter().map(|l| l.quality).collect::<Vec<u8>>(),
                    "default_quality": b.default_level().quality,
                    "prior": prior,
                    "table_sets": table_sets,
                    })
                }
                Err(err) => serde_json::json!({
                    "source": e.source.to_string(),
                    "error": err.to_string(),
                }),
            })
            .collect();
        let text = serde_json::to_string_pretty(&list)
            .map_err(|e| Error::io("cannot format JSON", std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(stdout_err)?;
    } else {
        for e in &entries {
            let line = match &e.bundle {
                Ok(b) => {
                    let g = b.geometry();
                    let is_default = default_hash.as_deref() == Some(b.hash_hex().as_str());
                    let embedded = matches!(e.source, aez::model::BundleSource::Embedded);
                    let family = crate::model::family_of(b.name()).filter(|_| embedded);
                    let tag = if embedded && is_default {
                        "  (default: the library's and -m default)".to_string()
                    } else if is_default {
                        "  (same as default)".to_string()
                    } else if let Some(f) = family {
                        format!("  (without -m: {f})")
                    } else {
                        String::new()
                    };
                    let size = match b.layout().fixed_size() {
                        Some((w, h)) => format!("{w}x{h}x{}", g.channels),
                        None => format!(
                            "any-size x{} (stride {})",
                            g.channels,
                            b.layout().stride().0
                        ),
                    };
                    let quality = if b.levels().len() == 1 {
                        format!("quality {}", b.default_level().quality)
                    } else {
                        format!(
                            "quality {} (default {})",
                            qualities(b),
                            b.default_level().quality
                        )
                    };
                    let sets = match prior(b) {
                        (_, 0) => String::new(),
                        (_, k) => format!(" ({k} table sets)"),
                    };
                    format!(
                        "{:<20} sha256:{}  {size} K={}{sets}  {quality}  {}{tag}",
                        b.name(),
                        b.hash_hex(),
                        b.latent_dim(),
                        e.source
                    )
                }
                Err(err) => format!("{:<20} {}: not usable: {err}", "-", e.source),
            };
            writeln!(out, "{line}").map_err(stdout_err)?;
        }
    }
    out.flush().map_err(stdout_err)?;
    Ok(())
}

/// The model's entropy model: "factorized" (a table per latent), "hyperprior" (tables chosen by a
/// hyper-latent) or "table sets" (a level codes each image with one of its sets), and the most sets a
/// level has (0 without).
fn prior(b: &aez::Bundle) -> (&'static str, u32) {
    let sets = b
        .levels()
        .iter()
        .filter_map(|l| l.sets.as_ref().map(|s| s.count))
        .max()
        .unwrap_or(0);
    let kind = if b.manifest().hyper.is_some() {
        "hyperprior"
    } else if sets > 0 {
        "table sets"
    } else {
        "factorized"
    };
    (kind, sets)
}
