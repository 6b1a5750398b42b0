"""The multi-scale diffusion tokenizer of docs/tokenizer.md in PyTorch: encoder, shared
multi-scale decoder (the denoiser), and the tokenizer that holds both plus `null_latent`.

Parameter names are the state_dict keys that docs/tokenizer.md lists, so a safetensors file
moves between this model and a compiled one unchanged. Everything here follows that page:
LayerNorm without affine parameters (eps 1e-6) around every block, QK-LayerNorm with affine
parameters over the head dimension, 2-D RoPE, joint attention over [image ; latent] tokens,
SwiGLU MLPs, adaLN-Zero modulation in the decoder.
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msdd.images import read_safetensors, write_safetensors

EPS = 1e-6


def load_config(path):
    with open(path) as f:
        return json.load(f)


def latent_grid(n):
    """(gh, gw): gh the largest divisor of n that is <= sqrt(n), gw = n / gh."""
    gh = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return gh, n // gh


def scale_resolution(config, k):
    """Resolution of scale k: R / 2^(S-1-k)."""
    size, scales = config["image_size"], config["num_scales"]
    if not 0 <= k < scales:
        raise ValueError(f"scale {k} is outside [0, {scales})")
    r = size >> (scales - 1 - k)
    if r << (scales - 1 - k) != size or r % config["patch_size"]:
        raise ValueError(f"scale {k}: resolution {size} / 2^{scales - 1 - k} is not a multiple of the patch")
    return r


def timestep_embedding(tau, dim, max_period=10000.0, scale=1000.0):
    """[B] -> [B, dim]: cos features then sin features (msdd.timestep_embedding)."""
    half = dim // 2
    # The frequencies are computed outside torch, so that an export holds them as a constant.
    tau = tau if tau.is_floating_point() else tau.float()
    freqs = torch.from_numpy(np.exp(-math.log(max_period) * np.arange(half) / half)).to(tau.device, tau.dtype)
    args = (tau * scale)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_tables(grid_h, grid_w, dh, theta, frame=None):
    """cos, sin [L, dh/2] for the pairs of a row-major (grid_h, grid_w) grid (msdd.rope_2d):
    pairs 0 .. dh/4-1 turn by the row, pairs dh/4 .. dh/2-1 by the column; pair i of a half
    turns by pos * theta^(-2i / (dh/2)). Positions are the grid indices, or with `frame` (the
    config's rope_layout "aligned": the full-resolution patch grid's side) the centres of the
    areas the tokens cover on that grid. Computed in float64 outside torch (a constant in an
    export)."""
    quarter = dh // 4
    freqs = theta ** (-2.0 * np.arange(quarter) / (dh // 2))
    rows, cols = np.divmod(np.arange(grid_h * grid_w), grid_w)
    if frame is not None:
        rows = (rows + 0.5) * (frame / grid_h) - 0.5
        cols = (cols + 0.5) * (frame / grid_w) - 0.5
    angles = np.concatenate([rows[:, None] * freqs[None, :], cols[:, None] * freqs[None, :]], axis=1)
    return torch.from_numpy(np.cos(angles)), torch.from_numpy(np.sin(angles))


def rope_frame(config):
    """The side of the patch grid that rope_layout "aligned" places every grid on; None for
    "index" (the default)."""
    layout = config.get("rope_layout", "index")
    if layout not in ("index", "aligned"):
        raise ValueError(f"rope_layout must be 'index' or 'aligned', not {layout!r}")
    return config["image_size"] // config["patch_size"] if layout == "aligned" else None


def apply_rope(x, cos, sin):
    """x [B, heads, L, dh]: the pair (2i, 2i+1) -> (a cos - b sin, a sin + b cos)."""
    cos, sin = cos.to(x.device, x.dtype), sin.to(x.device, x.dtype)
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).reshape(x.shape)


def layer_norm(x):
    """LayerNorm without affine parameters. The unit scale and zero bias are explicit
    constants: torch 1.13 exports F.layer_norm without a weight as a LayerNormalization with
    an empty scale input, which the ONNX checker rejects, and without a bias as one with an
    empty bias input, on which ONNX Runtime 1.30's extended graph optimizations crash."""
    n = x.shape[-1]
    return F.layer_norm(x, (n,), torch.ones(n, dtype=x.dtype, device=x.device),
                        torch.zeros(n, dtype=x.dtype, device=x.device), eps=EPS)


class Linear(nn.Linear):
    """nn.Linear that applies itself to the rows of the input flattened to 2-D, so that the
    ONNX export is one Gemm (transB = 1) on the parameter itself: on 3-D inputs torch exports
    MatMul with a constant-folded transposed copy of the weight that loses its state_dict name."""

    def forward(self, x):
        y = F.linear(x.reshape(-1, x.shape[-1]), self.weight, self.bias)
        return y.reshape(*x.shape[:-1], y.shape[-1])


def patchify(x, p):
    """[B, 3, r, r] -> [B, (r/p)^2, p*p*3], features ordered (py, px, c)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tokens, p, r):
    """[B, (r/p)^2, p*p*3] -> [B, 3, r, r] (the inverse of patchify)."""
    b, g = tokens.shape[0], r // p
    x = tokens.reshape(b, g, g, p, p, 3).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, 3, r, r)


class SwiGLU(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate, self.up, self.down = Linear(hidden, inner), Linear(hidden, inner), Linear(inner, hidden)

    def forward(self, h):
        return self.down(F.silu(self.gate(h)) * self.up(h))


class Stream(nn.Module):
    """One stream (img or lat) of an MMDiT block. `pre_only`: only the attention inputs
    (q, k, v, q_norm, k_norm and, modulated, a 2-output `mod`), as in SD3's context-pre-only
    block; `modulated`: adaLN from the conditioning vector (decoder)."""

    def __init__(self, hidden, heads, mlp_ratio, modulated, pre_only):
        super().__init__()
        self.heads, self.dh, self.modulated, self.pre_only = heads, hidden // heads, modulated, pre_only
        if modulated:
            self.mod = Linear(hidden, (2 if pre_only else 6) * hidden)
        self.q, self.k, self.v = Linear(hidden, hidden), Linear(hidden, hidden), Linear(hidden, hidden)
        self.q_norm, self.k_norm = nn.LayerNorm(self.dh, eps=EPS), nn.LayerNorm(self.dh, eps=EPS)
        if not pre_only:
            self.proj = Linear(hidden, hidden)
            self.mlp = SwiGLU(hidden, mlp_ratio * hidden)

    def split_heads(self, t):
        b, l, _ = t.shape
        return t.reshape(b, l, self.heads, self.dh).transpose(1, 2)

    def modulation(self, c):
        """The chunks [B, 1, hidden] of mod(silu(c)): shift1, scale1[, gate1, shift2, scale2, gate2]."""
        return [m[:, None, :] for m in self.mod(F.silu(c)).chunk(2 if self.pre_only else 6, dim=-1)]

    def qkv(self, x, mods, cos, sin):
        h = layer_norm(x)
        if self.modulated:
            h = h * (1 + mods[1]) + mods[0]
        q = apply_rope(self.q_norm(self.split_heads(self.q(h))), cos, sin)
        k = apply_rope(self.k_norm(self.split_heads(self.k(h))), cos, sin)
        return q, k, self.split_heads(self.v(h))

    def post(self, x, attn, mods):
        b, _, l, _ = attn.shape
        a = self.proj(attn.transpose(1, 2).reshape(b, l, self.heads * self.dh))
        gate1, shift2, scale2, gate2 = mods[2:] if self.modulated else (1.0, 0.0, 0.0, 1.0)
        x = x + gate1 * a
        h = layer_norm(x)
        if self.modulated:
            h = h * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


# True: attention through F.scaled_dot_product_attention (flash / memory-efficient kernels
# on GPUs), the same function; benchmarks time PyTorch both ways.
FUSED_ATTENTION = False


class Block(nn.Module):
    """Joint-attention MMDiT block; `last` gives the stream named `drop` a pre-only body."""

    def __init__(self, hidden, heads, mlp_ratio, modulated, drop=None):
        super().__init__()
        self.img = Stream(hidden, heads, mlp_ratio, modulated, drop == "img")
        self.lat = Stream(hidden, heads, mlp_ratio, modulated, drop == "lat")
        self.modulated = modulated

    def forward(self, img, lat, rope_img, rope_lat, c=None):
        mods_i = self.img.modulation(c) if self.modulated else None
        mods_l = self.lat.modulation(c) if self.modulated else None
        qi, ki, vi = self.img.qkv(img, mods_i, *rope_img)
        ql, kl, vl = self.lat.qkv(lat, mods_l, *rope_lat)
        q, k, v = torch.cat([qi, ql], 2), torch.cat([ki, kl], 2), torch.cat([vi, vl], 2)
        if FUSED_ATTENTION:
            attn = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
            attn = torch.matmul(torch.softmax(scores, dim=-1), v)
        li = img.shape[1]
        a_img, a_lat = attn[:, :, :li], attn[:, :, li:]
        img = img if self.img.pre_only else self.img.post(img, a_img, mods_i)
        lat = lat if self.lat.pre_only else self.lat.post(lat, a_lat, mods_l)
        return img, lat


def _blocks(section, mlp_ratio, modulated, drop):
    depth, hidden, heads = section["depth"], section["hidden"], section["heads"]
    if hidden % heads or (hidden // heads) % 4:
        raise ValueError(f"hidden {hidden} / heads {heads} must give a head dimension divisible by 4")
    return nn.ModuleList(
        Block(hidden, heads, mlp_ratio, modulated, drop if i == depth - 1 else None) for i in range(depth))


class Encoder(nn.Module):
    """images [B, 3, R, R] in [0, 1] -> latent [B, N, C]."""

    def __init__(self, config):
        super().__init__()
        e, p = config["encoder"], config["patch_size"]
        self.p, self.size, self.tokens, self.dh = p, config["image_size"], config["latent_tokens"], e["hidden"] // e["heads"]
        self.theta = float(config["rope_theta"])
        self.frame = rope_frame(config)
        self.patch_embed = Linear(3 * p * p, e["hidden"])
        self.latent_tokens = nn.Parameter(torch.zeros(config["latent_tokens"], e["hidden"]))
        self.blocks = _blocks(e, config["mlp_ratio"], modulated=False, drop="img")
        self.out = Linear(e["hidden"], config["latent_channels"])

    def forward(self, images):
        x = 2 * images - 1
        g = self.size // self.p
        rope_img = rope_tables(g, g, self.dh, self.theta)
        rope_lat = rope_tables(*latent_grid(self.tokens), self.dh, self.theta, self.frame)
        img = self.patch_embed(patchify(x, self.p))
        lat = self.latent_tokens.expand(x.shape[0], *self.latent_tokens.shape)
        for block in self.blocks:
            img, lat = block(img, lat, rope_img, rope_lat)
        return self.out(layer_norm(lat))


class TimeEmbed(nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.features = features
        self.fc1, self.fc2 = Linear(features, hidden), Linear(hidden, hidden)

    def forward(self, tau):
        return self.fc2(F.silu(self.fc1(timestep_embedding(tau, self.features).to(self.fc1.weight.dtype))))


class Final(nn.Module):
    def __init__(self, hidden, out):
        super().__init__()
        self.mod, self.linear = Linear(hidden, 2 * hidden), Linear(hidden, out)

    def forward(self, img, c):
        shift, scale = (m[:, None, :] for m in self.mod(F.silu(c)).chunk(2, dim=-1))
        return self.linear(layer_norm(img) * (1 + scale) + shift)


class Decoder(nn.Module):
    """The denoiser shared by all scales: x [B, 3, r, r], tau [B], latent [B, N, C] ->
    velocity [B, 3, r, r] for any r that the patch divides."""

    def __init__(self, config):
        super().__init__()
        d, p = config["decoder"], config["patch_size"]
        self.p, self.dh, self.theta = p, d["hidden"] // d["heads"], float(config["rope_theta"])
        self.frame = rope_frame(config)
        self.tokens = config["latent_tokens"]
        self.patch_embed = Linear(3 * p * p, d["hidden"])
        self.latent_embed = Linear(config["latent_channels"], d["hidden"])
        self.time_embed = TimeEmbed(config["time_embed_dim"], d["hidden"])
        self.blocks = _blocks(d, config["mlp_ratio"], modulated=True, drop="lat")
        self.final = Final(d["hidden"], 3 * p * p)

    def forward(self, x, tau, latent):
        r = int(x.shape[-1])
        rope_img = rope_tables(r // self.p, r // self.p, self.dh, self.theta, self.frame)
        rope_lat = rope_tables(*latent_grid(self.tokens), self.dh, self.theta, self.frame)
        img, lat = self.patch_embed(patchify(x, self.p)), self.latent_embed(latent)
        c = self.time_embed(tau)
        for block in self.blocks:
            img, lat = block(img, lat, rope_img, rope_lat, c)
        return unpatchify(self.final(img, c), self.p, r)


class Tokenizer(nn.Module):
    """encoder + decoder + null_latent (the unconditional latent of CFG and latent dropout)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.encoder, self.decoder = Encoder(config), Decoder(config)
        self.null_latent = nn.Parameter(torch.zeros(config["latent_tokens"], config["latent_channels"]))

    def encode(self, images):
        return self.encoder(images)

    def denoise(self, x, tau, latent):
        return self.decoder(x, tau, latent)

    @torch.no_grad()
    def init(self, seed):
        """docs/tokenizer.md's initialization: linear weights N(0, 1/in), biases 0, LayerNorm
        weights 1, latent tokens and null latent N(0, 0.02^2); every `mod` and
        decoder.final.linear zero (adaLN-Zero)."""
        g = torch.Generator().manual_seed(seed)
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                zero = name.endswith(".mod") or name == "decoder.final.linear"
                m.weight.copy_(torch.zeros_like(m.weight) if zero else
                               torch.randn(m.weight.shape, generator=g) / math.sqrt(m.in_features))
                m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        for p in (self.encoder.latent_tokens, self.null_latent):
            p.copy_(0.02 * torch.randn(p.shape, generator=g))
        return self

    @torch.no_grad()
    def randomize(self, seed, scale=0.5):
        """Random weights for tests: init, then every parameter perturbed by N(0, scale^2 / fan)
        so that the zero-initialized modulation and output layers carry signal too."""
        self.init(seed)
        g = torch.Generator().manual_seed(seed + 1)
        for p in self.parameters():
            fan = p.shape[-1] if p.dim() == 2 else 1
            p.add_(scale * torch.randn(p.shape, generator=g) / math.sqrt(fan))
        return self

    def save(self, path, prefix=""):
        """The state_dict (or its keys starting with `prefix`, e.g. "decoder.") as safetensors."""
        write_safetensors(path, {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()
                                 if k.startswith(prefix)})

    def load(self, path):
        arrays = read_safetensors(path)
        self.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, strict=True)
        return self
