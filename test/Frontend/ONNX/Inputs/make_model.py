#!/usr/bin/python3
"""Small ONNX models for the importer's lit tests, built with onnx.helper at test time.

    make_model.py NAME OUT.onnx [--inputs IN.npz --reference REF.npz]

writes model NAME to OUT.onnx; with --inputs/--reference also seeded inputs and the
expected outputs computed by an independent float64 numpy implementation of the model.
`make_model.py compare OUT.npz REF.npz` checks outputs against the reference.
`make_model.py truncate IN OUT` writes the first half of IN to OUT.
"""
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def model(nodes, inputs, outputs, inits=(), name="model", opset=17):
    g = h.make_graph(nodes, name, inputs, outputs, [nh.from_array(a, n) for n, a in inits])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, dtype, shape):
    return h.make_tensor_value_info(name, dtype, shape)


def erf(x):
    import math
    return np.vectorize(math.erf)(x)


def layer_norm(x, g, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


# Each builder returns (model, inputs, reference outputs or None).

def elementwise():
    x, y = f32(2, 3, 4), f32(3, 1)
    nodes = [h.make_node("Add", ["x", "y"], ["a"]), h.make_node("Mul", ["a", "x"], ["m"]),
             h.make_node("Sub", ["m", "y"], ["s"]), h.make_node("Max", ["s", "x"], ["mx"]),
             h.make_node("Sigmoid", ["mx"], ["sg"]), h.make_node("Sqrt", ["sg"], ["sq"]),
             h.make_node("Reciprocal", ["sq"], ["r"]), h.make_node("Neg", ["r"], ["z"])]
    m = model(nodes, [vi("x", T.FLOAT, [2, 3, 4]), vi("y", T.FLOAT, [3, 1])],
              [vi("z", T.FLOAT, [2, 3, 4])])
    a = (x + y) * x - y
    z = -1 / np.sqrt(1 / (1 + np.exp(-np.maximum(a, x))))
    return m, {"x": x, "y": y}, {"z": z}


def gelu_mlp():
    """MatMul + bias, GELU in its Erf form (as PyTorch exports it), LayerNormalization."""
    x, w1, b1 = f32(2, 5, 8), f32(8, 16), f32(16)
    w2, g, b = f32(16, 8), f32(8), f32(8)
    nodes = [
        h.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        h.make_node("Add", ["h0", "b1"], ["h"], name="fc1_bias"),
        h.make_node("Div", ["h", "sqrt2"], ["hd"], name="gelu_div"),
        h.make_node("Erf", ["hd"], ["he"], name="gelu_erf"),
        h.make_node("Add", ["he", "one"], ["he1"], name="gelu_add"),
        h.make_node("Mul", ["h", "he1"], ["hm"], name="gelu_mul"),
        h.make_node("Mul", ["hm", "half"], ["act"], name="gelu_half"),
        h.make_node("MatMul", ["act", "w2"], ["o"], name="fc2"),
        h.make_node("LayerNormalization", ["o", "ln_g", "ln_b"], ["y"], name="ln", epsilon=1e-5),
    ]
    inits = [("w1", w1), ("b1", b1), ("w2", w2), ("ln_g", g), ("ln_b", b),
             ("sqrt2", np.array(1.4142135623730951, np.float32)),
             ("one", np.array(1.0, np.float32)), ("half", np.array(0.5, np.float32))]
    m = model(nodes, [vi("x", T.FLOAT, [2, 5, 8])], [vi("y", T.FLOAT, [2, 5, 8])], inits,
              name="gelu-mlp")
    X = x.astype(np.float64)
    hh = X @ w1 + b1
    act = 0.5 * hh * (1 + erf(hh / np.sqrt(2)))
    y = layer_norm(act @ w2, g, b, 1e-5)
    return m, {"x": x}, {"y": y}


def attention():
    """softmax(q k^T / sqrt(d) + mask) v, as exported from a hand-written attention."""
    q, k, v = f32(1, 2, 4, 8), f32(1, 2, 6, 8), f32(1, 2, 6, 8)
    mask = np.triu(np.full((4, 6), -1e4, np.float32), 3)
    nodes = [
        h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        h.make_node("MatMul", ["q", "kt"], ["s0"]),
        h.make_node("Div", ["s0", "scale"], ["s1"]),
        h.make_node("Add", ["s1", "mask"], ["s2"]),
        h.make_node("Softmax", ["s2"], ["p"], axis=-1),
        h.make_node("MatMul", ["p", "v"], ["o"], name="attn_out"),
    ]
    inits = [("scale", np.array(np.sqrt(8.0), np.float32)), ("mask", mask)]
    m = model(nodes, [vi("q", T.FLOAT, [1, 2, 4, 8]), vi("k", T.FLOAT, [1, 2, 6, 8]),
                      vi("v", T.FLOAT, [1, 2, 6, 8])], [vi("o", T.FLOAT, [1, 2, 4, 8])], inits)
    s = q.astype(np.float64) @ k.transpose(0, 1, 3, 2) / np.sqrt(8.0) + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return m, {"q": q, "k": k, "v": v}, {"o": p @ v}


def activations():
    """SiLU as exported (Sigmoid, Mul) and GELU's tanh form (Pow, Mul, Add, Tanh, ...)."""
    x = f32(4, 16)
    nodes = [
        h.make_node("Sigmoid", ["x"], ["sg"]),
        h.make_node("Mul", ["x", "sg"], ["silu"], name="silu"),
        h.make_node("Pow", ["silu", "three"], ["cube"]),
        h.make_node("Mul", ["cube", "c044"], ["cc"]),
        h.make_node("Add", ["silu", "cc"], ["inner"]),
        h.make_node("Mul", ["inner", "c079"], ["arg"]),
        h.make_node("Tanh", ["arg"], ["th"]),
        h.make_node("Add", ["th", "one"], ["t1"]),
        h.make_node("Mul", ["silu", "half"], ["xh"]),
        h.make_node("Mul", ["xh", "t1"], ["y"], name="gelu_tanh"),
    ]
    inits = [("three", np.array(3.0, np.float32)), ("c044", np.array(0.044715, np.float32)),
             ("c079", np.array(np.sqrt(2 / np.pi), np.float32)), ("one", np.array(1.0, np.float32)),
             ("half", np.array(0.5, np.float32))]
    m = model(nodes, [vi("x", T.FLOAT, [4, 16])], [vi("y", T.FLOAT, [4, 16])], inits)
    X = x.astype(np.float64)
    s = X / (1 + np.exp(-X))
    y = 0.5 * s * (1 + np.tanh(np.sqrt(2 / np.pi) * (s + 0.044715 * s ** 3)))
    return m, {"x": x}, {"y": y}


def layernorm_decomposed():
    """LayerNorm as exported before opset 17: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div."""
    x, g, b = f32(2, 3, 8), f32(8), f32(8)
    nodes = [
        h.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
        h.make_node("Sub", ["x", "m"], ["d"]),
        h.make_node("Pow", ["d", "two"], ["d2"]),
        h.make_node("ReduceMean", ["d2"], ["v"], axes=[-1]),
        h.make_node("Add", ["v", "eps"], ["ve"]),
        h.make_node("Sqrt", ["ve"], ["s"]),
        h.make_node("Div", ["d", "s"], ["n"], name="ln_div"),
        h.make_node("Mul", ["n", "g"], ["ng"]),
        h.make_node("Add", ["ng", "b"], ["y"]),
    ]
    inits = [("two", np.array(2.0, np.float32)), ("eps", np.array(1e-5, np.float32)),
             ("g", g), ("b", b)]
    m = model(nodes, [vi("x", T.FLOAT, [2, 3, 8])], [vi("y", T.FLOAT, [2, 3, 8])], inits,
              opset=13)
    return m, {"x": x}, {"y": layer_norm(x.astype(np.float64), g, b, 1e-5)}


def shape_fold():
    """A PyTorch-style shape subgraph: x.reshape(x.shape[0], -1) and a Range position ids."""
    x = f32(3, 4, 5)
    nodes = [
        h.make_node("Shape", ["x"], ["sh"]),
        h.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        h.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        h.make_node("Reshape", ["x", "target"], ["flat"], name="flatten"),
        h.make_node("Gather", ["sh", "two"], ["len"], axis=0),
        h.make_node("Range", ["zero", "len", "one"], ["pos"]),
        h.make_node("Cast", ["pos"], ["posf"], to=T.FLOAT),
        h.make_node("ConstantOfShape", ["n1"], ["ones"],
                    value=h.make_tensor("v", T.FLOAT, [1], [1.0])),
    ]
    inits = [("zero", np.array(0, np.int64)), ("two", np.array(2, np.int64)),
             ("one", np.array(1, np.int64)), ("axes0", np.array([0], np.int64)),
             ("minus1", np.array([-1], np.int64))]
    m = model(nodes, [vi("x", T.FLOAT, [3, 4, 5])],
              [vi("flat", T.FLOAT, [3, 20]), vi("posf", T.FLOAT, [5]), vi("ones", T.FLOAT, [3])],
              inits)
    return m, {"x": x}, {"flat": x.reshape(3, -1), "posf": np.arange(5.0), "ones": np.ones(3)}


def conv():
    """Grouped, strided, padded Conv with bias, then ReLU and nearest/linear Resize."""
    x, w, b = f32(1, 4, 9, 9), f32(6, 2, 3, 3), f32(6)
    nodes = [
        h.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", group=2, strides=[2, 2],
                    pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c"], ["r"]),
        h.make_node("Resize", ["r", "", "scales"], ["up"], mode="nearest"),
        h.make_node("Resize", ["r", "", "scales"], ["lin"], mode="linear"),
    ]
    inits = [("w", w), ("b", b), ("scales", np.array([1, 1, 2, 2], np.float32))]
    m = model(nodes, [vi("x", T.FLOAT, [1, 4, 9, 9])],
              [vi("up", T.FLOAT, [1, 6, 10, 10]), vi("lin", T.FLOAT, [1, 6, 10, 10])], inits)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    c = np.zeros((1, 6, 5, 5))
    for o in range(6):
        g = o // 3
        for i in range(5):
            for j in range(5):
                c[0, o, i, j] = (xp[0, 2 * g:2 * g + 2, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o]).sum() + b[o]
    r = np.maximum(c, 0)
    up = r.repeat(2, 2).repeat(2, 3)
    # half_pixel linear: source (o + 0.5) / 2 - 0.5, clamped at the edges.
    src = np.clip((np.arange(10) + 0.5) / 2 - 0.5, 0, 4)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, 4)
    t = src - i0
    rows = r[:, :, i0, :] * (1 - t)[None, None, :, None] + r[:, :, i1, :] * t[None, None, :, None]
    lin = rows[:, :, :, i0] * (1 - t) + rows[:, :, :, i1] * t
    return m, {"x": x}, {"up": up, "lin": lin}


def tiled_ops():
    """Ops whose linalg.generics are large enough to be tiled (>= 4096 iterations):
    ConvTranspose (strided, padded, output_padding), Tile, a reversing Slice, MaxPool."""
    x, w, b = f32(1, 4, 12, 12), f32(4, 3, 3, 3), f32(3)
    nodes = [
        h.make_node("ConvTranspose", ["x", "w", "b"], ["ct"], strides=[2, 2], pads=[1, 1, 1, 1],
                    output_padding=[1, 1]),
        h.make_node("Tile", ["x", "reps"], ["tile"]),
        h.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["rev"]),
        h.make_node("MaxPool", ["ct"], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    ]
    inits = [("w", w), ("b", b), ("reps", np.array([2, 1, 3, 2], np.int64)),
             ("starts", np.array([-1, -2], np.int64)), ("ends", np.array([-100, 0], np.int64)),
             ("axes", np.array([2, 3], np.int64)), ("steps", np.array([-1, -3], np.int64))]
    m = model(nodes, [vi("x", T.FLOAT, [1, 4, 12, 12])],
              [vi("ct", T.FLOAT, [1, 3, 24, 24]), vi("tile", T.FLOAT, [2, 4, 36, 24]),
               vi("rev", T.FLOAT, [1, 4, 12, 4]), vi("pool", T.FLOAT, [1, 3, 12, 12])], inits)
    X = x.astype(np.float64)
    full = np.zeros((1, 3, 2 * 11 + 3 + 1, 2 * 11 + 3 + 1))
    for i in range(12):
        for j in range(12):
            full[0, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("c,cokl->okl", X[0, :, i, j], w)
    ct = full[:, :, 1:25, 1:25] + b[None, :, None, None]
    cp = np.pad(ct, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    pool = np.zeros((1, 3, 12, 12))
    for i in range(12):
        for j in range(12):
            pool[0, :, i, j] = cp[0, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
    return m, {"x": x}, {"ct": ct, "tile": np.tile(x, (2, 1, 3, 2)), "rev": x[:, :, ::-1, -2::-3],
                         "pool": pool}


def pool_tiles():
    """MaxPool and AveragePool whose windows tile the input (2x2 / 2, 2x3 / (2, 3)): a
    reshape and msdd.reduce_max / reduce_mean, which have gradient rules."""
    x = f32(2, 3, 8, 6)
    nodes = [
        h.make_node("MaxPool", ["x"], ["mx"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("AveragePool", ["x"], ["avg"], kernel_shape=[2, 3], strides=[2, 3]),
    ]
    m = model(nodes, [vi("x", T.FLOAT, [2, 3, 8, 6])],
              [vi("mx", T.FLOAT, [2, 3, 4, 3]), vi("avg", T.FLOAT, [2, 3, 4, 2])])
    X = x.astype(np.float64)
    return m, {"x": x}, {"mx": X.reshape(2, 3, 4, 2, 3, 2).max(axis=(3, 5)),
                         "avg": X.reshape(2, 3, 4, 2, 2, 3).mean(axis=(3, 5))}


def pool_reference(x, k, s, pb, pe, ceil, is_max, include_pad, cot):
    """Forward and the gradient of sum(pool(x) * cot) of a 2-D MaxPool / AveragePool, by
    loops over windows in float64 (ties: the first maximum in row-major window order)."""
    n, c, hgt, wid = x.shape
    outs = []
    for d, size in enumerate((hgt, wid)):
        span = size + pb[d] + pe[d] - k[d]
        o = (-(-span // s[d]) if ceil else span // s[d]) + 1
        if ceil and (o - 1) * s[d] >= size + pb[d]:
            o -= 1
        outs.append(o)
    y, gx = np.zeros((n, c) + tuple(outs)), np.zeros(x.shape)
    for i in range(outs[0]):
        for j in range(outs[1]):
            r0, c0 = i * s[0] - pb[0], j * s[1] - pb[1]
            rows = [r for r in range(r0, r0 + k[0]) if 0 <= r < hgt]
            cols = [q for q in range(c0, c0 + k[1]) if 0 <= q < wid]
            win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
            if is_max:
                arg = win.argmax(-1)
                y[:, :, i, j] = win.max(-1)
                for a in range(n):
                    for b in range(c):
                        gx[a, b, rows[arg[a, b] // len(cols)], cols[arg[a, b] % len(cols)]] += cot[a, b, i, j]
            else:
                if include_pad:  # the explicit padding counts, what ceil_mode adds does not
                    count = ((min(r0 + k[0], hgt + pe[0]) - max(r0, -pb[0])) *
                             (min(c0 + k[1], wid + pe[1]) - max(c0, -pb[1])))
                else:
                    count = len(rows) * len(cols)
                y[:, :, i, j] = win.sum(-1) / count
                for r in rows:
                    for q in cols:
                        gx[:, :, r, q] += cot[:, :, i, j] / count
    return y, gx


def pool_windows():
    """Overlapping and padded windows (AlexNet's 3x3 / 2 max pool, a ceil_mode average pool
    with one-sided padding, a count_include_pad one) and a scalar loss on them: strided views
    combined by msdd.maximum / msdd.add, so msdd-autodiff differentiates through them."""
    x = f32(2, 3, 9, 9)
    specs = [  # name, kernel, strides, pads begin, pads end, ceil_mode, max, count_include_pad
        ("mx", (3, 3), (2, 2), (1, 1), (1, 1), 0, True, 0),
        ("avg", (3, 3), (2, 2), (0, 0), (1, 1), 1, False, 0),
        ("avgpad", (2, 3), (1, 2), (1, 0), (0, 1), 0, False, 1),
    ]
    nodes, outputs, inits, ref, grad = [], [], [], {}, np.zeros(x.shape)
    losses = []
    for name, k, s, pb, pe, ceil, is_max, include_pad in specs:
        attrs = dict(kernel_shape=list(k), strides=list(s), pads=list(pb) + list(pe), ceil_mode=ceil)
        if not is_max:
            attrs["count_include_pad"] = include_pad
        nodes.append(h.make_node("MaxPool" if is_max else "AveragePool", ["x"], [name], **attrs))
        probe, _ = pool_reference(x.astype(np.float64), k, s, pb, pe, ceil, is_max, include_pad,
                                  np.zeros((2, 3, 9, 9)))
        cot = f32(*probe.shape)
        y, g = pool_reference(x.astype(np.float64), k, s, pb, pe, ceil, is_max, include_pad, cot)
        inits.append(("c_" + name, cot))
        nodes += [h.make_node("Mul", [name, "c_" + name], ["p_" + name]),
                  h.make_node("ReduceSum", ["p_" + name], ["l_" + name], keepdims=0)]
        outputs.append(vi(name, T.FLOAT, list(y.shape)))
        losses.append("l_" + name)
        ref[name], grad = y, grad + g
    nodes += [h.make_node("Sum", losses, ["loss"])]
    m = model(nodes, [vi("x", T.FLOAT, [2, 3, 9, 9])], [vi("loss", T.FLOAT, [])] + outputs, inits,
              name="pool_windows")
    ref["loss"] = np.array(sum((ref[n] * dict(inits)["c_" + n]).sum() for n, *_ in specs))
    ref["grad.x"] = grad
    return m, {"x": x}, ref


def int_ops():
    """Integer and boolean tensors: Gather with runtime indices, Equal, Where, Cast."""
    x, idx = f32(5, 3), np.array([[4, 0], [-1, 2]], np.int64)
    nodes = [
        h.make_node("Gather", ["x", "idx"], ["g"], axis=0),
        h.make_node("Add", ["idx", "idx"], ["i2"]),
        h.make_node("Equal", ["i2", "four"], ["eq"]),
        h.make_node("Cast", ["eq"], ["eqf"], to=T.FLOAT),
        h.make_node("Where", ["eq", "eqf", "neg"], ["w"]),
    ]
    inits = [("four", np.array(4, np.int64)), ("neg", np.array(-1, np.float32))]
    m = model(nodes, [vi("x", T.FLOAT, [5, 3]), vi("idx", T.INT64, [2, 2])],
              [vi("g", T.FLOAT, [2, 2, 3]), vi("eq", T.BOOL, [2, 2]), vi("w", T.FLOAT, [2, 2])],
              inits)
    eq = 2 * idx == 4
    return m, {"x": x, "idx": idx}, {"g": x[idx], "eq": eq, "w": np.where(eq, 1.0, -1.0)}


# Bad inputs.

def unsupported_op():
    return model([h.make_node("Relu", ["x"], ["r"]), h.make_node("FooBar", ["r"], ["y"], name="mystery")],
                 [vi("x", T.FLOAT, [2])], [vi("y", T.FLOAT, [2])]), None, None


def missing_initializer():
    return model([h.make_node("Add", ["x", "bias"], ["y"], name="add_bias")],
                 [vi("x", T.FLOAT, [2])], [vi("y", T.FLOAT, [2])]), None, None


def opset18():
    return model([h.make_node("Relu", ["x"], ["y"])], [vi("x", T.FLOAT, [2])],
                 [vi("y", T.FLOAT, [2])], opset=18), None, None


def dynamic_input():
    return model([h.make_node("Relu", ["x"], ["y"])], [vi("x", T.FLOAT, ["batch", 4])],
                 [vi("y", T.FLOAT, ["batch", 4])]), None, None


def dynamic_reshape():
    return model([h.make_node("Reshape", ["x", "shape"], ["y"], name="view")],
                 [vi("x", T.FLOAT, [2, 3]), vi("shape", T.INT64, [2])],
                 [vi("y", T.FLOAT, None)]), None, None


def uint8_input():
    return model([h.make_node("Identity", ["x"], ["y"])], [vi("x", T.UINT8, [2])],
                 [vi("y", T.UINT8, [2])]), None, None


MODELS = {f.__name__: f for f in [elementwise, gelu_mlp, activations, attention, layernorm_decomposed, shape_fold, tiled_ops, conv, pool_tiles, pool_windows, int_ops,
                                  unsupported_op, missing_initializer, opset18, dynamic_input,
                                  dynamic_reshape, uint8_input]}


def save_npz(path, arrays):
    with zipfile.ZipFile(path, "w") as z:
        for name, a in arrays.items():
            with z.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)


def compare(out_path, ref_path):
    out, ref = np.load(out_path), np.load(ref_path)
    ok = True
    for name in ref.files:
        a, r = out[name], ref[name]
        if a.shape != r.shape:
            print("%s: shape %s, expected %s: FAIL" % (name, a.shape, r.shape))
            ok = False
            continue
        if r.dtype == bool or r.dtype.kind in "iu":
            good = np.array_equal(a, r)
            print("%s: exact: %s" % (name, "ok" if good else "FAIL"))
        else:
            err = np.max(np.abs(a - r) / (np.abs(r) + 1e-3)) if r.size else 0.0
            good = err <= 1e-4
            print("%s: max relative error %.2e <= 1e-4: %s" % (name, err, "ok" if good else "FAIL"))
        ok &= bool(good)
    return 0 if ok else 1


def main(argv):
    if argv[1] == "compare":
        return compare(argv[2], argv[3])
    if argv[1] == "truncate":
        data = open(argv[2], "rb").read()
        open(argv[3], "wb").write(data[: len(data) // 2])
        return 0
    m, inputs, ref = MODELS[argv[1]]()
    onnx.save(m, argv[2])
    args = argv[3:]
    if "--inputs" in args:
        save_npz(args[args.index("--inputs") + 1], inputs)
    if "--reference" in args:
        save_npz(args[args.index("--reference") + 1], {k: np.asarray(v).astype(
            np.float32 if np.asarray(v).dtype == np.float64 else np.asarray(v).dtype) for k, v in ref.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
