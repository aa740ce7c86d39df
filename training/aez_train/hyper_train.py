"""Trains a scale-hyperprior photo model (hyper.py), resumably, starting from a trained factorized one.

    nice -n 19 python3 -m aez_train.hyper_train --base runs/conv-photo-long/best.pt --out runs/hyper-photo \\
        --budget-min 80

The loop, loss, validation, checkpoints and resumption are conv_train's (run): loss per sample
lam_l * 255^2 * MSE + bits / pixels, where bits are the latent's under the Gaussian of its table index plus
the hyper-latent's under its level's factorized density. A rerun with the same --out resumes; --base is read
only when --out has no progress.pt."""
import argparse
import json
import sys
import types
from pathlib import Path

import torch

from . import conv_train
from .conv import FAMILIES, ConvConfig
from .hyper import HIDDEN, HYPER_CH, HyperCodec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", help="a factorized run's best.pt to start from (a new run only)")
    ap.add_argument("--family", default="photo", choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=None, help="BSDS500 root")
    ap.add_argument("--z", type=int, default=HYPER_CH, help="hyper-latent channels")
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="hyper networks' hidden channels")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--budget-min", type=float, default=60.0)
    ap.add_argument("--max-iters", type=int, default=10**9)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--ckpt-min", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="tiny data subset (tests)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hyper-from", help="a hyperprior run's .pt whose hyper networks and densities start this one "
                                         "(a new run only)")
    ap.add_argument("--freeze-main", action="store_true",
                    help="train the hyperprior alone on the frozen encoder, decoder and gains (rate only)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    conv_train.ARGS = types.SimpleNamespace(crop=a.crop)
    cfg = ConvConfig(**FAMILIES[a.family].to_dict())
    if a.base and not (out / "progress.pt").exists():
        base = torch.load(a.base, map_location="cpu", weights_only=False)
        cfg = ConvConfig(**base["config"])
    sample, val, gen = conv_train.load_data(cfg, a.limit or None, a.data)

    def make():
        m = HyperCodec(cfg, zc=a.z, hidden=a.hidden)
        if a.freeze_main:
            m.freeze_main()
        return m

    extra = {"hyper": {"z": a.z, "hidden": a.hidden}, "batch": a.batch, "crop": a.crop, "base": a.base}
    model, opt, st, resumed = conv_train.start(cfg, out, device, a.lr, gen, extra, make=make)
    if resumed:
        print(f"resumed at iteration {st['it']} ({st['train_s'] / 60:.1f} min trained)", flush=True)
    elif a.base:
        n = model.load_base(base["model"])
        print(f"started from {a.base} (iteration {base.get('it')}): {n} tensors", flush=True)
        if a.hyper_from:
            src = torch.load(a.hyper_from, map_location="cpu", weights_only=False)
            n = model.take(src["model"], ("hyper_analysis", "hyper_synthesis", "z_priors"))
            print(f"hyper networks from {a.hyper_from} (iteration {src.get('it')}): {n} tensors", flush=True)
    (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "hyper": st["hyper"],
                                                  "args": vars(a)}, indent=1))
    print(f"hyperprior on {cfg.arch()}: {sum(p.numel() for p in model.parameters())} parameters, batch "
          f"{a.batch}, crop {a.crop}, lr {a.lr}, budget {a.budget_min} min, threads {a.threads}", flush=True)
    conv_train.run(model, opt, st, cfg, sample, val, gen, out, subset=list(range(cfg.levels)), batch=a.batch,
                   lr0=a.lr, eval_every=a.eval_every, budget_min=a.budget_min, max_iters=a.max_iters,
                   ckpt_min=a.ckpt_min, device=device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
