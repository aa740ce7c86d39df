"""Convolutional models and version-2 bundles at a tiny size (CPU, seconds): the v2 hash against a fixed
vector and, where the aez binary is built, against the Rust side; a few training steps of a tiny model,
export, per-level tables, and onnxruntime against PyTorch on a non-square image padded to the stride."""
import copy
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "training"))

from aez_train import bundle, conv_ship, tables  # noqa: E402
from aez_train.conv import FAMILIES, ConvCodec, ConvConfig, pad_to  # noqa: E402


def aez_binary():
    for p in (os.environ.get("AEZ_BIN"), ROOT / "target" / "release" / "aez", ROOT / "target" / "debug" / "aez"):
        if p and Path(p).is_file():
            return Path(p)
    return None


def rust_hashes(model_dir: Path) -> dict:
    """name -> hash as `aez models --json` prints them, for the bundles in model_dir."""
    exe = aez_binary()
    env = dict(os.environ, AEZ_MODEL_PATH=str(model_dir))
    out = subprocess.run([str(exe), "models", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return {m["name"]: m["hash"] for m in json.loads(out.stdout)}


def tiny_manifest():
    """A hand-made two-level, two-channel v2 manifest (networks: fixed placeholder bytes)."""
    t = lambda lo, f: {"min": lo, "freqs": f, "escape": 65536 - sum(f)}  # noqa: E731
    return {
        "bundle_version": 2, "name": "tiny-v2", "description": "", "architecture": "test",
        "latent_activation": "linear", "dataset": "none",
        "input": {"channels": 3, "size": {"kind": "any", "stride": 16, "max_side": 16384}},
        "tensor_layout": "nchw", "latent": {"channels": 2},
        "encoder": {"file": "encoder.onnx", "input": "pixels", "output": "latent"},
        "decoder": {"file": "decoder.onnx", "input": "latent", "output": "pixels"},
        "entropy": {"precision_bits": 16},
        "levels": [
            {"quality": 1, "quantizer": {"kind": "uniform", "step": [0.5, 2.0], "offset": [0.0, -0.25]},
             "tables": [t(-1, [100, 65000, 100]), t(0, [65535])]},
            {"quality": 7, "quantizer": {"kind": "uniform", "step": [0.25, 1.0], "offset": [0.0, 0.0]},
             "tables": [t(-2, [10, 1000, 63000, 1000, 10]), t(-1, [30000, 30000])]},
        ],
        "default_quality": 7, "metrics": {},
    }


# The hash of tiny_manifest() with encoder b"ENC" and decoder b"DECODER" (spec/model-bundle.md 5.4), as
# `aez models` printed it for that bundle (the Rust side checks no ONNX when it lists models).
TINY_V2_HASH = "3254054653b885ec5aa41ed9b8fa42d520de607a9ffeb1110df60142e7406f7b"


def explicit_v2_bytes(m, enc, dec) -> bytes:
    """The hash input of section 5.4 written out field by field, independently of bundle.py."""
    import struct

    b = b"AEZMODEL" + struct.pack("<I", 2)
    b += struct.pack("<I", 3) + struct.pack("<I", 1) + struct.pack("<I", 16) + struct.pack("<I", 16384)
    b += struct.pack("<I", 2) + struct.pack("<I", 1)
    b += struct.pack("<Q", len(enc)) + enc + struct.pack("<Q", len(dec)) + dec
    b += struct.pack("<I", 16) + struct.pack("<I", 2) + struct.pack("<I", 7)
    for lv in m["levels"]:
        b += struct.pack("<I", lv["quality"])
        for c in range(2):
            t = lv["tables"][c]
            b += struct.pack("<f", lv["quantizer"]["step"][c]) + struct.pack("<f", lv["quantizer"]["offset"][c])
            b += struct.pack("<i", t["min"]) + struct.pack("<I", len(t["freqs"]))
            b += b"".join(struct.pack("<H", f) for f in t["freqs"]) + struct.pack("<H", t["escape"])
    return b


def test_v2_hash_layout():
    import hashlib

    m = tiny_manifest()
    bundle.validate(m)
    got = bundle.hash_bundle(m, b"ENC", b"DECODER")
    assert got == hashlib.sha256(explicit_v2_bytes(m, b"ENC", b"DECODER")).hexdigest()
    assert got == TINY_V2_HASH
    # every hashed field changes the hash; name and metrics do not
    for path, v in [(("levels", 0, "quality"), 2), (("default_quality",), 1), (("latent", "channels"), 2),
                    (("input", "size", "stride"), 8), (("levels", 1, "quantizer", "step", 1), 1.5)]:
        mm = copy.deepcopy(m)
        d = mm
        for k in path[:-1]:
            d = d[k]
        if d[path[-1]] == v:
            continue
        d[path[-1]] = v
        assert bundle.hash_bundle(mm, b"ENC", b"DECODER") != got, path
    mm = copy.deepcopy(m)
    mm["name"], mm["metrics"] = "other", {"x": 1}
    assert bundle.hash_bundle(mm, b"ENC", b"DECODER") == got
    # a v1 input never equals a v2 one: version bytes differ
    assert explicit_v2_bytes(m, b"", b"")[8:12] == b"\x02\x00\x00\x00"


def test_v2_validate_refuses():
    for bad in (lambda m: m.update(latent_dim=2), lambda m: m["levels"][1].update(quality=1),
                lambda m: m.update(default_quality=3), lambda m: m["input"]["size"].update(stride=12),
                lambda m: m["levels"][0]["tables"][0].update(escape=2),
                lambda m: m["levels"][0]["quantizer"]["step"].append(1.0), lambda m: m.update(tensor_layout="flat")):
        m = tiny_manifest()
        bad(m)
        with pytest.raises((AssertionError, KeyError)):
            bundle.validate(m)


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    torch.manual_seed(0)
    cfg = ConvConfig(**FAMILIES["tiny"].to_dict())
    m = ConvCodec(cfg)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    x = torch.rand(4, 3, 32, 32)
    for it in range(3):
        lvl = (torch.arange(4) + it) % cfg.levels
        x_hat, b = m(x, lvl)
        loss = (torch.tensor(cfg.lams)[lvl] * 255**2 * ((x_hat - x) ** 2).mean((1, 2, 3)) + b / 1024).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    lat = conv_ship.encode(m, [x])
    levels = []
    for level in range(cfg.levels):
        step, offset, t = conv_ship.fit_level(m, lat, level)
        levels.append({"quality": 2 * level + 1, "step": step, "offset": offset, "tables": t})
    root = tmp_path_factory.mktemp("models")
    out = root / "tiny-conv"
    man = bundle.write_bundle_v2(out, name="tiny-conv", description="test", architecture=cfg.arch(),
                                 encoder=m.encoder, decoder=m.decoder, in_ch=3, latent_channels=cfg.m,
                                 stride=cfg.stride, max_side=cfg.max_side, levels=levels,
                                 default_quality=levels[-1]["quality"], metrics={}, dataset="random")
    return m, x, levels, root, out, man


def test_tiny_conv_bundle_round_trip(tiny_bundle):
    m, x, levels, root, out, man = tiny_bundle
    assert bundle.verify(out) == man["hash"].removeprefix("sha256:")
    assert bundle.load_manifest(out) == json.loads(json.dumps(man))
    # the measured rate is finite and the training latents are all inside their tables
    per = conv_ship.measure(m, [x], conv_ship.encode(m, [x]), levels[0]["step"], levels[0]["offset"],
                            levels[0]["tables"])
    assert all(np.isfinite(p[1]) and p[3] == 0 for p in per)


def test_tiny_conv_onnx_matches_pytorch_non_square(tiny_bundle):
    m, x, levels, root, out, man = tiny_bundle
    chk = conv_ship.onnx_check(m, out, [x], levels[0]["step"], levels[0]["offset"])
    r = chk["random_37x53"]
    assert r["shape"] == [2, 3, 40, 56] and r["latent_shape"] == [2, m.cfg.m, 10, 14]
    assert r["latent_max_abs_diff"] < 1e-4 and r["pixels_max_abs_diff"] < 1e-4
    assert r["symbols_equal"] > 0.999
    assert pad_to(torch.zeros(1, 3, 37, 53), 4).shape[-2:] == (40, 56)


def test_rust_reads_the_v2_bundles(tiny_bundle, tmp_path):
    """The Rust side accepts both bundles and computes the same hashes (needs a built aez binary)."""
    if aez_binary() is None:
        pytest.skip("no aez binary (cargo build --release)")
    m, x, levels, root, out, man = tiny_bundle
    assert rust_hashes(root)["tiny-conv"] == man["hash"]
    hand = tmp_path / "tiny-v2"
    hand.mkdir()
    man2 = tiny_manifest()
    man2["hash"] = "sha256:" + TINY_V2_HASH
    (hand / "encoder.onnx").write_bytes(b"ENC")
    (hand / "decoder.onnx").write_bytes(b"DECODER")
    (hand / "model.json").write_text(json.dumps(man2))
    assert rust_hashes(tmp_path)["tiny-v2"] == man2["hash"]


def test_fixed_size_flat_v2_bundle(tmp_path):
    """A dense (fixed-size) family model exports as a version-2 bundle of a fixed size with flat tensors,
    which onnxruntime runs like PyTorch and the Rust side hashes alike."""
    torch.manual_seed(0)
    cfg = ConvConfig("t", 1, 0, 4, [], [0.001, 0.01], dense=[16], size=8)
    m = ConvCodec(cfg).eval()
    x = torch.rand(5, 1, 8, 8)
    y = m.encoder(x)
    assert y.shape == (5, 4, 1, 1) and m.hard(x, 1)[1].shape == x.shape
    levels = []
    for level in range(2):
        step = m.steps(level)
        offset = np.zeros_like(step)
        q = tables.quantize(y.detach().numpy().reshape(5, 4), step, offset)
        levels.append({"quality": level + 1, "step": step, "offset": offset, "tables": tables.fit_tables(q)})
    out = tmp_path / "tiny-dense"
    man = bundle.write_bundle_v2(out, name="tiny-dense", description="test", architecture=cfg.arch(),
                                 encoder=m.encoder, decoder=m.decoder, in_ch=1, latent_channels=4, stride=1,
                                 max_side=0, levels=levels, default_quality=2, metrics={}, dataset="random",
                                 fixed=(8, 8))
    assert man["input"]["size"] == {"kind": "fixed", "width": 8, "height": 8}
    assert man["tensor_layout"] == "flat"
    assert bundle.verify(out) == man["hash"].removeprefix("sha256:")
    enc, dec = bundle.onnx_session(out / "encoder.onnx"), bundle.onnx_session(out / "decoder.onnx")
    z = enc.run(["latent"], {"pixels": x.reshape(5, 64).numpy()})[0]
    assert z.shape == (5, 4) and np.abs(z - y.detach().numpy().reshape(5, 4)).max() < 1e-5
    p = dec.run(["pixels"], {"latent": z})[0]
    assert p.shape == (5, 64)
    chk = conv_ship.onnx_check(m, out, [x], levels[1]["step"], levels[1]["offset"])
    assert set(chk) == {"test"} and chk["test"]["symbols_equal"] > 0.999
    if aez_binary() is not None:
        assert rust_hashes(tmp_path)["tiny-dense"] == man["hash"]


def test_rewrap_keeps_the_version_1_model_as_its_default_level(tmp_path):
    """rewrap.py: the version-1 default model as a version-2 bundle; its default level is the original
    quantizer and measures as the original (needs the Fashion-MNIST files)."""
    from aez_train import data, rewrap

    if not (data.default_data_dir() / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("no Fashion-MNIST data")
    src = ROOT / "models" / "fmnist-ld64e3d3"
    out = tmp_path / "v2"
    res = tmp_path / "res.json"
    assert rewrap.main(["--bundle", str(src), "--name", "t-v2", "--out", str(out), "--scales", "2,1,0.5",
                        "--results", str(res)]) == 0
    man = bundle.load_manifest(out)
    v1 = bundle.load_manifest(src)
    assert man["bundle_version"] == 2 and man["default_quality"] == 2 and len(man["levels"]) == 3
    assert man["levels"][1]["quantizer"]["step"] == v1["quantizer"]["step"]
    assert (out / "encoder.onnx").read_bytes() == (src / "encoder.onnx").read_bytes()
    r = json.loads(res.read_text())["levels"]
    assert abs(r[1]["test"]["psnr_of_mean_mse"] - v1["metrics"]["test_psnr_db"]) < 0.01
    assert r[0]["test"]["bytes_per_image"] < r[1]["test"]["bytes_per_image"] < r[2]["test"]["bytes_per_image"]
