"""Exports a trained hyperprior run (hyper_train.py) as a model bundle with a `hyper` section
(spec/model-bundle.md section 6), and measures it as the codec codes it.

    python3 -m aez_train.hyper_ship --run runs/hyper-photo --name photo-hyper --out ../models/photo-hyper

Per level: the latent's quantizer is 1/gain (as conv_ship); the hyper-latent's tables are fitted to the
quantized hyper-latents of the training images (BSDS500 train+val, whole, cropped to a multiple of 16); every
latent element is coded with the scale table its integer hyper-synthesis index chooses (computed here
exactly as the codec computes it, in int64). Measured: BSDS500 test (first 50, validation) and Kodak (test),
bits of both parts from the integer tables, PSNR through the exported ONNX networks' PyTorch originals."""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import conv_ship
from .bundle import pack, verify, write_bundle_v2
from .conv import pad_to
from .hyper import SHIFT, HyperCodec, int_synthesis, scale_tables
from .tables import bits, fit_tables, quantize


def load(run: Path):
    c = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    cfg = conv_ship.ConvConfig(**c["config"])
    w = c["model"]["hyper_analysis.4.weight"]  # [Z, hidden, 5, 5]
    m = HyperCodec(cfg, zc=w.shape[0], hidden=w.shape[1])
    m.load_state_dict(c["model"])
    return m.eval(), c.get("it")


def synthesis_layers(m):
    return [layer.integers() for layer in m.hyper_synthesis.layers]


def quantize_nchw(y, step):
    """The codec's symbols of latents y [n, C, h, w] with a step per channel (offset 0), [n, C, h, w]."""
    n, c, h, w = y.shape
    return quantize(conv_ship.rows(y), step, np.zeros_like(step)).reshape(n, h, w, c).transpose(0, 3, 1, 2)


@torch.no_grad()
def hyper_latent(m, q):
    """z_hat (int32 [n, Z, ceil(h/4), ceil(w/4)]) of quantized latents q (int [n, C, h, w])."""
    z = m.hyper(torch.from_numpy(np.abs(q).astype(np.float32))).numpy()
    return quantize_nchw(z, np.ones(z.shape[1], np.float32))


def table_bits(values, idx, tables):
    """Bits of each value under tables[idx] (flat arrays), escapes as the codec codes them."""
    out = np.zeros(values.shape)
    for k in np.unique(idx):
        sel = idx == k
        out[sel] = bits(values[sel][:, None], [tables[int(k)]])
    return out


@torch.no_grad()
def measure(m, images, step, z_tables, s_tables, layers):
    """Per image: (mse, bits, pixels, z bits)."""
    out = []
    st = torch.from_numpy(step)[None, :, None, None]
    for x in images:
        H, W = x.shape[2:]
        y = m.encoder(pad_to(x, m.cfg.stride)).numpy()
        h, w = y.shape[2:]
        q = quantize_nchw(y, step)
        zh = hyper_latent(m, q)
        idx = int_synthesis(layers, zh[0])[:, :h, :w]
        yb = table_bits(q[0].ravel(), idx.ravel(), s_tables).sum()
        zb = bits(conv_ship.rows(zh), z_tables).sum()
        x_hat = m.decoder(torch.from_numpy(q.astype(np.float32)) * st).numpy()[..., :H, :W]
        se = ((conv_ship.u8(x_hat) - conv_ship.u8(x.numpy())) / 255.0) ** 2
        out.append((float(se.mean()), float(yb + zb), H * W, float(zb)))
    return out


def summarize(per):
    row = conv_ship.summarize([(p[0], p[1], p[2], 0) for p in per], False)
    row.pop("escapes")
    row["hyper_bpp"] = float(sum(p[3] for p in per) / sum(p[2] for p in per))
    return row


def hyper_json(m, layers, z_tables, s_tables):
    ana = []
    convs = [l for l in m.hyper_analysis if isinstance(l, torch.nn.Conv2d)]
    for i, l in enumerate(convs):
        ana.append({"kernel": l.kernel_size[0], "stride": l.stride[0], "inputs": l.in_channels,
                    "outputs": l.out_channels, "relu": i < len(convs) - 1,
                    "weights": pack(l.weight.detach().numpy().ravel(), "f"),
                    "bias": pack(l.bias.detach().numpy().ravel(), "f")})
    # The weights packed (section 6.1): 4 bytes of base64 per 3 bytes of values, read ten times faster than
    # JSON numbers. The integers are checked to fit before packing.
    for w, b in layers:
        assert np.all(np.abs(w) <= 32767) and np.all(np.abs(b) < 2**31)
    syn = [{"upsample": i > 0, "inputs": int(w.shape[1]), "outputs": int(w.shape[0]),
            "weights": pack(w.ravel(), "h"), "bias": pack(b, "i")} for i, (w, b) in enumerate(layers)]
    return {"channels": m.zc, "analysis": ana, "synthesis": {"shift": SHIFT, "layers": syn},
            "scale_tables": s_tables, "levels": [{"tables": t} for t in z_tables]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--default-level", type=int, default=3, help="level index of default_quality")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    m, it = load(Path(a.run))
    cfg = m.cfg
    tr, va, te, names = conv_ship.data_for(cfg, a.limit or None)
    layers = synthesis_layers(m)
    s_tables = scale_tables()
    levels, z_tables, table = [], [], []
    with torch.no_grad():
        lat_tr = [m.encoder(pad_to(x, cfg.stride)).numpy() for x in tr]
    for level in range(cfg.levels):
        step = m.steps(level)
        zs = []
        for y in lat_tr:
            q = quantize_nchw(y, step)
            zs.append(conv_ship.rows(hyper_latent(m, q)))
        zt = fit_tables(np.concatenate(zs))
        z_tables.append(zt)
        row = {"quality": level + 1, "lam": cfg.lams[level]}
        for split, imgs in (("val", va), ("test", te)):
            row[split] = summarize(measure(m, imgs, step, zt, s_tables, layers))
        table.append(row)
        levels.append({"quality": level + 1, "step": step, "offset": np.zeros_like(step),
                       "tables": []})  # a hyperprior model's latent tables are hyper.scale_tables
        print(f"quality {level + 1}: " + " | ".join(
            f"{s} {row[s]['mean_psnr']:.2f} dB {row[s]['bpp']:.4f} bpp (hyper {row[s]['hyper_bpp']:.4f})"
            for s in ("val", "test")), flush=True)
    metrics = {"iterations": it, "levels": table, "splits": names}
    out = Path(a.out)
    desc = (f"RGB fully convolutional codec ({cfg.arch().replace('factorized', 'hyper')}) with a scale "
            f"hyperprior whose hyper-synthesis is an integer network, {cfg.levels} quality levels by gain "
            f"vectors; trained on BSDS500 train+val crops")
    hy = hyper_json(m, layers, z_tables, s_tables)
    man = write_bundle_v2(out, name=a.name, description=desc, architecture=cfg.arch().replace("factorized", "hyper"),
                          encoder=m.encoder, decoder=m.decoder, in_ch=cfg.in_ch, latent_channels=cfg.m,
                          stride=cfg.stride, max_side=cfg.max_side, levels=levels,
                          default_quality=levels[a.default_level]["quality"], metrics=metrics, dataset="bsds500",
                          hyper=hy)
    verify(out)
    size = sum(p.stat().st_size for p in out.iterdir())
    res = {"bundle": str(out), "name": a.name, "hash": man["hash"], "bytes": size, "iterations": it,
           "levels": table, "splits": names, "seconds": time.time() - t0}
    (Path(a.run) / "ship.json").write_text(json.dumps(res, indent=1))
    print(f"{out}: {size} bytes, {man['hash']} ({time.time() - t0:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
