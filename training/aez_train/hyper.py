"""A scale hyperprior (Balle, Minnen, Singh, Hwang, Johnston, ICLR 2018) whose hyper-synthesis is an integer
network (Balle, Johnston, Minnen, ICLR 2019), so that the decoder chooses every latent's table with integer
arithmetic only, identically on every machine (spec/model-bundle.md section 6).

    encoder (float, ONNX):  pixels -> y [N, M, h, w]; level l: q = round(y * g_l)       (as conv.py)
    hyper-analysis (float, ONNX, encoder side only):  |q| -> z [N, Z, ceil(h/4), ceil(w/4)]; z_hat = round(z)
    hyper-synthesis (integer, in the codec):  z_hat -> k [N, M, h, w], the index of each latent's table
    decoder (float, ONNX):  q / g_l -> pixels                                             (as conv.py)

The hyper-synthesis is three 3x3 convolutions (zero padding) with a 2x nearest-neighbour upsampling before
the second and the third:

    a = z_hat (integers, clamped to +-32768)
    layer i: acc = sum(W_i * a) + B_i (integers; W_i, B_i = round(w * 2^SHIFT)); v = floor((acc + 2^(SHIFT-1))
             / 2^SHIFT); hidden layers: a = clamp(v, 0, 255); last layer: k = clamp(v, 0, SCALES - 1)

Table k is the discretized zero-mean Gaussian of scale SCALE_MIN * (SCALE_MAX / SCALE_MIN)^(k / (SCALES-1)),
as integer frequencies (scale_tables). While training, the network runs in floats with its weights and
activations rounded by straight-through estimators, so it learns the function the integers compute; the
export converts it to integers and checks it against an exact int64 evaluation (int_synthesis).

The hyper-latent z_hat has a learned factorized density per level for training and integer tables fitted
to its training symbols per level in the bundle. Training starts from a trained factorized model (its
encoder, decoder and gains) and trains everything together."""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .conv import ConvCodec, ConvConfig, FactorizedDensity, pad_to, round_half_away
from . import tables as T

SHIFT = 12  # fixed-point bits of the integer weights and biases
SCALES = 64  # scale tables
SCALE_MIN, SCALE_MAX = 0.11, 64.0
ACT_MAX = 255  # hidden activations are integers in [0, ACT_MAX]
HIDDEN = 48
HYPER_CH = 48  # channels of z
HYPER_STRIDE = 4  # of z over the latent: the hyper-analysis's two stride-2 convolutions
W_LIMIT = 32767  # |integer weight| (int16)


def scale_of(k):
    return SCALE_MIN * (SCALE_MAX / SCALE_MIN) ** (k / (SCALES - 1))


def ste_round(t):
    return t + (torch.round(t) - t).detach()


def ste_floor_half(t):
    """floor(t + 0.5) with a straight-through gradient (the integer layers' rounding)."""
    return t + (torch.floor(t + 0.5) - t).detach()


class IntConv(nn.Module):
    """A 3x3 convolution whose weights and bias are multiples of 2^-SHIFT (straight-through), clipped to the
    int16 range. `gain` scales the initial weights so that activations use the integer range."""

    def __init__(self, cin, cout, gain):
        super().__init__()
        conv = nn.Conv2d(cin, cout, 3, 1, 1)
        self.weight = nn.Parameter(conv.weight.detach() * gain)
        self.bias = nn.Parameter(conv.bias.detach() * gain)

    def quantized(self):
        lim = W_LIMIT / 2**SHIFT
        w = ste_round(self.weight.clamp(-lim, lim) * 2**SHIFT) / 2**SHIFT
        b = ste_round(self.bias * 2**SHIFT) / 2**SHIFT
        return w, b

    def forward(self, x):
        w, b = self.quantized()
        return F.conv2d(x, w, b, padding=1)

    def integers(self):
        lim = W_LIMIT / 2**SHIFT
        w = torch.round(self.weight.detach().clamp(-lim, lim) * 2**SHIFT).to(torch.int64)
        b = torch.round(self.bias.detach() * 2**SHIFT).to(torch.int64)
        return w.cpu().numpy(), b.cpu().numpy()


class HyperSynthesis(nn.Module):
    def __init__(self, zc, hidden, m):
        super().__init__()
        self.layers = nn.ModuleList([IntConv(zc, hidden, 8.0), IntConv(hidden, hidden, 8.0),
                                     IntConv(hidden, m, 4.0)])
        with torch.no_grad():  # start near the middle scale
            self.layers[2].bias.add_(SCALES / 3)

    def forward(self, z_hat):
        a = z_hat.clamp(-32768, 32768)
        for i, layer in enumerate(self.layers):
            if i > 0:
                a = F.interpolate(a, scale_factor=2, mode="nearest")
            v = ste_floor_half(layer(a))
            if i < len(self.layers) - 1:
                a = v.clamp(0, ACT_MAX)
            else:  # the clamp passes gradients (straight through), so that a saturated index can move back
                a = v + (v.clamp(0, SCALES - 1) - v).detach()
        return a  # the table index (a float holding an integer)


def int_synthesis(layers, z_hat: np.ndarray) -> np.ndarray:
    """The integer hyper-synthesis exactly as the codec computes it: layers = [(W int64 [o, i, 3, 3],
    B int64 [o])], z_hat int [Z, a, b] -> table indices int [M, 4a, 4b]."""
    a = np.clip(z_hat.astype(np.int64), -32768, 32768)
    for i, (w, b) in enumerate(layers):
        if i > 0:
            a = a.repeat(2, axis=1).repeat(2, axis=2)
        c, h, wd = a.shape
        p = np.zeros((c, h + 2, wd + 2), np.int64)
        p[:, 1:-1, 1:-1] = a
        acc = np.broadcast_to(b[:, None, None], (w.shape[0], h, wd)).copy()
        for dy in range(3):
            for dx in range(3):
                acc += np.einsum("oi,ihw->ohw", w[:, :, dy, dx], p[:, dy:dy + h, dx:dx + wd])
        v = (acc + (1 << (SHIFT - 1))) >> SHIFT  # arithmetic shift: floor division
        a = np.clip(v, 0, ACT_MAX) if i < len(layers) - 1 else np.clip(v, 0, SCALES - 1)
    return a


def gaussian_bits(y, scale):
    """-log2 of the mass of N(0, scale) on [y - 1/2, y + 1/2] (y may carry training noise)."""
    n = torch.distributions.Normal(0.0, 1.0)
    y = torch.abs(y)  # symmetric: the upper tail is computed where it is accurate
    lik = n.cdf((0.5 - y) / scale) - n.cdf((-0.5 - y) / scale)
    return -torch.log2(lik.clamp_min(1e-9))


def scale_tables(escape=1, tail=1e-7):
    """The integer table of each scale index: the discretized Gaussian over [-r, r], r the smallest integer
    with mass beyond it below `tail` (at least 1), frequencies >= 1 summing to 2^16 - escape."""
    out = []
    for k in range(SCALES):
        s = scale_of(k)
        r = 1
        while math.erfc((r + 0.5) / (s * math.sqrt(2))) > tail and r < T.MAX_SYMBOLS // 2 - 1:
            r += 1
        q = np.arange(-r, r + 1)
        cdf = lambda v: 0.5 * math.erfc(-v / (s * math.sqrt(2)))  # noqa: E731
        mass = np.array([cdf(v + 0.5) - cdf(v - 0.5) for v in q])
        freqs = T.normalize_counts(mass / mass.sum() * 1e9 + 1e-3, T.TOTAL - escape)
        out.append({"min": -r, "freqs": [int(f) for f in freqs], "escape": int(escape)})
    return out


class HyperCodec(nn.Module):
    """ConvCodec's encoder, decoder and gains with a scale hyperprior in place of the factorized prior."""

    def __init__(self, cfg: ConvConfig, zc=HYPER_CH, hidden=HIDDEN):
        super().__init__()
        self.cfg = cfg
        base = ConvCodec(cfg)
        self.encoder, self.decoder, self.log_gain = base.encoder, base.decoder, base.log_gain
        m = cfg.m
        self.hyper_analysis = nn.Sequential(
            nn.Conv2d(m, hidden, 3, 1, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(hidden, zc, 5, 2, 2))
        self.hyper_synthesis = HyperSynthesis(zc, hidden, m)
        self.z_priors = nn.ModuleList(FactorizedDensity(zc) for _ in cfg.lams)
        self.zc, self.hidden = zc, hidden

    def gains(self):
        return torch.exp(self.log_gain)

    def steps(self, level):
        return (1.0 / self.gains()[level]).detach().cpu().numpy().astype(np.float32)

    def hyper(self, q_abs):
        """The hyper-latent z (float) of |q|, padded to the hyper stride as the codec pads it."""
        return self.hyper_analysis(pad_to(q_abs, HYPER_STRIDE))

    def index(self, z_hat, h, w):
        return self.hyper_synthesis(z_hat)[..., :h, :w]

    def scales(self, k):
        return torch.exp(math.log(SCALE_MIN) + k * (math.log(SCALE_MAX / SCALE_MIN) / (SCALES - 1)))

    def freeze_main(self):
        """Trains the hyperprior alone on the frozen encoder, decoder and gains (see forward)."""
        self.frozen = True
        for p in [*self.encoder.parameters(), *self.decoder.parameters(), self.log_gain]:
            p.requires_grad_(False)

    def forward(self, x, lvl):
        if getattr(self, "frozen", False):
            return self.forward_frozen(x, lvl)
        H, W = x.shape[-2:]
        y = self.encoder(pad_to(x, self.cfg.stride))
        h, w = y.shape[-2:]
        g = self.gains()[lvl][:, :, None, None]
        yg = y * g
        noisy = yg + torch.empty_like(yg).uniform_(-0.5, 0.5)
        rounded = yg + (torch.round(yg) - yg).detach()
        x_hat = self.decoder(rounded / g)[..., :H, :W]
        return x_hat, self.rate(noisy, rounded, lvl)

    def rate(self, coded, q, lvl):
        """Bits per sample: of `coded` (the latent as its rate is measured: with training noise, or the
        exact symbols) under the tables that the hyper-latent of |q| chooses, plus the hyper-latent's bits
        under its level's density (with training noise)."""
        h, w = q.shape[-2:]
        z = self.hyper(torch.abs(q))
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_hat = z + (torch.round(z) - z).detach()
        k = self.index(z_hat, h, w)
        bits = gaussian_bits(coded, self.scales(k)).sum((1, 2, 3))
        zbits = torch.zeros(q.shape[0], device=q.device)
        for level in torch.unique(lvl).tolist():
            idx = (lvl == level).nonzero().squeeze(1)
            zbits = zbits.index_put((idx,), self.z_priors[level].bits(z_noisy[idx]).sum((1, 2, 3)))
        return bits + zbits

    def forward_frozen(self, x, lvl):
        """With the main networks frozen the distortion is fixed, so the decoder is not run (x is returned
        as x_hat: the loss is the rate alone), and the rate is that of what the codec codes: the exact
        discrete Gaussian mass of each q = round(y * g) (no training noise) under its table index, plus
        the hyper-latent's bits under its level's density (with training noise)."""
        with torch.no_grad():
            y = self.encoder(pad_to(x, self.cfg.stride))
            g = self.gains()[lvl][:, :, None, None]
            q = round_half_away(y * g)
        return x, self.rate(q, q, lvl)

    @torch.no_grad()
    def hard(self, x, level):
        """What the codec does (float32 rounding half away from zero) with the training densities' bits."""
        H, W = x.shape[-2:]
        y = self.encoder(pad_to(x, self.cfg.stride))
        h, w = y.shape[-2:]
        step = torch.from_numpy(self.steps(level)).to(x.device)[None, :, None, None]
        q = round_half_away(y / step)
        x_hat = self.decoder(q * step)[..., :H, :W]
        z_hat = round_half_away(self.hyper(torch.abs(q)))
        k = self.index(z_hat, h, w)
        bits = gaussian_bits(q, self.scales(k)).sum((1, 2, 3)) + self.z_priors[level].bits(z_hat).sum((1, 2, 3))
        return q, x_hat, bits

    def take(self, state, parts):
        """Copies the tensors of `state` (another model's state dict) under the top-level `parts` into this
        model; returns how many."""
        own = self.state_dict()
        taken = {k: v for k, v in state.items() if k.split(".")[0] in parts}
        own.update(taken)
        self.load_state_dict(own)
        return len(taken)

    def load_base(self, state):
        """Takes the encoder, decoder and gains of a trained ConvCodec's state dict."""
        return self.take(state, ("encoder", "decoder", "log_gain"))
