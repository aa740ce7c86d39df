"""Table sets: a fixed-size flat bundle whose levels code each image with the best of K sets of tables.

    python3 -m aez_train.sets --bundle ../models/fmnist-conv --name fmnist-conv-sets \
        --out ../models/fmnist-conv-sets --sets 64

Why: one table per latent codes every image with the statistics of all images. Fashion-MNIST's garments
differ in shape (a sandal has nothing where a shirt has its sleeves), so the latent of one image is far
more predictable once its kind is known. Here each level gets K sets of per-latent tables; the encoder
codes each image with the set that gives it the fewest bits and writes the set's index first (with the
level's `choice` table): a discrete side channel of log2(K) bits at most, chosen by the encoder, so the
decoder only reads an integer (spec/model-bundle.md section 7; aez-format.md 11.5).

Fitting (the train split only: the first 55,000 Fashion-MNIST training images): the quantized latents of
each level are clustered by k-means on the latents, then by hard EM on code length (assign each image the
set that codes it shortest, refit each set's smoothed distributions), and the integer tables are fitted
and the images re-assigned with the exact integer costs the codec uses. Validation (the last 5,000)
chooses K and the smoothing; t10k (test) is reported. The networks and quantizers are the bundle's own,
unchanged, so the decoded pixels are the source bundle's and only the rate changes."""
import argparse
import base64
import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .bundle import load_manifest, onnx_session, verify, write_bundle_v2
from .data import load_splits
from .rewrap import psnr
from .tables import ESCAPE_RAW_BITS, MAX_SYMBOLS, TOTAL, bits, normalize_counts, quantize

ESCAPE = 1  # the escape frequency of every table
ESCAPE_BITS = -math.log2(ESCAPE / TOTAL) + ESCAPE_RAW_BITS


def pack_tables(tables) -> str:
    """Tables as spec section 7's packed string: per table i16 min, u16 len, u16 escape, u16 freqs."""
    out = bytearray()
    for t in tables:
        out += struct.pack("<hHH", t["min"], len(t["freqs"]), t["escape"])
        out += struct.pack(f"<{len(t['freqs'])}H", *t["freqs"])
    return base64.b64encode(bytes(out)).decode("ascii")


def unpack_tables(s: str) -> list:
    raw, tables, i = base64.b64decode(s, validate=True), [], 0
    while i < len(raw):
        lo, n, esc = struct.unpack_from("<hHH", raw, i)
        i += 6
        tables.append({"min": lo, "freqs": list(struct.unpack_from(f"<{n}H", raw, i)), "escape": esc})
        i += 2 * n
    return tables


class Grid:
    """Each latent's value range over the train split, as flat indices into one array of all ranges."""

    def __init__(self, q_train: np.ndarray):
        self.lo, self.hi = q_train.min(0), q_train.max(0)
        if int((self.hi - self.lo).max()) + 1 > MAX_SYMBOLS:
            raise ValueError("a latent's range is wider than a table")
        self.size = (self.hi - self.lo + 1).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.size)[:-1]])
        self.cells = int(self.size.sum())

    def flat(self, q: np.ndarray):
        """Flat indices of q [n, C] (clipped into range) and the mask of values outside it."""
        out = (q < self.lo) | (q > self.hi)
        return torch.from_numpy(self.start + np.clip(q, self.lo, self.hi) - self.lo), out


def counts(grid: Grid, idx: torch.Tensor, assign: np.ndarray, k: int) -> np.ndarray:
    """[K, cells] histogram of each set's images."""
    a = torch.from_numpy(assign).long()[:, None] * grid.cells + idx
    return torch.bincount(a.reshape(-1), minlength=k * grid.cells).reshape(k, grid.cells).double().numpy()


def smoothed_cost(grid: Grid, c: np.ndarray, alpha: float) -> torch.Tensor:
    """-log2 of each set's distribution per latent: its counts plus alpha times the all-images one."""
    glob = c.sum(0)
    seg = np.repeat(np.arange(len(grid.size)), grid.size)
    gnorm = glob / np.bincount(seg, weights=glob)[seg]
    p = c + alpha * gnorm[None, :] + 1e-9  # a value no train image has inside the range: rare, not impossible
    p = p / np.stack([np.bincount(seg, weights=row)[seg] for row in p])
    return torch.from_numpy(-np.log2(p)).float()


def costs(cost: torch.Tensor, idx: torch.Tensor, extra=None, chunk=1000) -> torch.Tensor:
    """[n, K] bits of every image under every set."""
    out = []
    for i in range(0, len(idx), chunk):
        out.append(cost[:, idx[i : i + chunk]].sum(-1).T)
    out = torch.cat(out).double()
    return out if extra is None else out + extra


def kmeans(y: np.ndarray, k: int, iters: int, seed: int = 0) -> np.ndarray:
    """Plain k-means (k-means++ seeding) on rows of y; the assignment."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(y.astype(np.float32))
    centers = [x[rng.integers(len(x))]]
    d = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = (d / d.sum()).double().numpy()
        centers.append(x[rng.choice(len(x), p=p / p.sum())])
        d = torch.minimum(d, ((x - centers[-1]) ** 2).sum(1))
    c = torch.stack(centers)
    for _ in range(iters):
        a = torch.cdist(x, c).argmin(1)
        for j in range(k):
            m = a == j
            if m.any():
                c[j] = x[m].mean(0)
    return torch.cdist(x, c).argmin(1).numpy()


def integer_tables(grid: Grid, c: np.ndarray, alpha: float, trim: float):
    """Each set's integer table per latent (spec section 2's rules), over the latent's train range trimmed
    to the values whose smoothed share is at least `trim` (the rest escape), and their exact costs [K, cells]
    (a value outside a table's range costs the escape's bits plus 16)."""
    k = c.shape[0]
    glob = c.sum(0)
    tables, cost = [], np.full((k, grid.cells), ESCAPE_BITS + 30.0)
    for s in range(k):
        for d in range(len(grid.size)):
            a, n = grid.start[d], grid.size[d]
            g = glob[a : a + n] / glob[a : a + n].sum()
            p = c[s, a : a + n] + alpha * g
            p = p / p.sum()
            keep = np.nonzero(p >= trim)[0]
            lo, hi = (int(keep[0]), int(keep[-1])) if len(keep) else (int(p.argmax()),) * 2
            freqs = normalize_counts(p[lo : hi + 1], TOTAL - ESCAPE)
            tables.append({"min": int(grid.lo[d]) + lo, "freqs": [int(f) for f in freqs], "escape": ESCAPE})
            row = np.full(n, ESCAPE_BITS)
            row[lo : hi + 1] = -np.log2(freqs / TOTAL)
            cost[s, a : a + n] = row
    return tables, torch.from_numpy(cost).float()


def choice_table(assign: np.ndarray, k: int):
    freqs = normalize_counts(np.bincount(assign, minlength=k) + 1.0, TOTAL - ESCAPE)
    return {"min": 0, "freqs": [int(f) for f in freqs], "escape": ESCAPE}, -np.log2(freqs / TOTAL)


def image_bits(cost, idx, outside, choice_bits):
    """Each image's best set and its bits (set index included); outside-range values as escapes."""
    b = costs(cost, idx, torch.from_numpy(choice_bits)[None, :])
    best = b.argmin(1)
    return best.numpy(), (b.gather(1, best[:, None])[:, 0]).numpy() + outside_extra(cost, idx, outside, best)


def outside_extra(cost, idx, outside, best):
    """Bits to add for values outside the train range: the escape instead of the clipped cell's cost."""
    if not outside.any():
        return np.zeros(len(idx))
    rows, cols = np.nonzero(outside)
    cells = idx[rows, cols]
    charged = cost[best[rows], cells].double().numpy()
    extra = np.zeros(len(idx))
    np.add.at(extra, rows, ESCAPE_BITS - charged)
    return extra


def fit_level(q_tr, k, alpha, trim, em_iters, log):
    grid = Grid(q_tr)
    i_tr, _ = grid.flat(q_tr)
    assign = kmeans(q_tr.astype(np.float32), k, 15) if k > 1 else np.zeros(len(q_tr), np.int64)
    for it in range(em_iters):
        c = counts(grid, i_tr, assign, k)
        new = costs(smoothed_cost(grid, c, alpha), i_tr).argmin(1).numpy()
        moved = int((new != assign).sum())
        assign = new
        log(f"    EM {it + 1}: {moved} images changed set")
        if moved == 0:
            break
    # Integer tables; then re-assign with their exact costs and refit, twice.
    for _ in range(2):
        c = counts(grid, i_tr, assign, k)
        tables, cost = integer_tables(grid, c, alpha, trim)
        choice, choice_bits = choice_table(assign, k)
        assign, _ = image_bits(cost, i_tr, np.zeros_like(q_tr, bool), choice_bits)
    c = counts(grid, i_tr, assign, k)
    tables, cost = integer_tables(grid, c, alpha, trim)
    choice, choice_bits = choice_table(assign, k)
    return grid, tables, cost, choice, choice_bits


def ideal_bits(grid, cost, choice_bits, q):
    idx, outside = grid.flat(q)
    return image_bits(cost, idx, outside, choice_bits)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, help="a version-2 bundle of a fixed size with flat tensors")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sets", type=int, default=64, help="K, the sets of tables per level (1..=256)")
    ap.add_argument("--alpha", type=float, default=0.3, help="weight of the all-images distribution in each set's")
    ap.add_argument("--trim", type=float, default=2e-5, help="values below this share escape (smaller tables)")
    ap.add_argument("--em-iters", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=None, help="Fashion-MNIST folder (default: ../shared/data/fashion-mnist)")
    ap.add_argument("--limit", type=int, default=None, help="a small subset (smoke tests)")
    ap.add_argument("--results", default=None, help="JSON of the measurements (default: results/sets-NAME.json)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()

    def log(s):
        print(f"[{time.time() - t0:7.1f}s] {s}", flush=True)

    src = Path(a.bundle)
    verify(src)
    m = load_manifest(src)
    if m["bundle_version"] != 2 or m["tensor_layout"] != "flat" or "hyper" in m:
        sys.exit(f"{src}: not a version-2 bundle of a fixed size with flat tensors")
    if not 1 <= a.sets <= 256:
        sys.exit("--sets: 1..=256")
    splits = load_splits(a.data, limit=a.limit)
    enc = onnx_session(src / m["encoder"]["file"])
    dec = onnx_session(src / m["decoder"]["file"])

    def run(sess, x, batch=2000):
        name_in, name_out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
        return np.concatenate([sess.run([name_out], {name_in: x[i : i + batch]})[0] for i in range(0, len(x), batch)])

    px = {s: splits[s].reshape(len(splits[s]), -1).astype(np.float32) / 255.0 for s in splits}
    lat = {s: run(enc, px[s]) for s in px}
    log(f"latents: {', '.join(f'{s} {v.shape}' for s, v in lat.items())}")
    levels, report = [], []
    for li, lv in enumerate(m["levels"]):
        step = np.asarray(lv["quantizer"]["step"], np.float32)
        offset = np.asarray(lv["quantizer"]["offset"], np.float32)
        q = {s: quantize(lat[s], step, offset) for s in lat}
        log(f"level {li} (quality {lv['quality']})")
        grid, tables, cost, choice, choice_bits = fit_level(q["train"], a.sets, a.alpha, a.trim, a.em_iters, log)
        row = {"quality": lv["quality"], "sets": a.sets}
        for s in ("val", "test"):
            best, b = ideal_bits(grid, cost, choice_bits, q[s])
            y = run(dec, (q[s] * step + offset).astype(np.float32))
            u8 = np.floor(np.clip(y, 0, 1) * 255 + 0.5)
            mse = float((((u8 - splits[s].reshape(len(u8), -1)) / 255.0) ** 2).mean())
            # The same images with the source bundle's one table per latent.
            one = bits(q[s], lv["tables"]).mean()
            row[s] = {"psnr": psnr(mse), "ideal_bytes": float(b.mean() / 8), "one_table_bytes": float(one / 8),
                      "sets_used": int(len(np.unique(best)))}
        table_bytes = sum(6 + 2 * len(t["freqs"]) for t in tables)
        row["packed_bytes"] = table_bytes
        log(f"  val {row['val']['psnr']:.2f} dB: {row['val']['one_table_bytes']:.2f} -> "
            f"{row['val']['ideal_bytes']:.2f} B; test {row['test']['psnr']:.2f} dB: "
            f"{row['test']['one_table_bytes']:.2f} -> {row['test']['ideal_bytes']:.2f} B; tables {table_bytes} B")
        report.append(row)
        levels.append({"quality": lv["quality"], "step": step, "offset": offset, "tables": [],
                       "sets": {"count": a.sets, "choice": choice, "tables": pack_tables(tables)}})
    if a.limit:
        log("subset run (--limit): no bundle written")
        return report
    out = Path(a.out)
    enc_b, dec_b = (src / m["encoder"]["file"]).read_bytes(), (src / m["decoder"]["file"]).read_bytes()
    metrics = dict(m.get("metrics", {}))
    metrics["sets"] = {"source": m["name"], "source_hash": m["hash"], "k": a.sets, "alpha": a.alpha,
                       "trim": a.trim, "levels": report}
    write_bundle_v2(out, name=a.name, description=m["description"] + f"; {a.sets} table sets per level, "
                    "the encoder choosing one per image", architecture=m["architecture"] + f"-sets{a.sets}",
                    encoder=None, decoder=None, in_ch=m["input"]["channels"],
                    latent_channels=m["latent"]["channels"], stride=None, max_side=None, levels=levels,
                    default_quality=m["default_quality"], metrics=metrics, dataset=m["dataset"],
                    latent_activation=m["latent_activation"], encoder_onnx=enc_b, decoder_onnx=dec_b,
                    fixed=(m["input"]["size"]["width"], m["input"]["size"]["height"]))
    h = verify(out)
    log(f"wrote {out} (sha256:{h})")
    res = Path(a.results) if a.results else Path(__file__).resolve().parents[1] / "results" / f"sets-{a.name}.json"
    res.write_text(json.dumps({"command": " ".join(sys.argv), "seconds": round(time.time() - t0, 1),
                               "hash": "sha256:" + h, "levels": report}, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
