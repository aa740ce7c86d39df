//! Finding the model of a stream header and checking the header against it.

use std::io::Read;
use std::sync::Arc;

use super::v2::AnyCoding;
use super::{model_id, Coding, Limits, ModelChoice};
use crate::error::{Error, FormatError, Result};
use crate::format::consts::{OFF_DESC, OFF_FLAGS, OFF_HEIGHT, OFF_MODEL_ID, OFF_WIDTH};
use crate::format::{Descriptors, StreamHeader, StreamReader};
use crate::model::{hex, Model, Registry, BUNDLE_VERSION};

/// The coding of the stream being decoded: a version-1 stream's (fixed size, batched) or a version-2
/// stream's (any size, one image at a time).
#[derive(Debug, Clone)]
pub(super) enum Current {
    V1(Arc<Coding>),
    V2(Arc<AnyCoding>),
}

impl Current {
    fn id(&self) -> [u8; crate::format::consts::MODEL_ID_LEN] {
        match self {
            Current::V1(c) => c.id,
            Current::V2(c) => c.id,
        }
    }

    pub(super) fn model(&self) -> &Model {
        match self {
            Current::V1(c) => &c.model,
            Current::V2(c) => &c.model,
        }
    }
}

/// Finds the model of a stream header (cached per id and version) and checks the header against it.
pub(super) fn resolve<R: Read>(
    reader: &StreamReader<R>,
    choice: &ModelChoice,
    registry: &mut Option<Registry>,
    models: &mut Vec<Current>,
    h: &StreamHeader,
    limits: &Limits,
    threads: usize,
) -> Result<Current> {
    let id = h.header.model_id;
    let v2 = h.version != crate::format::consts::VERSION_1;
    let at = |off: usize| reader.location(None, h.offset + off as u64);
    let cached = models
        .iter()
        .find(|c| c.id() == id && matches!(c, Current::V2(_)) == v2);
    let current = if let Some(c) = cached {
        c.clone()
    } else {
        let model = match choice {
            ModelChoice::Given(m) => {
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
            ModelChoice::Lookup(backend) | ModelChoice::Registry(_, backend) => {
                let reg = registry.get_or_insert_with(Registry::from_env);
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
        };
        let bundle_v1 = model.bundle().manifest().bundle_version == BUNDLE_VERSION;
        if bundle_v1 == v2 {
            return Err(Error::Format {
                at: at(crate::format::consts::OFF_VERSION),
                what: FormatError::field(
                    "version",
                    h.version.into(),
                    "the format version of the model's bundle",
                    format!(
                        "a version-{} stream, but its model {} is a version-{} bundle (version-1 \
                         bundles write version-1 streams, version-2 bundles version 2)",
                        h.version,
                        model.bundle().name(),
                        model.bundle().manifest().bundle_version
                    ),
                ),
            });
        }
        let c = if v2 {
            Current::V2(Arc::new(AnyCoding::new(&model)?))
        } else {
            Current::V1(Arc::new(Coding::new(&model, threads)?))
        };
        models.push(c.clone());
        c
    };
    match &current {
        Current::V1(coding) => check_geometry(coding, h, limits, at)?,
        Current::V2(coding) => {
            // A model that takes any size needs descriptors; a header descriptor must fit the model.
            match h.descriptors {
                Some(Descriptors::Model) if coding.layout.fixed_size().is_none() => {
                    return Err(Error::Format {
                        at: at(OFF_FLAGS),
                        what: FormatError::field(
                            "descriptor placement",
                            0b11,
                            "a descriptor (in the header or per image)",
                            format!(
                                "a stream without image descriptors (the model's fixed size), but model \
                                 {} takes images of any size",
                                coding.model.bundle().name()
                            ),
                        ),
                    })
                }
                Some(Descriptors::InHeader(d)) => {
                    if let Err(e) = coding.check_desc(&d) {
                        return Err(Error::Format {
                            at: at(OFF_DESC + e.offset),
                            what: e.what,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(current)
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
