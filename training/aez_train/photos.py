"""Photo data for the convolutional models: BSDS500 (train + val for training, test for choices) and Kodak
(reported only, never trains or chooses anything). Images are read once into uint8 arrays [H, W, 3]."""
import os
from pathlib import Path

import numpy as np
import torch


def shared_data() -> Path:
    env = os.environ.get("AEZ_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def read_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_folder(d, limit=None):
    files = sorted(p for p in Path(d).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if limit:
        files = files[:limit]
    return [read_rgb(p) for p in files], [p.name for p in files]


def bsds(split_names, limit=None, root=None):
    root = Path(root) if root else shared_data() / "bsds500"
    out = []
    for s in split_names:
        out += read_folder(root / s, limit)[0]
    return out


def kodak(root=None):
    root = Path(root) if root else shared_data() / "kodak"
    return read_folder(root)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] or gray [H, W] -> float32 [1, C, H, W] in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(img)).float() / 255.0
    return t[None, None] if img.ndim == 2 else t.permute(2, 0, 1)[None]


def crop_to_multiple(img: np.ndarray, s: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % s, : w - w % s]


def center_crop(img, size):
    """The centre size x size of img (a side shorter than size is kept whole)."""
    h, w = img.shape[:2]
    t, l = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[t : t + size, l : l + size]


def pad_edges(img: np.ndarray, size: int) -> np.ndarray:
    """img [h, w(, c)] padded at the bottom and right to size x size by repeating its edges (as the codec
    pads to the stride)."""
    ph, pw = size - img.shape[0], size - img.shape[1]
    if ph <= 0 and pw <= 0:
        return img
    return np.pad(img, ((0, max(0, ph)), (0, max(0, pw))) + ((0, 0),) * (img.ndim - 2), mode="edge")


class CropSampler:
    """Random size x size crops with random horizontal and vertical flips, batched as float32 NCHW, of
    `images` (uint8 [H, W, 3] or gray [H, W]). Without `idx`, the images at least size x size; with it,
    images[j] for j in idx, smaller ones padded by repeating their edges."""

    def __init__(self, images, size, gen: np.random.Generator, idx=None):
        if idx is None:
            self.images = [im for im in images if min(im.shape[:2]) >= size]
        else:
            self.images = [images[j] for j in idx]
        self.size, self.gen = size, gen

    def batch(self, b) -> torch.Tensor:
        first = self.images[0]
        out = np.empty((b, self.size, self.size) + first.shape[2:], np.uint8)
        for i in range(b):
            im = self.images[self.gen.integers(len(self.images))]
            h, w = im.shape[:2]
            t = self.gen.integers(max(1, h - self.size + 1))
            l = self.gen.integers(max(1, w - self.size + 1))
            c = im[t : t + self.size, l : l + self.size]
            if self.gen.random() < 0.5:
                c = c[:, ::-1]
            if self.gen.random() < 0.5:
                c = c[::-1]
            out[i] = pad_edges(c, self.size)
        t = torch.from_numpy(out).float() / 255.0
        return t[:, None] if out.ndim == 3 else t.permute(0, 3, 1, 2)
