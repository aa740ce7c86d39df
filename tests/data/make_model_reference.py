#!/usr/bin/env python3
"""Regenerates the model reference fixtures used by tests/model_inference.rs and tests/runtime_ort.rs.

Run from the repository root (needs numpy and onnxruntime; nothing else):

    python3 tests/data/make_model_reference.py [BUNDLE_DIR] [T10K_IMAGES_IDX_GZ]

defaults: models/fmnist-ld64e3d3 and ../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz (Fashion-MNIST test images; Zalando
Research, MIT License). Writes:

- tests/data/fmnist-t10k-100.idx.gz: the first 100 test images as an IDX3 file, gzipped without time stamp or
  file name, so the bytes are reproducible. Only rewritten when the image source is given or it is missing.
- tests/data/model_reference.json: for that bundle (its hash is recorded, so the tests notice a replaced
  bundle), the encoder+decoder outputs computed with Python's onnxruntime on the 100 images scaled to [0, 1]:
  the test MSE over all 100 x 784 values, per-image MSEs, the MSE of the 8-bit pixels round(clamp(y)*255)/255,
  and the latents of the first 4 images.

When models/fmnist-ld64e3d3 is replaced, run this once and commit the new model_reference.json.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
N = 100


def read_idx_images(raw: bytes) -> np.ndarray:
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    assert magic == 0x00000803, hex(magic)
    return np.frombuffer(raw[16:16 + n * rows * cols], dtype=np.uint8).reshape(n, rows * cols)


def main() -> None:
    bundle = sys.argv[1] if len(sys.argv) > 1 else "models/fmnist-ld64e3d3"
    source = sys.argv[2] if len(sys.argv) > 2 else None
    images_path = os.path.join(HERE, "fmnist-t10k-100.idx.gz")

    if source is not None or not os.path.exists(images_path):
        src = source or "../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz"
        with gzip.open(src, "rb") as f:
            raw = f.read()
        imgs = read_idx_images(raw)[:N]
        idx = struct.pack(">IIII", 0x00000803, N, 28, 28) + imgs.tobytes()
        with open(images_path, "wb") as out:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
                gz.write(idx)

    with gzip.open(images_path, "rb") as f:
        imgs = read_idx_images(f.read())
    assert imgs.shape == (N, 784), imgs.shape

    with open(os.path.join(bundle, "model.json")) as f:
        manifest = json.load(f)
    x = imgs.astype(np.float32) / np.float32(255.0)
    enc = ort.InferenceSession(os.path.join(bundle, manifest["encoder"]["file"]), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(os.path.join(bundle, manifest["decoder"]["file"]), providers=["CPUExecutionProvider"])
    z = enc.run([manifest["encoder"]["output"]], {manifest["encoder"]["input"]: x})[0]
    y = dec.run([manifest["decoder"]["output"]], {manifest["decoder"]["input"]: z})[0]
    assert z.shape == (N, manifest["latent_dim"]) and y.shape == (N, 784), (z.shape, y.shape)

    err = (y.astype(np.float64) - x.astype(np.float64)) ** 2
    y8 = np.round(np.clip(y.astype(np.float64), 0.0, 1.0) * 255.0) / 255.0
    ref = {
        "about": "made by tests/data/make_model_reference.py with Python onnxruntime " + ort.__version__,
        "bundle": manifest["name"],
        "bundle_hash": manifest["hash"],
        "images": "tests/data/fmnist-t10k-100.idx.gz",
        "count": N,
        "test_mse": float(err.mean()),
        "test_mse_8bit": float(((y8 - x.astype(np.float64)) ** 2).mean()),
        "per_image_mse": [float(v) for v in err.mean(axis=1)],
        "latents_first4": [[float(v) for v in row] for row in z[:4]],
    }
    with open(os.path.join(HERE, "model_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"{manifest['name']} {manifest['hash']}: test MSE {ref['test_mse']:.6f} over {N} images")


if __name__ == "__main__":
    main()
