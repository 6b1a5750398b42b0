#!/usr/bin/python3
"""Exports a part of the reference tokenizer to ONNX (opset 17, static shapes).

    export_onnx.py CONFIG.json -o OUT.onnx [--part denoise --scale K | --part encode]
                   [--weights W.safetensors | --seed S] [--save-weights W.safetensors]
                   [--batch B] [--inputs IN.npz [--input-seed S]]

denoise: inputs x [B, 3, r_K, r_K], tau [B], latent [B, N, C]; output velocity.
encode:  input images [B, 3, R, R]; output latent [B, N, C].
The graph is named encode or denoise_s<K> (the compiled tokenizer's function names) and
initializers keep their state_dict names (decoder.*, encoder.*). Without --weights the
weights are random from --seed (Tokenizer.randomize: init plus a perturbation, so that the
zero-initialized modulation layers are not zero); --save-weights writes them as safetensors.
--inputs writes seeded random inputs for the exported graph as an .npz keyed by input name.
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from msdd_ref.model import Tokenizer, load_config, scale_resolution  # noqa: E402


class _Denoise(nn.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.decoder = tokenizer.decoder

    def forward(self, x, tau, latent):
        return self.decoder(x, tau, latent)


class _Encode(nn.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.encoder = tokenizer.encoder

    def forward(self, images):
        return self.encoder(images)


def example_inputs(config, part, scale, batch, seed):
    """Seeded inputs of the right shapes: images in [0, 1]; x ~ N(0, 1); tau in (0, 1);
    latent ~ N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    if part == "encode":
        r = config["image_size"]
        return {"images": torch.rand((batch, 3, r, r), generator=g)}
    r = scale_resolution(config, scale)
    return {"x": torch.randn((batch, 3, r, r), generator=g),
            "tau": torch.rand((batch,), generator=g),
            "latent": torch.randn((batch, config["latent_tokens"], config["latent_channels"]), generator=g)}


def export(tokenizer, part, scale, batch, out, input_seed=0):
    """Writes the ONNX file; returns the example inputs (name -> tensor) it traced with."""
    config = tokenizer.config
    module = _Encode(tokenizer) if part == "encode" else _Denoise(tokenizer)
    inputs = example_inputs(config, part, scale, batch, input_seed)
    output = "latent" if part == "encode" else "velocity"
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python-side shape arithmetic: the export is for static shapes.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(inputs.values()), out, opset_version=17,
                          input_names=list(inputs), output_names=[output], do_constant_folding=True)
    # Name the graph after the tokenizer's function (docs/tokenizer.md): msdd-translate names
    # the imported function after it.
    import onnx
    model = onnx.load(out)
    model.graph.name = "encode" if part == "encode" else f"denoise_s{scale}"
    onnx.save(model, out)
    return inputs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--part", choices=["denoise", "encode"], default="denoise")
    ap.add_argument("--scale", type=int, help="denoise: the scale K (0 = coarsest); default the last")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--weights", help="safetensors with the tokenizer's state_dict")
    ap.add_argument("--seed", type=int, default=0, help="random weights' seed (without --weights)")
    ap.add_argument("--save-weights", help="write the weights used as safetensors")
    ap.add_argument("--inputs", help="write seeded example inputs (.npz keyed by input name)")
    ap.add_argument("--input-seed", type=int, default=1)
    args = ap.parse_args(argv)

    try:
        config = load_config(args.config)
        tokenizer = Tokenizer(config)
        if args.weights:
            tokenizer.load(args.weights)
        else:
            tokenizer.randomize(args.seed)
        scale = config["num_scales"] - 1 if args.scale is None else args.scale
        if args.part == "denoise":
            scale_resolution(config, scale)
        if args.batch < 1:
            raise ValueError(f"batch {args.batch} must be positive")
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        sys.exit(f"export_onnx: {args.config}: {e}")
    inputs = export(tokenizer, args.part, scale, args.batch, args.output, args.input_seed)
    if args.save_weights:
        tokenizer.save(args.save_weights)
    if args.inputs:
        np.savez(args.inputs, **{k: v.numpy() for k, v in inputs.items()})


if __name__ == "__main__":
    main()
