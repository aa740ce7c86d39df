"""Test vectors of the integer hyper-synthesis (spec/model-bundle.md section 6.3): for each bundle given, a few
hyper-latents (seeded random values, with the int16 extremes mixed in) and the table indices this module's
int64 evaluation gives. The Rust codec's test (`codec::hyper::tests`) computes the same from the bundle and
must agree exactly.

    python3 -m aez_train.hyper_vectors --out ../fixtures/hyper-vectors.json ../fixtures/models/tiny-hyper \\
        ../models/photo-hyper
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .bundle import unpack
from .hyper import int_synthesis


def layers_of(manifest):
    out = []
    for l in manifest["hyper"]["synthesis"]["layers"]:
        w = np.array(unpack(l["weights"], "h"), np.int64).reshape(l["outputs"], l["inputs"], 3, 3)
        out.append((w, np.array(unpack(l["bias"], "i"), np.int64)))
    return out


def vectors(bundle: Path, rng):
    m = json.loads((bundle / "model.json").read_text())
    hy = m["hyper"]
    assert hy["synthesis"]["shift"] == 12 and len(hy["scale_tables"]) == 64, "hyper.py's constants"
    r = int(np.prod([l["stride"] for l in hy["analysis"]]))
    c, zc = m["latent"]["channels"], hy["channels"]
    cases = []
    for h, w, spread in ((1, 1, 3), (5, 7, 6), (9, 4, 20), (12, 8, 2)):
        zh, zw = -(-h // r), -(-w // r)
        z = rng.integers(-spread, spread + 1, size=(zc, zh, zw))
        if spread == 20:  # hostile values: the clamps and the int64 range
            z.flat[:: max(1, z.size // 5)] = rng.choice([-32768, 32767, -1000, 999], size=len(z.flat[:: max(1, z.size // 5)]))
        k = int_synthesis(layers_of(m), z)[:, :h, :w]
        cases.append({"latent": [c, h, w], "z": [int(v) for v in z.ravel()], "k": [int(v) for v in k.ravel()]})
    return {"bundle": bundle.name, "hash": m["hash"], "cases": cases}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundles", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(6)
    doc = {"what": "integer hyper-synthesis test vectors (spec/model-bundle.md 6.3), by aez_train.hyper_vectors",
           "bundles": [vectors(Path(b), rng) for b in a.bundles]}
    Path(a.out).write_text(json.dumps(doc) + "\n")
    print(f"{a.out}: {sum(len(b['cases']) for b in doc['bundles'])} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
