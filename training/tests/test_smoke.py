"""Smoke test of the whole training stage on a tiny subset, from the repository alone (fixtures/idx):
one epoch of every phase, tables, export, onnxruntime check, manifest round trip."""
import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

from aez_train import bundle, tables, train  # noqa: E402
from aez_train.data import read_idx_images  # noqa: E402
from aez_train.models import AutoEncoder, widths  # noqa: E402

FIXTURE = ROOT / "fixtures" / "idx" / "fmnist-t10k-64.idx.gz"


def test_widths_follow_the_study():
    assert widths("LD32E3D3") == ([128, 64, 32], [196, 392, 784])
    assert widths("LD32E1D1") == ([32], [784])
    assert widths("LD16E4D4") == ([128, 64, 32, 16], [98, 196, 392, 784])
    m = AutoEncoder("LD32E3D3", "linear")
    shapes = [tuple(p.shape) for p in m.parameters() if p.dim() == 2]
    assert shapes == [(128, 784), (64, 128), (32, 64), (196, 32), (392, 196), (784, 392)]


def test_normalize_counts_sums_exactly():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 300, 4096):
        c = rng.integers(1, 10000, size=n)
        f = tables.normalize_counts(c, 65535)
        assert f.sum() == 65535 and f.min() >= 1


def test_quantize_rounds_half_away_from_zero():
    q = tables.quantize(np.array([[-1.5, -0.5, 0.5, 1.5, 2.4999, 1e9]], np.float32), np.ones(6, np.float32),
                        np.zeros(6, np.float32))
    assert q.tolist() == [[-2, -1, 1, 2, 2, 32767]]


def test_smoke_train_export(tmp_path):
    if not FIXTURE.exists():
        pytest.skip(f"{FIXTURE} missing")
    imgs = read_idx_images(FIXTURE)
    assert imgs.shape == (64, 784)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        shutil.copy(FIXTURE, data / name)
    runs = tmp_path / "runs"
    assert train.main(["--plan", "smoke", "--data", str(data), "--out", str(runs), "--val", "16",
                       "--device", "cpu"]) == 0
    res = json.loads((runs / "dec/LD16E2D2-lam0p02/result.json").read_text())
    assert res["epochs_run"] == 1 and np.isfinite(res["test_mse"])

    m = AutoEncoder("LD16E2D2", "linear")
    m.load_state_dict(torch.load(runs / "dec/LD16E2D2-lam0p02/best.pt")["model"])
    m.eval()
    x = imgs.astype(np.float32) / 255
    with torch.no_grad():
        z = m.encoder(torch.from_numpy(x)).numpy()
    step, offset = np.full(16, 0.5, np.float32), np.zeros(16, np.float32)
    q = tables.quantize(z, step, offset)
    t = tables.fit_tables(q)
    out = tmp_path / "bundle"
    man = bundle.write_bundle(out, name="smoke-ld16e2d2", description="smoke test", model=m, step=step,
                              offset=offset, tables=t, metrics={})
    # manifest round trip: what was written reads back to the same hash
    assert bundle.verify(out) == man["hash"].removeprefix("sha256:")
    assert bundle.load_manifest(out) == json.loads(json.dumps(man))
    # a changed table changes the hash
    bad = json.loads(json.dumps(man))
    bad["entropy"]["tables"][0]["escape"] += 1
    bad["entropy"]["tables"][0]["freqs"][0] -= 1
    enc, dec = (out / "encoder.onnx").read_bytes(), (out / "decoder.onnx").read_bytes()
    assert bundle.hash_bundle(bad, enc, dec) != man["hash"].removeprefix("sha256:")
    # onnxruntime agrees with PyTorch
    with torch.no_grad():
        t_mse = float(torch.mean((m(torch.from_numpy(x)) - torch.from_numpy(x)) ** 2))
    o_mse, o_z = bundle.onnx_mse(out, x)
    assert abs(o_mse - t_mse) < 1e-6
    assert np.allclose(o_z, z, atol=1e-5)
    # the ideal rate is finite and every train symbol is inside its table
    assert np.isfinite(tables.bits(q, t)).all()
