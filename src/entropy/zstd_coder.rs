//! Coder 1 of `spec/aez-format.md` section 5: one zstd frame of the values as zigzag LEB128 varints.

use super::{DecodeError, Q_MAX, Q_MIN};

/// zstd level: the payloads are tiny, so the slowest level costs nothing noticeable.
const LEVEL: i32 = 19;

fn zigzag(q: i32) -> u32 {
    ((q << 1) ^ (q >> 31)) as u32
}

fn unzigzag(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

pub(super) fn encode(q: &[i32], out: &mut Vec<u8>) -> crate::Result<()> {
    let mut raw = Vec::with_capacity(q.len() * 3);
    for &v in q {
        let mut u = zigzag(v);
        while u >= 0x80 {
            raw.push((u as u8) | 0x80);
            u >>= 7;
        }
        raw.push(u as u8);
    }
    let frame = zstd::bulk::compress(&raw, LEVEL).map_err(|e| crate::Error::Runtime {
        backend: "zstd".into(),
        what: e.to_string(),
    })?;
    out.extend_from_slice(&frame);
    Ok(())
}

pub(super) fn decode(k: usize, payload: &[u8], out: &mut Vec<i32>) -> Result<(), DecodeError> {
    let cap = 3 * k;
    let size = match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(DecodeError("zstd frame has no content size".into())),
        Err(_) => return Err(DecodeError("payload is not a zstd frame".into())),
    };
    if size > cap as u64 {
        return Err(DecodeError(format!(
            "zstd frame content size {size} is over {cap} (3 bytes per latent value)"
        )));
    }
    match zstd::zstd_safe::find_frame_compressed_size(payload) {
        Ok(n) if n == payload.len() => {}
        Ok(n) => {
            return Err(DecodeError(format!(
                "leftover payload bytes: the zstd frame ends after {n} of {} bytes",
                payload.len()
            )))
        }
        Err(_) => return Err(DecodeError("payload is not a complete zstd frame".into())),
    }
    let raw = zstd::bulk::decompress(payload, cap)
        .map_err(|e| DecodeError(format!("zstd frame does not decode: {e}")))?;
    if raw.len() as u64 != size {
        return Err(DecodeError(format!(
            "zstd frame decodes to {} bytes, its header says {size}",
            raw.len()
        )));
    }
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let (mut u, mut shift, start) = (0u32, 0u32, i);
        loop {
            let Some(&b) = raw.get(i) else {
                return Err(DecodeError(format!(
                    "varint at byte {start} of the zstd content is cut off"
                )));
            };
            i += 1;
            if shift > 14 {
                return Err(DecodeError(format!(
                    "varint at byte {start} of the zstd content is too long"
                )));
            }
            u |= u32::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if b == 0 && i - start > 1 {
                    return Err(DecodeError(format!(
                        "non-canonical varint at byte {start} of the zstd content"
                    )));
                }
                break;
            }
        }
        let q = unzigzag(u);
        if !(Q_MIN..=Q_MAX).contains(&q) {
            return Err(DecodeError(format!("value {q} is outside -32768..=32767")));
        }
        if out.len() == k {
            return Err(DecodeError(format!(
                "zstd content holds more than {k} values"
            )));
        }
        out.push(q);
    }
    if out.len() != k {
        return Err(DecodeError(format!(
            "zstd content holds {} values, expected {k}",
            out.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trip() {
        for q in [0, 1, -1, 2, -2, 32767, -32768, 1000, -999] {
            assert_eq!(unzigzag(zigzag(q)), q);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn rejects_bad_frames() {
        let mut p = Vec::new();
        encode(&[1, -2, 300], &mut p).unwrap();
        let mut out = Vec::new();
        decode(3, &p, &mut out).unwrap();
        assert_eq!(out, vec![1, -2, 300]);
        assert!(decode(2, &p, &mut out).is_err(), "too many values");
        assert!(decode(4, &p, &mut out).is_err(), "too few values");
        let mut two = p.clone();
        two.extend_from_slice(&p);
        assert!(decode(3, &two, &mut out)
            .unwrap_err()
            .0
            .contains("leftover"));
        assert!(decode(3, &[], &mut out).is_err());
        assert!(decode(3, b"not zstd", &mut out).is_err());
        // Overlong varint for 0 (0x80 0x00).
        let frame = zstd::bulk::compress(&[0x80, 0x00, 2], 3).unwrap();
        assert!(decode(2, &frame, &mut out)
            .unwrap_err()
            .0
            .contains("non-canonical"));
        // A value out of i16 range: zigzag 65536 = 0x80 0x80 0x04.
        let frame = zstd::bulk::compress(&[0x80, 0x80, 0x04], 3).unwrap();
        assert!(decode(1, &frame, &mut out).is_err());
    }
}
