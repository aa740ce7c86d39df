//! The scale hyperprior of a model (spec/model-bundle.md section 6): the float hyper-analysis, run by the
//! encoder only (`|q| -> z`, then `z_hat = round(z)`), and the integer hyper-synthesis (`z_hat -> k`, the
//! table index of every latent element), which both encoder and decoder run in exact integer arithmetic
//! ([`net`]), so that the same hyper-latent gives the same tables on every machine; and the hyper-latent's
//! shares at the start of the latent records (aez-format.md section 11.5).

mod net;

use super::any::{put_rows, rows_of};
use super::coding::symbol_tables;
use crate::entropy::{decode_latent, encode_latent, Coder, SymbolTable};
use crate::error::{Error, Result};
use crate::layout::LatentShape;
use crate::model::{Bundle, Hyper};

/// A model's hyperprior, ready for coding: its bundle (which holds the networks) and its tables.
#[derive(Debug, Clone)]
pub(crate) struct HyperCoding {
    bundle: Bundle,
    /// The table of each scale index.
    pub(crate) scale_tables: Vec<SymbolTable>,
    /// Per level, the hyper-latent's table per channel.
    level_tables: Vec<Vec<SymbolTable>>,
}

impl HyperCoding {
    /// The hyperprior of `bundle`, `None` for a bundle without one.
    pub(crate) fn new(bundle: &Bundle) -> Result<Option<HyperCoding>> {
        let Some(hyper) = &bundle.manifest().hyper else {
            return Ok(None);
        };
        Ok(Some(HyperCoding {
            bundle: bundle.clone(),
            scale_tables: symbol_tables(bundle, &hyper.scale_tables, "hyper.scale_tables")?,
            level_tables: hyper
                .level_tables
                .iter()
                .enumerate()
                .map(|(l, t)| symbol_tables(bundle, t, &format!("hyper.levels[{l}].tables")))
                .collect::<Result<_>>()?,
        }))
    }

    fn hyper(&self) -> &Hyper {
        // `new` makes a HyperCoding only of a bundle with a hyperprior, and a bundle does not change.
        self.bundle
            .manifest()
            .hyper
            .as_ref()
            .expect("a HyperCoding's bundle has a hyperprior")
    }

    /// The hyper-latent's shape for a latent of `shape`: `Z x ceil(h / r) x ceil(w / r)`.
    pub(crate) fn shape(&self, shape: LatentShape) -> LatentShape {
        hyper_shape(self.hyper(), shape)
    }

    /// The quantized hyper-latent of a quantized latent `q` of `shape` (channel-major).
    pub(crate) fn analyse(&self, q: &[i32], shape: LatentShape) -> Vec<i32> {
        net::analysis(self.hyper(), q, shape)
    }

    /// The table index of every element of a latent of `shape` (channel-major) from its quantized
    /// hyper-latent `z` (exactly [`HyperCoding::shape`]'s length), in exact integer arithmetic (spec
    /// section 6.3).
    pub(crate) fn indices(&self, z: &[i32], shape: LatentShape) -> Vec<u8> {
        net::synthesis(self.hyper(), z, shape)
    }

    /// Each latent payload of `latent` (one per band) preceded by its share of the hyper-latent `z` of a
    /// latent of `latent_shape`: the share's length as a varint, then the share coded with the tables of
    /// level `level` (spec 11.5).
    pub(crate) fn with_shares(
        &self,
        coder: Coder,
        level: usize,
        latent_shape: LatentShape,
        z: &[i32],
        latent: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>> {
        let shape = self.shape(latent_shape);
        let n = latent.len();
        latent
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let rows = share_rows(shape, n, i);
                let mut part = Vec::new();
                if rows.0 < rows.1 {
                    let share = LatentShape {
                        height: rows.1 - rows.0,
                        ..shape
                    };
                    let values = rows_of(z, shape, rows);
                    encode_latent(coder, &self.level_tables[level], share, &values, &mut part)?;
                }
                let len = u32::try_from(part.len()).map_err(|_| Error::Image {
                    input: "image".into(),
                    what: "a hyper-latent share over 4 GiB".into(),
                })?;
                let mut out = Vec::with_capacity(part.len() + l.len() + 5);
                crate::format::write_varint(len, &mut out);
                out.extend_from_slice(&part);
                out.extend_from_slice(&l);
                Ok(out)
            })
            .collect()
    }

    /// Decodes latent record `i` (of `n`)'s share of the hyper-latent (of a latent of `latent_shape`, at
    /// level `level`) into its rows of `z`, and returns the latent payload after it (spec 11.5).
    pub(crate) fn read_share<'a>(
        &self,
        coder: Coder,
        level: usize,
        latent_shape: LatentShape,
        (n, i): (usize, usize),
        body: &'a [u8],
        z: &mut [i32],
    ) -> std::result::Result<&'a [u8], String> {
        let shape = self.shape(latent_shape);
        let mut p = 0;
        let len = crate::format::varint(body, &mut p, "hyper-latent length")
            .map_err(|e| format!("the hyper-latent share's length: {}", e.what))?
            as usize;
        if len > body.len() - p {
            return Err(format!(
                "a hyper-latent share of {len} bytes, but the payload has {} after its length",
                body.len() - p
            ));
        }
        let (part, rest) = body[p..].split_at(len);
        let rows = share_rows(shape, n, i);
        if rows.0 == rows.1 {
            if !part.is_empty() {
                return Err(format!(
                    "a hyper-latent share of {len} bytes in a record that carries no hyper-latent rows"
                ));
            }
            return Ok(rest);
        }
        let share = LatentShape {
            height: rows.1 - rows.0,
            ..shape
        };
        let mut vals = Vec::with_capacity(share.len());
        decode_latent(coder, &self.level_tables[level], share, part, &mut vals)
            .map_err(|e| format!("the hyper-latent share: {}", e.0))?;
        put_rows(z, shape, rows, &vals);
        Ok(rest)
    }
}

/// The rows `a..b` of the hyper-latent of `shape` that latent record `i` of `n` carries (spec 11.5):
/// `rz = ceil(zh / n)` rows each, in order, so the last records may carry none.
fn share_rows(shape: LatentShape, n: usize, i: usize) -> (u32, u32) {
    let zh = shape.height as usize;
    let rz = zh.div_ceil(n.max(1));
    ((i * rz).min(zh) as u32, ((i + 1) * rz).min(zh) as u32)
}

/// The shape of the hyper-latent of a latent of `shape` (spec/model-bundle.md section 6.2): `Z x ceil(h /
/// r) x ceil(w / r)`.
pub fn hyper_shape(hyper: &Hyper, shape: LatentShape) -> LatentShape {
    let r = hyper.stride();
    LatentShape {
        channels: hyper.channels,
        height: shape.height.div_ceil(r),
        width: shape.width.div_ceil(r),
    }
}

/// The scale-table index of every element of a latent of `shape` (channel-major) that the integer
/// hyper-synthesis of `hyper` chooses from the quantized hyper-latent `z` (spec/model-bundle.md section
/// 6.3): what a decoder codes each latent value with. Exact integer arithmetic: the same on every machine.
///
/// An error when `z` is not of [`hyper_shape`]'s length.
pub fn scale_indices(hyper: &Hyper, z: &[i32], shape: LatentShape) -> Result<Vec<u8>> {
    let want = hyper_shape(hyper, shape).len();
    let c = hyper.synthesis.last().map_or(0, |l| l.outputs);
    if shape.channels != c {
        return Err(Error::InvalidArgument {
            what: "latent channels",
            value: shape.channels.to_string(),
            expected: format!("{c}, the hyper-synthesis's outputs"),
        });
    }
    if z.len() != want {
        return Err(Error::InvalidArgument {
            what: "hyper-latent values",
            value: z.len().to_string(),
            expected: format!("{want} (of {})", hyper_shape(hyper, shape)),
        });
    }
    Ok(net::synthesis(hyper, z, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of `training/aez_train/hyper_vectors.py` (Python's int64 evaluation of spec 6.3)
    /// for the bundles they name: the codec's integer hyper-synthesis must agree exactly.
    #[test]
    fn integer_synthesis_matches_the_training_stage() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("fixtures/hyper-vectors.json")).unwrap(),
        )
        .unwrap();
        let mut checked = 0;
        for b in doc["bundles"].as_array().unwrap() {
            let name = b["bundle"].as_str().unwrap();
            let dir = [
                root.join("fixtures/models").join(name),
                root.join("models").join(name),
            ]
            .into_iter()
            .find(|d| d.exists())
            .unwrap_or_else(|| panic!("bundle {name}"));
            let bundle = crate::model::Bundle::from_dir(&dir).unwrap();
            assert_eq!(
                format!("sha256:{}", bundle.hash_hex()),
                b["hash"].as_str().unwrap(),
                "{name}: the vectors are of another version of the bundle"
            );
            let hyper = bundle.manifest().hyper.as_ref().unwrap();
            for case in b["cases"].as_array().unwrap() {
                let ints = |k: &str| -> Vec<i64> {
                    case[k]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_i64().unwrap())
                        .collect()
                };
                let l = ints("latent");
                let shape = LatentShape {
                    channels: l[0] as u32,
                    height: l[1] as u32,
                    width: l[2] as u32,
                };
                let z: Vec<i32> = ints("z").into_iter().map(|v| v as i32).collect();
                let want: Vec<u8> = ints("k").into_iter().map(|v| v as u8).collect();
                let got = scale_indices(hyper, &z, shape).unwrap();
                assert_eq!(got, want, "{name} latent {shape}");
                assert!(scale_indices(hyper, &z[1..], shape).is_err());
                checked += 1;
            }
        }
        assert!(checked >= 4);
    }
}
