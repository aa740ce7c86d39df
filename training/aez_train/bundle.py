"""Model bundles (spec/model-bundle.md): ONNX export, manifest, hash, and the onnxruntime check.

    python3 -m aez_train.bundle --hash models/fmnist-ld32e3d3    # prints the bundle hash (hex)
    python3 -m aez_train.bundle --verify models/fmnist-ld32e3d3  # manifest hash == computed hash
"""
import argparse
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
NAME_RE = re.compile(r"[a-z0-9._-]{1,64}")


def f32(v) -> float:
    """The float32 value as a Python float (exact), so JSON round-trips to the same binary32."""
    return float(np.float32(v))


def hash_bundle(manifest: dict, encoder: bytes, decoder: bytes) -> str:
    """SHA-256 over the canonical bytes of spec/model-bundle.md section 4; returns lowercase hex."""
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


def validate(manifest: dict):
    """The reader's rules (spec section 2), so the trainer never writes a bundle the codec refuses."""
    m = manifest
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


def load_manifest(d: Path) -> dict:
    return json.loads((Path(d) / "model.json").read_text())


def verify(d: Path) -> str:
    m = load_manifest(d)
    validate(m)
    got = hash_bundle(m, (Path(d) / "encoder.onnx").read_bytes(), (Path(d) / "decoder.onnx").read_bytes())
    if m["hash"] != "sha256:" + got:
        raise ValueError(f"{d}: manifest hash {m['hash']} != computed sha256:{got}")
    return got


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
    a = ap.parse_args(argv)
    if a.hash:
        print(hash_bundle(load_manifest(a.hash), (Path(a.hash) / "encoder.onnx").read_bytes(),
                          (Path(a.hash) / "decoder.onnx").read_bytes()))
    if a.verify:
        print(f"{a.verify}: ok sha256:{verify(Path(a.verify))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
