//===- Passes.td - MSDD transformation passes --------------*- tablegen -*-===//
#ifndef MSDD_TRANSFORMS_PASSES
#define MSDD_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def ExpandSampler : Pass<"msdd-expand-sampler", "ModuleOp"> {
  let summary = "Expand msdd.multiscale_sample into explicit per-scale Euler loops";
  let description = [{
    Scale 0 starts from `random_normal(seed, step 0, stream 0)`. Before scale `s > 0`:
    `x = noise_mix(upsample_nearest(x), block_noise(random_normal(seed, step s, stream 1)))`
    with the transition's alpha and beta. Each scale then runs its Euler steps as an
    `scf.for` (straight-line code for one step): tau_k = tau_start + k (tau_end - tau_start) / n,
    the conditional denoiser call, the unconditional one and `cfg_combine` unless the guidance
    scale is 1, and `euler_step` by dt = (window_end - window_start) / n.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::msdd::MsddDialect"];
}

def TileParallelDims : Pass<"msdd-tile-parallel-dims", "func::FuncOp"> {
  let summary = "Tile the outer parallel dimensions of linalg ops into scf.forall";
  let description = [{
    Target-neutral work distribution: every linalg op (matrix products excepted, which a
    library call handles whole, and the zero fills of their accumulators, which the call
    replaces) is tiled along its outermost parallel dimensions so that it
    has at least `min-tiles` tiles where its shape allows; tiles of the innermost loop
    (contiguous memory) stay at least 16 wide, so that they vectorize. The CPU pipeline maps the resulting
    loops onto a thread pool, the GPU pipeline onto blocks. Ops whose indexing maps are not
    sums of loop dimensions with non-negative coefficients (constant offsets, mod, floordiv,
    negative coefficients) are left whole: tiling would offset their slices wrongly.
  }];
  let options = [
    Option<"minTiles", "min-tiles", "int64_t", /*default=*/"64",
           "Number of tiles to aim for (a few per hardware thread)">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::affine::AffineDialect"];
}

def InlineCalls : Pass<"msdd-inline-calls", "ModuleOp"> {
  let summary = "Inline calls, except to functions marked msdd.outline";
  let description = [{
    Inlines every `func.call` whose callee lacks the `msdd.outline` unit attribute
    (`symbol-dce` then removes private functions left without callers). Outlined functions (the tokenizer's
    denoisers, encoder and decoder) stay single copies called at run time: the sampler calls
    its denoiser at every step of every scale and both CFG branches, and inlining each call
    would multiply the code (and compile time) by the number of call sites.
  }];
}

def CopyAliasedResults : Pass<"msdd-copy-aliased-results", "func::FuncOp"> {
  let summary = "Give every function result a tensor of its own before bufferization";
  let description = [{
    A result that is one of the function's arguments, or a value returned twice, is replaced
    by a copy (`bufferization.alloc_tensor() copy(...)`). Results are written into the
    caller's buffers (`buffer-results-to-out-params`), which needs one fresh buffer per
    result: an argument or a shared buffer cannot be placed there.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def FuseElementwise : Pass<"msdd-fuse-elementwise", "func::FuncOp"> {
  let summary = "Fuse producer-consumer chains of elementwise linalg.generic ops";
  let description = [{
    Upstream elementwise fusion, without the reshape propagation of
    `linalg-fuse-elementwise-ops`: that would rewrite named contractions into generic ones
    and hide them from the library-call and tensor-core paths. `linalg.transpose` ops are
    made generics first, so that they fuse like any elementwise op (a transposed read).
    A producer is fused into its consumer when the consumer is its only user, with two
    exceptions: a rounding consumer takes a shared producer (which then writes both
    precisions), and a producer that is cheap to redo (one input of its own size read
    through a permutation that keeps the innermost dimension, broadcast vectors, at most
    one arithmetic op and no math function: a transpose of the heads, a bias addition) is
    fused into every consumer: each redoes it while reading, which costs one read where
    storing it costs a write and a read per consumer.

    A pointwise producer whose only reader reads it through maps that are not permutations,
    at most twice per point (a rotary embedding reading both members of each pair of a
    normalized query, through a reshape), is redone by that reader at each point it reads:
    the reader takes the producer's inputs through the composed maps, and the producer's
    result is never stored.

    Last, a producer whose result is otherwise only returned (an optimizer's new moments,
    which the parameter update reads) is fused into its reader, which then writes both:
    one kernel per parameter's update instead of three.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::affine::AffineDialect"];
}

def Autodiff : Pass<"msdd-autodiff", "ModuleOp"> {
  let summary = "Reverse-mode differentiation of a function";
  let description = [{
    Emits `@<function>_grad`, which takes the function's arguments and returns its results
    followed by the gradients of each result listed in `of` (scalar losses) with respect to
    each argument listed in `wrt`: for `of = [0, 1]` and `wrt = [2, 3]` the extra results are
    `d r0/d a2, d r0/d a3, d r1/d a2, d r1/d a3`, named `grad.<arg>` (one loss) or
    `grad<r>.<arg>` after the argument's `msdd.name`.

    Calls are inlined first. Each op contributes its vector-Jacobian product through
    `DifferentiableOpInterface`; fan-out accumulates adjoints with `msdd.add`, broadcasting is
    undone by the rules. The backward ops read the forward values directly: activations are
    reused, not recomputed.
  }];
  let options = [
    Option<"functionName", "function", "std::string", /*default=*/"",
           "The function to differentiate">,
    ListOption<"wrt", "wrt", "int64_t",
               "Argument indices to differentiate with respect to (default: the msdd.param arguments, else every float tensor argument)">,
    ListOption<"of", "of", "int64_t",
               "Indices of the scalar results to differentiate (default: 0)">,
    Option<"rematerialize", "rematerialize", "bool", /*default=*/"false",
           "Recompute cheap elementwise forward values next to their backward uses instead of "
           "keeping them alive from the forward pass (less memory, a little more compute)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::msdd::MsddDialect"];
}

def BuildTrainStep : Pass<"msdd-build-train-step", "ModuleOp"> {
  let summary = "Build train_step: gradients, clipping, schedule and optimizer as one function";
  let description = [{
    Expects `@<loss>` and its gradient `@<loss>_grad` (from `msdd-autodiff`, whose default
    `wrt` is the `msdd.param` arguments). Emits the public `@train_step` described in
    docs/training.md: it calls the gradient function, computes the global gradient norm,
    clips, evaluates the learning-rate schedule at `step`, and applies the optimizer to each
    parameter as elementwise msdd ops (fused into one pass per parameter downstream). Updated
    parameters and optimizer state are outputs marked `msdd.updates`, so the runtime can
    update them in place.
  }];
  let options = [
    Option<"lossFunction", "loss", "std::string", /*default=*/"\"loss\"", "The loss function">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adamw\"",
           "adamw (decoupled weight decay), adam (L2) or sgd">,
    Option<"lr", "lr", "double", /*default=*/"1e-4", "Peak learning rate">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "Adam beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.95", "Adam beta2">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "Adam epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0", "Weight decay">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0", "SGD momentum">,
    Option<"clipNorm", "clip-norm", "double", /*default=*/"0.0",
           "Clip the global gradient norm to this value (0: off)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"constant\"",
           "constant, cosine, or wsd (warm-up, stable, then a linear decay over the "
           "last decay-steps steps to total-steps)">,
    Option<"warmupSteps", "warmup-steps", "int64_t", /*default=*/"0", "Linear warm-up steps">,
    Option<"totalSteps", "total-steps", "int64_t", /*default=*/"0",
           "End of the cosine or wsd schedule">,
    Option<"decaySteps", "decay-steps", "int64_t", /*default=*/"0",
           "Steps of the wsd schedule's final linear decay">,
    Option<"emaDecay", "ema", "double", /*default=*/"0.0", "EMA decay of the weights (0: off)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::msdd::MsddDialect"];
}

def DeallocAfterLastUse : Pass<"msdd-dealloc-after-last-use", "func::FuncOp"> {
  let summary = "Move each buffer's dealloc up to just after its last use";
  let description = [{
    The ownership-based buffer deallocation frees a buffer at the end of the block that
    allocated it, so every temporary of an inlined network stays alive until the function
    returns (a paper-size decoder at batch 64 then needs more than a GPU's 80 GB). A
    `memref.dealloc` of a `memref.alloc` in the same block moves to just after the last op
    of that block that uses the buffer or a view of it (uses nested in regions count for
    their ancestor op in the block). Buffers that escape the analysis (yielded, passed to
    an op that returns a non-view memref, or whose address is taken) are left alone.
  }];
}

def CloneFillsPerUse : Pass<"msdd-clone-fills-per-use", "func::FuncOp"> {
  let summary = "Give each destination its own linalg.fill";
  let description = [{
    CSE merges identical fills (the zero accumulators of every layer's matrix products);
    bufferization must then copy the one filled buffer into each destination but the last,
    reading and writing all of it (for attention scores at 256 px, 4 GB per product). Run
    just before bufferization, this pass gives every use of a fill's result its own fill
    (and `tensor.empty`), which bufferizes to a write in place.
  }];
}

def RoundContractionOperands : Pass<"msdd-round-contraction-operands", "func::FuncOp"> {
  let summary = "Round the factors of f32 matrix products to a narrower type";
  let description = [{
    For bf16 tensor cores (`--math-mode bf16`): both factors of every f32 `linalg.matmul`,
    `batch_matmul` and their `_transpose_a` and `_transpose_b` forms on tensors are
    rounded (`arith.truncf`, nearest even) by an elementwise `linalg.generic`, and the product
    reads the narrow factors with an f32 accumulator. Run before `msdd-fuse-elementwise`, the
    rounding fuses into the producer of each factor, which then writes the narrow copy
    directly: no separate pass over the data, and half the bytes read by the product.
  }];
  let options = [
    Option<"elementType", "element-type", "std::string", /*default=*/"\"bf16\"",
           "The factors' type: bf16 or f16">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SplitContractionOperands : Pass<"msdd-split-contraction-operands", "func::FuncOp"> {
  let summary = "Split f32 matrix products into three TF32 products (3xTF32)";
  let description = [{
    For `--math-mode tf32x3`: f32 accuracy on TF32 tensor cores. Each factor `X` of an f32
    `linalg.matmul`, `batch_matmul` (and their transposed forms) is split into
    `Xh = tf32(X)` (nearest even, kept as f32) and `Xl = X - Xh`, and the product into
    `Al Bh + Ah Bl + Ah Bh`, the small terms first. TF32 products lose nothing of `Ah`, `Bh`
    and only bits below f32's of `Al`, `Bl`; the dropped `Al Bl` is 2^-22 of the product.
    A result larger than its factors (attention's scores) is computed by one product over
    the parts concatenated along the reduction dimension, `[Al Ah Ah] [Bh Bl Bh]`, and so
    written once; otherwise three products accumulate into the original accumulator, which
    reads the factors without copies. Both parts of a value come from one elementwise
    generic with two results, which fusion puts into the value's producer, and which
    `msdd-hoist-call-invariant-code` moves out of the sampler's denoisers for the weights.
    A product of dynamic shape is an error: it would otherwise run in plain TF32.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FoldTransposesIntoProducts : Pass<"msdd-fold-transposes-into-products", "func::FuncOp"> {
  let summary = "Read transposed factors of matrix products in place";
  let description = [{
    A `linalg.transpose` that swaps the two matrix dimensions of a product's factor is folded
    into the product: `matmul(transpose(X), B)` becomes `matmul_transpose_a(X, B)`,
    `matmul(A, transpose(Y))` becomes `matmul_transpose_b(A, Y)`, and a transposed
    `matmul_transpose_b` factor becomes a plain `matmul`; likewise for the batched ops, whose
    transposed factor may also be a `tensor.collapse_shape` merging the batch dimensions of
    a transpose of the last two (attention's `P^T`, heads and images as one batch). Reverse mode writes every weight gradient as `dY^T X`; without
    this pass each `dY^T` is a strided copy of a whole activation, which costs more than the
    product on CPUs whose gathers are slow, and on a GPU reads or writes a 32-byte sector
    per element on its strided side. The library call (BLAS, cuBLAS) then reads the factor through a
    transposed view (`msdd-linalg-to-runtime-calls`). A product with both factors
    transposed keeps one transpose (linalg has no named op for it). The transpose itself
    goes away once nothing else reads it.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SinkBiasIntoConsumers : Pass<"msdd-sink-bias-into-consumers", "func::FuncOp"> {
  let summary = "Add a product's bias in the elementwise op that consumes the product";
  let description = [{
    `msdd-lower-to-linalg` lets a linear layer's product accumulate into its bias broadcast
    over the output: one pass writes the broadcast, and the library call reads it back (BLAS
    and cuBLAS with beta = 1). Where the product's only consumer is a `linalg.generic`
    (through the `tensor.expand_shape` that restores the layer's leading dimensions), the
    product starts from zeros instead (beta = 0, nothing read) and an elementwise op after it
    adds the bias, in the consumer's shape; `msdd-fuse-elementwise` then merges that
    addition into the consumer, which reads the bias vector where it reads the product.
    Products consumed otherwise (by another product, a transpose, a concatenation) keep
    their bias as the accumulator: an addition there would be a pass of its own.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MergeSiblingProducts : Pass<"msdd-merge-sibling-products", "func::FuncOp"> {
  let summary = "Stack the weights of linear layers that read the same input into one product";
  let description = [{
    `linalg.matmul_transpose_b` ops (linear layers: `A B_i^T`) in one block that share their
    first factor, start from zeros (biases sunk into their consumers by
    `msdd-sink-bias-into-consumers`), have static shapes and weights computed by linalg ops
    (in bf16 mode, their roundings) become one product with the weights stacked by rows (a
    `tensor.insert_slice` chain, which `msdd-concatenate-in-place` turns into producers
    writing their rows directly); each
    former result is a `tensor.extract_slice` of the stacked result. A transformer block's
    query, key and value projections, and its MLP's gate and up projections, read their
    input once instead of three and two times, in one library call each. Values do not
    change: each output element is the same dot product. The merged product takes the
    place of the first of them; a sibling whose weight is computed after that point is left
    alone. Weights that are arguments (f32 and TF32 modes) are stacked in private functions
    only (a sampler's denoisers), where `msdd-hoist-call-invariant-code` moves the stacking
    out of the calls, once per decode; a public function would copy them into the stack at
    every call, which costs more than the merge saves.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def RoundContractionResults : Pass<"msdd-round-contraction-results", "func::FuncOp"> {
  let summary = "Store the results of bf16 products that only elementwise ops read as bf16";
  let description = [{
    For `--math-mode bf16`, after `msdd-round-contraction-operands` and
    `msdd-sink-bias-into-consumers`: a `linalg.matmul`, `matmul_transpose_a` or
    `matmul_transpose_b` with bf16
    factors whose f32 accumulator starts from zeros, and whose result only elementwise ops
    read (all-parallel generics and transposes, directly or through one reshape), gets its
    result rounded to bf16 (`arith.truncf`, nearest even) right after the product, and each
    reader a widening (`arith.extf`) in its own shape, which `msdd-fuse-elementwise` merges
    into it. The rounding itself is never fused into its readers (it is what is stored):
    `msdd-linalg-to-runtime-calls` makes the product write it directly (a bf16 result, as
    cuBLAS computes it: f32 accumulation, one rounding at the end). A transformer's MLP and
    projections then write and read half the bytes (with the biases sunk, every linear
    layer's product is read by the elementwise op that adds its bias, in f32). Products read
    by anything else (a reduction, another product, a concatenation, the function's
    results) keep f32 results.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def HoistCallInvariantCode : Pass<"msdd-hoist-call-invariant-code", "ModuleOp"> {
  let summary = "Move what a function computes from its callers' invariant arguments into the callers";
  let description = [{
    The sampler calls each scale's denoiser at every step with the same weights and the
    same latent. What a private function computes from such arguments alone (in bf16 mode
    its weights rounded and stacked; the latent's embedding) is the same at every call.
    This pass computes it in the caller instead, before the loops around the call, and
    passes the results as new arguments; `cse` then merges the equal computations of
    different callees (every scale's denoiser rounds the same weights), so they run once
    per call of the caller rather than once per denoiser call. Arguments left unused are
    dropped.

    An argument is invariant when at every call site its operand is defined at the top
    level of the caller (outside the loops around the call; loop-invariant pure ops are
    first hoisted out of those loops) and either the call is inside a loop or the operand
    is passed to more than one call. Only side-effect-free ops move, and only chains that
    compute a tensor (not just constants, empty tensors and reshapes, which stay). Calls
    under anything other than loops (an `scf.if`) are left alone: their work would be done
    when the branch is not taken. Public functions keep their signatures and are left
    alone.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def ConcatenateInPlace : Pass<"msdd-concatenate-in-place", "func::FuncOp"> {
  let summary = "Compute the pieces of a concatenation directly into their slices";
  let description = [{
    A concatenation is a chain of `tensor.insert_slice` ops into a `tensor.empty`; after
    bufferization each insertion would copy its piece into the concatenated buffer. When a
    piece is the result of a linalg op that writes its whole init without reading it (a
    `tensor.empty`), possibly reshaped by `tensor.collapse_shape` on the way, that init
    becomes the piece's slice of the concatenation (`tensor.extract_slice`, expanded back to
    the op's shape): the op writes its result in place and the copy disappears. The
    concatenation's empty tensor becomes a `bufferization.alloc_tensor` (which
    canonicalization does not fold into its slices), and it and earlier insertions of the
    chain move up so that they come before the producers that now write into them.

    Upstream's `eliminate-empty-tensors` does this for pieces of the concatenation's exact
    type whose producers come after the concatenation's start; the joint attention's
    streams are reshaped (heads, RoPE's pairs) and computed before it.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FuseScaleTransitions : Pass<"msdd-fuse-scale-transitions", "func::FuncOp"> {
  let summary = "Fuse each scale transition chain into one msdd.scale_transition";
  let description = [{
    `noise_mix(upsample_nearest(x), block_noise(random_normal(seed, step)))` (what
    `msdd-expand-sampler` emits between scales) becomes one `msdd.scale_transition`, which
    lowers to a single kernel that draws each 2x2 block's noise where it is used: the
    noise, its block means and the upsampled image are never stored. Chains whose
    intermediate values have other users, or upsample by another factor, are left alone.
  }];
  let dependentDialects = ["::mlir::msdd::MsddDialect"];
}

#endif // MSDD_TRANSFORMS_PASSES
