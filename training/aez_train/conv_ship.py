"""Export of a trained convolutional model (conv_train.py) as a version-2 bundle, with its measurements.

    python3 -m aez_train.conv_ship --run runs/conv-gray  --name gray-conv  --out ../models/gray-conv
    python3 -m aez_train.conv_ship --run runs/conv-photo --name photo-conv --out ../models/photo-conv
    python3 -m aez_train.conv_ship --run runs/conv-gray-long --name fmnist-conv --out ../models/fmnist-conv \
        --fixed-size 28

--fixed-size S exports a fully convolutional model at one size S x S as a fixed-size bundle with flat tensors
(spec/model-bundle.md), whose latent is every channel at every position (C x S/stride x S/stride values, channel
major) with a table of its own: a factorized prior has one table per channel for all positions, which cannot
use what a fixed layout knows (Fashion-MNIST's objects are centred and its borders empty); per-position tables
fitted on the same training latents code the same symbols 7-12% smaller there.

Per level l: the quantizer is step[c] = 1 / g_l[c], offset 0; the integer tables (tables.py) are fitted to
the quantized latents of the TRAINING images at that level (gray: the 55,000 train images; photo: BSDS500
train + val, whole images cropped to a multiple of the stride). Measured per level, with the codec's
arithmetic (float32 quantizer, rounding half away from zero, decoded samples round(clamp(x, 0, 1) * 255)):
PSNR and the IDEAL rate (sum of -log2 of the table probabilities, escapes at 16 raw bits) on validation
(gray: the last 5,000 train images; photo: BSDS500 test) and test (gray: t10k; photo: Kodak, reported only).
Then the exported ONNX is checked against PyTorch through onnxruntime (test images and a random 37x53
image padded to the stride). Writes <run>/ship.json; --results appends a section to results/conv.md."""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import photos
from .bundle import onnx_session, verify, write_bundle_v2
from .conv import ConvCodec, ConvConfig, Flat, pad_to
from .tables import bits, dequantize, fit_tables, quantize


def psnr(mse):
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


def u8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0, 1) * 255 + 0.5)


def load_run(run: Path) -> ConvCodec:
    ck = torch.load(Path(run) / "best.pt", map_location="cpu", weights_only=False)
    m = ConvCodec(ConvConfig(**ck["config"]))
    m.load_state_dict(ck["model"])
    m.eval()
    return m, ck.get("it")


class _FixedCfg:
    """The configuration a fixed-size run of a convolutional model presents to the export: flat tensors (as
    the dense family), one latent per channel and position."""

    def __init__(self, cfg, size):
        if size % cfg.stride:
            raise ValueError(f"--fixed-size {size} is not a multiple of the model's stride {cfg.stride}")
        self.base, self.size, self.side = cfg, size, size // cfg.stride
        self.dense = True  # flat tensors: [N, pixels] -> [N, latents] and back
        self.in_ch, self.lams, self.stride, self.max_side = cfg.in_ch, cfg.lams, cfg.stride, 0
        self.levels = cfg.levels
        self.m = cfg.m * self.side * self.side

    def arch(self) -> str:
        return f"{self.base.arch()}-at{self.size}x{self.size}-table-per-position"

    def to_dict(self):
        return {**self.base.to_dict(), "fixed_size": self.size}


class FromFlat(torch.nn.Module):
    """The flat tensor layout's pixels (spec/model-bundle.md: [N, H*W*C], row-major over row, column and
    channel) as NCHW; an NCHW tensor (what this module's own measurements feed) passes unchanged."""

    def __init__(self, c, h, w):
        super().__init__()
        self.c, self.h, self.w = c, h, w

    def forward(self, x):
        if x.dim() == 4:
            return x
        return x.reshape(x.shape[0], self.h, self.w, self.c).permute(0, 3, 1, 2)


def to_flat(x):
    """NCHW -> the flat layout [N, H*W*C] (channel last)."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class FixedSize:
    """A trained ConvCodec run at one size S x S, as a fixed-size model whose K = C * (S/stride)^2 latents
    (channel major, as the flat layout stores them) each get their own table; the networks are the
    convolutional ones with reshapes around them."""

    def __init__(self, m: ConvCodec, size: int):
        self.conv, self.cfg = m, _FixedCfg(m.cfg, size)
        c, s = m.cfg.m, self.cfg.side
        self.encoder = torch.nn.Sequential(FromFlat(m.cfg.in_ch, size, size), m.encoder, Flat(self.cfg.m, 1, 1)).eval()
        self.decoder = torch.nn.Sequential(Flat(c, s, s), m.decoder).eval()

    def steps(self, level):
        """Each channel's step at every one of its positions (channel major)."""
        return np.repeat(self.conv.steps(level), self.cfg.side * self.cfg.side)


def rows(z: np.ndarray) -> np.ndarray:
    """[n, C, h, w] -> [n*h*w, C]: one row per latent position, a column per channel."""
    return z.transpose(0, 2, 3, 1).reshape(-1, z.shape[1])


@torch.no_grad()
def encode(m, batches):
    """Latents (float32 numpy) of a list of float NCHW tensors (images of one size per tensor), each padded
    to the stride as the codec pads (edges repeated at the bottom and right)."""
    return [m.encoder(pad_to(x, m.cfg.stride)).numpy() for x in batches]


def fit_level(m, lat_train, level):
    step = m.steps(level)
    offset = np.zeros_like(step)
    q = np.concatenate([quantize(rows(z), step, offset) for z in lat_train])
    return step, offset, fit_tables(q)


@torch.no_grad()
def measure(m, batches, lats, step, offset, tables):
    """Per image: (mse, bits, pixels); decoded as the codec does."""
    out = []
    for x, z in zip(batches, lats):
        n, c, h, w = z.shape
        q = quantize(rows(z), step, offset)
        b = bits(q, tables).reshape(n, h * w).sum(1)
        esc = sum(int(((q[:, d] < t["min"]) | (q[:, d] >= t["min"] + len(t["freqs"]))).sum())
                  for d, t in enumerate(tables))
        zq = dequantize(q, step, offset).reshape(n, h, w, c).transpose(0, 3, 1, 2)
        y = m.decoder(torch.from_numpy(np.ascontiguousarray(zq))).numpy()
        H, W = x.shape[2:]
        se = ((u8(y[:, :, :H, :W]) - u8(x.numpy())) / 255.0) ** 2
        for i in range(n):
            out.append((float(se[i].mean()), float(b[i]), H * W, esc))
    return out


def summarize(per, gray):
    mse = np.array([p[0] for p in per])
    b = np.array([p[1] for p in per])
    px = np.array([p[2] for p in per])
    return {"images": len(per), "psnr_of_mean_mse": psnr(float(mse.mean())),
            "mean_psnr": float(np.mean([psnr(v) for v in mse])), "bytes_per_image": float(b.mean() / 8),
            "bpp": float(b.sum() / px.sum()), "escapes": int(sum(p[3] for p in per) // max(1, len(per)))}


def data_for(cfg, limit=None):
    """(train batches, val batches, test batches, names) as float NCHW tensors."""
    if cfg.in_ch == 1:
        from .data import load_splits

        d = load_splits(limit=limit)

        def t(a):
            x = torch.from_numpy(a).float().div_(255).view(-1, 1, 28, 28)
            return [x[i : i + 2000] for i in range(0, len(x), 2000)]

        return t(d["train"]), t(d["val"]), t(d["test"]), {"val": "FMNIST val (last 5,000 train)",
                                                            "test": "FMNIST t10k"}
    s = cfg.stride
    tr = [photos.to_tensor(photos.crop_to_multiple(im, s)) for im in photos.bsds(["train", "val"], limit)]
    va = [photos.to_tensor(photos.crop_to_multiple(im, s)) for im in photos.bsds(["test"], limit)[:50]]
    te = [photos.to_tensor(im) for im in photos.kodak()[0]]
    return tr, va, te, {"val": "BSDS500 test, first 50 (cropped to a multiple of 16)", "test": "Kodak (24)"}


@torch.no_grad()
def onnx_check(m, out: Path, test_batches, step, offset):
    """Max |latent| difference ORT vs PyTorch, fraction of equal symbols, and max pixel difference after
    decoding the same symbols; on the first test batch and on a random 37x53 image padded to the stride."""
    enc, dec = onnx_session(out / "encoder.onnx"), onnx_session(out / "decoder.onnx")
    g = torch.Generator().manual_seed(1)
    cases = [("test", test_batches[0][:64])]
    if not m.cfg.dense:  # a fixed-size model takes only its size
        cases.append(("random_37x53", pad_to(torch.rand(2, m.cfg.in_ch, 37, 53, generator=g), m.cfg.stride)))
    res = {}
    for tag, x in cases:
        z_t = m.encoder(x).numpy()
        xin = to_flat(x) if m.cfg.dense else x
        z_o = enc.run(["latent"], {"pixels": xin.numpy()})[0].reshape(z_t.shape)
        n, c, h, w = z_t.shape
        q_t, q_o = quantize(rows(z_t), step, offset), quantize(rows(z_o), step, offset)
        zq = np.ascontiguousarray(dequantize(q_t, step, offset).reshape(n, h, w, c).transpose(0, 3, 1, 2))
        y_t = m.decoder(torch.from_numpy(zq)).numpy()
        zin = zq.reshape(n, -1) if m.cfg.dense else zq
        y_o = dec.run(["pixels"], {"latent": zin})[0]
        if m.cfg.dense:  # flat: [N, H*W*C] channel last
            n_, c_, h_, w_ = y_t.shape
            y_o = y_o.reshape(n_, h_, w_, c_).transpose(0, 3, 1, 2)
        res[tag] = {"shape": list(x.shape), "latent_shape": list(z_o.shape),
                    "latent_max_abs_diff": float(np.abs(z_t - z_o).max()),
                    "symbols_equal": float((q_t == q_o).mean()),
                    "pixels_max_abs_diff": float(np.abs(y_t - y_o).max()),
                    "u8_samples_differing": float((u8(y_t) != u8(y_o)).mean())}
    return res


def export(m, *, name, out, tr, va, te, names, it, description, dataset, sel, first_quality, default_level=-1,
           default_psnr=0.0, log=None):
    """Fits each selected level's tables on the training latents, measures validation and test (te: None
    for none), writes and verifies the bundle in `out` and checks its ONNX networks on the first test (or
    validation) batch: (manifest, per-level rows, onnx check). log(line) gets the lines (default: print)."""
    log = log or (lambda line: print(line, flush=True))
    cfg = m.cfg
    gray = cfg.in_ch == 1
    splits = ("val", "test") if te else ("val",)
    lat = {"train": encode(m, tr), "val": encode(m, va), "test": encode(m, te) if te else []}
    levels, table = [], []
    q0 = first_quality
    for i, level in enumerate(sel):
        lam = cfg.lams[level]
        step, offset, tables = fit_level(m, lat["train"], level)
        row = {"quality": q0 + i, "lam": lam, "model_level": level + 1}
        for split, batches in (("val", va), ("test", te))[: len(splits)]:
            row[split] = summarize(measure(m, batches, lat[split], step, offset, tables), gray)
        levels.append({"quality": q0 + i, "step": step, "offset": offset, "tables": tables})
        table.append(row)
        log(f"quality {q0 + i} (level {level + 1}) lam {lam}: " + " | ".join(
            f"{s} {row[s]['psnr_of_mean_mse' if gray else 'mean_psnr']:.2f} dB "
            f"{row[s]['bytes_per_image']:.2f} B {row[s]['bpp']:.4f} bpp esc {row[s]['escapes']}"
            for s in splits))
    dl = default_level if default_level >= 0 else len(levels) // 2
    if default_psnr:  # chosen on validation: the first (cheapest) level at or above the PSNR
        key = "psnr_of_mean_mse" if gray else "mean_psnr"
        dl = next((i for i, r in enumerate(table) if r["val"][key] >= default_psnr), len(levels) - 1)
    metrics = {"iterations": it,
               "levels": [{"quality": r["quality"], "lam": r["lam"], **{k: r[k] for k in splits}} for r in table],
               "splits": names}
    man = write_bundle_v2(out, name=name, description=description, architecture=cfg.arch(), encoder=m.encoder,
                          decoder=m.decoder, in_ch=cfg.in_ch, latent_channels=cfg.m, stride=cfg.stride,
                          max_side=cfg.max_side, levels=levels, default_quality=levels[dl]["quality"],
                          metrics=metrics, dataset=dataset,
                          fixed=(cfg.size, cfg.size) if cfg.dense else None)
    verify(out)
    chk = onnx_check(m, out, te or va, levels[dl]["step"], levels[dl]["offset"])
    log("onnx check: " + json.dumps(chk))
    return man, table, chk


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True, help="bundle folder")
    ap.add_argument("--default-level", type=int, default=-1, help="level index of default_quality")
    ap.add_argument("--default-psnr", type=float, default=0.0,
                    help="default level: the cheapest with validation PSNR at or above this")
    ap.add_argument("--fixed-size", type=int, default=0,
                    help="export at this one size (S x S) with a table per latent position (see above)")
    ap.add_argument("--levels", default="", help="export only the model's levels A-B (1-based, inclusive)")
    ap.add_argument("--first-quality", type=int, default=0,
                    help="the quality number of the first exported level (default: its level number)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    m, it = load_run(Path(a.run))
    if a.fixed_size:
        if m.cfg.dense:
            raise SystemExit("--fixed-size is for convolutional models; a dense model has its size already")
        m = FixedSize(m, a.fixed_size)
    tr, va, te, names = data_for(m.cfg, a.limit or None)
    gray = m.cfg.in_ch == 1
    sel = list(range(len(m.cfg.lams)))
    if a.levels:
        lo, hi = (int(v) for v in a.levels.split("-"))
        if not 1 <= lo <= hi <= len(m.cfg.lams):
            raise SystemExit(f"--levels {a.levels}: the model has levels 1-{len(m.cfg.lams)}")
        sel = list(range(lo - 1, hi))
    run_json = json.loads((Path(a.run) / "config.json").read_text()) if (Path(a.run) / "config.json").exists() else {}
    kind = f"{m.cfg.size}x{m.cfg.size} dense" if m.cfg.dense else "fully convolutional"
    if a.fixed_size:
        kind = f"convolutional, run at {m.cfg.size}x{m.cfg.size} with a table per latent position,"
    desc = (f"{'Gray' if gray else 'RGB'} {kind} codec ({m.cfg.arch()}), factorized prior, "
            f"{len(sel)} quality levels by gain vectors; trained on "
            f"{'Fashion-MNIST' if gray else 'BSDS500 train+val crops'}")
    out = Path(a.out)
    man, table, chk = export(m, name=a.name, out=out, tr=tr, va=va, te=te, names=names, it=it, description=desc,
                             dataset="fashion-mnist" if gray else "bsds500", sel=sel,
                             first_quality=a.first_quality or sel[0] + 1, default_level=a.default_level,
                             default_psnr=a.default_psnr)
    cfg = m.cfg
    size = sum(p.stat().st_size for p in out.iterdir())
    res = {"bundle": str(out), "name": a.name, "hash": man["hash"], "bytes": size, "iterations": it,
           "config": cfg.to_dict(), "train_args": run_json.get("args"), "levels": table, "onnx_check": chk,
           "splits": names, "seconds": time.time() - t0}
    (Path(a.run) / "ship.json").write_text(json.dumps(res, indent=1))
    print(f"{out}: {size} bytes, {man['hash']} ({time.time() - t0:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
