#!/usr/bin/python3
"""Checks of the reference tokenizer against docs/tokenizer.md and DESIGN.md written out by
hand (plain loops, no reuse of the model's helpers). Exits 77 with a SKIP: line without torch."""
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"SKIP: PyTorch not importable by {sys.executable} ({e}); run scripts/install-peers.sh")
    sys.exit(77)

from msdd_ref import model as M  # noqa: E402
from msdd_ref import sampler as S  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TINY = M.load_config(os.path.join(ROOT, "models", "tiny.json"))


class Conventions(unittest.TestCase):
    def test_latent_grid(self):
        self.assertEqual(M.latent_grid(16), (4, 4))
        self.assertEqual(M.latent_grid(32), (4, 8))
        self.assertEqual(M.latent_grid(128), (8, 16))
        self.assertEqual(M.latent_grid(7), (1, 7))

    def test_scale_resolutions(self):
        self.assertEqual([M.scale_resolution(TINY, k) for k in range(3)], [8, 16, 32])

    def test_timestep_embedding(self):
        tau, dim = torch.tensor([0.0, 0.37]), 8
        got = M.timestep_embedding(tau, dim).numpy()
        for b, t in enumerate([0.0, 0.37]):
            for i in range(4):
                f = math.exp(-math.log(10000) * i / 4)
                self.assertAlmostEqual(got[b, i], math.cos(1000 * t * f), places=4)
                self.assertAlmostEqual(got[b, 4 + i], math.sin(1000 * t * f), places=4)

    def test_rope(self):
        gh, gw, dh, theta = 2, 3, 8, 10000.0
        x = torch.randn(1, 1, gh * gw, dh, dtype=torch.float32)
        got = M.apply_rope(x, *M.rope_tables(gh, gw, dh, theta))
        for tok in range(gh * gw):
            row, col = divmod(tok, gw)
            for half, pos in ((0, row), (1, col)):
                for i in range(dh // 4):
                    j = half * dh // 2 + 2 * i
                    ang = pos * theta ** (-2 * i / (dh // 2))
                    a, b = x[0, 0, tok, j].item(), x[0, 0, tok, j + 1].item()
                    self.assertAlmostEqual(got[0, 0, tok, j].item(), a * math.cos(ang) - b * math.sin(ang), places=5)
                    self.assertAlmostEqual(got[0, 0, tok, j + 1].item(), a * math.sin(ang) + b * math.cos(ang), places=5)

    def test_patchify(self):
        x = torch.randn(2, 3, 8, 8)
        t = M.patchify(x, 4)
        # token (gy, gx), feature (py, px, c)
        self.assertEqual(t[1, 1 * 2 + 0, (3 * 4 + 2) * 3 + 1].item(), x[1, 1, 4 + 3, 0 + 2].item())
        self.assertTrue(torch.equal(M.unpatchify(t, 4, 8), x))


class Model(unittest.TestCase):
    def test_parameter_names_and_shapes(self):
        sd = M.Tokenizer(TINY).state_dict()
        he = hd = 64
        want = {
            "encoder.patch_embed.weight": [he, 48], "encoder.latent_tokens": [16, he],
            "encoder.blocks.0.lat.mlp.down.weight": [he, 256], "encoder.blocks.0.img.k_norm.bias": [32],
            "encoder.out.weight": [8, he], "decoder.latent_embed.weight": [hd, 8],
            "decoder.time_embed.fc1.weight": [hd, 64], "decoder.blocks.0.lat.mod.weight": [6 * hd, hd],
            "decoder.blocks.1.lat.mod.weight": [2 * hd, hd], "decoder.blocks.1.img.proj.bias": [hd],
            "decoder.final.mod.weight": [2 * hd, hd], "decoder.final.linear.weight": [48, hd],
            "null_latent": [16, 8],
        }
        for k, shape in want.items():
            self.assertEqual(list(sd[k].shape), shape, k)
        # Pre-only streams of the last blocks: attention inputs only.
        for k in ("encoder.blocks.0.img.proj.weight", "encoder.blocks.0.img.mlp.up.weight",
                  "encoder.blocks.0.img.mod.weight", "decoder.blocks.1.lat.proj.weight",
                  "decoder.blocks.1.lat.mlp.gate.weight"):
            self.assertNotIn(k, sd)
        self.assertIn("encoder.blocks.0.img.q_norm.weight", sd)

    def test_init_is_adaln_zero(self):
        tok = M.Tokenizer(TINY).init(3)
        v = tok.denoise(torch.randn(2, 3, 16, 16), torch.tensor([0.2, 0.9]), torch.randn(2, 16, 8))
        self.assertEqual(float(v.abs().max()), 0.0)
        w = tok.decoder.blocks[0].img.q.weight
        self.assertAlmostEqual(float(w.var()), 1 / 64, delta=0.3 / 64)

    def test_denoise_by_hand(self):
        """One decoder evaluation recomputed in float64 with plain numpy from the state_dict,
        with both RoPE layouts."""
        for layout in ("index", "aligned"):
            cfg = dict(TINY, decoder={"depth": 1, "hidden": 16, "heads": 2}, rope_layout=layout)
            tok = M.Tokenizer(cfg).randomize(5).double()
            sd = {k: v.numpy() for k, v in tok.state_dict().items()}
            x, tau, lat = torch.randn(1, 3, 8, 8).double(), torch.tensor([0.4], dtype=torch.float64), torch.randn(1, 16, 8).double()
            with torch.no_grad():
                got = tok.denoise(x, tau, lat).numpy()
            want = np.array(reference_denoise(sd, cfg, x.numpy(), 0.4, lat.numpy()))
            self.assertLess(np.abs(got - want).max(), 1e-9, layout)

    def test_safetensors_round_trip(self):
        tok = M.Tokenizer(TINY).randomize(1)
        with tempfile.TemporaryDirectory() as d:
            tok.save(os.path.join(d, "w.safetensors"))
            other = M.Tokenizer(TINY).load(os.path.join(d, "w.safetensors"))
        for k, v in tok.state_dict().items():
            self.assertTrue(torch.equal(v, other.state_dict()[k]), k)


def reference_denoise(sd, cfg, x, tau, lat):
    """The MMDiT denoiser of docs/tokenizer.md, batch 1, loops over tokens and heads."""
    p, hd, heads = cfg["patch_size"], cfg["decoder"]["hidden"], cfg["decoder"]["heads"]
    dh, r = hd // heads, x.shape[-1]
    g = r // p

    def lin(name, v):
        return v @ sd[name + ".weight"].T + sd[name + ".bias"]

    def ln(v, w=None, b=None):
        mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
        y = (v - mu) / np.sqrt(var + 1e-6)
        return y if w is None else y * w + b

    def silu(v):
        return v / (1 + np.exp(-v))

    # docs/tokenizer.md's "aligned" layout: a grid of n rows over the full-resolution patch
    # grid puts its row i at the centre of rows [i G / n, (i + 1) G / n).
    full = cfg["image_size"] // p
    aligned = cfg.get("rope_layout", "index") == "aligned"

    def rope(v, gw):  # v [L, dh]
        out = v.copy()
        gh = v.shape[0] // gw
        for t in range(v.shape[0]):
            row, col = divmod(t, gw)
            if aligned:
                row = (row * full / gh + (row + 1) * full / gh - 1) / 2
                col = (col * full / gw + (col + 1) * full / gw - 1) / 2
            for half, pos in ((0, row), (1, col)):
                for i in range(dh // 4):
                    j, ang = half * dh // 2 + 2 * i, pos * 10000.0 ** (-2 * i / (dh // 2))
                    out[t, j] = v[t, j] * math.cos(ang) - v[t, j + 1] * math.sin(ang)
                    out[t, j + 1] = v[t, j] * math.sin(ang) + v[t, j + 1] * math.cos(ang)
        return out

    img = np.zeros((g * g, 3 * p * p))
    for gy in range(g):
        for gx in range(g):
            for py in range(p):
                for px in range(p):
                    for c in range(3):
                        img[gy * g + gx, (py * p + px) * 3 + c] = x[0, c, gy * p + py, gx * p + px]
    streams = {"img": lin("decoder.patch_embed", img), "lat": lin("decoder.latent_embed", lat[0])}
    half = cfg["time_embed_dim"] // 2
    f = np.exp(-math.log(10000) * np.arange(half) / half)
    temb = np.concatenate([np.cos(1000 * tau * f), np.sin(1000 * tau * f)])
    c = lin("decoder.time_embed.fc2", silu(lin("decoder.time_embed.fc1", temb)))
    grids = {"img": g, "lat": M.latent_grid(lat.shape[1])[1]}
    for i in range(cfg["decoder"]["depth"]):
        last = i == cfg["decoder"]["depth"] - 1
        mods, qkv = {}, {}
        for s in ("img", "lat"):
            pre = f"decoder.blocks.{i}.{s}"
            mods[s] = np.split(lin(pre + ".mod", silu(c)), 2 if (last and s == "lat") else 6)
            h = ln(streams[s]) * (1 + mods[s][1]) + mods[s][0]
            q, k, v = (lin(f"{pre}.{n}", h) for n in "qkv")
            qkv[s] = [[rope(ln(q[:, j * dh:(j + 1) * dh], sd[pre + ".q_norm.weight"], sd[pre + ".q_norm.bias"]), grids[s]),
                       rope(ln(k[:, j * dh:(j + 1) * dh], sd[pre + ".k_norm.weight"], sd[pre + ".k_norm.bias"]), grids[s]),
                       v[:, j * dh:(j + 1) * dh]] for j in range(heads)]
        n_img = streams["img"].shape[0]
        outs = []
        for j in range(heads):
            q, k, v = (np.concatenate([qkv["img"][j][m], qkv["lat"][j][m]]) for m in range(3))
            a = q @ k.T / math.sqrt(dh)
            a = np.exp(a - a.max(-1, keepdims=True))
            outs.append((a / a.sum(-1, keepdims=True)) @ v)
        attn = np.concatenate(outs, axis=1)
        for s, a in (("img", attn[:n_img]), ("lat", attn[n_img:])):
            if last and s == "lat":
                continue
            pre, (_, _, g1, sh2, sc2, g2) = f"decoder.blocks.{i}.{s}", mods[s]
            xs = streams[s] + g1 * lin(pre + ".proj", a)
            h = ln(xs) * (1 + sc2) + sh2
            streams[s] = xs + g2 * lin(pre + ".mlp.down", silu(lin(pre + ".mlp.gate", h)) * lin(pre + ".mlp.up", h))
    shift, scale = np.split(lin("decoder.final.mod", silu(c)), 2)
    out = lin("decoder.final.linear", ln(streams["img"]) * (1 + scale) + shift)
    v = np.zeros((1, 3, r, r))
    for gy in range(g):
        for gx in range(g):
            for py in range(p):
                for px in range(p):
                    for ch in range(3):
                        v[0, ch, gy * p + py, gx * p + px] = out[gy * g + gx, (py * p + px) * 3 + ch]
    return v


class Sampler(unittest.TestCase):
    def test_transition_lands_on_the_flow_path(self):
        """alpha^2 t_e^2 11^T + beta^2 Sigma = t'^2 I on a 2x2 block (DESIGN.md's claim)."""
        for scales in (3, 4):
            s = S.schedule(scales, 1 / 3)
            for k in range(1, scales):
                a, b, te, ts = s.alpha[k - 1], s.beta[k - 1], s.end[k - 1], s.start[k]
                sigma = (1 + 1 / 3) * np.eye(4) - (1 / 3) * np.ones((4, 4))
                cov = a * a * te * te * np.ones((4, 4)) + b * b * sigma
                self.assertLess(np.abs(cov - ts * ts * np.eye(4)).max(), 1e-12)
                self.assertAlmostEqual(a * (1 - te), 1 - ts, places=12)  # the signal's weight

    def test_block_noise_covariance(self):
        g = torch.Generator().manual_seed(0)
        for paper, sigma in ((False, (4 / 3) * np.eye(4) - np.ones((4, 4)) / 3),
                             (True, (2 / 3) * np.eye(4) + np.ones((4, 4)) / 3)):
            z = torch.randn((40000, 1, 2, 2), generator=g)
            n = S.block_noise(z, 1 / 3, paper_code=paper).reshape(-1, 4).double().numpy()
            self.assertLess(np.abs(np.cov(n.T) - sigma).max(), 0.03)

    def test_oracle_sampler_recovers_the_image(self):
        """With the exact velocity of a single image (x - x0_k) / t, where the oracle recovers t
        from tau through the schedule, the sampler must end on the image."""
        x0 = torch.rand(1, 3, 32, 32)
        sched = S.schedule(3, 1 / 3)

        class Oracle:
            config = TINY
            null_latent = torch.zeros(16, 8)

            def denoise(self, x, tau, latent):
                k = int(math.log2(x.shape[-1] // 8))
                u = (tau - sched.tau_end[k]) / (sched.tau_start[k] - sched.tau_end[k])
                t = sched.end[k] + u * (sched.start[k] - sched.end[k])
                target = F.avg_pool2d(2 * x0 - 1, 32 // x.shape[-1]) if x.shape[-1] < 32 else 2 * x0 - 1
                return (x - target) / t[:, None, None, None]

        import torch.nn.functional as F
        images, nfe = S.sample(Oracle(), torch.zeros(1, 16, 8), seed=1)
        self.assertEqual(nfe, 3 * 4 * 2)
        self.assertLess(float((images - x0).abs().max()), 1e-4)


if __name__ == "__main__":
    unittest.main()
