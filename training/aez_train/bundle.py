"""Model bundles (spec/model-bundle.md): ONNX export, manifest, hash, and the onnxruntime check.
Version 1 (sections 1-4: fixed-size dense models) and version 2 (section 5: any size, NCHW, quality levels).

    python3 -m aez_train.bundle --hash models/fmnist-ld32e3d3    # prints the bundle hash (hex)
    python3 -m aez_train.bundle --verify models/fmnist-ld32e3d3  # manifest hash == computed hash
"""
import argparse
import base64
import hashlib
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import torch

from .models import PIXELS
from .tables import PRECISION, TOTAL

BUNDLE_VERSION = 1
BUNDLE_VERSION_2 = 2
NAME_RE = re.compile(r"[a-z0-9._-]{1,64}")


def f32(v) -> float:
    """The float32 value as a Python float (exact), so JSON round-trips to the same binary32."""
    return float(np.float32(v))


def hash_bundle(manifest: dict, encoder: bytes, decoder: bytes) -> str:
    """SHA-256 over the canonical bytes of spec/model-bundle.md section 4 (version 1) or 5.4 (version 2);
    returns lowercase hex."""
    if manifest["bundle_version"] == BUNDLE_VERSION_2:
        return hash_bundle_v2(manifest, encoder, decoder)
    h = hashlib.sha256()
    inp = manifest["input"]
    k = manifest["latent_dim"]
    h.update(b"AEZMODEL" + struct.pack("<I", manifest["bundle_version"]))
    h.update(struct.pack("<IIII", inp["width"], inp["height"], inp["channels"], k))
    h.update(struct.pack("<Q", len(encoder)) + encoder)
    h.update(struct.pack("<Q", len(decoder)) + decoder)
    ent, qz = manifest["entropy"], manifest["quantizer"]
    h.update(struct.pack("<I", ent["precision_bits"]))
    for d in range(k):
        t = ent["tables"][d]
        h.update(struct.pack("<ffiI", qz["step"][d], qz["offset"][d], t["min"], len(t["freqs"])))
        h.update(struct.pack(f"<{len(t['freqs'])}H", *t["freqs"]))
        h.update(struct.pack("<H", t["escape"]))
    return h.hexdigest()


def _hash_channels(h, quantizer: dict, tables: list):
    """Per channel: f32 step, f32 offset, i32 min, u32 len(freqs), u16 freqs..., u16 escape."""
    for c, t in enumerate(tables):
        h.update(struct.pack("<ffiI", quantizer["step"][c], quantizer["offset"][c], t["min"], len(t["freqs"])))
        h.update(struct.pack(f"<{len(t['freqs'])}H", *t["freqs"]))
        h.update(struct.pack("<H", t["escape"]))


SIZE_KINDS = {"fixed": 0, "any": 1}
TENSOR_LAYOUTS = {"flat": 0, "nchw": 1}


def hash_bundle_v2(m: dict, encoder: bytes, decoder: bytes) -> str:
    """Section 5.4."""
    h = hashlib.sha256()
    h.update(b"AEZMODEL" + struct.pack("<I", m["bundle_version"]))
    size = m["input"]["size"]
    a, b = (size["width"], size["height"]) if size["kind"] == "fixed" else (size["stride"], size["max_side"])
    h.update(struct.pack("<IIIIII", m["input"]["channels"], SIZE_KINDS[size["kind"]], a, b,
                         m["latent"]["channels"], TENSOR_LAYOUTS[m["tensor_layout"]]))
    h.update(struct.pack("<Q", len(encoder)) + encoder)
    h.update(struct.pack("<Q", len(decoder)) + decoder)
    h.update(struct.pack("<III", m["entropy"]["precision_bits"], len(m["levels"]), m["default_quality"]))
    for lv in m["levels"]:
        h.update(struct.pack("<I", lv["quality"]))
        _hash_channels(h, lv["quantizer"], lv["tables"])
    if "hyper" in m:
        _hash_hyper(h, m["hyper"], m["levels"])
    if any("sets" in lv for lv in m["levels"]):
        _hash_sets(h, m)
    return h.hexdigest()


def _hash_sets(h, m: dict):
    """Section 7.3: magic AEZTSETS, then per level its set count (0 without sets) and, with sets, its
    quantizer, choice table and every set's tables."""
    from .sets import unpack_tables

    h.update(b"AEZTSETS")
    for lv in m["levels"]:
        sets = lv.get("sets")
        h.update(struct.pack("<I", sets["count"] if sets else 0))
        if sets:
            _hash_quantizer(h, lv["quantizer"])
            _hash_table(h, sets["choice"])
            for t in unpack_tables(sets["tables"]):
                _hash_table(h, t)


def _hash_quantizer(h, qz: dict):
    """Per channel: f32 step, f32 offset."""
    for s, o in zip(qz["step"], qz["offset"]):
        h.update(struct.pack("<ff", s, o))


def _hash_table(h, t):
    h.update(struct.pack("<iI", t["min"], len(t["freqs"])))
    h.update(struct.pack(f"<{len(t['freqs'])}H", *t["freqs"]))
    h.update(struct.pack("<H", t["escape"]))


# The hyperprior's weight arrays (section 6.1) are written packed: the values' little-endian bytes in base64
# (a manifest may also give a JSON array). The hash is over the values, so both forms hash alike.
PACKED = {"f": np.float32, "h": np.int16, "i": np.int32}


def pack(values, fmt: str) -> str:
    """`values` as a packed string of little-endian `fmt` ('f' float32, 'h' int16, 'i' int32)."""
    a = np.asarray(values, dtype=np.dtype(PACKED[fmt]).newbyteorder("<"))
    return base64.b64encode(a.tobytes()).decode("ascii")


def unpack(x, fmt: str) -> list:
    """A weight array as Python numbers, from either form."""
    if isinstance(x, str):
        raw = base64.b64decode(x, validate=True)
        return np.frombuffer(raw, dtype=np.dtype(PACKED[fmt]).newbyteorder("<")).tolist()
    return list(x)


def _hyper_weights(hy: dict, f) -> dict:
    """`hyper` with each weight array `x` of value format `fmt` replaced by `f(x, fmt)`."""
    out = dict(hy)
    out["analysis"] = [dict(l, weights=f(l["weights"], "f"), bias=f(l["bias"], "f")) for l in hy["analysis"]]
    out["synthesis"] = dict(hy["synthesis"], layers=[dict(l, weights=f(l["weights"], "h"), bias=f(l["bias"], "i"))
                                                     for l in hy["synthesis"]["layers"]])
    return out


def hyper_arrays(hy: dict) -> dict:
    """`hyper` with every weight array as a list of numbers (as read, whichever form it was written in)."""
    return _hyper_weights(hy, unpack)


def hyper_packed(hy: dict) -> dict:
    """`hyper` with every weight array packed, as the exporter writes it."""
    return _hyper_weights(hy, lambda x, fmt: pack(unpack(x, fmt), fmt))


def _hash_hyper(h, hy: dict, levels: list):
    """Section 6.4: magic AEZHYPER, then the hyperprior's networks, scale tables and, per level, its
    quantizer and hyper-latent tables."""
    hy = hyper_arrays(hy)
    h.update(b"AEZHYPER" + struct.pack("<II", hy["channels"], len(hy["analysis"])))
    for l in hy["analysis"]:
        h.update(struct.pack("<IIIII", l["kernel"], l["stride"], l["inputs"], l["outputs"], int(l["relu"])))
        h.update(struct.pack(f"<{len(l['weights'])}f", *l["weights"]))
        h.update(struct.pack(f"<{len(l['bias'])}f", *l["bias"]))
    syn = hy["synthesis"]
    h.update(struct.pack("<II", syn["shift"], len(syn["layers"])))
    for l in syn["layers"]:
        h.update(struct.pack("<III", int(l["upsample"]), l["inputs"], l["outputs"]))
        h.update(struct.pack(f"<{len(l['weights'])}h", *l["weights"]))
        h.update(struct.pack(f"<{len(l['bias'])}i", *l["bias"]))
    h.update(struct.pack("<I", len(hy["scale_tables"])))
    for t in hy["scale_tables"]:
        _hash_table(h, t)
    for lv, hlv in zip(levels, hy["levels"]):
        _hash_quantizer(h, lv["quantizer"])
        for t in hlv["tables"]:
            _hash_table(h, t)


def validate_hyper(m: dict):
    """Section 6.2's rules."""
    hy, c = hyper_arrays(m["hyper"]), m["latent"]["channels"]
    assert m["input"]["size"]["kind"] == "any" and m["tensor_layout"] == "nchw"
    z = hy["channels"]
    assert 1 <= z <= 4096 and 1 <= len(hy["analysis"]) <= 8
    prev, stride = c, 1
    for i, l in enumerate(hy["analysis"]):
        k = l["kernel"]
        assert k in (1, 3, 5, 7) and l["stride"] in (1, 2) and l["inputs"] == prev, f"hyper.analysis[{i}]"
        assert len(l["weights"]) == l["outputs"] * l["inputs"] * k * k and len(l["bias"]) == l["outputs"]
        assert all(np.isfinite(v) for v in l["weights"]) and all(np.isfinite(v) for v in l["bias"])
        prev, stride = l["outputs"], stride * l["stride"]
    assert prev == z
    syn = hy["synthesis"]
    assert 0 <= syn["shift"] <= 24 and 1 <= len(syn["layers"]) <= 8
    prev, ups = z, 0
    for i, l in enumerate(syn["layers"]):
        assert l["inputs"] == prev and len(l["weights"]) == l["outputs"] * l["inputs"] * 9, f"synthesis[{i}]"
        assert len(l["bias"]) == l["outputs"] and all(-32767 <= w <= 32767 for w in l["weights"])
        assert all(-2**31 <= b < 2**31 for b in l["bias"])
        prev, ups = l["outputs"], ups + int(l["upsample"])
    assert prev == c and 2**ups == stride
    assert 1 <= len(hy["scale_tables"]) <= 256
    for j, t in enumerate(hy["scale_tables"]):
        _validate_table(t, f"hyper.scale_tables[{j}]")
    assert len(hy["levels"]) == len(m["levels"])
    for i, lv in enumerate(hy["levels"]):
        assert len(lv["tables"]) == z
        for j, t in enumerate(lv["tables"]):
            _validate_table(t, f"hyper.levels[{i}].tables[{j}]")


def _validate_table(t, where):
    assert isinstance(t["min"], int) and -32768 <= t["min"] and t["min"] + len(t["freqs"]) - 1 <= 32767, where
    assert 1 <= len(t["freqs"]) <= 4096 and min(t["freqs"]) >= 1 and max(t["freqs"]) <= 65535, where
    assert all(isinstance(f, int) for f in t["freqs"]), where
    assert isinstance(t["escape"], int) and 1 <= t["escape"] <= 65535, where
    assert sum(t["freqs"]) + t["escape"] == TOTAL, where


def validate_sets(sets: dict, c: int, where: str):
    """Section 7.1's rules."""
    from .sets import unpack_tables

    k = sets["count"]
    assert isinstance(k, int) and 1 <= k <= 256, where
    _validate_table(sets["choice"], where + ".choice")
    assert sets["choice"]["min"] == 0 and len(sets["choice"]["freqs"]) == k, where + ".choice"
    tables = unpack_tables(sets["tables"])
    assert len(tables) == k * c, where + ".tables"
    for j, t in enumerate(tables):
        _validate_table(t, f"{where}.tables[{j}]")


def validate_v2(m: dict):
    """Section 5.2's rules, so the trainer never writes a version-2 bundle the codec refuses."""
    assert m["bundle_version"] == BUNDLE_VERSION_2
    assert "latent_dim" not in m and "quantizer" not in m, "version-1 fields in a version-2 manifest"
    assert NAME_RE.fullmatch(m["name"]), m["name"]
    inp = m["input"]
    assert inp["channels"] in (1, 3)
    size = inp["size"]
    if size["kind"] == "fixed":
        assert set(size) == {"kind", "width", "height"} and 1 <= size["width"] <= 4096 and 1 <= size["height"] <= 4096
    else:
        assert size["kind"] == "any" and set(size) == {"kind", "stride", "max_side"}
        s = size["stride"]
        assert isinstance(s, int) and 1 <= s <= 256 and s & (s - 1) == 0, s
        assert isinstance(size["max_side"], int) and 1 <= size["max_side"] <= 65535
    assert m["tensor_layout"] in TENSOR_LAYOUTS
    assert m["tensor_layout"] == "nchw" or size["kind"] == "fixed"
    c = m["latent"]["channels"]
    assert isinstance(c, int) and 1 <= c <= 4096
    assert m["entropy"]["precision_bits"] == PRECISION
    levels = m["levels"]
    assert 1 <= len(levels) <= 16
    qs = [lv["quality"] for lv in levels]
    assert all(isinstance(q, int) and 0 <= q <= 255 for q in qs) and all(a < b for a, b in zip(qs, qs[1:])), qs
    assert m["default_quality"] in qs
    for i, lv in enumerate(levels):
        qz = lv["quantizer"]
        assert qz["kind"] == "uniform"
        # A hyperprior model codes with hyper.scale_tables, a level with sets with its sets' tables.
        ntab = 0 if "hyper" in m or "sets" in lv else c
        if "sets" in lv:
            validate_sets(lv["sets"], c, f"levels[{i}].sets")
            assert m["tensor_layout"] == "flat" and "hyper" not in m, f"levels[{i}].sets"
        assert len(qz["step"]) == len(qz["offset"]) == c and len(lv["tables"]) == ntab, f"levels[{i}]"
        for j in range(c):
            assert np.isfinite(qz["step"][j]) and qz["step"][j] > 0, f"levels[{i}].quantizer.step[{j}]"
            assert np.isfinite(qz["offset"][j]), f"levels[{i}].quantizer.offset[{j}]"
            assert f32(qz["step"][j]) == qz["step"][j] and f32(qz["offset"][j]) == qz["offset"][j]
        for j in range(ntab):
            _validate_table(lv["tables"][j], f"levels[{i}].tables[{j}]")
    if "hyper" in m:
        validate_hyper(m)


def validate(manifest: dict):
    """The reader's rules (spec section 2), so the trainer never writes a bundle the codec refuses."""
    m = manifest
    if m["bundle_version"] == BUNDLE_VERSION_2:
        return validate_v2(m)
    assert m["bundle_version"] == BUNDLE_VERSION
    assert NAME_RE.fullmatch(m["name"]), m["name"]
    k = m["latent_dim"]
    assert 1 <= k <= 4096
    assert len(m["quantizer"]["step"]) == len(m["quantizer"]["offset"]) == len(m["entropy"]["tables"]) == k
    assert m["entropy"]["precision_bits"] == PRECISION
    for d, t in enumerate(m["entropy"]["tables"]):
        assert m["quantizer"]["step"][d] > 0 and np.isfinite(m["quantizer"]["step"][d])
        assert -32768 <= t["min"] and t["min"] + len(t["freqs"]) - 1 <= 32767
        assert 1 <= len(t["freqs"]) <= 4096 and min(t["freqs"]) >= 1 and max(t["freqs"]) <= 65535
        assert 1 <= t["escape"] <= 65535 and sum(t["freqs"]) + t["escape"] == TOTAL, d


def export_onnx(module, in_dim, in_name, out_name, path: Path):
    module = module.eval().cpu()
    torch.onnx.export(module, (torch.zeros(1, in_dim),), str(path), input_names=[in_name], output_names=[out_name],
                      dynamic_axes={in_name: {0: "n"}, out_name: {0: "n"}}, opset_version=17, dynamo=False)


def write_bundle(out: Path, *, name, description, model, step, offset, tables, metrics, dataset="fashion-mnist"):
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model.encoder, PIXELS, "pixels", "latent", out / "encoder.onnx")
    export_onnx(model.decoder, model.latent_dim, "latent", "pixels", out / "decoder.onnx")
    manifest = {
        "bundle_version": BUNDLE_VERSION,
        "name": name,
        "description": description,
        "architecture": model.name,
        "latent_activation": model.latent_act,
        "dataset": dataset,
        "input": {"width": 28, "height": 28, "channels": 1},
        "encoder": {"file": "encoder.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "decoder.onnx", "input": "latent", "output": "pixels"},
        "latent_dim": model.latent_dim,
        "quantizer": {"kind": "uniform", "step": [f32(v) for v in step], "offset": [f32(v) for v in offset]},
        "entropy": {"precision_bits": PRECISION, "tables": tables},
        "metrics": metrics,
    }
    validate(manifest)
    enc, dec = (out / "encoder.onnx").read_bytes(), (out / "decoder.onnx").read_bytes()
    manifest["hash"] = "sha256:" + hash_bundle(manifest, enc, dec)
    (out / "model.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def export_onnx_nchw(module, in_ch, in_name, out_name, path: Path, spatial=16):
    """Opset 17, dynamic batch, height and width: [N, in_ch, H, W] -> [N, C', H', W']."""
    module = module.eval().cpu()
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(module, (torch.zeros(1, in_ch, spatial, spatial),), str(path), input_names=[in_name],
                      output_names=[out_name], dynamic_axes={in_name: axes, out_name: axes}, opset_version=17,
                      dynamo=False)


class _Flatten(torch.nn.Module):
    """module's output as [N, everything else] in the flat tensor layout: an NCHW output channel last
    ([N, H*W*C], row-major over row, column and channel, as spec/model-bundle.md section 5 says)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        y = self.module(x)
        if y.dim() == 4:
            y = y.permute(0, 2, 3, 1)
        return y.reshape(y.shape[0], -1)


def write_bundle_v2(out: Path, *, name, description, architecture, encoder, decoder, in_ch, latent_channels,
                    stride, max_side, levels, default_quality, metrics, dataset, latent_activation="linear",
                    encoder_onnx: bytes = None, decoder_onnx: bytes = None, fixed=None, hyper=None):
    """A version-2 bundle (spec section 5) of a fully convolutional model, or with `fixed=(width, height)`
    of a fixed-size one with flat tensors ([N, H*W*C], channel last, -> [N, latent_channels] and back; the torch modules
    take and give those shapes). `levels`: list of {quality, step, offset, tables}; the networks are
    exported from `encoder`/`decoder` (torch modules), or taken as given ONNX bytes (tests)."""
    out.mkdir(parents=True, exist_ok=True)
    if encoder_onnx is None and fixed:
        px = in_ch * fixed[0] * fixed[1]
        export_onnx(_Flatten(encoder), px, "pixels", "latent", out / "encoder.onnx")
        export_onnx(_Flatten(decoder), latent_channels, "latent", "pixels", out / "decoder.onnx")
    elif encoder_onnx is None:
        export_onnx_nchw(encoder, in_ch, "pixels", "latent", out / "encoder.onnx", spatial=2 * stride)
        export_onnx_nchw(decoder, latent_channels, "latent", "pixels", out / "decoder.onnx", spatial=2)
    else:
        (out / "encoder.onnx").write_bytes(encoder_onnx)
        (out / "decoder.onnx").write_bytes(decoder_onnx)
    manifest = {
        "bundle_version": BUNDLE_VERSION_2,
        "name": name,
        "description": description,
        "architecture": architecture,
        "latent_activation": latent_activation,
        "dataset": dataset,
        "input": {"channels": in_ch,
                  "size": {"kind": "fixed", "width": int(fixed[0]), "height": int(fixed[1])} if fixed else
                  {"kind": "any", "stride": int(stride), "max_side": int(max_side)}},
        "tensor_layout": "flat" if fixed else "nchw",
        "latent": {"channels": int(latent_channels)},
        "encoder": {"file": "encoder.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "decoder.onnx", "input": "latent", "output": "pixels"},
        "entropy": {"precision_bits": PRECISION},
        "levels": [{"quality": int(lv["quality"]),
                    "quantizer": {"kind": "uniform", "step": [f32(v) for v in lv["step"]],
                                  "offset": [f32(v) for v in lv["offset"]]},
                    "tables": lv["tables"], **({"sets": lv["sets"]} if "sets" in lv else {})}
                   for lv in levels],
        "default_quality": int(default_quality),
        **({"hyper": hyper} if hyper else {}),
        "metrics": metrics,
    }
    validate_v2(manifest)
    enc, dec = (out / "encoder.onnx").read_bytes(), (out / "decoder.onnx").read_bytes()
    manifest["hash"] = "sha256:" + hash_bundle_v2(manifest, enc, dec)
    # A hyperprior's weights are hundreds of thousands of numbers: one line, not one line each.
    packed = hyper or any("sets" in lv for lv in levels)
    (out / "model.json").write_text(json.dumps(manifest, indent=None if packed else 1) + "\n")
    return manifest


def load_manifest(d: Path) -> dict:
    return json.loads((Path(d) / "model.json").read_text())


def verify(d: Path) -> str:
    m = load_manifest(d)
    validate(m)
    got = hash_bundle(m, (Path(d) / "encoder.onnx").read_bytes(), (Path(d) / "decoder.onnx").read_bytes())
    if m["hash"] != "sha256:" + got:
        raise ValueError(f"{d}: manifest hash {m['hash']} != computed sha256:{got}")
    return got


def onnx_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_mse(d: Path, x: np.ndarray, q_fn=None):
    """Reconstruction through onnxruntime: pixels -> latent (-> q_fn) -> pixels; returns (mse, latents)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    enc = ort.InferenceSession(str(Path(d) / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(Path(d) / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])
    z = enc.run(["latent"], {"pixels": x})[0]
    zz = q_fn(z) if q_fn else z
    y = dec.run(["pixels"], {"latent": zz.astype(np.float32)})[0]
    return float(np.mean((y.astype(np.float64) - x) ** 2)), z


def main(argv=None):
    ap = argparse.ArgumentParser(description="aez model bundle tools")
    ap.add_argument("--hash", metavar="DIR", help="print the bundle hash")
    ap.add_argument("--verify", metavar="DIR", help="check a bundle's manifest and hash")
    ap.add_argument("--pack", metavar="DIR",
                    help="rewrite a bundle's hyperprior weights packed (section 6.1); the hash stays the same")
    a = ap.parse_args(argv)
    if a.pack:
        before = verify(Path(a.pack))
        m = load_manifest(a.pack)
        m["hyper"] = hyper_packed(m["hyper"])
        (Path(a.pack) / "model.json").write_text(json.dumps(m) + "\n")
        assert verify(Path(a.pack)) == before
        print(f"{a.pack}: packed, sha256:{before}")
    if a.hash:
        print(hash_bundle(load_manifest(a.hash), (Path(a.hash) / "encoder.onnx").read_bytes(),
                          (Path(a.hash) / "decoder.onnx").read_bytes()))
    if a.verify:
        print(f"{a.verify}: ok sha256:{verify(Path(a.verify))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
