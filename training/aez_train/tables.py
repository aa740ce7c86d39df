"""Quantizer and integer entropy tables (spec/model-bundle.md section 3), and the rate they give.

Everything here is integer once the symbols exist: the codec's entropy coder uses exactly these tables."""
import math

import numpy as np

PRECISION = 16
TOTAL = 1 << PRECISION
MAX_SYMBOLS = 4096
ESCAPE_RAW_BITS = 16  # an escaped value is carried raw as 16 bits (aez-format.md)


def quantize(y: np.ndarray, step: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """round((y - offset) / step), half away from zero, clamped to int16; float32 arithmetic as the codec."""
    y = y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise ValueError("non-finite latent")
    t = (y - offset.astype(np.float32)) / step.astype(np.float32)
    q = np.sign(t) * np.floor(np.abs(t) + np.float32(0.5))
    return np.clip(q, -32768, 32767).astype(np.int32)


def dequantize(q: np.ndarray, step: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) * step.astype(np.float32)).astype(np.float32) + offset.astype(np.float32)


def normalize_counts(counts: np.ndarray, total: int) -> np.ndarray:
    """Scales positive counts to integers >= 1 that sum to `total` (largest-remainder rounding)."""
    counts = counts.astype(np.float64)
    n = len(counts)
    if n > total:
        raise ValueError(f"{n} symbols do not fit in {total}")
    # Give every symbol 1, share the rest in proportion to the counts.
    rest = total - n
    share = counts / counts.sum() * rest
    base = np.floor(share).astype(np.int64)
    left = rest - int(base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:left]] += 1
    out = base + 1
    assert out.sum() == total and out.min() >= 1
    return out


def fit_tables(q_train: np.ndarray, escape: int = 1):
    """One table per latent dimension from the TRAIN split's quantized latents [n, K]."""
    tables = []
    for d in range(q_train.shape[1]):
        col = q_train[:, d]
        lo, hi = int(col.min()), int(col.max())
        if hi - lo + 1 > MAX_SYMBOLS:  # keep the central MAX_SYMBOLS values; the tails escape
            mid = int(np.median(col))
            lo = max(lo, mid - MAX_SYMBOLS // 2)
            hi = lo + MAX_SYMBOLS - 1
        inside = col[(col >= lo) & (col <= hi)]
        counts = np.bincount(inside - lo, minlength=hi - lo + 1) + 1  # add-one: no zero frequency
        freqs = normalize_counts(counts, TOTAL - escape)
        tables.append({"min": lo, "freqs": [int(f) for f in freqs], "escape": int(escape)})
    return tables


def bits(q: np.ndarray, tables) -> np.ndarray:
    """Ideal code length in bits of each row of q [n, K] under the tables (escapes: escape symbol + raw)."""
    out = np.zeros(q.shape[0])
    for d, t in enumerate(tables):
        f = np.asarray(t["freqs"], dtype=np.float64)
        idx = q[:, d] - t["min"]
        ok = (idx >= 0) & (idx < len(f))
        cost = np.full(q.shape[0], -math.log2(t["escape"] / TOTAL) + ESCAPE_RAW_BITS)
        cost[ok] = -np.log2(f[idx[ok]] / TOTAL)
        out += cost
    return out


def uniform_quantizer(y_train: np.ndarray, bit_depth: int):
    """Post-training quantizer over each dimension's train range with 2^b levels (for float models)."""
    lo, hi = y_train.min(0), y_train.max(0)
    step = np.maximum((hi - lo) / (2**bit_depth - 1), 1e-6).astype(np.float32)
    return step, lo.astype(np.float32)
