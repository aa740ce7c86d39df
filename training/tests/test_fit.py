"""`aez-train fit` end to end on tiny folders (CPU, seconds): the model choice, the bundle, resuming, the
refusals and the errors that name the file, and that a failed export leaves no bundle behind."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

from aez_train import bundle, cli, conv_ship, fit  # noqa: E402


def gray_folder(d: Path, n=24, size=16):
    from PIL import Image

    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        a = (rng.random((size, size)) * 60 + np.linspace(0, 180, size)[None]).astype(np.uint8)
        Image.fromarray(a).save(d / f"{i:02d}.png")
    return d


def run(args):
    return cli.main(["fit"] + [str(a) for a in args])


def test_fit_small_gray_images_then_resume_and_refuse(tmp_path, capsys):
    data = gray_folder(tmp_path / "imgs")
    out = tmp_path / "model"
    assert run([data, "--out", out, "--iterations", "20", "--threads", "1", "--no-eval"]) == 0
    man = json.loads((out / "model.json").read_text())
    bundle.verify(out)
    # 24 16x16 gray images: trained whole, exported with per-channel tables (too few images for a table
    # per latent position, which needs PER_POSITION_MIN).
    assert man["input"]["size"]["kind"] == "any" and man["tensor_layout"] == "nchw"
    assert len(man["levels"]) == 12 and man["name"] == "model"
    text = capsys.readouterr().out
    assert "22 train, 2 held out" in text and "validation (held-out images)" in text
    state = json.loads((tmp_path / "model.train" / "fit.json").read_text())
    assert state["images"] == 24
    # The output exists: refused without --force; with it, the saved state resumes (20 iterations done).
    assert run([data, "--out", out, "--iterations", "20", "--no-eval"]) == 1
    assert "exists" in capsys.readouterr().err
    assert run([data, "--out", out, "--iterations", "20", "--no-eval", "--force"]) == 0
    assert "resuming" in capsys.readouterr().out
    # Other inputs against that state: refused without --force.
    more = gray_folder(tmp_path / "more", n=30)
    out2 = tmp_path / "model2"
    (tmp_path / "model2.train").mkdir()
    (tmp_path / "model2.train" / "fit.json").write_text(json.dumps({"fingerprint": "other"}))
    assert run([more, "--out", out2, "--iterations", "5", "--no-eval"]) == 1
    assert "other inputs" in capsys.readouterr().err


def test_errors_name_the_file(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run([empty, "--out", tmp_path / "m"]) == 1
    assert f"{empty}: no image files" in capsys.readouterr().err
    data = gray_folder(tmp_path / "imgs")
    good = (data / "03.png").read_bytes()
    (data / "03.png").write_bytes(good[: len(good) // 2])
    assert run([data, "--out", tmp_path / "m", "--iterations", "2", "--no-eval"]) == 1
    err = capsys.readouterr().err
    assert "03.png" in err and "--skip-bad" in err
    few = gray_folder(tmp_path / "few", n=5)
    assert run([few, "--out", tmp_path / "m"]) == 1
    assert "5 image(s) found; at least 20" in capsys.readouterr().err
    idx = tmp_path / "cut.idx"
    idx.write_bytes(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (4).to_bytes(4, "big") * 2 + bytes(100))
    assert run([idx, "--out", tmp_path / "m"]) == 1
    assert "cut.idx" in capsys.readouterr().err and not (tmp_path / "m").exists()
    # --skip-bad: the bad file is skipped and counted.
    assert run([data, "--out", tmp_path / "m", "--iterations", "2", "--no-eval", "--skip-bad"]) == 0
    assert "skipped 1 bad file" in capsys.readouterr().out


def test_a_failed_export_leaves_no_bundle(tmp_path, monkeypatch, capsys):
    data = gray_folder(tmp_path / "imgs")
    out = tmp_path / "model"

    def broken(m, *, out, **kw):
        out.mkdir(parents=True)
        (out / "encoder.onnx").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(conv_ship, "export", broken)
    with pytest.raises(RuntimeError):
        run([data, "--out", out, "--iterations", "3", "--threads", "1", "--no-eval"])
    assert not out.exists()
    assert not list(tmp_path.glob(".model.tmp-*"))


def test_colour_images_of_many_sizes_train_on_crops(tmp_path):
    from PIL import Image

    d = tmp_path / "rgb"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(2)
    for i in range(12):
        w, h = 40 + 3 * i, 30 + 2 * i
        a = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(d / ("sub" if i % 2 else ".") / f"{i}.png")
    out = tmp_path / "m"
    assert run([d, "--out", out, "--iterations", "2", "--threads", "1", "--no-eval"]) == 0
    man = json.loads((out / "model.json").read_text())
    assert man["input"]["channels"] == 3 and man["input"]["size"]["kind"] == "any"
    small = [np.zeros((64, 64, 3), np.uint8)]
    assert fit.plan(small * 20)["fixed"] == 0 and fit.plan(small * 20)["whole"] == 64
    assert fit.plan(small * 20, "per-position")["fixed"] == 64
    assert fit.plan([np.zeros((28, 28), np.uint8)] * 6000)["fixed"] == 28


def test_fixed_size_colour_bundles_take_the_flat_layout_channel_last(tmp_path):
    """A fixed-size RGB bundle's networks take and give [N, H*W*C] with the channel last (the flat layout
    of spec/model-bundle.md, which the codec feeds), not PyTorch's channel-major order."""
    import torch
    from PIL import Image

    from aez_train.bundle import onnx_session

    d = tmp_path / "rgb"
    d.mkdir()
    rng = np.random.default_rng(3)
    for i in range(20):
        a = np.clip(rng.normal(128, 40, (16, 16, 3)) + np.array([60, 0, -60]), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(d / f"{i}.png")
    out = tmp_path / "m"
    assert run([d, "--out", out, "--iterations", "3", "--threads", "1", "--no-eval", "--tables", "per-position"]) == 0
    man = json.loads((out / "model.json").read_text())
    assert man["input"]["size"] == {"kind": "fixed", "width": 16, "height": 16} and man["tensor_layout"] == "flat"
    m, _ = conv_ship.load_run(tmp_path / "m.train" / "run")
    fixed = conv_ship.FixedSize(m, 16)
    img = np.asarray(Image.open(d / "0.png"), dtype=np.float32) / 255  # [H, W, C]
    nchw = torch.from_numpy(img).permute(2, 0, 1)[None]
    with torch.no_grad():
        z = fixed.encoder(nchw).numpy().reshape(1, -1)
        y = fixed.decoder(torch.from_numpy(z)).numpy()  # [1, C, H, W]
    enc, dec = onnx_session(out / "encoder.onnx"), onnx_session(out / "decoder.onnx")
    z_o = enc.run(["latent"], {"pixels": img.reshape(1, -1)})[0]
    assert np.abs(z_o - z).max() < 1e-4
    y_o = dec.run(["pixels"], {"latent": z.astype(np.float32)})[0].reshape(1, 16, 16, 3)
    assert np.abs(y_o - y.transpose(0, 2, 3, 1)).max() < 1e-4
