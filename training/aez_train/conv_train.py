"""Trains one variable-rate convolutional model (conv.py) of a family, resumably, on CPU or GPU.

    nice -n 19 python3 -m aez_train.conv_train --family gray  --out runs/conv-gray  --budget-min 60
    nice -n 19 python3 -m aez_train.conv_train --family photo --out runs/conv-photo --budget-min 75

Loss per sample: lam_l * 255^2 * MSE + bits / pixels, the sample's level l drawn in turn (every level in
every batch). Adam, gradient clip 1.0; the learning rate drops 10x after 80% of the budget (training time
or iterations, whichever comes first). Validation (hard rounding, u8 pixels, the training density's bits)
every --eval-every iterations; the best mean validation loss over the levels is kept as best.pt. State is
checkpointed to progress.pt every --ckpt-min minutes and on SIGTERM/SIGINT or a STOP file in --out, so a
rerun with the same --out resumes. Progress goes to stdout (run it under nohup with a log file).

--levels A-B trains (and validates) only the levels A..B (qualities, 1-based), for example to specialize a
copy of a trained run on its high levels; the first run with a new subset starts a new best."""
import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .conv import FAMILIES, ConvCodec, ConvConfig


def psnr(mse):
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


def u8(x):
    return torch.floor(torch.clamp(x, 0, 1) * 255 + 0.5)


def load_data(cfg: ConvConfig, limit=None, data=None):
    """Returns (sample(b) -> float batch, validation list of float NCHW tensors)."""
    if cfg.in_ch == 1:
        from .data import load_splits

        d = load_splits(data, limit=limit)
        tr = torch.from_numpy(d["train"]).float().div_(255).view(-1, 1, 28, 28)
        va = torch.from_numpy(d["val"]).float().div_(255).view(-1, 1, 28, 28)
        gen = torch.Generator().manual_seed(0)

        def sample(b):
            return tr[torch.randint(len(tr), (b,), generator=gen)]

        return sample, [va[i : i + 1000] for i in range(0, len(va), 1000)], gen
    from . import photos

    imgs = photos.bsds(["train", "val"], limit=limit, root=data)
    test = photos.bsds(["test"], limit=limit or 48, root=data)[:48]
    gen = np.random.default_rng(0)
    sampler = photos.CropSampler(imgs, ARGS.crop, gen)
    val = [torch.cat([photos.to_tensor(photos.center_crop(im, 256)) for im in test[i : i + 8]])
           for i in range(0, len(test), 8)]
    return sampler.batch, val, gen


@torch.no_grad()
def validate(model, val, device, levels=None):
    model.eval()
    cfg = model.cfg
    per = []
    for level, lam in enumerate(cfg.lams):
        if levels is not None and level not in levels:
            continue
        se, bits, px, n = 0.0, 0.0, 0, 0
        for x in val:
            x = x.to(device)
            _, x_hat, b = model.hard(x, level)
            se += float(((u8(x_hat) - u8(x)) ** 2).sum()) / 255.0**2
            bits += float(b.sum())
            px += x.shape[0] * x.shape[2] * x.shape[3]
            n += x.shape[0]
        mse = se / (px * cfg.in_ch)
        per.append({"level": level, "lam": lam, "mse": mse, "psnr": psnr(mse), "bpp": bits / px,
                    "bytes_per_image": bits / 8 / n, "loss": lam * 255**2 * mse + bits / px})
    model.train()
    return float(np.mean([p["loss"] for p in per])), per


def run(model, opt, st, cfg, sample, val, gen, out, *, subset, batch, lr0, eval_every, budget_min, max_iters,
        ckpt_min, device, log=None, progress=None):
    """The training loop of main() (and of `aez-train fit`): trains until budget_min minutes of training
    time or max_iters iterations, a signal or a STOP file; checkpoints to out/progress.pt, keeps
    out/best.pt. log(line) gets the progress lines (default: print); progress(st, last_val), if given, is
    called after every iteration (last_val: the latest validation rows, or None)."""
    gray = cfg.in_ch == 1
    log = log or (lambda line: print(line, flush=True))
    ck = out / "progress.pt"
    last = {"val": st["history"][-1]["levels"] if st["history"] else None}

    def save():
        g = gen.get_state() if isinstance(gen, torch.Generator) else gen.bit_generator.state
        tmp = out / "progress.pt.tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": st, "gen": g,
                    "torch_rng": torch.get_rng_state()}, tmp)
        tmp.replace(ck)

    stop = {"now": False}

    def on_signal(sig, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def evaluate():
        v, per = validate(model, val, device, set(subset))
        st["history"].append({"it": st["it"], "train_s": st["train_s"], "val": v, "levels": per})
        best = v < st["best"]
        if best:
            st["best"], st["best_it"] = v, st["it"]
            torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "it": st["it"]}, out / "best.pt")
        log(f"VAL it {st['it']}: {v:.4f}{' best' if best else ''} | " + " ".join(
            f"{p['psnr']:.2f}dB/{p['bytes_per_image' if gray else 'bpp']:.3f}" for p in per))
        last["val"] = per

    lams = torch.tensor(cfg.lams, device=device)
    subset_t = torch.tensor(subset, device=device)
    budget_s = budget_min * 60
    last_ck, t_log, loss_acc, bpp_acc, mse_acc, n_acc = time.time(), time.time(), 0.0, 0.0, 0.0, 0
    while st["it"] < max_iters and st["train_s"] < budget_s and not stop["now"]:
        if (out / "STOP").exists():
            break
        t0 = time.time()
        late = st["train_s"] > 0.8 * budget_s or st["it"] > 0.8 * max_iters
        lr = lr0 * (0.1 if late else 1.0)
        if lr != st["lr"]:
            log(f"iteration {st['it']}: lr {st['lr']} -> {lr}")
            st["lr"] = lr
        for g_ in opt.param_groups:
            g_["lr"] = lr
        x = sample(batch).to(device)
        lvl = subset_t[(torch.arange(batch, device=device) + st["it"]) % len(subset)]
        x_hat, bits = model(x, lvl)
        px = x.shape[2] * x.shape[3]
        mse = ((x_hat - x) ** 2).mean((1, 2, 3))
        bpp = bits / px
        loss = (lams[lvl] * 255**2 * mse + bpp).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        st["it"] += 1
        st["train_s"] += time.time() - t0
        loss_acc += float(loss.detach())
        bpp_acc += float(bpp.detach().mean())
        mse_acc += float(mse.detach().mean())
        n_acc += 1
        if st["it"] % 100 == 0:
            log(f"it {st['it']} [{st['train_s'] / 60:.1f} min, {n_acc / (time.time() - t_log):.2f} it/s] "
                f"loss {loss_acc / n_acc:.4f} bpp {bpp_acc / n_acc:.4f} psnr(mean mse) "
                f"{psnr(mse_acc / n_acc):.2f}")
            t_log, loss_acc, bpp_acc, mse_acc, n_acc = time.time(), 0.0, 0.0, 0.0, 0
        if progress:
            progress(st, last["val"])
        if st["it"] % eval_every == 0:
            evaluate()
        if time.time() - last_ck > ckpt_min * 60:
            save()
            last_ck = time.time()
    if not stop["now"] and (not st["history"] or st["history"][-1]["it"] != st["it"]):
        evaluate()  # the last iteration too (after the learning-rate drop it is often the best)
    save()
    if not (out / "best.pt").exists():
        torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "it": st["it"]}, out / "best.pt")
    log(f"stopped at iteration {st['it']} ({st['train_s'] / 60:.1f} min trained), best val "
        f"{st['best']:.4f} at {st['best_it']}")
    return stop["now"]


def start(cfg, out, device, lr0, gen, extra, make=None):
    """A new model (`make()`, default a ConvCodec of cfg), its optimizer (of the parameters that train) and
    state, or those of out/progress.pt (and the sampler's generator state) when it exists:
    (model, opt, st, resumed)."""
    torch.manual_seed(0)
    model = (make or (lambda: ConvCodec(cfg)))().to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr0)
    st = {"it": 0, "train_s": 0.0, "best": math.inf, "best_it": 0, "history": [], "lr": lr0,
          "config": cfg.to_dict(), **extra}
    ck = out / "progress.pt"
    if not ck.exists():
        return model, opt, st, False
    c = torch.load(ck, map_location=device, weights_only=False)
    model.load_state_dict(c["model"])
    opt.load_state_dict(c["opt"])
    st = c["state"]
    if isinstance(gen, torch.Generator):
        gen.set_state(c["gen"])
    else:
        gen.bit_generator.state = c["gen"]
    torch.set_rng_state(c["torch_rng"])
    return model, opt, st, True


ARGS = None


def main(argv=None):
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=None, help="Fashion-MNIST folder (gray) or BSDS500 root (photo)")
    ap.add_argument("--n", type=int, default=0, help="override hidden channels")
    ap.add_argument("--m", type=int, default=0, help="override latent channels")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.0)
    ap.add_argument("--budget-min", type=float, default=60.0, help="training minutes (lr drop at 80%%)")
    ap.add_argument("--max-iters", type=int, default=10**9)
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--ckpt-min", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="tiny data subset (tests)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--levels", default="", help="train only these levels, A-B (1-based, inclusive)")
    a = ARGS = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    gray = FAMILIES[a.family].in_ch == 1
    cfg = ConvConfig(**FAMILIES[a.family].to_dict())
    if a.n:
        cfg.n = a.n
    if a.m:
        cfg.m = a.m
    batch = a.batch or (64 if gray else 16)
    lr0 = a.lr or (1e-3 if gray else 5e-4)
    eval_every = a.eval_every or (500 if gray else 250)

    sample, val, gen = load_data(cfg, a.limit or None, a.data)
    model, opt, st, resumed = start(cfg, out, device, lr0, gen, {"batch": batch, "crop": None if gray else a.crop})
    if resumed:
        print(f"resumed at iteration {st['it']} ({st['train_s'] / 60:.1f} min trained)", flush=True)
    subset = list(range(cfg.levels))
    if a.levels:
        lo, hi = (int(v) for v in a.levels.split("-"))
        if not 1 <= lo <= hi <= cfg.levels:
            raise SystemExit(f"--levels {a.levels}: the model has levels 1-{cfg.levels}")
        subset = list(range(lo - 1, hi))
    if st.get("levels", list(range(cfg.levels))) != subset:
        print(f"levels {[i + 1 for i in subset]}: a new best from here (was {st['best']:.4f} over "
              f"{len(st.get('levels', range(cfg.levels)))} levels)", flush=True)
        st["best"], st["levels"] = math.inf, subset
    else:
        (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "args": vars(a)}, indent=1))
    print(f"{cfg.arch()} family {a.family}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"batch {batch}, lr {lr0}, budget {a.budget_min} min, threads {a.threads}", flush=True)

    run(model, opt, st, cfg, sample, val, gen, out, subset=subset, batch=batch, lr0=lr0, eval_every=eval_every,
        budget_min=a.budget_min, max_iters=a.max_iters, ckpt_min=a.ckpt_min, device=device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
