//! `aez info`: what an .aez file holds (version, model, coder, records, image size, bytes and overhead),
//! as text or JSON, without a model.

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
            aez::Limits::default(),
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

fn overhead(s: &aez::StreamSummary) -> u64 {
    s.bytes.saturating_sub(s.payload_bytes)
}

fn info_json(name: &str, streams: &[aez::StreamSummary]) -> serde_json::Value {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let records: u64 = streams.iter().map(|s| s.records).sum();
    let list: Vec<serde_json::Value> = streams
        .iter()
        .map(|s| {
            let h = &s.header;
            serde_json::json!({
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
                "bytes": s.bytes,
                "payload_bytes": s.payload_bytes,
                "overhead_bytes": overhead(s),
                "min_payload": s.min_payload,
                "max_payload": s.max_payload,
                "bytes_per_record": s.bytes_per_record(),
            })
        })
        .collect();
    serde_json::json!({
        "file": name,
        "bytes": total,
        "records": records,
        "streams": list,
    })
}

fn write_info_text(
    out: &mut dyn Write,
    name: &str,
    streams: &[aez::StreamSummary],
) -> std::io::Result<()> {
    let total: u64 = streams.iter().map(|s| s.bytes).sum();
    let records: u64 = streams.iter().map(|s| s.records).sum();
    writeln!(
        out,
        "{name}: {total} bytes, {records} image{}, {} stream{}",
        if records == 1 { "" } else { "s" },
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
        let size = match (h.geometry_stored(), dims_for(h)) {
            (true, _) => format!("{}x{}", h.width, h.height),
            (false, Some((w, ht))) => format!("{w}x{ht} (the model's)"),
            (false, None) => "the model's size".to_string(),
        };
        writeln!(out, "  images:   {} of {size}", s.records)?;
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
        if s.records > 0 {
            writeln!(
                out,
                "  per image: {:.2} bytes (payload {:.2}, min {}, max {})",
                s.bytes_per_record(),
                s.payload_bytes as f64 / s.records as f64,
                s.min_payload,
                s.max_payload
            )?;
        }
    }
    Ok(())
}
