"""The study's dense autoencoder family LD{K}E{N}D{M}.

K latent units; N encoder Dense layers counting the latent one (widths K*2^(N-1) ... K*2, K; ReLU);
M decoder Dense layers counting the output one (widths 784/2^(M-1) ... 784/2, 784; sigmoid).
LD32E3D3 = 784-128-64-32-196-392-784. The latent layer's activation is ambiguous in the study: `relu` or
`linear`, chosen by validation (results/study.md)."""
import re

import torch
from torch import nn

PIXELS = 784


def parse_name(name: str):
    m = re.fullmatch(r"LD(\d+)E(\d+)D(\d+)", name)
    if not m:
        raise ValueError(f"bad architecture name {name!r}, expected LD{{K}}E{{N}}D{{M}}")
    return int(m[1]), int(m[2]), int(m[3])


def widths(name: str):
    k, n, m = parse_name(name)
    enc = [k * 2 ** (n - 1 - i) for i in range(n)]
    dec = [PIXELS // 2 ** (m - 1 - i) for i in range(m)]
    return enc, dec


class AutoEncoder(nn.Module):
    def __init__(self, name: str, latent_act: str = "relu"):
        super().__init__()
        if latent_act not in ("relu", "linear"):
            raise ValueError(f"latent_act {latent_act!r}: expected relu or linear")
        self.name, self.latent_act = name, latent_act
        enc_w, dec_w = widths(name)
        layers, prev = [], PIXELS
        for i, w in enumerate(enc_w):
            layers.append(nn.Linear(prev, w))
            last = i == len(enc_w) - 1
            if not last or latent_act == "relu":
                layers.append(nn.ReLU())
            prev = w
        self.encoder = nn.Sequential(*layers)
        layers = []
        for i, w in enumerate(dec_w):
            layers.append(nn.Linear(prev, w))
            layers.append(nn.Sigmoid() if i == len(dec_w) - 1 else nn.ReLU())
            prev = w
        self.decoder = nn.Sequential(*layers)
        self.latent_dim = enc_w[-1]
        # Keras defaults (the study used Keras Dense): Glorot-uniform weights, zero biases.
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.xavier_uniform_(mod.weight)
                nn.init.zeros_(mod.bias)

    def forward(self, x):
        return self.decoder(self.encoder(x))


STUDY = {  # Table 1 of the study: epochs, train MSE, test MSE, ratio vs PNG
    "LD16E1D1": (10, 0.0172, 0.0172, 9.15), "LD16E2D2": (50, 0.0106, 0.0111, 9.15),
    "LD16E3D3": (100, 0.0100, 0.0106, 9.15), "LD16E4D4": (120, 0.0112, 0.0124, 9.15),
    "LD32E1D1": (10, 0.0124, 0.0126, 4.57), "LD32E2D2": (55, 0.0082, 0.0086, 4.57),
    "LD32E3D3": (70, 0.0072, 0.0077, 4.57), "LD32E4D4": (95, 0.0086, 0.0093, 4.57),
    "LD64E1D1": (15, 0.0087, 0.0088, 2.28), "LD64E2D2": (60, 0.0059, 0.0063, 2.28),
    "LD64E3D3": (100, 0.0058, 0.0064, 2.28), "LD64E4D4": (210, 0.0075, 0.0084, 2.28),
}
