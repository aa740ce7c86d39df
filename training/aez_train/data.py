"""Reading the IDX files (gzipped or raw) exactly as published, and the fixed splits.

Splits: train = first 55,000 training images, val = last 5,000 training images (early stopping only),
test = the 10,000 t10k images (never choose anything)."""
import gzip
import os
import struct
from pathlib import Path

import numpy as np

N_VAL = 5000


def default_data_dir() -> Path:
    env = os.environ.get("AEZ_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]  # repository root
    for cand in (here.parent / "shared" / "data" / "fashion-mnist", here / ".data"):
        if (cand / "train-images-idx3-ubyte.gz").exists():
            return cand
    return here.parent / "shared" / "data" / "fashion-mnist"


def read_idx_images(path) -> np.ndarray:
    """Returns uint8 [n, rows*cols]. Raises ValueError naming the file on a bad header."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 16:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX3 header")
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: magic 0x{magic:08x} at byte 0, expected 0x00000803 (IDX3 uint8)")
    need = 16 + n * rows * cols
    if len(raw) != need:
        raise ValueError(f"{path}: {len(raw)} bytes, header says {need}")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols).copy()


def load_splits(data_dir=None, limit=None, n_val=N_VAL):
    """Returns dict of uint8 arrays: train, val, test. `limit` takes a small subset (smoke tests)."""
    d = Path(data_dir) if data_dir else default_data_dir()
    tr = read_idx_images(d / "train-images-idx3-ubyte.gz")
    te = read_idx_images(d / "t10k-images-idx3-ubyte.gz")
    if not 0 < n_val < len(tr):
        raise ValueError(f"{d}: {len(tr)} training images, cannot hold out {n_val} for validation")
    train, val = tr[:-n_val], tr[-n_val:]
    if limit:
        train, val, te = train[:limit], val[: max(1, limit // 4)], te[: max(1, limit // 4)]
    return {"train": train, "val": val, "test": te}
