#!/usr/bin/python3
"""Writes a small random-weight convolutional feature network as ONNX, for the tokenizer's
perceptual term (train.perceptual_network) and msdd-run eval --features.

No pretrained VGG/Inception weights exist offline; random convolutional features with
channel-normalized distances are a known usable perceptual proxy. Numbers computed with
this network are labelled with its name, never "LPIPS" or "FID".

The network: three stages of 3x3 conv + ReLU (the second and third with stride 2), widths
--widths; every stage's activation is an output. The image input is [N, 3, H, W] with
symbolic N, H, W (msdd-compile fixes them). Weights: He-normal from --seed; biases zero.

    /usr/bin/python3 examples/perceptual/make_feature_net.py models/randconv.onnx
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("--widths", default="16,32,64", help="channels of the three stages")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(args.seed)
    nodes, inits, outputs = [], [], []
    x, cin = "image", 3
    for i, cout in enumerate(widths):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"conv{i}.weight"),
                  numpy_helper.from_array(np.zeros(cout, np.float32), f"conv{i}.bias")]
        stride = 1 if i == 0 else 2
        nodes.append(helper.make_node("Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [f"c{i}"],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                      strides=[stride, stride]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"feature{i}"]))
        outputs.append(helper.make_tensor_value_info(f"feature{i}", TensorProto.FLOAT,
                                                     ["N", cout, f"H{i}", f"W{i}"]))
        x, cin = f"feature{i}", cout
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph(nodes, "randconv", [image], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="msdd make_feature_net.py")
    onnx.checker.check_model(model)
    onnx.save(model, args.output)


if __name__ == "__main__":
    main()
