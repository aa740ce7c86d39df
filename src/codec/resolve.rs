//! Finding the model of a stream header and checking the header against it.

use std::io::Read;
use std::sync::Arc;

use super::{model_id, Coding, Limits, ModelChoice};
use crate::error::{Error, FormatError, Result};
use crate::format::consts::{OFF_FLAGS, OFF_HEIGHT, OFF_MODEL_ID, OFF_WIDTH};
use crate::format::{StreamHeader, StreamReader};
use crate::model::{hex, Registry};
use crate::runtime::BackendChoice;

/// Finds the model of a stream header (cached per id) and checks the header against it.
pub(super) fn resolve<R: Read>(
    reader: &StreamReader<R>,
    choice: &ModelChoice,
    registry: &mut Option<Registry>,
    models: &mut Vec<Arc<Coding>>,
    h: &StreamHeader,
    limits: &Limits,
    threads: usize,
) -> Result<Arc<Coding>> {
    let id = h.header.model_id;
    let at = |off: usize| reader.location(None, h.offset + off as u64);
    let coding = if let Some(c) = models.iter().find(|c| c.id == id) {
        c.clone()
    } else {
        let model = match (choice, registry.as_ref()) {
            (ModelChoice::Given(m), _) => {
                if model_id(m.bundle()) != id {
                    return Err(Error::ModelMismatch {
                        at: at(OFF_MODEL_ID),
                        wanted: format!("with id {}", hex(&id)),
                        loaded: format!(
                            "{} (id {})",
                            m.bundle().name(),
                            hex(&model_id(m.bundle()))
                        ),
                    });
                }
                m.clone()
            }
            (ModelChoice::Lookup(backend) | ModelChoice::Registry(_, backend), Some(reg)) => {
                match reg.model_by_id(&id, *backend)? {
                    Some(m) => m,
                    None => {
                        return Err(Error::ModelMismatch {
                            at: at(OFF_MODEL_ID),
                            wanted: format!("with id {}", hex(&id)),
                            loaded: format!("none known (searched {})", reg.searched()),
                        })
                    }
                }
            }
            (_, None) => {
                let reg = Registry::from_env();
                let m = reg.model_by_id(&id, BackendChoice::Auto)?;
                *registry = Some(reg);
                m.ok_or_else(|| Error::ModelMismatch {
                    at: at(OFF_MODEL_ID),
                    wanted: format!("with id {}", hex(&id)),
                    loaded: "none known".into(),
                })?
            }
        };
        let c = Arc::new(Coding::new(&model, threads)?);
        models.push(c.clone());
        c
    };
    check_geometry(&coding, h, limits, at)?;
    Ok(coding)
}

/// Checks a header's geometry (stored, or the model's) against the model and the limits.
fn check_geometry(
    coding: &Coding,
    h: &StreamHeader,
    limits: &Limits,
    at: impl Fn(usize) -> crate::error::Location,
) -> Result<()> {
    let g = coding.geometry;
    // Where the geometry is said: the width and height, or the geometry field of the flags byte.
    let stored = h.header.geometry_stored();
    let geometry_off = if stored { OFF_WIDTH } else { OFF_FLAGS };
    if stored {
        if u32::from(h.header.width) != g.width || u32::from(h.header.height) != g.height {
            let off = if u32::from(h.header.width) != g.width {
                OFF_WIDTH
            } else {
                OFF_HEIGHT
            };
            return Err(Error::Format {
                at: at(off),
                what: FormatError::GeometryMismatch {
                    message: format!(
                        "stream says {}x{} images, its model {} takes {}",
                        h.header.width,
                        h.header.height,
                        coding.model.bundle().name(),
                        g
                    ),
                },
            });
        }
    } else {
        // The reader checked stored sides against the limit; the model's are checked here.
        let side = u64::from(limits.max_side);
        for (what, value) in [("width", g.width), ("height", g.height)] {
            if u64::from(value) > side {
                return Err(Error::Limit {
                    at: at(OFF_FLAGS),
                    what,
                    value: value.into(),
                    limit: side,
                });
            }
        }
    }
    let samples = g.samples() as u64;
    if samples > limits.max_samples {
        return Err(Error::Limit {
            at: at(geometry_off),
            what: "samples per image",
            value: samples,
            limit: limits.max_samples,
        });
    }
    Ok(())
}
