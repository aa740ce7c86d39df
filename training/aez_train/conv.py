"""Fully convolutional rate-distortion models with a factorized prior and gain vectors per quality level.

Architecture (Balle, Laparra, Simoncelli 2017; CompressAI bmshj2018-factorized), variable rate as Cui et
al. (CVPR 2021) with the inverse gain tied to 1/gain so that it is exactly the bundle's per-level quantizer:

    encoder:  pixels [N, C_in, H, W] in [0, 1]  ->  latent y [N, M, H/s, W/s]        (exported, before gain)
    level l:  q = round(y * g_l)  (per channel c: step[c] = 1 / g_l[c], offset[c] = 0)
    decoder:  latent q / g_l [N, M, h, w]  ->  pixels [N, C_in, H, W]                (exported, after 1/gain)

Stages of the encoder are strided convolutions (5x5, stride 2) or a 3x3 stride-1 convolution, with GDN
between them; the decoder mirrors them with transposed convolutions and inverse GDN. While training, the
rate is measured by a learned factorized density per channel and level (the "entropy bottleneck" of Balle
et al. 2018, appendix 6.1) on the gained latent plus uniform noise; the decoder sees the gained latent
rounded with a straight-through gradient. The density is a training device only: the codec uses integer
tables fitted to the quantized training latents of each level (tables.py)."""
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ConvConfig:
    family: str  # "gray" | "photo"
    in_ch: int  # 1 | 3
    n: int  # hidden channels
    m: int  # latent channels
    strides: list  # per encoder stage, each 2 (5x5 conv) or 1 (3x3 conv); total stride = product
    lams: list  # lambda per quality level: loss = lam * 255^2 * MSE + bpp
    max_side: int = 16384
    # Dense (fixed-size) variant: hidden widths of the encoder (the decoder mirrors them) and the one image
    # side it takes; strides is then empty (stride 1) and the latent is [M, 1, 1]: one symbol per channel.
    dense: list = None
    size: int = 0

    @property
    def stride(self) -> int:
        return int(np.prod(self.strides)) if self.strides else 1

    @property
    def levels(self) -> int:
        return len(self.lams)

    def arch(self) -> str:
        if self.dense:
            hid = "-".join(str(h) for h in self.dense)
            return f"dense-{self.size * self.size * self.in_ch}-{hid}-m{self.m}-factorized-gain{self.levels}"
        st = "".join(str(s) for s in self.strides)
        return f"conv-gdn-n{self.n}-m{self.m}-s{st}-factorized-gain{self.levels}"

    def to_dict(self):
        return asdict(self)


# 12 levels, lambda x1.8 apart: about 19-30 dB on Fashion-MNIST.
GRAY_LAMS = [float(f"{3e-5 * 1.8**i:.3g}") for i in range(12)]

FAMILIES = {
    # 28x28 Fashion-MNIST: total stride 4 (7x7 latent, no padding at 28x28).
    "gray": ConvConfig("gray", 1, 48, 16, [2, 2, 1], GRAY_LAMS, max_side=4096),
    # the same at total stride 8 (28x28 pads to 32x32, edges repeated at the bottom and right as the codec does).
    "gray8": ConvConfig("gray8", 1, 48, 32, [2, 2, 2], GRAY_LAMS, max_side=4096),
    # total stride 32: a 28x28 image (padded to 32x32) has a 1x1 latent, one symbol per channel like the
    # dense models, while the network still takes any size.
    "gray32": ConvConfig("gray32", 1, 48, 64, [2, 2, 2, 2, 2], GRAY_LAMS, max_side=4096),
    # 28x28 Fashion-MNIST at a fixed size: a dense rate-distortion model (784-1024-512-128, mirrored), a
    # learned density per latent (a dense latent has one position, so per channel = per latent) and 14 levels
    # from about 18 to 30 dB, about 0.9 dB apart. Trained end to end for rate, unlike the study's MSE models.
    "dense": ConvConfig("dense", 1, 0, 128, [], [float(f"{1e-4 * 1.45**i:.3g}") for i in range(14)],
                        dense=[1024, 512], size=28),
    # photos: bmshj2018-factorized with N=64, M=96 (compute on 2 CPU cores), total stride 16.
    "photo": ConvConfig("photo", 3, 64, 96, [2, 2, 2, 2], [0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483]),
    # unit tests
    "tiny": ConvConfig("tiny", 3, 8, 6, [2, 2], [0.002, 0.02]),
}


class GDN(nn.Module):
    """Generalized divisive normalization: y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2) (inverse: times).
    beta and gamma are kept non-negative by the square reparametrization with a lower bound (CompressAI)."""

    def __init__(self, ch, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.pedestal = 2.0**-36
        self.beta_bound = math.sqrt(beta_min + self.pedestal)
        self.gamma_bound = math.sqrt(self.pedestal)
        self.beta = nn.Parameter(torch.sqrt(torch.ones(ch) + self.pedestal))
        self.gamma = nn.Parameter(torch.sqrt(gamma_init * torch.eye(ch) + self.pedestal))

    def params(self):
        beta = torch.clamp(self.beta, min=self.beta_bound) ** 2 - self.pedestal
        gamma = torch.clamp(self.gamma, min=self.gamma_bound) ** 2 - self.pedestal
        return beta, gamma

    def forward(self, x):
        beta, gamma = self.params()
        norm = torch.sqrt(F.conv2d(x * x, gamma[:, :, None, None], beta))
        return x * norm if self.inverse else x / norm


def _enc_conv(cin, cout, s):
    return nn.Conv2d(cin, cout, 5, 2, 2) if s == 2 else nn.Conv2d(cin, cout, 3, 1, 1)


def _dec_conv(cin, cout, s):
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1) if s == 2 else nn.Conv2d(cin, cout, 3, 1, 1)


class Flat(nn.Module):
    """[N, ...] -> [N, *shape] (reshape only, exported as one ONNX Reshape)."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def _mlp(sizes, last_act=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if last_act is not None:
        layers.append(last_act)
    return layers


def build_encoder(c: ConvConfig) -> nn.Sequential:
    if c.dense:
        px = c.in_ch * c.size * c.size
        return nn.Sequential(Flat(px), *_mlp([px] + list(c.dense) + [c.m]), Flat(c.m, 1, 1))
    layers, prev = [], c.in_ch
    for i, s in enumerate(c.strides):
        last = i == len(c.strides) - 1
        layers.append(_enc_conv(prev, c.m if last else c.n, s))
        if not last:
            layers.append(GDN(c.n))
        prev = c.n
    return nn.Sequential(*layers)


def build_decoder(c: ConvConfig) -> nn.Sequential:
    if c.dense:
        px = c.in_ch * c.size * c.size
        return nn.Sequential(Flat(c.m), *_mlp([c.m] + list(reversed(c.dense)) + [px], nn.Sigmoid()),
                             Flat(c.in_ch, c.size, c.size))
    layers, prev = [], c.m
    rev = list(reversed(c.strides))
    for i, s in enumerate(rev):
        last = i == len(rev) - 1
        layers.append(_dec_conv(prev, c.in_ch if last else c.n, s))
        if not last:
            layers.append(GDN(c.n, inverse=True))
        prev = c.n
    return nn.Sequential(*layers)


class FactorizedDensity(nn.Module):
    """A learned univariate density per channel (Balle et al. 2018, appendix 6.1): its CDF is a small
    monotone network per channel; the likelihood of y_hat is the mass on [y_hat - 1/2, y_hat + 1/2]."""

    def __init__(self, ch, filters=(3, 3, 3), init_scale=10.0):
        super().__init__()
        f = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1 / (len(f) - 1))
        self.matrices, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for i in range(len(f) - 1):
            init = math.log(math.expm1(1 / scale / f[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((ch, f[i + 1], f[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(ch, f[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(f) - 2:
                self.factors.append(nn.Parameter(torch.zeros(ch, f[i + 1], 1)))

    def logits_cdf(self, v):  # v [C, 1, n]
        for i, mat in enumerate(self.matrices):
            v = torch.matmul(F.softplus(mat), v) + self.biases[i]
            if i < len(self.factors):
                v = v + torch.tanh(self.factors[i]) * torch.tanh(v)
        return v

    def bits(self, y):
        """-log2 likelihood of each element of y [B, C, H, W] (same shape)."""
        b, c, h, w = y.shape
        v = y.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower, upper = self.logits_cdf(v - 0.5), self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).clamp_min(1e-9)
        return (-torch.log2(lik)).reshape(c, b, h, w).permute(1, 0, 2, 3)


def round_half_away(t):
    return torch.sign(t) * torch.floor(torch.abs(t) + 0.5)


class ConvCodec(nn.Module):
    def __init__(self, cfg: ConvConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg)
        lams = torch.tensor(cfg.lams)
        # Gains start spread like sqrt(lambda) (a step that halves with each 4x lambda); all learned.
        lg = 0.5 * torch.log(lams / lams[len(lams) // 2])
        self.log_gain = nn.Parameter(lg[:, None].repeat(1, cfg.m).clone())
        self.priors = nn.ModuleList(FactorizedDensity(cfg.m) for _ in cfg.lams)

    def gains(self):
        return torch.exp(self.log_gain)  # [L, M]

    def steps(self, level):
        """The bundle's quantizer step per channel at a level: 1 / gain (float32)."""
        return (1.0 / self.gains()[level]).detach().cpu().numpy().astype(np.float32)

    def forward(self, x, lvl):
        """Training pass. lvl: long [B], the level of each sample. Returns (x_hat, bits per sample); x is
        padded to the stride as the codec pads it, and x_hat cropped back to x's size."""
        H, W = x.shape[-2:]
        y = self.encoder(pad_to(x, self.cfg.stride))
        g = self.gains()[lvl][:, :, None, None]
        yg = y * g
        noisy = yg + torch.empty_like(yg).uniform_(-0.5, 0.5)
        rounded = yg + (torch.round(yg) - yg).detach()
        x_hat = self.decoder(rounded / g)[..., :H, :W]
        bits = torch.zeros(x.shape[0], device=x.device)
        for level in torch.unique(lvl).tolist():
            idx = (lvl == level).nonzero().squeeze(1)
            bits = bits.index_put((idx,), self.priors[level].bits(noisy[idx]).sum((1, 2, 3)))
        return x_hat, bits

    @torch.no_grad()
    def hard(self, x, level):
        """What the codec does at a level (float32, rounding half away from zero, step 1/g, offset 0):
        returns (q, x_hat, bits per image under the training density)."""
        H, W = x.shape[-2:]
        y = self.encoder(pad_to(x, self.cfg.stride))
        step = torch.from_numpy(self.steps(level)).to(x.device)[None, :, None, None]
        q = round_half_away(y / step)
        x_hat = self.decoder(q * step)[..., :H, :W]
        return q, x_hat, self.priors[level].bits(q).sum((1, 2, 3))


def pad_to(x, s):
    """Pads [N, C, H, W] at the bottom and right with edge replication to a multiple of s."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % s, (-w) % s
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x
