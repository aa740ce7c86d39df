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
    """uint8 [H, W, 3] -> float32 [1, 3, H, W] in [0, 1]."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0


def crop_to_multiple(img: np.ndarray, s: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % s, : w - w % s]


def center_crop(img, size):
    h, w = img.shape[:2]
    t, l = (h - size) // 2, (w - size) // 2
    return img[t : t + size, l : l + size]


class CropSampler:
    """Random size x size crops with random horizontal and vertical flips, batched as float32 NCHW."""

    def __init__(self, images, size, gen: np.random.Generator):
        self.images = [im for im in images if min(im.shape[:2]) >= size]
        self.size, self.gen = size, gen

    def batch(self, b) -> torch.Tensor:
        out = np.empty((b, self.size, self.size, 3), np.uint8)
        for i in range(b):
            im = self.images[self.gen.integers(len(self.images))]
            h, w = im.shape[:2]
            t, l = self.gen.integers(h - self.size + 1), self.gen.integers(w - self.size + 1)
            c = im[t : t + self.size, l : l + self.size]
            if self.gen.random() < 0.5:
                c = c[:, ::-1]
            if self.gen.random() < 0.5:
                c = c[::-1]
            out[i] = c
        return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0
