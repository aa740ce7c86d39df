"""A per-dimension logistic-mixture density over the integer-quantized latents, used only while training
to estimate the rate (bits) of rounded latents. The codec never sees it: after training, integer tables
are fitted to the actual quantized train latents (tables.py)."""
import math

import torch
from torch import nn


class LogisticMixturePrior(nn.Module):
    def __init__(self, dim: int, components: int = 3):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(dim, components))
        self.loc = nn.Parameter(torch.zeros(dim, components))
        self.log_scale = nn.Parameter(torch.zeros(dim, components))

    @torch.no_grad()
    def init_from(self, y: torch.Tensor):
        """Spread the components over the data's range, dimension by dimension."""
        mean, std = y.mean(0), y.std(0).clamp_min(0.5)
        c = self.loc.shape[1]
        offs = torch.linspace(-1.0, 1.0, c, device=y.device)
        self.loc.copy_(mean[:, None] + std[:, None] * offs[None, :])
        self.log_scale.copy_(torch.log(std / 2)[:, None].expand_as(self.log_scale))
        self.logits.zero_()

    def bits(self, y_hat: torch.Tensor) -> torch.Tensor:
        """-log2 P(y_hat) per element, P the mixture's mass on [y_hat - 1/2, y_hat + 1/2]. Shape of y_hat."""
        w = torch.softmax(self.logits, dim=-1)  # [K, C]
        s = torch.exp(self.log_scale).clamp_min(1e-3)
        y = y_hat.unsqueeze(-1)  # [B, K, 1]
        upper = torch.sigmoid((y + 0.5 - self.loc) / s)
        lower = torch.sigmoid((y - 0.5 - self.loc) / s)
        p = ((upper - lower) * w).sum(-1)
        return -torch.log(p.clamp_min(1e-9)) / math.log(2.0)
