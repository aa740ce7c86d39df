//! The bundle hash, exactly as spec/model-bundle.md section 4: SHA-256 over a little-endian serialization of
//! the geometry, both network files, the precision, and every quantizer value and table entry.

use sha2::{Digest, Sha256};

use super::manifest::Manifest;

/// The 8 ASCII bytes that start the hash input.
pub const HASH_MAGIC: &[u8; 8] = b"AEZMODEL";

/// Computes the bundle hash of `manifest`'s hashed fields (not its `hash`, `name`, `description` or
/// `metrics`) together with the two network files.
pub fn bundle_hash(manifest: &Manifest, encoder_onnx: &[u8], decoder_onnx: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // 1. magic, version
    h.update(HASH_MAGIC);
    h.update(manifest.bundle_version.to_le_bytes());
    // 2. geometry and K
    h.update(manifest.input.width.to_le_bytes());
    h.update(manifest.input.height.to_le_bytes());
    h.update(u32::from(manifest.input.channels).to_le_bytes());
    h.update(manifest.latent_dim.to_le_bytes());
    // 3. the networks, each with its u64 length
    h.update((encoder_onnx.len() as u64).to_le_bytes());
    h.update(encoder_onnx);
    h.update((decoder_onnx.len() as u64).to_le_bytes());
    h.update(decoder_onnx);
    // 4. precision
    h.update(manifest.entropy.precision_bits.to_le_bytes());
    // 5. per dimension: step, offset, min, len, freqs, escape
    let q = &manifest.quantizer;
    // A validated manifest has K of each; zip keeps a hand-built inconsistent one from panicking (its hash
    // then simply differs).
    for ((step, offset), t) in q.step.iter().zip(&q.offset).zip(&manifest.entropy.tables) {
        h.update(step.to_le_bytes());
        h.update(offset.to_le_bytes());
        h.update(t.min.to_le_bytes());
        h.update((t.freqs.len() as u32).to_le_bytes());
        for f in &t.freqs {
            h.update(f.to_le_bytes());
        }
        h.update(t.escape.to_le_bytes());
    }
    h.finalize().into()
}
