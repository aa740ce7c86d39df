"""The scale hyperprior (aez_train.hyper, spec/model-bundle.md section 6): the training network computes what
the integers compute, the scale tables are valid, and a tiny run trains, exports and verifies (with the Rust
side's hash where the aez binary is built)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

from aez_train import bundle, hyper, hyper_ship, hyper_train, photos  # noqa: E402
from aez_train.conv import FAMILIES, ConvConfig  # noqa: E402
from test_conv import aez_binary, rust_hashes  # noqa: E402


def test_training_network_computes_the_integer_network():
    """In float64 (exact for these sums), the straight-through network equals int_synthesis on its own
    exported integers, hostile hyper-latents included."""
    torch.manual_seed(3)
    m = hyper.HyperCodec(ConvConfig(**FAMILIES["tiny"].to_dict()), zc=4, hidden=8).double()
    with torch.no_grad():  # weights that use the int16 range and make the clamps bite
        for layer in m.hyper_synthesis.layers:
            layer.weight.mul_(3.0)
    layers = hyper_ship.synthesis_layers(m)
    rng = np.random.default_rng(0)
    for spread in (1, 5, 40, 32767):
        z = rng.integers(-spread, spread + 1, size=(2, 4, 3, 5))
        got = m.hyper_synthesis(torch.from_numpy(z).double()).detach().numpy().astype(np.int64)
        want = np.stack([hyper.int_synthesis(layers, zi) for zi in z])
        assert got.shape == (2, m.cfg.m, 12, 20)
        assert (got == want).all(), f"spread {spread}: {(got != want).sum()} indices differ"
        assert want.min() >= 0 and want.max() <= hyper.SCALES - 1


def test_scale_tables_are_valid_and_widen_with_the_scale():
    ts = hyper.scale_tables()
    assert len(ts) == hyper.SCALES
    widths = [len(t["freqs"]) for t in ts]
    assert widths == sorted(widths) and widths[0] == 3
    for i, t in enumerate(ts):
        bundle._validate_table(t, f"scale_tables[{i}]")
    # the narrowest table puts nearly all its mass on 0
    assert ts[0]["freqs"][1] > 65000


@pytest.mark.skipif(not photos.shared_data().joinpath("bsds500").exists(), reason="no BSDS500")
def test_packed_weights_hold_the_values_and_hash_as_arrays():
    for fmt, vals in [("f", [0.0, -1.5, 3.4028234663852886e38, 2.0**-149]), ("h", [-32767, 0, 32767]), ("i", [-2**31, 2**31 - 1])]:
        assert bundle.unpack(bundle.pack(vals, fmt), fmt) == vals
    m = bundle.load_manifest(ROOT / "fixtures/models/tiny-hyper")
    assert isinstance(m["hyper"]["analysis"][0]["weights"], str)
    arrays = dict(m, hyper=bundle.hyper_arrays(m["hyper"]))
    assert isinstance(arrays["hyper"]["synthesis"]["layers"][0]["bias"], list)
    d = ROOT / "fixtures/models/tiny-hyper"
    enc, dec = (d / "encoder.onnx").read_bytes(), (d / "decoder.onnx").read_bytes()
    assert bundle.hash_bundle(arrays, enc, dec) == bundle.hash_bundle(m, enc, dec) == m["hash"].split(":")[1]


def test_tiny_hyper_run_trains_exports_and_verifies(tmp_path):
    run = tmp_path / "run"
    assert hyper_train.main(["--family", "tiny", "--out", str(run), "--z", "4", "--hidden", "8", "--batch", "4",
                             "--crop", "32", "--max-iters", "12", "--eval-every", "6", "--limit", "6",
                             "--threads", "1"]) == 0
    hist = torch.load(run / "progress.pt", weights_only=False)["state"]["history"]
    assert [h["it"] for h in hist] == [6, 12]
    # a rerun resumes (nothing left to train)
    assert hyper_train.main(["--out", str(run), "--family", "tiny", "--max-iters", "12", "--limit", "6",
                             "--crop", "32", "--z", "4", "--hidden", "8"]) == 0
    models = tmp_path / "models"
    out = models / "tiny-hyper"
    assert hyper_ship.main(["--run", str(run), "--name", "tiny-hyper", "--out", str(out), "--limit", "3",
                            "--default-level", "1", "--threads", "1"]) == 0
    m = bundle.load_manifest(out)
    assert bundle.verify(out) == m["hash"].removeprefix("sha256:")
    assert m["hyper"]["channels"] == 4 and all(lv["tables"] == [] for lv in m["levels"])
    ship = json.loads((run / "ship.json").read_text())
    assert all(np.isfinite(r["test"]["bpp"]) and r["test"]["hyper_bpp"] > 0 for r in ship["levels"])
    if aez_binary() is not None:
        assert rust_hashes(models)["tiny-hyper"] == m["hash"]


def test_frozen_main_networks_train_the_hyperprior_alone_on_the_exact_rate():
    torch.manual_seed(0)
    m = hyper.HyperCodec(ConvConfig(**FAMILIES["tiny"].to_dict()), zc=4, hidden=8)
    m.freeze_main()
    x = torch.rand(2, 3, 16, 24)
    lvl = torch.tensor([0, 1])
    x_hat, bits = m(x, lvl)
    assert x_hat is x and bits.shape == (2,) and torch.isfinite(bits).all()
    bits.sum().backward()
    trained = {n for n, p in m.named_parameters() if p.grad is not None}
    assert trained and all(n.split(".")[0] in ("hyper_analysis", "hyper_synthesis", "z_priors") for n in trained)
    # the rate is the exact discrete mass of the codec's symbols q = round(y * g) (no noise on them) plus
    # the hyper-latent's bits: recomputed here with the same hyper-latent noise
    torch.manual_seed(5)
    _, got = m(x, lvl)
    torch.manual_seed(5)
    with torch.no_grad():
        y = m.encoder(x)
        q = hyper.round_half_away(y * m.gains()[lvl][:, :, None, None])
        z = m.hyper(q.abs())
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        k = m.index(torch.round(z), *y.shape[-2:])
        want = hyper.gaussian_bits(q, m.scales(k)).sum((1, 2, 3))
        want += torch.stack([m.z_priors[int(l)].bits(z_noisy[i:i + 1]).sum() for i, l in enumerate(lvl)])
    assert torch.allclose(got.detach(), want, rtol=1e-5), (got, want)
