//! `aez info`: what an .aez file holds (version, model, coder, records, image sizes, bytes and overhead),
//! as text or JSON, without a model. Version-2 streams also say where their image descriptors are, how
//! many images they hold, the largest size, alpha records and tiled images.

use std::io::{Read, Write};
use std::path::PathBuf;

use aez::io::Input;
use aez::Error;

use crate::cli::{Global, InfoArgs};
use crate::error::CliResult;
use crate::output::stdout_err;

/// Runs `aez info`.
pub fn info(g: &Global, a: &InfoArgs) -> CliResult {
    let _ = g;
    let mut reports = Vec::new();
    let mut out = std::io::stdout().lock();
    for f in &a.files {
        let input = Input::parse(f);
        let (reader, file): (Box<dyn Read>, Option<PathBuf>) = match &input {
            Input::Stdin => (Box::new(std::io::stdin()), Some(PathBuf::from("<stdin>"))),
            Input::Path(p) => (
                Box::new(
                    std::fs::File::open(p)
                        .map_err(|e| Error::io(format!("cannot open {}", p.display()), e))?,
                ),
                Some(p.clone()),
            ),
        };
        let streams = aez::inspect(
            std::io::BufReader::new(reader),
            file,
            aez::Limits::default().with_max_version(2),
        )?;
        let report = info_json(&input.display_name(), &streams);
        if a.json {
            reports.push(report);
        } else {
            write_info_text(&mut out, &input.display_name(), &streams).map_err(stdout_err)?;
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(reports))
            .map_err(|e| Error::io("cannot format JSON", std::io::Error::other(e)))?;
        writeln!(out, "{text}").map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)?;
    Ok(())
}

/// The known bundle with this model id, if any (errors finding it are not the info command's business).
fn model_name_for(id: &[u8]) -> Option<String> {
    crate::registry()
        .find_by_id(id)
        .ok()
        .flatten()
        .map(|b| b.name().to_string())
}

/// The image width and height of a stream: stored in its header, or (geometry field `11`) the model's
/// when the model is known; `None` when neither.
fn dims_for(h: &aez::Header) -> Option<(u32, u32)> {
    if h.geometry_stored() {
        return Some((h.width.into(), h.height.into()));
    }
    crate::registry()
        .find_by_id(&h.model_id)
        .ok()
        .flatten()
        .map(|b| (b.geometry().width, b.geometry().height))
}

/// Where a version-2 stream's image descriptors are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// No descriptor: every image has the model's fixed size and channels.
    Model,
    /// One descriptor in the header, for every image.
    Header,
    /// At the start of each image's first record.
    PerImage,
}

impl Placement {
    fn of(s: &aez::StreamSummary) -> Option<Placement> {
        let d = s.descriptors.as_ref()?;
        if d.header_desc().is_some() {
            return Some(Placement::Header);
        }
        // Flags bits 4-5 (geometry) and 6-7 (descriptor), spec 11.1: descriptor 11 is per image.
        Some(if (d.flags_bits() >> 6) & 0b11 == 0b11 {
            Placement::PerImage
        } else {
            Placement::Model
        })
    }

    fn name(self) -> &'static str {
        match self {
            Placement::Model => "model",
            Placement::Header => "header",
            Placement::PerImage => "per_image",
        }
    }
}

/// The quality of level index `level` of the model with this id, when the model is known.
fn quality_for(id: &[u8], level: u8) -> Option<u8> {
    crate::registry()
        .find_by_id(id)
        .ok()
        .flatten()
        .and_then(|b| b.levels().get(usize::from(level)).map(|l| l.quality))
}

/// The model's width and height for a stream without stored geometry or descriptors, when known.
fn model_dims(id: &[u8]) -> Option<(u32, u32)> {
    crate::registry()
        .find_by_id(id)
        .ok()
        .flatten()
        .and_then(|b| b.layout().fixed_size())
}

fn overhead(s: &aez::StreamSummary) -> u64 {
    s.bytes.saturating_sub(s.payload_bytes)
}

fn info_json(name: &str, streams: &[aez::StreamSummary]) -> serde_json::Value {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let records: u64 = streams.iter().map(|s| s.records).sum();
    let images: u64 = streams.iter().map(|s| s.images).sum();
    let list: Vec<serde_json::Value> = streams
        .iter()
        .map(|s| {
            let h = &s.header;
            let mut v = serde_json::json!({
                "offset": s.offset,
                "version": s.version,
                "kind": match h.kind { aez::Kind::Single => "single", aez::Kind::Batch => "batch" },
                "model_id": h.model_id_hex(),
                "model": model_name_for(&h.model_id),
                "coder": h.coder.to_string(),
                "width": dims_for(h).map(|d| d.0),
                "height": dims_for(h).map(|d| d.1),
                "geometry_stored": h.geometry_stored(),
                "records": s.records,
                "images": s.images,
                "bytes": s.bytes,
                "payload_bytes": s.payload_bytes,
                "overhead_bytes": overhead(s),
                "min_payload": s.min_payload,
                "max_payload": s.max_payload,
                "bytes_per_record": s.bytes_per_record(),
                "bytes_per_image": s.bytes_per_image(),
            });
            if let (Some(p), Some(obj)) = (Placement::of(s), v.as_object_mut()) {
                let desc = s
                    .descriptors
                    .as_ref()
                    .and_then(|d| d.header_desc().copied());
                let (width, height) = match (p, desc) {
                    (_, Some(d)) => (Some(d.width), Some(d.height)),
                    (Placement::Model, None) => model_dims(&h.model_id).unzip(),
                    _ => (None, None),
                };
                let extra = serde_json::json!({
                    "width": width,
                    "height": height,
                    "geometry_stored": desc.is_some(),
                    "descriptors": p.name(),
                    "colour": desc.map(|d| d.colour.to_string()),
                    "channels": desc.map(|d| d.colour.channels()),
                    "alpha": desc.map(|d| d.colour.has_alpha()),
                    "level": desc.map(|d| d.level),
                    "quality": desc.and_then(|d| quality_for(&h.model_id, d.level)),
                    "tiled": desc.map(|d| d.is_tiled()),
                    "bands": desc.map(|d| d.bands),
                    "packed": desc.map(|d| d.packed),
                    "hyper": desc.map(|d| d.hyper),
                    "alpha_records": s.alpha_records,
                    "tiled_images": s.tiled_images,
                    "max_width": s.max_width,
                    "max_height": s.max_height,
                });
                if let Some(extra) = extra.as_object() {
                    for (k, val) in extra {
                        obj.insert(k.clone(), val.clone());
                    }
                }
            }
            v
        })
        .collect();
    serde_json::json!({
        "file": name,
        "bytes": total,
        "records": records,
        "images": images,
        "streams": list,
    })
}

fn write_info_text(
    out: &mut dyn Write,
    name: &str,
    streams: &[aez::StreamSummary],
) -> std::io::Result<()> {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let images: u64 = streams.iter().map(|s| s.images).sum();
    writeln!(
        out,
        "{name}: {total} bytes, {images} image{}, {} stream{}",
        if images == 1 { "" } else { "s" },
        streams.len(),
        if streams.len() == 1 { "" } else { "s" }
    )?;
    for (i, s) in streams.iter().enumerate() {
        let h = &s.header;
        if streams.len() > 1 {
            writeln!(out, "  stream {i} at byte {}:", s.offset)?;
        }
        let model = match model_name_for(&h.model_id) {
            Some(n) => format!("{} ({n})", h.model_id_hex()),
            None => format!("{} (not a known model)", h.model_id_hex()),
        };
        writeln!(out, "  format:   aez version {}, {}", s.version, h.kind)?;
        writeln!(out, "  model id: {model}")?;
        writeln!(out, "  coder:    {}", h.coder)?;
        match Placement::of(s) {
            None => {
                let size = match (h.geometry_stored(), dims_for(h)) {
                    (true, _) => format!("{}x{}", h.width, h.height),
                    (false, Some((w, ht))) => format!("{w}x{ht} (the model's)"),
                    (false, None) => "the model's size".to_string(),
                };
                writeln!(out, "  images:   {} of {size}", s.records)?;
            }
            Some(p) => write_v2_images(out, s, p)?,
        }
        writeln!(
            out,
            "  bytes:    {} = payload {} + overhead {} ({:.1}%)",
            s.bytes,
            s.payload_bytes,
            overhead(s),
            if s.bytes == 0 {
                0.0
            } else {
                100.0 * overhead(s) as f64 / s.bytes as f64
            }
        )?;
        if s.images > 0 && s.version == 1 {
            writeln!(
                out,
                "  per image: {:.2} bytes (payload {:.2}, min {}, max {})",
                s.bytes_per_record(),
                s.payload_bytes as f64 / s.records as f64,
                s.min_payload,
                s.max_payload
            )?;
        } else if s.images > 0 {
            writeln!(
                out,
                "  per image: {:.2} bytes (payload {:.2}; records: min {}, max {} bytes)",
                s.bytes_per_image(),
                s.payload_bytes as f64 / s.images as f64,
                s.min_payload,
                s.max_payload
            )?;
        }
    }
    Ok(())
}

/// The descriptor, images and records lines of a version-2 stream.
fn write_v2_images(
    out: &mut dyn Write,
    s: &aez::StreamSummary,
    p: Placement,
) -> std::io::Result<()> {
    let h = &s.header;
    let desc = s
        .descriptors
        .as_ref()
        .and_then(|d| d.header_desc().copied());
    let (placement, size) = match (p, desc) {
        (_, Some(d)) => {
            let quality = match quality_for(&h.model_id, d.level) {
                Some(q) => format!("quality {q}"),
                None => format!("level {}", d.level),
            };
            let tiles = if d.is_tiled() {
                format!("{} bands of {} latent rows", d.bands, d.band_rows)
            } else if d.packed {
                "untiled, packed: several images per record".to_string()
            } else {
                "untiled".to_string()
            };
            (
                format!(
                    "in the header, for every image ({}x{} {}, {quality}, {tiles})",
                    d.width, d.height, d.colour
                ),
                format!("{}x{} {}", d.width, d.height, d.colour),
            )
        }
        (Placement::PerImage, None) => (
            "one per image".to_string(),
            if s.images == 0 {
                "no size".to_string()
            } else {
                format!("sizes up to {}x{}", s.max_width, s.max_height)
            },
        ),
        (_, None) => (
            "none (the model's size and channels)".to_string(),
            match model_dims(&h.model_id) {
                Some((w, ht)) => format!("{w}x{ht} (the model's)"),
                None => "the model's size".to_string(),
            },
        ),
    };
    writeln!(out, "  descriptors: {placement}")?;
    writeln!(out, "  images:   {} of {size}", s.images)?;
    writeln!(
        out,
        "  records:  {} ({} latent, {} alpha); {} tiled image{}",
        s.records,
        s.records - s.alpha_records,
        s.alpha_records,
        s.tiled_images,
        if s.tiled_images == 1 { "" } else { "s" }
    )
}
