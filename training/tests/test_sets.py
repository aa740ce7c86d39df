"""Table sets (spec/model-bundle.md section 7): fitting, packing, the bundle and its hash, as the Rust side
reads them."""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aez_train import bundle, sets, tables  # noqa: E402
from aez_train.conv import ConvCodec, ConvConfig  # noqa: E402
from test_conv import aez_binary, rust_hashes  # noqa: E402


def test_packed_tables_round_trip():
    ts = [{"min": -2, "freqs": [100, 65000, 435], "escape": 1}, {"min": 7, "freqs": [65535], "escape": 1}]
    assert sets.unpack_tables(sets.pack_tables(ts)) == ts


def test_sets_fit_two_kinds_of_images_and_the_bundle_verifies(tmp_path):
    """Two kinds of latent (zeros and large values): two sets code them in fewer bits than one, every
    table is valid, and the bundle's hash is the one the Rust reader computes."""
    rng = np.random.default_rng(0)
    n, c = 400, 6
    kind = rng.integers(0, 2, n)
    q = np.where(kind[:, None] == 0, rng.integers(-1, 2, (n, c)), rng.integers(3, 9, (n, c))).astype(np.int32)
    log = lambda s: None  # noqa: E731
    grid, ts, cost, choice, choice_bits = sets.fit_level(q[:300], 2, 0.3, 1e-4, 4, log)
    one = tables.fit_tables(q[:300])
    best, b = sets.ideal_bits(grid, cost, choice_bits, q[300:])
    assert b.mean() < tables.bits(q[300:], one).mean() - 4
    assert len(set(best)) == 2 and len(ts) == 2 * c
    # A fixed-size flat bundle with sets in its first level (tiny dense networks).
    torch.manual_seed(0)
    cfg = ConvConfig("t", 1, 0, c, [], [0.001, 0.01], dense=[8], size=4)
    m = ConvCodec(cfg).eval()
    step = np.ones(c, np.float32)
    levels = [{"quality": 1, "step": step, "offset": np.zeros(c, np.float32), "tables": [],
               "sets": {"count": 2, "choice": choice, "tables": sets.pack_tables(ts)}},
              {"quality": 2, "step": step / 2, "offset": np.zeros(c, np.float32), "tables": one}]
    out = tmp_path / "tiny-sets"
    man = bundle.write_bundle_v2(out, name="tiny-sets", description="test", architecture="t",
                                 encoder=m.encoder, decoder=m.decoder, in_ch=1, latent_channels=c, stride=1,
                                 max_side=0, levels=levels, default_quality=1, metrics={}, dataset="random",
                                 fixed=(4, 4))
    assert bundle.verify(out) == man["hash"].removeprefix("sha256:")
    # Changing one frequency pair of one set's table changes the hash.
    changed = [dict(t) for t in ts]
    changed[3] = dict(ts[3], freqs=list(ts[3]["freqs"]))
    if len(changed[3]["freqs"]) > 1:
        changed[3]["freqs"][0] += 1
        changed[3]["freqs"][1] -= 1
        m2 = dict(man, levels=[dict(man["levels"][0], sets=dict(man["levels"][0]["sets"],
                                                                    tables=sets.pack_tables(changed)))] +
                  man["levels"][1:])
        enc, dec = (out / "encoder.onnx").read_bytes(), (out / "decoder.onnx").read_bytes()
        assert bundle.hash_bundle(m2, enc, dec) != man["hash"].removeprefix("sha256:")
    if aez_binary() is not None:
        assert rust_hashes(tmp_path)["tiny-sets"] == man["hash"]
