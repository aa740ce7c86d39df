//! The bundle hash: SHA-256 over a little-endian serialization of everything that decides the decoded latents
//! and pixels. Version 1 exactly as spec/model-bundle.md section 4 (the committed bundles' hashes depend on
//! it); version 2 as section 5.4, which starts like version 1 but with `bundle_version` 2, so the two inputs
//! differ from their 9th byte on and no v2 hash can equal a v1 hash.

use sha2::{Digest, Sha256};

use super::manifest::{
    Hyper, ImageSize, Level, Manifest, Quantizer, Table, TableRef, TensorLayout, BUNDLE_VERSION,
};

/// The 8 ASCII bytes that start the hash input (both versions; `bundle_version` follows).
pub const HASH_MAGIC: &[u8; 8] = b"AEZMODEL";

/// Computes the bundle hash of `manifest`'s hashed fields (not its `hash`, `name`, `description`, the other
/// informational strings or `metrics`) together with the two network files, in the form of the manifest's
/// `bundle_version`.
pub fn bundle_hash(manifest: &Manifest, encoder_onnx: &[u8], decoder_onnx: &[u8]) -> [u8; 32] {
    if manifest.bundle_version == BUNDLE_VERSION {
        hash_v1(manifest, encoder_onnx, decoder_onnx)
    } else {
        hash_v2(manifest, encoder_onnx, decoder_onnx)
    }
}

/// Section 4, byte for byte.
fn hash_v1(m: &Manifest, encoder_onnx: &[u8], decoder_onnx: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // 1. magic, version
    h.update(HASH_MAGIC);
    h.update(m.bundle_version.to_le_bytes());
    // 2. geometry and K (a hand-built any-size manifest has no geometry; it hashes as 0x0)
    let (width, height) = m.layout.fixed_size().unwrap_or((0, 0));
    h.update(width.to_le_bytes());
    h.update(height.to_le_bytes());
    h.update(u32::from(m.layout.image_channels).to_le_bytes());
    h.update(m.layout.channels.to_le_bytes());
    // 3. the networks, each with its u64 length
    networks(&mut h, encoder_onnx, decoder_onnx);
    // 4. precision
    h.update(m.precision_bits.to_le_bytes());
    // 5. per dimension: step, offset, min, len, freqs, escape (of the one level)
    if let Some(level) = m.levels.first() {
        channels(&mut h, &level.quantizer, &level.tables);
    }
    h.finalize().into()
}

/// Section 5.4: every field that changes decoding.
fn hash_v2(m: &Manifest, encoder_onnx: &[u8], decoder_onnx: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // 1. magic, version
    h.update(HASH_MAGIC);
    h.update(m.bundle_version.to_le_bytes());
    // 2. layout: image channels, size kind and its two values, latent channels, tensor layout
    let l = &m.layout;
    h.update(u32::from(l.image_channels).to_le_bytes());
    let (kind, a, b) = match l.size {
        ImageSize::Fixed { width, height } => (0u32, width, height),
        ImageSize::Any { stride, max_side } => (1u32, stride, max_side),
    };
    for x in [kind, a, b, l.channels] {
        h.update(x.to_le_bytes());
    }
    let tensors: u32 = match l.tensors {
        TensorLayout::Flat => 0,
        TensorLayout::Nchw => 1,
    };
    h.update(tensors.to_le_bytes());
    // 3. the networks
    networks(&mut h, encoder_onnx, decoder_onnx);
    // 4. precision, number of levels, default quality
    h.update(m.precision_bits.to_le_bytes());
    h.update((m.levels.len() as u32).to_le_bytes());
    let default_quality = m.levels.get(m.default_level).map_or(0, |lv| lv.quality);
    h.update(u32::from(default_quality).to_le_bytes());
    // 5. per level: quality, then per channel as in version 1
    for level in &m.levels {
        h.update(u32::from(level.quality).to_le_bytes());
        channels(&mut h, &level.quantizer, &level.tables);
    }
    // 6. the hyperprior, when there is one (section 6.4)
    if let Some(hy) = &m.hyper {
        hyper(&mut h, hy, &m.levels);
    }
    // 7. the table sets, when a level has them (section 7.3)
    if m.levels.iter().any(|lv| lv.sets.is_some()) {
        sets(&mut h, m);
    }
    h.finalize().into()
}

/// The 8 ASCII bytes that start the table sets' part of a version-2 hash input.
pub const SETS_MAGIC: &[u8; 8] = b"AEZTSETS";

/// Section 7.3: per level its set count (0 without sets) and, with sets, its quantizer (which the levels'
/// part did not hash: a level with sets has no per-channel tables), its choice table and every set's
/// tables.
fn sets(h: &mut Sha256, m: &Manifest) {
    h.update(SETS_MAGIC);
    for level in &m.levels {
        let Some(s) = &level.sets else {
            h.update(0u32.to_le_bytes());
            continue;
        };
        h.update(s.count.to_le_bytes());
        quantizer(h, &level.quantizer);
        table(h, &s.choice);
        // Tens of thousands of small tables: one update of their bytes, not one per value. Tables that do
        // not decode (a manifest read with deferred decoding only: `Manifest::from_json` refuses them)
        // add nothing, so the hash matches no manifest's claim.
        let Ok(tables) = s.tables() else {
            continue;
        };
        let mut buf = Vec::with_capacity(tables.len() * 10);
        for t in tables.iter() {
            put_table(&mut buf, t);
        }
        h.update(&buf);
    }
}

/// The 8 ASCII bytes that start the hyperprior's part of a version-2 hash input.
pub const HYPER_MAGIC: &[u8; 8] = b"AEZHYPER";

/// Section 6.4: the hyperprior's networks, scale tables and, per level, its quantizer (which the levels'
/// part did not hash: a level of a hyperprior model has no per-channel tables) and hyper-latent tables.
fn hyper(h: &mut Sha256, hy: &Hyper, levels: &[Level]) {
    h.update(HYPER_MAGIC);
    h.update(hy.channels.to_le_bytes());
    h.update((hy.analysis.len() as u32).to_le_bytes());
    for l in &hy.analysis {
        for x in [l.kernel, l.stride, l.inputs, l.outputs, u32::from(l.relu)] {
            h.update(x.to_le_bytes());
        }
        for w in l.weights.iter().chain(&l.bias) {
            h.update(w.to_le_bytes());
        }
    }
    h.update(hy.shift.to_le_bytes());
    h.update((hy.synthesis.len() as u32).to_le_bytes());
    for l in &hy.synthesis {
        for x in [u32::from(l.upsample), l.inputs, l.outputs] {
            h.update(x.to_le_bytes());
        }
        for w in &l.weights {
            h.update(w.to_le_bytes());
        }
        for b in &l.bias {
            h.update(b.to_le_bytes());
        }
    }
    h.update((hy.scale_tables.len() as u32).to_le_bytes());
    for t in &hy.scale_tables {
        table(h, t);
    }
    for (level, tables) in levels.iter().zip(&hy.level_tables) {
        quantizer(h, &level.quantizer);
        for t in tables {
            table(h, t);
        }
    }
}

/// Per channel: `f32 step`, `f32 offset`.
fn quantizer(h: &mut Sha256, q: &Quantizer) {
    for (step, offset) in q.step.iter().zip(&q.offset) {
        h.update(step.to_le_bytes());
        h.update(offset.to_le_bytes());
    }
}

/// `i32 min`, `u32 len(freqs)`, each `u16 freq`, `u16 escape`.
fn table(h: &mut Sha256, t: &Table) {
    let mut buf = Vec::with_capacity(10 + 2 * t.freqs.len());
    put_table(&mut buf, t.into());
    h.update(&buf);
}

/// [`table`]'s bytes, appended to `buf`.
fn put_table(buf: &mut Vec<u8>, t: TableRef<'_>) {
    buf.extend_from_slice(&t.min.to_le_bytes());
    buf.extend_from_slice(&(t.freqs.len() as u32).to_le_bytes());
    for f in t.freqs {
        buf.extend_from_slice(&f.to_le_bytes());
    }
    buf.extend_from_slice(&t.escape.to_le_bytes());
}

/// `u64 len` and the bytes of each network.
fn networks(h: &mut Sha256, encoder_onnx: &[u8], decoder_onnx: &[u8]) {
    h.update((encoder_onnx.len() as u64).to_le_bytes());
    h.update(encoder_onnx);
    h.update((decoder_onnx.len() as u64).to_le_bytes());
    h.update(decoder_onnx);
}

/// Per channel: `f32 step`, `f32 offset`, `i32 min`, `u32 len(freqs)`, each `u16 freq`, `u16 escape`.
fn channels(h: &mut Sha256, q: &Quantizer, tables: &[Table]) {
    // A validated manifest has C of each; zip keeps a hand-built inconsistent one from panicking (its hash
    // then simply differs).
    for ((step, offset), t) in q.step.iter().zip(&q.offset).zip(tables) {
        h.update(step.to_le_bytes());
        h.update(offset.to_le_bytes());
        table(h, t);
    }
}
