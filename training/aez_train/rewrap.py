"""A trained fixed-size (version-1) bundle as a version-2 bundle with quality levels, the same networks.

    python3 -m aez_train.rewrap --bundle ../models/fmnist-ld64e3d3 --name fmnist-ld64e3d3-v2 \
        --out ../models/fmnist-ld64e3d3-v2 --scales 2,1.5,1.25,1,0.8,0.6,0.4 --default-scale 1

Why: version-1 streams give each image its own record (5 bytes of head and CRC, a quarter of a
Fashion-MNIST image); version-2 batches pack many images per record (spec/aez-format.md 11.3) and carry a
quality level. The encoder and decoder ONNX files are copied unchanged; level l quantizes with the
original per-latent step times scales[l] (offset unchanged), so the level of scale 1 is exactly the
original model (its symbols, pixels and, with tables refitted on the same train split, its rate). Finer
steps move towards the float model's PSNR, coarser ones save bytes. The integer tables of every level are
fitted to the quantized TRAIN latents (the first 55,000 Fashion-MNIST training images); PSNR and ideal rate
are measured on validation (the last 5,000, which choose) and t10k (test, reported), with the codec's
arithmetic (float32 quantizer, rounding half away from zero, samples round(clamp(x, 0, 1) * 255)).
Writes the bundle and <out>/../../training/results/rewrap-<name>.json (the measurements)."""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .bundle import load_manifest, onnx_session, verify, write_bundle_v2
from .data import load_splits
from .tables import bits, dequantize, fit_tables, quantize


def psnr(mse):
    return 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")


def run(sess, name_in, name_out, x, batch=5000):
    return np.concatenate([sess.run([name_out], {name_in: x[i : i + batch]})[0] for i in range(0, len(x), batch)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, help="a version-1 bundle folder")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scales", default="2,1.5,1.25,1,0.8,0.6,0.4", help="step scale per level, low quality first")
    ap.add_argument("--default-scale", type=float, default=1.0)
    ap.add_argument("--results", default=None, help="JSON of the measurements (default: results/rewrap-NAME.json)")
    a = ap.parse_args(argv)
    t0 = time.time()
    src = Path(a.bundle)
    m = load_manifest(src)
    assert m["bundle_version"] == 1, "a version-1 bundle"
    enc_b, dec_b = (src / m["encoder"]["file"]).read_bytes(), (src / m["decoder"]["file"]).read_bytes()
    enc, dec = onnx_session(src / m["encoder"]["file"]), onnx_session(src / m["decoder"]["file"])
    ei, eo = m["encoder"]["input"], m["encoder"]["output"]
    di, do = m["decoder"]["input"], m["decoder"]["output"]
    d = load_splits()
    xs = {k: v.astype(np.float32) / 255.0 for k, v in d.items()}
    ys = {k: run(enc, ei, eo, v) for k, v in xs.items()}
    step0 = np.asarray(m["quantizer"]["step"], dtype=np.float32)
    offset = np.asarray(m["quantizer"]["offset"], dtype=np.float32)
    scales = [float(s) for s in a.scales.split(",")]
    assert a.default_scale in scales
    levels, table = [], []
    for i, sc in enumerate(scales):
        step = (step0 * np.float32(sc)).astype(np.float32)
        tables = fit_tables(quantize(ys["train"], step, offset))
        row = {"quality": i + 1, "step_scale": sc}
        for split in ("val", "test"):
            q = quantize(ys[split], step, offset)
            x_hat = run(dec, di, do, dequantize(q, step, offset).astype(np.float32))
            u8 = lambda v: np.floor(np.clip(v, 0, 1) * 255 + 0.5)
            mse = float(np.mean(((u8(x_hat) - d[split].astype(np.float64)) / 255.0) ** 2))
            b = bits(q, tables)
            row[split] = {"psnr_of_mean_mse": psnr(mse), "bytes_per_image": float(b.mean() / 8), "images": len(q)}
        levels.append({"quality": i + 1, "step": step, "offset": offset, "tables": tables})
        table.append(row)
        print(f"level {i + 1} (step x{sc}): val {row['val']['psnr_of_mean_mse']:.2f} dB "
              f"{row['val']['bytes_per_image']:.2f} B | test {row['test']['psnr_of_mean_mse']:.2f} dB "
              f"{row['test']['bytes_per_image']:.2f} B", flush=True)
    dq = scales.index(a.default_scale) + 1
    metrics = {"from": {"name": m["name"], "hash": m["hash"], "metrics": m.get("metrics")},
               "levels": table, "splits": {"train": "FMNIST train, first 55,000 (tables)",
                                           "val": "FMNIST val (last 5,000 train)", "test": "FMNIST t10k"}}
    desc = (f"{m['description']}; as a version-2 bundle (packed batches, quality levels): the same networks, "
            f"{len(scales)} levels by step scales {scales} (quality {dq} = the original quantizer)")
    out = Path(a.out)
    man = write_bundle_v2(out, name=a.name, description=desc, architecture=m["architecture"], encoder=None,
                          decoder=None, in_ch=m["input"]["channels"], latent_channels=m["latent_dim"], stride=1,
                          max_side=0, levels=levels, default_quality=dq, metrics=metrics, dataset=m["dataset"],
                          latent_activation=m.get("latent_activation", "linear"), encoder_onnx=enc_b,
                          decoder_onnx=dec_b, fixed=(m["input"]["width"], m["input"]["height"]))
    verify(out)
    res = Path(a.results) if a.results else Path(__file__).resolve().parents[1] / "results" / f"rewrap-{a.name}.json"
    res.write_text(json.dumps({"bundle": a.name, "hash": man["hash"], "from": m["name"], "levels": table,
                               "default_quality": dq, "seconds": time.time() - t0}, indent=1) + "\n")
    print(f"{out}: {man['hash']} ({time.time() - t0:.0f} s); results in {res}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
