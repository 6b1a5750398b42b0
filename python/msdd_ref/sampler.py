"""The multi-scale Euler sampler of /work/shared/DESIGN.md ("Flow and scales"): S time windows
coarse to fine, rectified window starts, a global time tau across all scales, nearest 2x
upsampling plus block noise between scales, classifier-free guidance with the null latent."""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Schedule:
    start: list = field(default_factory=list)      # flow time at each window's start (rectified for s >= 1)
    end: list = field(default_factory=list)        # flow time at each window's end
    tau_start: list = field(default_factory=list)  # global time at each window's start
    tau_end: list = field(default_factory=list)
    alpha: list = field(default_factory=list)      # per transition s-1 -> s: x <- alpha up(x) + beta n
    beta: list = field(default_factory=list)

    def tau(self, k, t):
        """Global time at flow time t inside window k (linear over the window)."""
        u = (t - self.end[k]) / (self.start[k] - self.end[k])
        return self.tau_end[k] + u * (self.tau_start[k] - self.tau_end[k])


def schedule(scales, gamma):
    """[1, 0] in `scales` uniform windows; window s >= 1 starts at its original start t_s
    rectified: o = 1 - t_s, alpha = 1 / (sqrt(1 + 1/gamma) (1 - o) + o),
    beta = alpha (1 - o) / sqrt(gamma), start = 1 - alpha o. tau runs 1 -> 0 with each window
    taking a share proportional to its length."""
    if scales < 1 or gamma <= 0:
        raise ValueError("a schedule needs scales >= 1 and gamma > 0")
    s = Schedule()
    for k in range(scales):
        start, end = 1.0 - k / scales, 1.0 - (k + 1) / scales
        if k > 0:
            o = 1.0 - start
            alpha = 1.0 / (math.sqrt(1.0 + 1.0 / gamma) * (1.0 - o) + o)
            s.alpha.append(alpha)
            s.beta.append(alpha * (1.0 - o) / math.sqrt(gamma))
            start = 1.0 - alpha * o
        s.start.append(start)
        s.end.append(end)
    total = sum(a - b for a, b in zip(s.start, s.end))
    tau = 1.0
    for k in range(scales):
        s.tau_start.append(tau)
        tau -= (s.start[k] - s.end[k]) / total
        s.tau_end.append(0.0 if k == scales - 1 else tau)
    return s


def _check_design_numbers():
    """The numbers DESIGN.md lists for S = 4 and S = 3 (gamma 1/3), to its 3 decimals."""
    def close(got, want):
        assert all(abs(a - b) <= 6e-4 for a, b in zip(got, want)) and len(got) == len(want), (got, want)
    s4 = schedule(4, 1 / 3)
    close(s4.start, [1.0, 0.857, 0.667, 0.40])
    close(s4.end, [0.75, 0.5, 0.25, 0.0])
    close(s4.alpha, [0.571, 0.667, 0.8])
    close(s4.beta, [0.742, 0.577, 0.346])
    close(s4.tau_start, [1.0, 0.824, 0.574, 0.281])
    close(s4.tau_end, [0.824, 0.574, 0.281, 0.0])
    s3 = schedule(3, 1 / 3)
    close(s3.start, [1.0, 0.8, 0.5])
    close(s3.end, [0.667, 0.333, 0.0])
    close(s3.alpha, [0.6, 0.75])
    close(s3.beta, [0.693, 0.433])


_check_design_numbers()


def block_noise(z, gamma, paper_code=False):
    """Correlates i.i.d. standard normal z [B, C, H, W] inside every 2x2 pixel block: each
    block becomes N(0, (1 + gamma) I - gamma 11^T) (needs gamma <= 1/3), or with `paper_code`
    the released code's (1 - gamma) I + gamma 11^T. With P = 11^T / 4 the covariance is
    a (I - P) + m P, so n = sqrt(a) (z - mean z) + sqrt(m) mean z over each block (the same
    map as msdd.block_noise: equal z give equal n)."""
    if paper_code:
        a, m = 1.0 - gamma, 1.0 + 3.0 * gamma
    else:
        a, m = 1.0 + gamma, 1.0 - 3.0 * gamma
    if m < -1e-12 or a < 0:
        raise ValueError(f"gamma {gamma} gives no valid block covariance")
    mean_up = F.interpolate(F.avg_pool2d(z, 2), scale_factor=2, mode="nearest")
    return math.sqrt(a) * (z - mean_up) + math.sqrt(max(m, 0.0)) * mean_up


@torch.no_grad()
def sample(tokenizer, latent, seed=0, steps=None, guidance=None, gamma=None, paper_code_noise=False,
           return_scales=False, normal=None):
    """Decodes latent [B, N, C] to images [B, 3, R, R] in [0, 1] (not clamped): Euler steps
    from each window's start to its end with CFG v = v_u + w (v_c - v_u) (w = 1: the
    conditional branch only), scale transitions x <- alpha up(x) + beta block_noise.
    `normal(k, shape)` gives the i.i.d. N(0, 1) draws of scale k (the initial noise for k = 0,
    the block noise's input for k >= 1); by default torch.Generator(seed) in that order.
    Returns (images, nfe) or, with return_scales, also every scale's x."""
    cfg = tokenizer.config
    steps = cfg["sampler"]["steps"] if steps is None else steps
    w = cfg["sampler"]["guidance"] if guidance is None else guidance
    gamma = cfg["sampler"]["gamma"] if gamma is None else gamma
    scales, size = cfg["num_scales"], cfg["image_size"]
    sched = schedule(scales, gamma)
    if normal is None:
        g = torch.Generator().manual_seed(seed)

        def normal(k, shape):
            return torch.randn(shape, generator=g)
    b = latent.shape[0]
    null = tokenizer.null_latent[None].expand_as(latent)
    r0 = size >> (scales - 1)
    # The draws come from the CPU generator (the same numbers on every device).
    x = normal(0, (b, 3, r0, r0)).to(latent.device)
    nfe, outputs = 0, []
    for k in range(scales):
        if k > 0:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            n = block_noise(normal(k, x.shape).to(x.device), gamma, paper_code_noise)
            x = sched.alpha[k - 1] * x + sched.beta[k - 1] * n
        ts = [sched.start[k] + (sched.end[k] - sched.start[k]) * j / steps for j in range(steps + 1)]
        for t0, t1 in zip(ts[:-1], ts[1:]):
            tau = torch.full((b,), sched.tau(k, t0), device=x.device)
            if w == 1.0:
                v = tokenizer.denoise(x, tau, latent)
                nfe += 1
            else:
                both = tokenizer.denoise(torch.cat([x, x]), torch.cat([tau, tau]), torch.cat([latent, null]))
                v_c, v_u = both[:b], both[b:]
                v = v_u + w * (v_c - v_u)
                nfe += 2
            x = x + (t1 - t0) * v
        outputs.append(x)
    images = (x + 1) / 2
    return (images, nfe, outputs) if return_scales else (images, nfe)
