//===- MsddOps.td - MSDD operations ------------------------*- tablegen -*-===//
#ifndef MSDD_OPS_TD
#define MSDD_OPS_TD

include "msdd/MsddBase.td"
include "msdd/MsddInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/OpBase.td"

// Common form: operands and results printed with a functional type.
class Msdd_PureOp<string mnemonic, list<Trait> traits = []>
    : Msdd_Op<mnemonic, !listconcat([Pure, SameOperandsAndResultElementType], traits)> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise arithmetic with numpy broadcasting
//===----------------------------------------------------------------------===//

class Msdd_BinaryOp<string mnemonic, string formula>
    : Msdd_PureOp<mnemonic, [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "elementwise " # formula # " with numpy broadcasting";
  let description = [{
    Computes `}] # formula # [{` elementwise. The operand shapes broadcast as in numpy
    (dimensions aligned from the right; a dimension of size 1 stretches); the result has the
    broadcast shape.
  }];
  let arguments = (ins Msdd_Tensor:$lhs, Msdd_Tensor:$rhs);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_AddOp : Msdd_BinaryOp<"add", "lhs + rhs">;
def Msdd_SubOp : Msdd_BinaryOp<"sub", "lhs - rhs">;
def Msdd_MulOp : Msdd_BinaryOp<"mul", "lhs * rhs">;
def Msdd_DivOp : Msdd_BinaryOp<"div", "lhs / rhs">;
def Msdd_MaximumOp : Msdd_BinaryOp<"maximum", "max(lhs, rhs)">;
def Msdd_MinimumOp : Msdd_BinaryOp<"minimum", "min(lhs, rhs)">;
def Msdd_PowOp : Msdd_BinaryOp<"pow", "lhs ^ rhs">;

class Msdd_UnaryOp<string mnemonic, string formula>
    : Msdd_Op<mnemonic, [Pure, SameOperandsAndResultType, DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "elementwise " # formula;
  let description = "Computes `" # formula # "` elementwise.";
  let arguments = (ins Msdd_Tensor:$input);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Msdd_NegOp : Msdd_UnaryOp<"neg", "-x">;
def Msdd_ExpOp : Msdd_UnaryOp<"exp", "exp(x)">;
def Msdd_LogOp : Msdd_UnaryOp<"log", "log(x)">;
def Msdd_SqrtOp : Msdd_UnaryOp<"sqrt", "sqrt(x)">;
def Msdd_RsqrtOp : Msdd_UnaryOp<"rsqrt", "1 / sqrt(x)">;
def Msdd_AbsOp : Msdd_UnaryOp<"abs", "|x|">;
def Msdd_TanhOp : Msdd_UnaryOp<"tanh", "tanh(x)">;
def Msdd_ErfOp : Msdd_UnaryOp<"erf", "erf(x)">;
def Msdd_SinOp : Msdd_UnaryOp<"sin", "sin(x)">;
def Msdd_CosOp : Msdd_UnaryOp<"cos", "cos(x)">;
def Msdd_SigmoidOp : Msdd_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Msdd_ReluOp : Msdd_UnaryOp<"relu", "max(x, 0)">;
def Msdd_SiluOp : Msdd_UnaryOp<"silu", "x * sigmoid(x)">;
def Msdd_SignOp : Msdd_UnaryOp<"sign", "sign(x): -1, 0 or 1">;
def Msdd_StepOp : Msdd_UnaryOp<"step", "x >= 0 ? 1 : 0 (the Heaviside step; gradients of relu, max)">;

def Msdd_StopGradientOp : Msdd_Op<"stop_gradient", [Pure, SameOperandsAndResultType, DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "identity whose gradient is zero (a target that training must not move)";
  let description = [{
    Returns its input. Reverse-mode differentiation sends no gradient through it, so a value
    computed from trainable parameters can serve as a fixed regression target (the teacher's
    targets in distillation). It has no folder: it must survive until `msdd-autodiff` has
    run; the lowering to linalg forwards the input.
  }];
  let arguments = (ins Msdd_Tensor:$input);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Msdd_GeluOp : Msdd_Op<"gelu", [Pure, SameOperandsAndResultType, DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "GELU activation, exact (erf) or tanh-approximated";
  let description = [{
    `approximate = false`: `0.5 x (1 + erf(x / sqrt(2)))`;
    `approximate = true`: `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.
  }];
  let arguments = (ins Msdd_Tensor:$input, DefaultValuedAttr<BoolAttr, "false">:$approximate);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Msdd_ScaleOp : Msdd_Op<"scale", [Pure, SameOperandsAndResultType, DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "multiply by a constant and add a constant: x * factor + bias";
  let arguments = (ins Msdd_Tensor:$input, F64Attr:$factor,
                       DefaultValuedAttr<F64Attr, "0.0">:$bias);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Reductions and layout
//===----------------------------------------------------------------------===//

class Msdd_ReduceOp<string mnemonic, string what>
    : Msdd_PureOp<mnemonic, [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = what # " over the given axes";
  let description = [{
    Reduces `input` over `axes` (distinct, in `[0, rank)`). With `keep_dims` the reduced
    dimensions stay with size 1, otherwise they are removed.
  }];
  let arguments = (ins Msdd_Tensor:$input, DenseI64ArrayAttr:$axes,
                       DefaultValuedAttr<BoolAttr, "false">:$keep_dims);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_ReduceSumOp : Msdd_ReduceOp<"reduce_sum", "sum">;
def Msdd_ReduceMeanOp : Msdd_ReduceOp<"reduce_mean", "mean">;
def Msdd_ReduceMaxOp : Msdd_ReduceOp<"reduce_max", "maximum">;

def Msdd_ReshapeOp : Msdd_PureOp<"reshape", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "reinterpret a tensor with another shape of the same element count";
  let arguments = (ins Msdd_Tensor:$input);
  let results = (outs Msdd_Tensor:$result);
  let hasFolder = 1;
}

def Msdd_TransposeOp : Msdd_PureOp<"transpose", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "permute dimensions: result dim i = input dim permutation[i]";
  let arguments = (ins Msdd_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_BroadcastOp : Msdd_PureOp<"broadcast", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "numpy broadcast to the result shape";
  let description = [{
    Stretches dimensions of size 1 and prepends missing leading dimensions, as numpy does;
    the gradient of every reduction is a broadcast.
  }];
  let arguments = (ins Msdd_Tensor:$input);
  let results = (outs Msdd_Tensor:$result);
}

//===----------------------------------------------------------------------===//
// Neural-network ops
//===----------------------------------------------------------------------===//

def Msdd_ConcatOp : Msdd_PureOp<"concat", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "concatenation of tensors along one axis";
  let description = [{
    The inputs have the same rank and agree on every dimension but `axis`; the result's
    `axis` dimension is the sum of theirs (joint attention's [image ; latent] sequence).
  }];
  let arguments = (ins Variadic<Msdd_Tensor>:$inputs, ConfinedAttr<I64Attr, [IntNonNegative]>:$axis);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_SliceOp : Msdd_PureOp<"slice", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "a contiguous range along one axis";
  let description = [{
    Elements `start` to `start + n - 1` of `axis`, `n` the result's `axis` dimension; the
    other dimensions are whole (chunks of a fused projection, one stream of a joint sequence).
  }];
  let arguments = (ins Msdd_Tensor:$input, ConfinedAttr<I64Attr, [IntNonNegative]>:$axis,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$start);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_LinearOp : Msdd_PureOp<"linear", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "affine layer: x W^T + b";
  let description = [{
    `input` is `[..., K]`, `weight` is `[N, K]` (PyTorch layout), the optional `bias` is
    `[N]`; the result is `[..., N]`.
  }];
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$weight, Optional<Msdd_Tensor>:$bias);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_MatmulOp : Msdd_PureOp<"matmul", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "matrix product, batched over leading dimensions";
  let description = [{
    `lhs` is `[..., M, K]`; `rhs` is `[..., K, N]`, or `[..., N, K]` with `transpose_rhs`.
    Both operands have the same rank (2 or more) and the same leading (batch) dimensions.
  }];
  let arguments = (ins Msdd_Tensor:$lhs, Msdd_Tensor:$rhs,
                       DefaultValuedAttr<BoolAttr, "false">:$transpose_rhs);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_PatchifyOp : Msdd_PureOp<"patchify", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "image [B, C, H, W] to patch tokens [B, (H/p)(W/p), p*p*C]";
  let description = [{
    Tokens are in row-major patch order; inside a token the features are ordered
    `(py, px, c)`, as in DiT's `unpatchify`.
  }];
  let arguments = (ins Msdd_Tensor:$input, ConfinedAttr<I64Attr, [IntPositive]>:$patch_size);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_UnpatchifyOp : Msdd_PureOp<"unpatchify", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "patch tokens [B, (H/p)(W/p), p*p*C] back to an image [B, C, H, W]";
  let description = "The inverse of `msdd.patchify`; H, W and C come from the result type.";
  let arguments = (ins Msdd_Tensor:$input, ConfinedAttr<I64Attr, [IntPositive]>:$patch_size);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_LayerNormOp : Msdd_PureOp<"layer_norm", [AttrSizedOperandSegments, DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "layer normalization over the last dimension, optionally affine";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * weight + bias`, statistics over the last dimension
    (biased variance). `weight` and `bias` are both present (shape `[D]`) or both absent.
  }];
  let arguments = (ins Msdd_Tensor:$input, Optional<Msdd_Tensor>:$weight,
                       Optional<Msdd_Tensor>:$bias,
                       DefaultValuedAttr<F64Attr, "1e-6">:$epsilon);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = [{
    $input (`,` $weight^)? (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Msdd_RmsNormOp : Msdd_PureOp<"rms_norm", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "RMS normalization over the last dimension, optionally scaled";
  let description = "`x / sqrt(mean(x^2) + epsilon) * weight`; `weight` is `[D]`.";
  let arguments = (ins Msdd_Tensor:$input, Optional<Msdd_Tensor>:$weight,
                       DefaultValuedAttr<F64Attr, "1e-6">:$epsilon);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_SoftmaxOp : Msdd_PureOp<"softmax", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "softmax along one axis (numerically stable: max subtracted)";
  let arguments = (ins Msdd_Tensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_AttentionOp : Msdd_PureOp<"attention", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "multi-head scaled dot-product attention";
  let description = [{
    `softmax(q k^T * scale + mask) v` per batch and head. `q` is `[B, H, Lq, D]`, `k` is
    `[B, H, Lk, D]`, `v` is `[B, H, Lk, Dv]`, the result is `[B, H, Lq, Dv]`. The optional
    additive `mask` is `[Lq, Lk]` or `[B, H, Lq, Lk]` (use a large negative value to mask).
    `scale` defaults to `1 / sqrt(D)`.
  }];
  let arguments = (ins Msdd_Tensor:$query, Msdd_Tensor:$key, Msdd_Tensor:$value,
                       Optional<Msdd_Tensor>:$mask, OptionalAttr<F64Attr>:$scale);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_FlashAttentionOp : Msdd_Op<"flash_attention", [
    DestinationStyleOpInterface, DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "attention as one fused GPU kernel (the scores are never stored)";
  let description = [{
    `init = softmax(query key^T * scale) value`, computed a tile of keys at a time with an
    online softmax (flash attention), so the `[B, H, Lq, Lk]` scores never reach memory.
    A target-level op: `msdd-lower-to-linalg{flash-attention}` makes it from
    `msdd.attention` (without a mask) for CUDA artifacts, and
    `msdd-lower-flash-attention-to-gpu` turns its bufferized form into a tensor-core
    kernel. `query` `[B, H, Lq, D]`, `key` `[B, H, Lk, D]` and `value` `[B, H, Lk, Dv]` are
    the factors of the kernel's products: f16 (f16 tensor cores), or f32 (TF32 tensor
    cores, each factor rounded to TF32 in the kernel); the products accumulate, and `init`
    `[B, H, Lq, Dv]` holds, f32. The kernel's tiles need `D` to be a multiple of 16 (f16)
    or 8 (f32) and `Dv` of 8.

    `split_factors` (f32 factors only; the CUDA tf32x3 mode) keeps f32 accuracy on the TF32
    tensor cores: each factor x of both products (the scores' softmax P included) is split
    into xh = tf32(x) and xl = tf32(x - xh), and each product runs as the three TF32
    products al bh + ah bl + ah bh (3xTF32).

    Destination style, like linalg: on tensors it returns the updated `init`; on memrefs it
    writes `init` and returns nothing.

    ```mlir
    %o = msdd.flash_attention %q, %k, %v into %init {scale = 0.125 : f64}
        : tensor<2x4x64x32xf16>, tensor<2x4x64x32xf16>, tensor<2x4x64x32xf16>
          into tensor<2x4x64x32xf32> -> tensor<2x4x64x32xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$query, AnyShaped:$key, AnyShaped:$value, AnyShaped:$init,
                       F64Attr:$scale, UnitAttr:$split_factors);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `into` $init attr-dict `:` type($query) `,` type($key) `,`
    type($value) `into` type($init) (`->` type($result)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
}

def Msdd_Rope2dOp : Msdd_PureOp<"rope_2d", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "2-D rotary position embedding over a grid of tokens";
  let description = [{
    `input` is `[B, H, L, D]` with `L = grid_height * grid_width` tokens in row-major grid
    order and `D` divisible by 4. The first half of `D` is rotated by the token's row
    position, the second half by its column position; in each half, the pair `(2i, 2i+1)`
    turns by the angle `pos * theta^(-2i / (D/2))`. With `inverse`, every pair turns by the
    opposite angle (the transpose of the rotation: the op's own gradient).

    The token in grid row `r` and column `c` sits at `(row_offset + row_step * r,
    col_offset + col_step * c)`. The defaults (step 1, offset 0) use the grid indices; other
    values place grids of different sizes in one coordinate frame, e.g. an image's patches
    at every scale and the latent tokens over the same area, so that attention between two
    streams sees the same relative positions at every scale.
  }];
  let arguments = (ins Msdd_Tensor:$input,
                       ConfinedAttr<I64Attr, [IntPositive]>:$grid_height,
                       ConfinedAttr<I64Attr, [IntPositive]>:$grid_width,
                       DefaultValuedAttr<F64Attr, "10000.0">:$theta,
                       DefaultValuedAttr<BoolAttr, "false">:$inverse,
                       DefaultValuedAttr<F64Attr, "1.0">:$row_step,
                       DefaultValuedAttr<F64Attr, "0.0">:$row_offset,
                       DefaultValuedAttr<F64Attr, "1.0">:$col_step,
                       DefaultValuedAttr<F64Attr, "0.0">:$col_offset);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_SwigluOp : Msdd_PureOp<"swiglu", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let arguments = (ins Msdd_Tensor:$gate, Msdd_Tensor:$up);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_ModulateOp : Msdd_PureOp<"modulate", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "adaLN modulation: x * (1 + scale) + shift";
  let description = [{
    `input` is `[B, L, D]`; `shift` and `scale` are `[B, D]` and apply to every token.
  }];
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$shift, Msdd_Tensor:$scale);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_TimestepEmbeddingOp : Msdd_PureOp<"timestep_embedding", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "sinusoidal timestep embedding [B] -> [B, dim]";
  let description = [{
    With `half = dim / 2` and `f_i = exp(-ln(max_period) * i / half)`, the embedding is
    `[cos(t * scale * f_i) for i < half] ++ [sin(t * scale * f_i) for i < half]` (DiT's
    layout; `scale` maps t in [0, 1] onto DiT's step range). `dim` is even.
  }];
  let arguments = (ins Msdd_Tensor:$timesteps,
                       DefaultValuedAttr<F64Attr, "10000.0">:$max_period,
                       DefaultValuedAttr<F64Attr, "1000.0">:$scale);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_UpsampleNearestOp : Msdd_PureOp<"upsample_nearest", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "nearest-neighbour upsampling of [B, C, H, W] by an integer factor";
  let arguments = (ins Msdd_Tensor:$input, DefaultValuedAttr<I64Attr, "2">:$factor);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_DownsampleOp : Msdd_PureOp<"downsample", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "box (average) downsampling of [B, C, H, W] by an integer factor";
  let arguments = (ins Msdd_Tensor:$input, DefaultValuedAttr<I64Attr, "2">:$factor);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_ConvOp : Msdd_PureOp<"conv", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "grouped, strided, dilated, zero-padded convolution over K spatial dims";
  let description = [{
    ONNX's Conv without bias. `input` is `[N, C, D_1..D_K]`, `weight` is
    `[M, C / groups, k_1..k_K]`; the result is `[N, M, O_1..O_K]` with
    `O_i = (D_i + pads_begin_i + pads_end_i - ((k_i - 1) dilations_i + 1)) / strides_i + 1`
    (floor), and

        result[n, g Mg + m, o] = sum_{c, j} input[n, g Cg + c, o strides + j dilations - pads_begin]
                                           * weight[g Mg + m, c, j]

    (Mg = M / groups, Cg = C / groups; reads outside the input are zero). Each of `strides`,
    `dilations`, `pads_begin`, `pads_end` has K entries. Its input gradient is a
    `msdd.conv_transpose` with the same attributes; the weight gradient (groups = 1) a
    `msdd.conv` of the transposed input and output gradient.
  }];
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$weight, DenseI64ArrayAttr:$strides,
                       DenseI64ArrayAttr:$dilations, DenseI64ArrayAttr:$pads_begin,
                       DenseI64ArrayAttr:$pads_end,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$groups);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_ConvTransposeOp : Msdd_PureOp<"conv_transpose", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "transposed convolution: the adjoint of msdd.conv in its input";
  let description = [{
    ONNX's ConvTranspose without bias. `input` is `[N, C, D_1..D_K]`, `weight` is
    `[C, M / groups, k_1..k_K]` (ONNX layout); the result `[N, M, O_1..O_K]` takes its
    spatial size from the result type (any positive size: ONNX's `output_padding` and
    `output_shape` only choose it), and

        result[n, g Mg + m, p] = sum_{c, o, j : o strides + j dilations = p + pads_begin}
                                 input[n, g Cg + c, o] * weight[g Cg + c, m, j]

    (Cg = C / groups, Mg = M / groups). `pads_begin` may be negative (the output then starts
    before the natural one). With the attributes of a `msdd.conv` and its input's size this
    is that conv's input gradient; its own input gradient is that conv again (the output
    gradient cropped where `pads_begin` or the implied end padding is negative), its weight
    gradient that conv's weight gradient.
  }];
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$weight, DenseI64ArrayAttr:$strides,
                       DenseI64ArrayAttr:$dilations, DenseI64ArrayAttr:$pads_begin,
                       DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$groups);
  let results = (outs Msdd_Tensor:$result);
}

//===----------------------------------------------------------------------===//
// Diffusion ops
//===----------------------------------------------------------------------===//

def Msdd_RandomNormalOp : Msdd_Op<"random_normal", [Pure]> {
  let summary = "standard normal noise from Philox 4x32-10, keyed by (seed, step, stream)";
  let description = [{
    Element `i` (row-major) comes from the Philox 4x32-10 block with key
    `(seed mod 2^32, seed >> 32)` and counter `(i / 2 mod 2^32, (i / 2) >> 32, step mod 2^32,
    stream)`. Its first two output words `w0, w1` give the uniforms
    `u1 = ((w0 >> 8) + 1) / 2^24` in (0, 1] and `u2 = (w1 >> 8) / 2^24` in [0, 1), and
    `sqrt(-2 ln u1) * cos(2 pi u2)` for even `i`, `* sin(2 pi u2)` for odd `i` (Box-Muller).
    The same `(seed, step, stream)` gives the same tensor on every target.
  }];
  let arguments = (ins I64:$seed, I64:$step, DefaultValuedAttr<I32Attr, "0">:$stream);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = "$seed `,` $step attr-dict `:` type($result)";
}

def Msdd_BlockNoiseOp : Msdd_PureOp<"block_noise", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "correlate i.i.d. normal noise inside every 2x2 pixel block";
  let description = [{
    `input` is i.i.d. standard normal `[B, C, H, W]` (H, W even). Each 2x2 block becomes a
    sample of `N(0, a I + b 11^T)`: with `covariance = "pyramidal"` (default)
    `a = 1 + gamma, b = -gamma` (needs `gamma <= 1/3`), the covariance that puts
    `alpha up(x) + beta n` on the flow path; with `"paper_code"`, `a = 1 - gamma, b = gamma`
    as in the paper's released code.
  }];
  let arguments = (ins Msdd_Tensor:$input, F64Attr:$gamma,
                       DefaultValuedAttr<StrAttr, "\"pyramidal\"">:$covariance);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_NoiseMixOp : Msdd_PureOp<"noise_mix", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "alpha x + beta n (the scale-transition re-noising)";
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$noise, F64Attr:$alpha, F64Attr:$beta);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_ScaleTransitionOp : Msdd_Op<"scale_transition", [Pure]> {
  let summary = "the transition to the next scale, fused: alpha up(x) + beta block-correlated noise";
  let description = [{
    Equals `noise_mix(upsample_nearest(input), block_noise(random_normal(seed, step,
    stream), gamma, covariance), alpha, beta)` with the noise drawn at the result's shape
    `[B, C, 2H, 2W]`, computed in one pass: every result point draws the four normals of its
    2x2 block itself (two Philox blocks, each giving a horizontal pair), so neither the noise
    nor the upsampled image is stored. `msdd-fuse-scale-transitions` forms it from that
    chain, which `msdd-expand-sampler` emits between scales.
  }];
  let arguments = (ins Msdd_Tensor:$input, I64:$seed, I64:$step,
                       DefaultValuedAttr<I32Attr, "0">:$stream, F64Attr:$gamma,
                       DefaultValuedAttr<StrAttr, "\"pyramidal\"">:$covariance,
                       F64Attr:$alpha, F64Attr:$beta);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $seed `,` $step attr-dict `:` functional-type($input, $result)
  }];
  let hasVerifier = 1;
}

def Msdd_EulerStepOp : Msdd_PureOp<"euler_step", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "one Euler step of the flow ODE: x + (t_to - t_from) v";
  let arguments = (ins Msdd_Tensor:$input, Msdd_Tensor:$velocity, F64Attr:$t_from,
                       F64Attr:$t_to);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_CfgCombineOp : Msdd_PureOp<"cfg_combine", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "classifier-free guidance: v_uncond + w (v_cond - v_uncond)";
  let arguments = (ins Msdd_Tensor:$uncond, Msdd_Tensor:$cond, F64Attr:$guidance_scale);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_MultiscaleSampleOp : Msdd_Op<"multiscale_sample",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a whole coarse-to-fine sampler over per-scale denoiser functions";
  let description = [{
    Samples an image `[B, C, R, R]` (R = the last of `resolutions`) conditioned on `latent`,
    with `null_latent` as the unconditional branch of classifier-free guidance.

    Scale `s` (resolution `resolutions[s]`, each twice the previous) integrates the window
    `[window_start[s], window_end[s]]` of flow time with `steps[s]` Euler steps; the
    denoiser sees the global time mapped linearly onto `[tau_start[s], tau_end[s]]`. Scale 0
    starts from standard normal noise; between scales the image is nearest-upsampled and
    re-noised with `alpha[s] x + beta[s] n`, `n` block noise of parameter `gamma` (`alpha`,
    `beta` hold one entry per transition).

    `denoisers[s]` names the denoiser of scale `s`, a function
    `(x: [B, C, r, r], tau: [B], latent, params...) -> velocity [B, C, r, r]` (shapes are
    static, so each scale has its own; they normally share their weights, `params`). It is
    called once per step for each CFG branch (`guidance_scale` 1 skips the unconditional one).
    With `cfg_denoisers` (and `guidance_scale` != 1), both branches go through one call of
    `cfg_denoisers[s]`, the same denoiser for batch `2B`: `x` and `tau` twice, `latent`
    then `null_latent`, the first `B` velocities conditional. `msdd-expand-sampler` turns
    the op into explicit per-scale loops.
  }];
  let arguments = (ins Msdd_Tensor:$latent, Msdd_Tensor:$null_latent, I64:$seed,
                       Variadic<AnyRankedTensor>:$params,
                       FlatSymbolRefArrayAttr:$denoisers,
                       DenseI64ArrayAttr:$resolutions, DenseI64ArrayAttr:$steps,
                       DenseF64ArrayAttr:$window_start, DenseF64ArrayAttr:$window_end,
                       DenseF64ArrayAttr:$tau_start, DenseF64ArrayAttr:$tau_end,
                       DenseF64ArrayAttr:$alpha, DenseF64ArrayAttr:$beta,
                       F64Attr:$guidance_scale, F64Attr:$gamma,
                       OptionalAttr<FlatSymbolRefArrayAttr>:$cfg_denoisers);
  let results = (outs Msdd_Tensor:$result);
  let assemblyFormat = [{
    $denoisers `(` $latent `,` $null_latent `,` $seed `)`
    (`params` `(` $params^ `:` type($params) `)`)? attr-dict `:`
    `(` type($latent) `,` type($null_latent) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def Msdd_MseOp : Msdd_PureOp<"mse", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "mean squared error, a scalar tensor<f32>";
  let arguments = (ins Msdd_Tensor:$prediction, Msdd_Tensor:$target);
  let results = (outs Msdd_Tensor:$result);
}

def Msdd_WeightedMseOp : Msdd_PureOp<"weighted_mse", [DeclareOpInterfaceMethods<Msdd_DifferentiableOpInterface>]> {
  let summary = "per-sample weighted mean squared error, a scalar tensor<f32>";
  let description = [{
    `mean over all elements of w[b] (prediction - target)^2`, `weight` is `[B]` for
    operands `[B, ...]`.
  }];
  let arguments = (ins Msdd_Tensor:$prediction, Msdd_Tensor:$target, Msdd_Tensor:$weight);
  let results = (outs Msdd_Tensor:$result);
}

#endif // MSDD_OPS_TD
