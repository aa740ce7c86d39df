"""Photo thumbnails for trying `aez-train fit` on a collection of small colour images:

    python3 -m aez_train.thumbnails ../shared/data/bsds500 /tmp/thumbs --size 64

Every image under SRC (recursively, in path order) is scaled so that its short side is SIZE (Lanczos,
Pillow) and centre-cropped to SIZE x SIZE, then written as a PNG to OUT (000000.png, ...): a few hundred
64x64 RGB thumbnails from BSDS500's 500 photos, as a catalogue or gallery would store them."""
import argparse
import sys
from pathlib import Path

from PIL import Image


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args(argv)
    files = sorted(p for p in Path(a.src).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(files):
        with Image.open(p) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = a.size / min(w, h)
            im = im.resize((max(a.size, round(w * s)), max(a.size, round(h * s))), Image.LANCZOS)
            w, h = im.size
            l, t = (w - a.size) // 2, (h - a.size) // 2
            im.crop((l, t, l + a.size, t + a.size)).save(out / f"{i:06d}.png")
    print(f"{len(files)} thumbnails {a.size}x{a.size} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
