#!/usr/bin/python3
"""Independent float64 numpy reference for the tokenizer's perceptual_distance.

  perceptual_check.py write MODEL.onnx N R DIR   random images -> DIR/inputs.npz
  perceptual_check.py check MODEL.onnx DIR       compare DIR/outputs.npz with the reference

The reference runs the ONNX graph (Conv and Relu nodes, read from the file) with numpy,
normalizes every output over channels (f / sqrt(sum_c f^2 + 1e-8)) and returns
sum over outputs of C * mean((fa - fr)^2), as docs/tokenizer.md defines it.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def conv(x, w, b, strides, pads, dilations, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    eh, ew = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    oh = (x.shape[2] - eh) // strides[0] + 1
    ow = (x.shape[3] - ew) // strides[1] + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dilations[0]:i * dilations[0] + strides[0] * (oh - 1) + 1:strides[0],
                           j * dilations[1]:j * dilations[1] + strides[1] * (ow - 1) + 1:strides[1]]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, w[g * mg:(g + 1) * mg, :, i, j])
    return y + b.reshape(1, -1, 1, 1)


def features(model, image):
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = image
    for node in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        if node.op_type == "Conv":
            x, w = values[node.input[0]], values[node.input[1]]
            b = values[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0])
            values[node.output[0]] = conv(x, w, b, a.get("strides", [1, 1]), a.get("pads", [0] * 4),
                                          a.get("dilations", [1, 1]), a.get("group", 1))
        elif node.op_type == "Relu":
            values[node.output[0]] = np.maximum(values[node.input[0]], 0)
        else:
            sys.exit(f"perceptual_check.py: op {node.op_type} not in the reference")
    return [values[o.name] for o in model.graph.output]


def distance(model, a, r):
    total = 0.0
    for fa, fr in zip(features(model, a), features(model, r)):
        na = fa / np.sqrt((fa * fa).sum(axis=1, keepdims=True) + 1e-8)
        nr = fr / np.sqrt((fr * fr).sum(axis=1, keepdims=True) + 1e-8)
        total += fa.shape[1] * np.mean((na - nr) ** 2)
    return total


def main():
    mode, model = sys.argv[1], onnx.load(sys.argv[2])
    if mode == "write":
        n, r, out = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        rng = np.random.default_rng(3)
        real = rng.uniform(-1, 1, (n, 3, r, r))
        predicted = np.clip(real + 0.3 * rng.standard_normal(real.shape), -1, 1)
        np.savez(out + "/inputs.npz", predicted=predicted.astype(np.float32), real=real.astype(np.float32))
        return
    d = sys.argv[3]
    inputs = np.load(d + "/inputs.npz")
    got = float(np.load(d + "/outputs.npz")["distance"])
    want = distance(model, inputs["predicted"].astype(np.float64), inputs["real"].astype(np.float64))
    same = distance(model, inputs["real"].astype(np.float64), inputs["real"].astype(np.float64))
    rel = abs(got - want) / abs(want)
    print(f"perceptual_distance: msdd {got:.6f} reference {want:.6f} relative error {rel:.2e} "
          + ("ok" if rel < 1e-4 and want > 0.01 and same == 0 else "FAIL"))


if __name__ == "__main__":
    main()
