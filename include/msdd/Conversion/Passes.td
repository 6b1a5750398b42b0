//===- Passes.td - MSDD conversion passes ------------------*- tablegen -*-===//
#ifndef MSDD_CONVERSION_PASSES
#define MSDD_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertMsddToLinalg : Pass<"msdd-lower-to-linalg", "func::FuncOp"> {
  let summary = "Lower msdd ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Elementwise ops become `linalg.generic` with broadcasting indexing maps, so that
    `linalg-fuse-elementwise-ops` can fuse chains of them; matrix products become
    `linalg.matmul` / `linalg.batch_matmul` (and their `_transpose_b` forms), which the CPU
    pipeline later hands to the BLAS; reductions (norms, softmax, losses) become
    `linalg.generic` with reduction iterators.

    With `flash-attention` (CUDA artifacts), `msdd.attention` without a mask, in f32, whose
    head dimensions fit the kernel's tiles becomes `msdd.flash_attention`: on f16 copies of
    its operands with `flash-attention-factors=f16` (the bf16 mode; the rounding fuses into
    their producers), on the f32 operands themselves with `tf32` (the TF32 mode; the kernel
    rounds them) and with `tf32x3` (the 3xTF32 mode: `split_factors`, the kernel splits
    them for three TF32 products each). The rest is lowered as without.
  }];
  let options = [
    Option<"flashAttention", "flash-attention", "bool", /*default=*/"false",
           "lower attention to msdd.flash_attention where the kernel supports it">,
    Option<"flashAttentionFactors", "flash-attention-factors", "std::string",
           /*default=*/"\"f16\"",
           "the flash kernel's factors: f16 (f16 tensor cores), tf32 (TF32 tensor cores) or "
           "tf32x3 (f32 factors split for three TF32 products each)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def ConvertLinalgToRuntimeCalls : Pass<"msdd-linalg-to-runtime-calls", "ModuleOp"> {
  let summary = "Replace bufferized matrix products by calls to the runtime's BLAS kernels";
  let description = [{
    `linalg.matmul`, `linalg.matmul_transpose_a`, `linalg.matmul_transpose_b` and their
    `batch_` forms on f32 or f64 memrefs become calls to
    `msdd_rt_matmul_<type>` / `msdd_rt_batch_matmul_<type>` (C-interface functions of the runtime,
    backed by a tuned BLAS) with `transposeB` and `accumulate` after the operands. The
    kernels read any strided view, so a `transpose_a` product passes a `memref.transpose`
    view of its stored A (no copy; the BLAS reads it transposed). Runs after
    bufferization. `accumulate` is 0 when a `linalg.fill` of zero initializes the accumulator
    before the product and nothing else touches that buffer in between: the fill is dropped
    and the BLAS runs with beta = 0, which writes C without reading it (one pass over C
    instead of three).

    With `device=cuda` the calls are `msdd_rt_cuda_matmul_<type>` /
    `msdd_rt_cuda_batch_matmul_<type>` on device buffers (cuBLAS, loaded by the runtime at
    run time), for f32 and f64 with the math mode last (0 plain f32, 1 TF32 tensor cores). Products with bf16 factors and an f32 accumulator
    (`msdd-round-contraction-operands`) call `..._bf16`. With `math-mode=bf16`, f32 factors
    are first rounded into dense bf16 buffers (a `linalg.generic` each, a kernel later) and
    the call is `..._bf16` too (bf16 tensor cores); accumulation is f32 in every mode.
    On the CPU, products with bf16 factors call `msdd_rt_matmul_bf16` /
    `msdd_rt_batch_matmul_bf16`, which widen the factors exactly and use the f32 BLAS: the
    CUDA bf16 mode's numerics (`msdd-compile --target cpu --math-mode bf16`).
  }];
  let options = [
    Option<"device", "device", "std::string", /*default=*/"\"cpu\"",
           "where the buffers live: cpu (BLAS) or cuda (cuBLAS)">,
    Option<"mathMode", "math-mode", "std::string", /*default=*/"\"f32\"",
           "CUDA only: f32, tf32 or bf16 (inputs rounded, f32 accumulation)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect"];
}

def LowerReductionsToLoops : Pass<"msdd-lower-reductions-to-loops", "func::FuncOp"> {
  let summary = "Lower linalg reductions on memrefs to loops that keep their accumulators in registers";
  let description = [{
    `convert-linalg-to-loops` loads and stores a reduction's output element in every iteration
    of the reduction loop. LLVM cannot keep that element in a register (the output may alias
    an input), so a row sum or a row maximum becomes a scalar loop that waits on a store each
    iteration. This pass lowers a bufferized linalg op whose innermost loops are reductions
    to `scf.for` loops: the outer loops in the op's order, then the trailing reduction loops
    carrying each output's value as an `iter_args` value, loaded before them and stored
    after. Ops whose innermost loop is parallel (column sums) are left to
    `convert-linalg-to-loops`: their inner loop already vectorizes over the output.

    With `reassociate` (the default) the floating-point additions and multiplications that
    fold into an accumulator are marked `reassoc`, so that LLVM vectorizes the reduction with
    partial sums; the order of the sum then follows the vector width (a maximum or minimum
    vectorizes without it).
  }];
  let options = [
    Option<"reassociate", "reassociate", "bool", /*default=*/"true",
           "let LLVM reorder the additions and multiplications of a reduction">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect", "::mlir::affine::AffineDialect"];
}

def OutlineParallelLoops : Pass<"msdd-outline-parallel-loops", "ModuleOp"> {
  let summary = "Outline outermost scf.parallel loops into functions run by a thread pool";
  let description = [{
    Each outermost `scf.parallel` becomes a private function
    `@__msdd_par_<fn>_<n>(%begin: index, %end: index, captured values...)` that runs the
    iterations `[begin, end)` of its first dimension, and a `func.call` of it over the whole
    range. `msdd-lower-parallel-dispatch` later turns the call into a dispatch through
    `msdd_rt_parallel_for`; before that the call is a correct sequential loop.
    Outermost `scf.for` nests without results in a function's body are outlined into
    `@__msdd_loop_<fn>_<n>(captured values...)` (marked `noinline` for LLVM) and called:
    LLVM's loop passes cost superlinearly in the number of loops per function (a tiny
    tokenizer's train step took 200 s in IndVarSimplify alone).
    Identical loops share one function: a model repeats the same loop at the same shapes in
    every layer and in its backward pass, so an outlined body whose text (without its name)
    equals an earlier one's is dropped and the earlier one called instead, also across
    functions. The micro tokenizer's distillation step outlines 3569 loops into 527
    functions, and its LLVM back end takes 21 s instead of 54 (2 cores).
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def LowerParallelDispatch : Pass<"msdd-lower-parallel-dispatch", "ModuleOp"> {
  let summary = "Dispatch outlined parallel loops through msdd_rt_parallel_for";
  let description = [{
    Runs on the LLVM dialect. Each call of an outlined `__msdd_par_*` function becomes: its
    arguments stored into a stack struct, and a call of
    `msdd_rt_parallel_for(@trampoline, %ctx, %n)`, where the trampoline unpacks the struct and
    calls the outlined body on a chunk `[begin, end)`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ApproximateMath : Pass<"msdd-approximate-math", "ModuleOp"> {
  let summary = "Replace f32 transcendental math ops by polynomial approximations";
  let description = [{
    `math.tanh`, `math.exp`, `math.erf`, `math.log`, ... on f32 become MLIR's polynomial
    approximations (within a few ulp), which vectorize, instead of scalar libm calls (or
    libdevice calls on GPUs); `math.rsqrt` becomes `1 / sqrt`. f64 ops are left to libm.
  }];
  let dependentDialects = ["::mlir::math::MathDialect", "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// CUDA host code
//===----------------------------------------------------------------------===//

def AllocateDeviceMemory : Pass<"msdd-allocate-device-memory", "ModuleOp"> {
  let summary = "Place a CUDA artifact's buffers in device memory";
  let description = [{
    Runs on bufferized host functions of the CUDA pipeline, whose arguments are device
    buffers (the runtime stages inputs and outputs). `memref.alloc` / `memref.dealloc` of
    tensor data become `gpu.alloc` / `gpu.dealloc`; the allocations that hold the buffer
    deallocation pipeline's own bookkeeping (pointers and ownership flags read by the host)
    stay in host memory. Each `memref.get_global` (a constant) becomes a device copy made at
    function entry and freed at every return. `memref.copy` becomes `linalg.copy`, which
    `msdd-map-loops-to-gpu` turns into a kernel like any other linalg op.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect"];
}

def LowerFlashAttentionToGpu : Pass<"msdd-lower-flash-attention-to-gpu", "ModuleOp"> {
  let summary = "Turn each bufferized msdd.flash_attention into a tensor-core kernel";
  let description = [{
    Flash attention (FlashAttention-2's loop order) as a `gpu.launch` per tile of 64 or 128
    query rows of one batch and head (4 or 8 warps): each warp keeps 16 query rows' Q in
    registers; a key tile of 64 rows of K and V at a time (fewer where 64 would not fit in 48 KiB) is
    staged in shared memory (rows padded so the fragment reads hit 32 banks; K rows in
    16-byte stores, f16 V transposed at columns XORed with a multiple of the value chunk so
    that its staging stores hit 32 banks too); the scores
    and the output accumulate in f32 through `nvvm.mma.sync`, and an online softmax
    (running maximum and sum per row, base-2 exponentials) rescales the output as the keys
    go by. The `[Lq, Lk]` scores never leave registers. f16 factors take m16n8k16 (V
    staged transposed, a word holding two keys); f32 factors take m16n8k8 on TF32, each
    factor rounded to TF32 (to nearest, ties away) as it is staged or loaded, with the keys
    of the second product taken in the order that makes the score accumulators its A
    fragment. Needs identity-layout buffers, as the bufferized pipeline makes.

    When every reader of the f32 output (up to the next write of its buffer, which
    bufferization shares between layers) only rounds a slice of its rows, or all of them,
    into another buffer, through permutations (joint attention's image and latent rows,
    rounded to bf16 and transposed to `[B, L, H, D]` for the output projections), the kernel
    stores each slice there itself, rounded: the f32 output and the readers are erased.

    The query tile: 128 rows share each staged K and V tile between twice the rows of a 64-row
    one, which halves what the kernel reads from L2 (at the paper's 1152 tokens, 8 GB per
    layer at batch 128 with 64 rows). By default (`query-tile=0`) a kernel on f16 factors
    takes 128 unless that computes more padding rows than 64 would: it needs at most 128
    registers a thread, so two 8-warp blocks fit an SM. TF32 kernels take 130 to 200
    registers (one 8-warp block per SM) and keep 64.
  }];
  let options = [
    Option<"queryTile", "query-tile", "int64_t", /*default=*/"0",
           "query rows per block: 64 (4 warps), 128 (8 warps), or 0 (f16 factors: 128 unless "
           "it pads more rows than 64; TF32: 64)">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::vector::VectorDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect"];
}

def MapLoopsToGpu : Pass<"msdd-map-loops-to-gpu", "ModuleOp"> {
  let summary = "Turn each bufferized linalg op into a gpu.launch";
  let description = [{
    Each linalg op of a host function becomes its loop nest inside a `gpu.launch`: the
    parallel dimensions are linearized (the last fastest, so neighbouring threads touch
    neighbouring elements) and split into blocks of `block-size` threads, one thread per
    point; reduction dimensions stay a serial loop in each thread, the accumulators in
    registers (each output loaded once and stored once), starting from the constant of a
    fill just before that nothing else reads (a gradient's zero fill: no launch for it, and
    the output is not read). Ops of 2^20 points or more
    whose body is straight-line (loads, arithmetic, stores) give each thread 4 points, a
    block apart, and issue all their loads before any store: one load in flight per thread
    cannot cover the memory latency. Points are delinearized with 32-bit arithmetic when
    there are fewer than 2^31 (64-bit division is emulated on GPUs). Reductions of the last
    loop dimension (row sums, maxima, norms) with an add, mul, max or min combiner instead
    get one warp per output: lanes stride over the row and combine with shuffles (also
    starting from such a fill's constant). Rows shorter than a warp (a head dimension of
    16) share a warp, in groups of the largest power of two of lanes not above the row's
    length, whose shuffles stay inside the group; a thread per output would read rows `K`
    apart in each of a warp's loads (8x the sectors at `K` = 32). Rows of fewer than 4, or
    short rows that cannot fill whole warps, keep a thread per output. Where every lane of
    a row has the same number of points, a lane takes up to 4 of them per iteration, their
    loads before their combines or stores: a lane otherwise waits for one point's loads
    before it issues the next point's (the GPU compiler does not know that the buffers
    do not alias, so it cannot move a load above an earlier point's store).
    Such reductions followed by a parallel op over the same rows that reads their results
    at its own row (a LayerNorm's sum and variance, then its normalization) become one
    launch of a warp (or, for short rows, a group of lanes) per row: the reductions'
    results stay in registers (stored only when
    something else reads them; a preceding constant fill becomes their starting value),
    the lanes stride over the last op's points in the row, and the row is read from memory
    once, where three launches read it three times. A pointwise op whose result the first
    reduction reads in loop order (a residual update before a norm) leads the group: each
    lane reads back only the points it wrote itself, so no synchronization is needed and
    the updated row is not read again from memory. The members move down to the last op's
    place, so the ops in between must be known not to touch their buffers (allocations,
    views, linalg ops and runtime calls on other buffers); the deallocation of a buffer the
    members only read moves after the kernel. Ops without parallel dimensions run in one
    thread. Host code must not touch device memory afterwards; a
    load or store that would is reported.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "threads per block">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::affine::AffineDialect"];
}

def MergeGpuModules : Pass<"msdd-merge-gpu-modules", "ModuleOp"> {
  let summary = "Deduplicate outlined kernels into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` makes one `gpu.module` per launch; a paper-size tokenizer has
    about ten thousand, of which a few hundred differ. Kernels whose bodies are identical
    become one `gpu.func` in a single module `@msdd_kernels`, and every `gpu.launch_func`
    names its survivor, so code generation and ptxas see each kernel once. A kernel whose
    location is named (msdd-map-loops-to-gpu names launches after their op, body and
    iteration space, e.g. `generic_subf_exp_8x16x64`) takes that name. Shared buffers
    (workgroup attributions) get 16-byte alignment (`llvm.align`), which outlining does not
    carry over from a launch and 16-byte stores need.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // MSDD_CONVERSION_PASSES
