"""Training of many autoencoder jobs side by side.

A job is one run: an architecture, a stage and a recipe (see plan.py). On CUDA every job's whole training
step (forward, backward, Adam) is captured once as a CUDA graph and replayed on the job's own stream, so
dozens of batch-32 jobs share one GPU concurrently; on CPU the same steps run as a plain loop (the smoke
test and machines without a GPU). Both paths compute the same thing.

Stages:
- float: plain MSE autoencoder training (the study's recipe, or an improved one).
- rate:  fine-tunes a float model for rate-distortion: the decoder sees the latents rounded to integers
         (straight-through gradient), and a learned logistic-mixture prior estimates the bits of the rounded
         latents (with additive uniform noise as the differentiable proxy): loss = MSE + lam * bits/pixel.
- dec:   freezes encoder and prior, and fine-tunes the decoder on hard-rounded latents (what the codec sends).

Each job stops when its validation metric has not improved for `patience` epochs and keeps its best
epoch's weights. Progress is checkpointed so an interrupted run resumes (`--out` is the state)."""
import argparse
import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_splits
from .models import PIXELS, AutoEncoder
from .prior import LogisticMixturePrior


@dataclass
class JobSpec:
    id: str  # e.g. "study/LD32E3D3-relu"
    arch: str
    latent_act: str = "relu"
    stage: str = "float"  # float | rate | dec
    batch: int = 32
    lr: float = 1e-3
    max_epochs: int = 300
    patience: int = 10
    plateau: int = 0  # >0: halve the learning rate after this many epochs without improvement
    min_lr: float = 1e-5
    lam: float = 0.0  # rate weight (stage rate), in MSE units per bit per pixel
    init_from: str = ""  # job id whose best weights start this job
    seed: int = 0
    depends: list = field(default_factory=list)


def to_float(a: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(a).to(device=device, dtype=torch.float32) / 255.0


class Job:
    def __init__(self, spec: JobSpec, out: Path, X: dict, device):
        self.spec, self.device, self.X = spec, device, X
        self.dir = out / spec.id
        self.dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(spec.seed)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(1000 + spec.seed)
        self.model = AutoEncoder(spec.arch, spec.latent_act).to(device)
        self.prior = LogisticMixturePrior(self.model.latent_dim).to(device)
        if spec.init_from:
            st = torch.load(out / spec.init_from / "best.pt", map_location=device)
            self.model.load_state_dict(st["model"])
            if st.get("prior") is not None and spec.stage == "dec":
                self.prior.load_state_dict(st["prior"])
        if spec.stage == "rate" and not spec.init_from:
            raise ValueError(f"{spec.id}: stage rate needs init_from")
        if spec.stage == "rate":
            with torch.no_grad():
                self.prior.init_from(self.model.encoder(X["train"][:10000]))
        if spec.stage == "dec":
            params = list(self.model.decoder.parameters())
            for p in list(self.model.encoder.parameters()) + list(self.prior.parameters()):
                p.requires_grad_(False)
        elif spec.stage == "rate":
            params = list(self.model.parameters()) + list(self.prior.parameters())
        else:
            params = list(self.model.parameters())
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.lr_t = torch.tensor(spec.lr, device=device)
            self.opt = torch.optim.Adam(params, lr=self.lr_t, eps=1e-7, capturable=True)
        else:
            self.opt = torch.optim.Adam(params, lr=spec.lr, eps=1e-7)
        self.lr = spec.lr
        self.n = X["train"].shape[0]
        self.bs = min(spec.batch, self.n)
        self.steps = self.n // self.bs  # the remainder of each shuffled epoch is dropped (a different part each epoch)
        self.epoch, self.best, self.best_epoch, self.bad, self.history = 0, math.inf, 0, 0, []
        self.best_state = None
        self.done = False
        self.t0 = time.time()
        self._resume()

    # ----- the loss of one batch, identical on CPU and GPU -----
    def loss(self, x):
        s = self.spec
        if s.stage == "float":
            return F.mse_loss(self.model(x), x)
        y = self.model.encoder(x)
        y_q = y + (torch.round(y) - y).detach()  # straight-through rounding
        mse = F.mse_loss(self.model.decoder(y_q), x)
        if s.stage == "dec":
            return mse
        noisy = y + (torch.rand(y.shape, device=y.device) - 0.5)
        bpp = self.prior.bits(noisy).sum(1).mean() / PIXELS
        return mse + s.lam * bpp

    @torch.no_grad()
    def evaluate(self, X):
        """(mse, bits per image). For rate/dec stages the decoder sees rounded latents and bits come from
        the training prior (the integer tables' real rate is measured after export)."""
        self.model.eval()
        se, bits, n = 0.0, 0.0, X.shape[0]
        for i in range(0, n, 5000):
            x = X[i : i + 5000]
            if self.spec.stage == "float":
                se += F.mse_loss(self.model(x), x, reduction="sum").item()
            else:
                y = torch.round(self.model.encoder(x))
                se += F.mse_loss(self.model.decoder(y), x, reduction="sum").item()
                bits += self.prior.bits(y).sum().item()
        self.model.train()
        return se / (n * PIXELS), bits / n

    def val_metric(self):
        mse, bits = self.evaluate(self.X["val"])
        if self.spec.stage == "rate":
            return mse + self.spec.lam * bits / PIXELS, mse, bits
        return mse, mse, bits

    # ----- data per epoch -----
    def shuffled(self):
        perm = torch.randperm(self.n, device=self.device, generator=self.gen)[: self.steps * self.bs]
        return self.X["train"][perm].view(self.steps, self.bs, PIXELS)

    # ----- CUDA graph -----
    def capture(self):
        self.stream = torch.cuda.Stream()
        self.buf = self.shuffled().clone()
        self.ctr = torch.zeros(1, dtype=torch.long, device=self.device)
        self.loss_acc = torch.zeros((), device=self.device)
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            for _ in range(3):  # warm-up steps (allocations, Adam state); they are real training steps
                self.opt.zero_grad(set_to_none=True)
                loss = self.loss(self.buf.index_select(0, self.ctr).squeeze(0))
                loss.backward()
                self.opt.step()
        torch.cuda.current_stream().wait_stream(self.stream)
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph, stream=self.stream):
            loss = self.loss(self.buf.index_select(0, self.ctr).squeeze(0))
            loss.backward()
            self.opt.step()
            self.ctr.add_(1)
            self.loss_acc.add_(loss.detach())

    def start_epoch(self):
        if self.cuda:
            self.buf.copy_(self.shuffled())
            self.ctr.zero_()
            self.loss_acc.zero_()
        else:
            self.cpu_data = self.shuffled()
            self.cpu_loss = 0.0

    def step(self, i):
        if self.cuda:
            with torch.cuda.stream(self.stream):
                self.graph.replay()
        else:
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.cpu_data[i])
            loss.backward()
            self.opt.step()
            self.cpu_loss += loss.item()

    def end_epoch(self):
        train_loss = (self.loss_acc.item() if self.cuda else self.cpu_loss) / self.steps
        self.epoch += 1
        metric, mse, bits = self.val_metric()
        self.history.append({"epoch": self.epoch, "train_loss": train_loss, "val_metric": metric,
                             "val_mse": mse, "val_bits": bits, "lr": self.lr})
        if metric < self.best:
            self.best, self.best_epoch, self.bad = metric, self.epoch, 0
            self.best_state = self.state()
        else:
            self.bad += 1
            if self.spec.plateau and self.bad % self.spec.plateau == 0 and self.lr > self.spec.min_lr:
                self.set_lr(max(self.lr * 0.5, self.spec.min_lr))
        if self.bad >= self.spec.patience or self.epoch >= self.spec.max_epochs:
            self.finish()
        elif self.epoch % 10 == 0:
            self.checkpoint()

    def set_lr(self, lr):
        self.lr = lr
        if self.cuda:
            self.lr_t.fill_(lr)
        else:
            for g in self.opt.param_groups:
                g["lr"] = lr

    def state(self):
        return {"model": copy.deepcopy(self.model.state_dict()), "prior": copy.deepcopy(self.prior.state_dict())}

    def checkpoint(self):
        torch.save({"epoch": self.epoch, "best": self.best, "best_epoch": self.best_epoch, "bad": self.bad,
                    "history": self.history, "lr": self.lr, "best_state": self.best_state,
                    "cur": self.state(), "opt": self.opt.state_dict()}, self.dir / "progress.pt")

    def _resume(self):
        if (self.dir / "result.json").exists():
            self.done = True
            return
        p = self.dir / "progress.pt"
        if p.exists():
            ck = torch.load(p, map_location=self.device, weights_only=False)
            self.model.load_state_dict(ck["cur"]["model"])
            self.prior.load_state_dict(ck["cur"]["prior"])
            self.opt.load_state_dict(ck["opt"])
            self.epoch, self.best, self.best_epoch, self.bad = ck["epoch"], ck["best"], ck["best_epoch"], ck["bad"]
            self.history, self.best_state = ck["history"], ck["best_state"]
            self.set_lr(ck["lr"])
            print(f"{self.spec.id}: resumed at epoch {self.epoch}", flush=True)

    def finish(self):
        self.done = True
        self.model.load_state_dict(self.best_state["model"])
        self.prior.load_state_dict(self.best_state["prior"])
        torch.save(self.best_state, self.dir / "best.pt")
        X = self.X
        stage_float = self.spec.stage == "float"
        train_mse, _ = self.evaluate(X["train"])
        val_mse, val_bits = self.evaluate(X["val"])
        test_mse, test_bits = self.evaluate(X["test"])
        res = {"spec": asdict(self.spec), "best_epoch": self.best_epoch, "epochs_run": self.epoch,
               "train_mse": train_mse, "val_mse": val_mse, "test_mse": test_mse,
               "seconds": time.time() - self.t0, "history": self.history}
        if not stage_float:
            res.update({"val_bits_prior": val_bits, "test_bits_prior": test_bits})
        (self.dir / "result.json").write_text(json.dumps(res, indent=1))
        (self.dir / "progress.pt").unlink(missing_ok=True)
        print(f"{self.spec.id}: done, best epoch {self.best_epoch}/{self.epoch}, train {train_mse:.5f} "
              f"test {test_mse:.5f}" + ("" if stage_float else f" test bits {test_bits:.1f}")
              + f" ({res['seconds']:.0f}s)", flush=True)


def run_jobs(specs, out: Path, X: dict, device):
    """Runs all jobs of one phase in lockstep until each has stopped."""
    jobs = [Job(s, out, X, device) for s in specs]
    jobs = [j for j in jobs if not j.done]
    if not jobs:
        return
    if device.type == "cuda":
        for j in jobs:
            j.capture()
        torch.cuda.synchronize()
    t0 = time.time()
    while jobs:
        for j in jobs:
            j.start_epoch()
        if device.type == "cuda":
            torch.cuda.synchronize()
        steps = max(j.steps for j in jobs)
        for i in range(steps):
            for j in jobs:
                if i < j.steps:
                    j.step(i)
        if device.type == "cuda":
            torch.cuda.synchronize()
        for j in jobs:
            j.end_epoch()
        jobs = [j for j in jobs if not j.done]
        if jobs and (jobs[0].epoch % 10 == 0 or jobs[0].epoch <= 2):
            print(f"  [{time.time() - t0:.0f}s] {len(jobs)} jobs running, e.g. {jobs[0].spec.id} epoch "
                  f"{jobs[0].epoch} val {jobs[0].history[-1]['val_metric']:.5f}", flush=True)


def main(argv=None):
    from .plan import phases

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "runs"))
    ap.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX .gz files (or env AEZ_DATA)")
    ap.add_argument("--plan", default="full", help="full | smoke")
    ap.add_argument("--only", default="", help="comma-separated phase names to run")
    ap.add_argument("--limit", type=int, default=0, help="use only this many training images (smoke tests)")
    ap.add_argument("--val", type=int, default=5000, help="hold out the last N training images for validation")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    d = load_splits(a.data, limit=a.limit or None, n_val=a.val)
    X = {k: to_float(v, device) for k, v in d.items()}
    print(f"device {device}, train {len(d['train'])}, val {len(d['val'])}, test {len(d['test'])}", flush=True)
    for name, specs in phases(a.plan):
        if a.only and name not in a.only.split(","):
            continue
        print(f"phase {name}: {len(specs)} jobs", flush=True)
        t = time.time()
        run_jobs(specs, out, X, device)
        print(f"phase {name} finished in {time.time() - t:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
