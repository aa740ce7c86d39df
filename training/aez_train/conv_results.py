"""Writes results/conv.md from the ship.json (conv_ship.py) and progress.pt (conv_train.py) of conv runs.

    python3 -m aez_train.conv_results runs/conv-gray runs/conv-photo [...] > results/conv.md
"""
import json
import sys
from pathlib import Path

import torch

STREAM_OVERHEAD_B = 5.3  # container bytes per image in a batch stream (brief of the conv models)


def run_info(run: Path):
    st = torch.load(run / "progress.pt", map_location="cpu", weights_only=False)["state"]
    return st


def section(run: Path) -> str:
    s = json.loads((run / "ship.json").read_text())
    st = run_info(run)
    cfg = s["config"]
    gray = cfg["in_ch"] == 1
    args = s.get("train_args") or {}
    lines = [f"## `{s['name']}` ({run.name})", "",
             f"- architecture: {cfg['in_ch']} -> N={cfg['n']} -> M={cfg['m']} latent channels, encoder stages "
             f"{cfg['strides']} (stride 2: 5x5 conv; stride 1: 3x3 conv) with GDN between, decoder mirrored "
             f"(5x5 transposed convs, IGDN), total stride {int(__import__('math').prod(cfg['strides']))}; "
             f"factorized prior per channel and level while training; {len(cfg['lams'])} levels by gain "
             f"vectors (step = 1/gain, offset 0)",
             f"- lambdas: {cfg['lams']}",
             f"- training: {st['it']} iterations, batch {st['batch']}"
             + (f", {st['crop']}x{st['crop']} random crops with flips" if st.get("crop") else "")
             + f", {st['train_s'] / 60:.0f} min of training (plus validation), Adam lr {args.get('lr') or (1e-3 if gray else 5e-4):g}"
             f" dropping 10x after 80% of the budget; on 2 shared CPU cores (one torch thread per run, "
             f"nice 19, other jobs beside it); best validation checkpoint at iteration {s['iterations']}",
             f"- bundle: `models/{s['name']}`, {s['bytes']:,} bytes, `{s['hash']}`",
             f"- splits: validation = {s['splits']['val']}; test = {s['splits']['test']} (reported only)", ""]
    if gray:
        lines += ["| quality | lambda | val PSNR | val ideal B/img | test PSNR | test ideal B/img | "
                  "test + 5.3 B stream | test bpp |", "|---|---|---|---|---|---|---|---|"]
        for r in s["levels"]:
            v, t = r["val"], r["test"]
            lines.append(f"| {r['quality']} | {r['lam']:g} | {v['psnr_of_mean_mse']:.2f} | {v['bytes_per_image']:.2f} | "
                         f"{t['psnr_of_mean_mse']:.2f} | {t['bytes_per_image']:.2f} | "
                         f"{t['bytes_per_image'] + STREAM_OVERHEAD_B:.2f} | {t['bpp']:.4f} |")
        lines += ["", "PSNR of the mean MSE over the split (as results/quantized.md); samples rounded to 8 bits; "
                  "ideal rate = sum of -log2 of the integer table probabilities (escapes: escape symbol + 16 bits)."]
    else:
        lines += ["| quality | lambda | val PSNR | val bpp | Kodak PSNR-RGB | Kodak bpp | Kodak B/img |",
                  "|---|---|---|---|---|---|---|"]
        for r in s["levels"]:
            v, t = r["val"], r["test"]
            lines.append(f"| {r['quality']} | {r['lam']:g} | {v['mean_psnr']:.2f} | {v['bpp']:.4f} | "
                         f"{t['mean_psnr']:.2f} | {t['bpp']:.4f} | {t['bytes_per_image']:.0f} |")
        lines += ["", "PSNR-RGB = mean of per-image PSNR (8-bit samples); bpp = total ideal bits / total pixels."]
    c = s["onnx_check"]
    lines += ["", "ONNX Runtime (CPU) against PyTorch, default level: " + "; ".join(
        f"{k} {v['shape']} -> latent {v['latent_shape']}: max |latent diff| {v['latent_max_abs_diff']:.2g}, "
        f"symbols equal {v['symbols_equal'] * 100:.3f}%, max |pixel diff| {v['pixels_max_abs_diff']:.2g}, "
        f"8-bit samples differing {v['u8_samples_differing'] * 100:.3f}%" for k, v in c.items()), ""]
    h = st["history"]
    if h:
        lines += ["Validation history (mean over levels of lambda*255^2*MSE + bpp, training density): "
                  + ", ".join(f"{e['it']}: {e['val']:.4f}" for e in h[:: max(1, len(h) // 12)]), ""]
    return "\n".join(lines)


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    print("# Convolutional models (factorized prior, gain vectors per quality level)\n")
    print("Made by `training/reproduce_conv.sh` (aez_train/conv_train.py, conv_ship.py, conv_results.py). "
          "Numbers are IDEAL rates from the bundles' integer tables; a real stream adds the entropy coder's "
          "overhead and the container's bytes.\n")
    for r in argv:
        print(section(Path(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
