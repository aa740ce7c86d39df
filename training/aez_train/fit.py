"""`aez-train fit`: a model for your own images in one command.

    aez-train fit INPUT... --out DIR [--minutes N] [--test INPUT...] [--name NAME] [--force] [--skip-bad]

INPUT: directories (searched recursively for the image files Pillow reads), IDX files (gzipped or not, 3
dimensions [n, rows, cols] gray, or 4 with 3 channels last), image files, or text files listing such paths
(one per line, relative to the list's folder; blank lines and lines starting with # are skipped).

What it does, in order:
1. Reads every image (gray if every image is gray, else RGB; alpha is not trained on: the codec keeps it
   losslessly). 16-bit samples are reduced to 8 bits as the codec reduces them (round(v / 257)).
2. Picks the model from the data: images of one size of at most 128 pixels train whole (photos with random
   flips and transposes); with at least 5,000 square ones the bundle is exported at that size with a table
   per latent position (like models/fmnist-conv), else with per-channel tables (--tables chooses); anything
   else trains on random 128x128 crops (edges repeated for smaller images) as a fully convolutional model
   for any size.
   Gray: the conv family of models/gray-conv (N=48, M=16, stride 4, 12 levels) for small images, N=64/M=64
   at stride 16 for large ones; RGB: N=64, M=96 at stride 16 with 6 levels (models/photo-conv's).
3. Splits the images deterministically (a permutation seeded 0 of the input order): 10% (at least 2, at
   most 5,000) are held out for validation; the model is chosen on them. --test INPUT... is reported only.
4. Trains for --minutes of training time (CPU, or CUDA when there is one; --device), with a progress bar on a
   terminal (elapsed, ETA, the validation PSNR and rate of the middle level). The training state lives in
   DIR.train/ beside DIR and is checkpointed every 2 minutes and on Ctrl-C: the same command rerun resumes
   it (a larger --minutes trains on). A run of other inputs or settings there is refused without --force.
5. Exports the bundle (integer tables fitted to the training latents, the ONNX networks checked against
   PyTorch) into a temporary folder renamed to DIR when complete: a killed run leaves no half-written bundle.
   DIR must not exist unless --force.
6. Reports the validation rate-distortion points, and runs `aez eval -m DIR` on the held-out images when an
   `aez` built with the `eval` feature is found (AEZ_BIN, then PATH).
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import conv_ship, conv_train, photos
from .conv import FAMILIES, GRAY_LAMS, ConvConfig

MIN_FIXED = 20  # images of one small size: 10% held out leaves 18 to train on
# A table per latent position is fitted on one symbol per training image, so it needs many images: on 450
# photo thumbnails (1,536 latents each) per-position tables coded the held-out images 3% larger than
# per-channel ones (16 positions x 450 images per table); on 55,000 MNIST digits they are far better.
PER_POSITION_MIN = 5000
MIN_CROPS = 10
SMALL_SIDE = 128
CROP = 128
LIST_EXTS = {".txt", ".lst", ".list"}


class FitError(Exception):
    """A problem with the input or the output folder, said in words that name the file."""


# ---------------------------------------------------------------------------------------------- reading


def _image_exts():
    from PIL import Image

    return {e.lower() for e in Image.registered_extensions()}


def _is_idx(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".idx", ".idx.gz")) or "-idx" in name or name.endswith("ubyte")


def read_idx(path: Path):
    """uint8 images of an IDX file: [n, rows, cols] (gray) or [n, rows, cols, 3]."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise FitError(f"{path}: gzip data is damaged ({e})") from None
    if len(raw) < 4 or raw[0] or raw[1]:
        raise FitError(f"{path}: not an IDX file (bytes 0-1 must be zero)")
    if raw[2] != 0x08:
        raise FitError(f"{path}: IDX type 0x{raw[2]:02x} at byte 2; only unsigned bytes (0x08) are images")
    dims = raw[3]
    if dims not in (3, 4):
        raise FitError(f"{path}: {dims} dimensions at byte 3; images are [n, rows, cols] (3) or with channels (4)")
    head = 4 + 4 * dims
    if len(raw) < head:
        raise FitError(f"{path}: {len(raw)} bytes, too short for its {head}-byte header")
    shape = struct.unpack(f">{dims}I", raw[4:head])
    if dims == 4 and shape[3] not in (1, 3):
        raise FitError(f"{path}: {shape[3]} channels (bytes 16-19); 1 or 3 are images")
    need = head + math.prod(shape)
    if len(raw) != need:
        per = math.prod(shape[1:])
        whole = (len(raw) - head) // per if per else 0
        raise FitError(f"{path}: {len(raw)} bytes, the header (shape {list(shape)}) says {need}: "
                       f"{'truncated in record ' + str(whole) if len(raw) < need else 'trailing bytes'}")
    a = np.frombuffer(raw, np.uint8, offset=head).reshape(shape)
    return a[..., 0] if dims == 4 and shape[3] == 1 else a


def read_image(path: Path):
    """uint8 [h, w] (gray) or [h, w, 3]."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                a = np.asarray(im, dtype=np.float64)
                hi = 65535.0 if a.max() > 255 or mode.startswith("I;16") else 255.0
                return np.floor(np.clip(a, 0, hi) * (255.0 / hi) + 0.5).astype(np.uint8)
            if mode in ("1", "L", "LA"):
                return np.asarray(im.convert("L"), dtype=np.uint8).copy()
            if mode == "P" and not _colour_palette(im):
                return np.asarray(im.convert("L"), dtype=np.uint8).copy()
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as e:
        raise FitError(f"{path}: cannot read it as an image ({e})") from None


def _colour_palette(im) -> bool:
    pal = im.getpalette() or []
    rgb = np.array(pal[: len(pal) // 3 * 3]).reshape(-1, 3)
    return bool(len(rgb)) and bool((rgb != rgb[:, :1]).any())


def expand(inputs, image_exts=None):
    """Paths of image and IDX files in `inputs` (directories recursively, in name order; lists read)."""
    image_exts = image_exts or _image_exts()
    out = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise FitError(f"{p}: no such file or directory")
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and (q.suffix.lower() in image_exts or _is_idx(q)))
            if not found:
                raise FitError(f"{p}: no image files in it (searched recursively for {len(image_exts)} "
                               f"extensions Pillow reads, and IDX files)")
            out += found
        elif p.suffix.lower() in LIST_EXTS:
            try:
                lines = p.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as e:
                raise FitError(f"{p}: cannot read it as a list of paths ({e})") from None
            listed = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
            if not listed:
                raise FitError(f"{p}: the list names no files")
            for i, ln in enumerate(listed):
                q = Path(ln) if Path(ln).is_absolute() else p.parent / ln
                if not q.exists():
                    raise FitError(f"{p}: line {i + 1}: {q}: no such file")
            out += expand([Path(ln) if Path(ln).is_absolute() else p.parent / ln for ln in listed], image_exts)
        else:
            out.append(p)
    return out


def load(inputs, skip_bad=False, log=print):
    """(images: list of uint8 arrays, names: list of str, skipped: list of str)."""
    images, names, skipped = [], [], []
    for p in expand(inputs):
        try:
            if _is_idx(p):
                a = read_idx(p)
                images += list(a)
                names += [f"{p}#{i}" for i in range(len(a))]
            else:
                images.append(read_image(p))
                names.append(str(p))
        except FitError as e:
            if not skip_bad:
                raise FitError(f"{e} (--skip-bad skips such files and counts them)") from None
            skipped.append(str(e))
    if skipped:
        log(f"skipped {len(skipped)} bad file(s) (--skip-bad), the first: {skipped[0]}")
    if not images:
        raise FitError("no images found in " + ", ".join(str(i) for i in inputs))
    return images, names, skipped


# ---------------------------------------------------------------------------------------------- the plan


def plan(images, tables="auto"):
    """What to train: {gray, fixed (export side, or 0 for an any-size bundle), whole (train on whole images
    of this side, or 0 for crops), cfg}. tables: auto (a table per latent position for small images of one
    square size when there are at least PER_POSITION_MIN of them), per-position, or per-channel."""
    gray = all(a.ndim == 2 for a in images)
    sizes = {a.shape[:2] for a in images}
    (h, w), = sizes if len(sizes) == 1 else ((0, 0),)
    small = len(sizes) == 1 and max(h, w) <= SMALL_SIDE
    fixed = h if small and h == w else 0
    if gray and small:
        base = FAMILIES["gray"]
        cfg = ConvConfig("fit-gray", 1, base.n, base.m, list(base.strides), list(GRAY_LAMS), max_side=4096)
    elif gray:
        p = FAMILIES["photo"]
        cfg = ConvConfig("fit-gray-any", 1, 64, 64, list(p.strides), list(p.lams))
    else:
        p = FAMILIES["photo"]
        cfg = ConvConfig("fit-rgb" if small else "fit-rgb-any", 3, p.n, p.m, list(p.strides), list(p.lams))
    whole = max(h, w) if small else 0  # small images of one size train whole
    if fixed and (fixed % cfg.stride or tables == "per-channel" or
                  (tables == "auto" and len(images) * 0.9 < PER_POSITION_MIN)):
        fixed = 0  # trained whole, exported for any size with per-channel tables
    need = MIN_FIXED if whole else MIN_CROPS
    if len(images) < need:
        raise FitError(f"{len(images)} image(s) found; at least {need} are needed to train "
                       f"(10% are held out to choose the model)")
    return {"gray": gray, "fixed": fixed, "whole": whole, "size": [h, w] if whole else None, "cfg": cfg}


def split(n, seed=0):
    """(train indices, validation indices): a seeded permutation, 10% (2..5,000) held out."""
    n_val = min(5000, max(2, round(n * 0.1)))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fingerprint(images, p, extra):
    h = hashlib.sha256()
    h.update(json.dumps({"plan": {k: v for k, v in p.items() if k != "cfg"}, "cfg": p["cfg"].to_dict(),
                         **extra}, sort_keys=True).encode())
    for a in images:
        h.update(struct.pack("<III", *(list(a.shape) + [1])[:3]))
        h.update(a.tobytes())
    return h.hexdigest()


def stack(images, idx, chunk=2000):
    """Same-size images -> float NCHW batches."""
    out = []
    for i in range(0, len(idx), chunk):
        a = np.stack([images[j] for j in idx[i : i + chunk]])
        t = torch.from_numpy(a).float().div_(255)
        out.append(t[:, None] if a.ndim == 3 else t.permute(0, 3, 1, 2))
    return out


def whole_images(images, idx, stride, limit=300, max_side=512):
    """Images of any size for table fitting and measuring: each one alone, centre-cropped to at most
    max_side and to a multiple of the stride (at least one stride, edges repeated for smaller ones)."""
    from .conv import pad_to

    out = []
    for j in idx[:limit]:
        t = photos.to_tensor(images[j])
        h, w = t.shape[-2:]
        ch, cw = min(h, max_side), min(w, max_side)
        top, left = (h - ch) // 2, (w - cw) // 2
        t = t[..., top : top + ch, left : left + cw]
        ch, cw = max(stride, ch - ch % stride), max(stride, cw - cw % stride)
        t = pad_to(t, stride)[..., :ch, :cw]
        out.append(t)
    return out


# ---------------------------------------------------------------------------------------------- progress


class Progress:
    """One line on a terminal, redrawn at most 4 times a second: a bar of training time, elapsed, ETA,
    iteration and the latest validation PSNR and rate of the middle level. Elsewhere (a log file, a pipe)
    the same line once per validation."""

    def __init__(self, budget_s, gray_fixed, stream=sys.stderr):
        self.budget_s, self.gray_fixed, self.stream = budget_s, gray_fixed, stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.last_val = None

    @staticmethod
    def clock(s):
        s = int(max(0, s))
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"

    def line(self, st, val):
        done = min(1.0, st["train_s"] / self.budget_s) if self.budget_s else 1.0
        bar = "#" * int(done * 24) + "." * (24 - int(done * 24))
        v = ""
        if val:
            mid = val[len(val) // 2]
            rate = f"{mid['bytes_per_image']:.1f} B/image" if self.gray_fixed else f"{mid['bpp']:.3f} bpp"
            v = f", val q{mid['level'] + 1} {mid['psnr']:.2f} dB {rate}"
        return (f"[{bar}] {done * 100:3.0f}% {self.clock(st['train_s'])} elapsed, ETA "
                f"{self.clock(self.budget_s - st['train_s'])}, it {st['it']}{v}")

    def __call__(self, st, val):
        if not self.tty:
            if val is not None and val is not self.last_val:
                self.last_val = val
                self.stream.write(self.line(st, val) + "\n")
                self.stream.flush()
            return
        if time.time() - self.last < 0.25:
            return
        self.last = time.time()
        self.stream.write("\r" + self.line(st, val)[:160] + "\033[K")
        self.stream.flush()

    def done(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------- the run


def find_aez():
    for cand in (os.environ.get("AEZ_BIN"), shutil.which("aez")):
        if cand and Path(cand).is_file():
            return cand
    return None


def write_heldout(images, idx, names, p, folder: Path):
    """The held-out images as aez eval reads them: one IDX file for gray images of one size, else PNGs
    (or links to the original files) in a folder. Returns the path to give aez eval."""
    from PIL import Image

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if p["gray"] and p["whole"]:
        a = np.stack([images[j] for j in idx])
        path = folder / "heldout.idx"
        path.write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, *a.shape) + a.tobytes())
        return path
    for k, j in enumerate(idx):
        src = Path(names[j])
        if "#" not in names[j] and src.suffix.lower() == ".png":
            os.symlink(src.resolve(), folder / f"{k:06d}.png")
        else:
            Image.fromarray(images[j]).save(folder / f"{k:06d}.png")
    return folder


def report(rows, gray_fixed, log):
    log("validation (held-out images), as exported:")
    log(f"  {'quality':>7} {'PSNR dB':>8} {'B/image':>9} {'bpp':>7}")
    for r in rows:
        v = r["val"]
        psnr = v["psnr_of_mean_mse"] if gray_fixed else v["mean_psnr"]
        log(f"  {r['quality']:>7} {psnr:>8.2f} {v['bytes_per_image']:>9.2f} {v['bpp']:>7.4f}")
    log("  (rates: the tables' ideal code lengths of the latents; `aez eval` measures whole files)")


def fit(a, log=print):
    out = Path(a.out)
    work = out.parent / f"{out.name}.train"
    if out.exists() and not a.force:
        raise FitError(f"{out}: exists (a bundle of an earlier run?); --force replaces it when the new one is ready")
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    t0 = time.time()
    images, names, skipped = load(a.inputs, a.skip_bad, log)
    p = plan(images, a.tables)
    cfg = p["cfg"]
    tr_idx, va_idx = split(len(images))
    test = load(a.test, a.skip_bad, log) if a.test else None
    kind = (f"{p['size'][1]}x{p['size'][0]} images whole" if p["whole"] else f"random {CROP}x{CROP} crops")
    log(f"{len(images)} {'gray' if p['gray'] else 'RGB'} images ({len(tr_idx)} train, {len(va_idx)} held out"
        f"{f', {len(test[0])} test' if test else ''}; read in {time.time() - t0:.1f} s): {cfg.arch()} on {kind}"
        + (f", exported at {p['fixed']}x{p['fixed']} with a table per latent position" if p["fixed"] else ""))
    if test:
        tg = all(x.ndim == 2 for x in test[0])
        if tg != p["gray"]:
            raise FitError(f"--test: its images are {'gray' if tg else 'colour'}, the training images "
                           f"{'gray' if p['gray'] else 'colour'}")
        if p["fixed"] and {x.shape for x in test[0]} != {images[0].shape}:
            raise FitError(f"--test: the model takes {p['fixed']}x{p['fixed']} images only; the test images differ")

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    torch.set_num_threads(a.threads)
    fp = fingerprint(images, p, {"batch": a.batch, "tables": a.tables})
    work.mkdir(parents=True, exist_ok=True)
    run_dir = work / "run"
    meta = work / "fit.json"
    if meta.exists() and json.loads(meta.read_text()).get("fingerprint") != fp:
        if not a.force:
            raise FitError(f"{work}: holds the training state of other inputs or settings; remove it, or "
                           f"--force to start over")
        shutil.rmtree(run_dir, ignore_errors=True)
    meta.write_text(json.dumps({"fingerprint": fp, "inputs": [str(i) for i in a.inputs], "images": len(images),
                                "plan": {k: v for k, v in p.items() if k != "cfg"}, "config": cfg.to_dict()},
                               indent=1))
    run_dir.mkdir(exist_ok=True)
    logf = open(work / "train.log", "a")

    def tlog(line):
        logf.write(line + "\n")
        logf.flush()
        if a.verbose:
            log(line)

    gen = np.random.default_rng(0)
    if p["whole"]:
        batch = a.batch or (64 if p["gray"] else 16)
        tr_all = stack(images, tr_idx)
        tr_t = torch.cat(tr_all)

        # Photos: random flips, and transposes of square ones (the 8 symmetries of a square), against
        # overfitting a small collection; gray collections (digits, scans) keep their orientation.
        flip = not p["gray"]
        square = tr_t.shape[-1] == tr_t.shape[-2]

        def sample(b):
            x = tr_t[torch.from_numpy(gen.integers(len(tr_t), size=b))]
            if flip:
                for dim, ok in ((-1, True), (-2, True), (None, square)):
                    if not ok:
                        continue
                    m = torch.from_numpy(gen.random(b) < 0.5)[:, None, None, None]
                    x = torch.where(m, x.transpose(-1, -2) if dim is None else x.flip(dim), x)
            return x

        val = stack(images, va_idx[:2000], chunk=500)
    else:
        batch = a.batch or 16
        sampler = photos.CropSampler(images, CROP, gen, idx=tr_idx)
        sample = sampler.batch
        val = [torch.cat(x) for x in _chunks([_center(images[j], CROP) for j in va_idx[:48]], 8)]
    lr0 = 1e-3 if p["gray"] and p["whole"] else 5e-4
    model, opt, st, resumed = conv_train.start(cfg, run_dir, device, lr0, gen, {"batch": batch})
    if resumed:
        log(f"resuming {work} at iteration {st['it']} ({st['train_s'] / 60:.1f} of {a.minutes:g} min trained)")
    log(f"training on {device} ({a.threads} threads) for {a.minutes:g} min; state in {work}")
    budget = a.minutes * 60
    bar = Progress(budget, p["gray"] and p["whole"])
    eval_every = a.eval_every or (2000 if p["whole"] and p["gray"] else 500)
    try:
        interrupted = conv_train.run(model, opt, st, cfg, sample, val, gen, run_dir, subset=list(range(cfg.levels)),
                                     batch=batch, lr0=lr0, eval_every=eval_every, budget_min=a.minutes,
                                     max_iters=a.iterations or 10**9, ckpt_min=2.0, device=device, log=tlog,
                                     progress=bar)
    finally:
        bar.done()
    if interrupted or (run_dir / "STOP").exists():
        raise FitError(f"interrupted at iteration {st['it']}; the state is saved in {work}: rerun the same "
                       f"command to resume")
    log(f"trained {st['it']} iterations in {st['train_s'] / 60:.1f} min; best validation at {st['best_it']}")

    m, it = conv_ship.load_run(run_dir)
    m = m.to("cpu")
    if p["fixed"]:
        m = conv_ship.FixedSize(m, p["fixed"])
    if p["whole"]:
        tr_b, va_b = stack(images, tr_idx), stack(images, va_idx)
        te_b = stack(test[0], np.arange(len(test[0]))) if test else None
    else:
        tr_b = whole_images(images, tr_idx, cfg.stride)
        va_b = whole_images(images, va_idx, cfg.stride)
        te_b = whole_images(test[0], np.arange(len(test[0])), cfg.stride) if test else None
    name = a.name or out.name
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    desc = (f"{'Gray' if p['gray'] else 'RGB'} model trained by aez-train fit on {len(tr_idx)} images of "
            f"{', '.join(str(i) for i in a.inputs)} ({kind}; {cfg.arch()}), {it} iterations")
    try:
        man, rows, chk = conv_ship.export(
            m, name=name, out=tmp, tr=tr_b, va=va_b, te=te_b, it=it, description=desc, dataset=name,
            names={"val": f"{len(va_idx)} held-out images", **({"test": "--test"} if test else {})},
            sel=list(range(cfg.levels)), first_quality=1, log=tlog)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        tmp.rename(out)
        if old:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    (work / "export.json").write_text(json.dumps({"hash": man["hash"], "levels": rows, "onnx_check": chk},
                                                 indent=1))
    log(f"wrote {out} ({man['hash'][:19]}..., {sum(f.stat().st_size for f in out.iterdir()) / 1e6:.2f} MB, "
        f"{len(rows)} quality levels 1-{len(rows)}, default {man['default_quality']}) in "
        f"{(time.time() - t0) / 60:.1f} min")
    report(rows, p["gray"] and p["whole"], log)
    held = write_heldout(*((test[0], np.arange(len(test[0])), test[1]) if test else (images, va_idx, names)),
                         p, work / "heldout")
    exe = find_aez()
    cmd = ["aez", "eval", "-m", str(out), str(held)]
    if exe is None or a.no_eval:
        log(f"compare with PNG, JPEG, WebP and AVIF: {' '.join(cmd)}   (aez built with --features eval)")
        return 0
    log(f"$ {' '.join(cmd)}")
    r = subprocess.run([exe] + cmd[1:], text=True, capture_output=True)
    if r.returncode != 0:
        log(f"aez eval failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
        return 0
    log(r.stdout.rstrip())
    return 0


def _center(im, size):
    """The centre size x size crop of an image as float NCHW, edges repeated where it is smaller."""
    return photos.to_tensor(photos.pad_edges(photos.center_crop(im, size), size))


def _chunks(xs, n):
    return [xs[i : i + n] for i in range(0, len(xs), n)]


def add_args(ap):
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image folders, IDX files, images, or lists of paths")
    ap.add_argument("--out", required=True, metavar="DIR", help="the bundle folder to write (must not exist)")
    ap.add_argument("--minutes", type=float, default=30.0, help="training time (default 30)")
    ap.add_argument("--test", nargs="+", metavar="INPUT", help="test images, reported only (never chosen on)")
    ap.add_argument("--name", help="the model's name (default: the folder's name)")
    ap.add_argument("--force", action="store_true", help="replace DIR, and start over on a run of other inputs")
    ap.add_argument("--skip-bad", action="store_true", help="skip unreadable or truncated files (counted)")
    ap.add_argument("--device", default="auto", help="auto (CUDA if there is one), cpu or cuda")
    ap.add_argument("--threads", type=int, default=min(16, os.cpu_count() or 1), help="CPU threads")
    ap.add_argument("--tables", choices=["auto", "per-position", "per-channel"], default="auto",
                    help="small images of one square size: a table per latent position (auto: with at least "
                         f"{PER_POSITION_MIN} images) or per channel")
    ap.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--iterations", type=int, default=0, help="stop after this many iterations (tests)")
    ap.add_argument("--eval-every", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--no-eval", action="store_true", help="do not run aez eval at the end")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the training log lines too")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="aez-train fit", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    add_args(ap)
    a = ap.parse_args(argv)
    try:
        return fit(a, log=lambda line: print(line, flush=True))
    except FitError as e:
        print(f"aez-train: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
