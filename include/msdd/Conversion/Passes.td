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
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def ConvertLinalgToRuntimeCalls : Pass<"msdd-linalg-to-runtime-calls", "ModuleOp"> {
  let summary = "Replace bufferized matrix products by calls to the runtime's BLAS kernels";
  let description = [{
    `linalg.matmul`, `linalg.matmul_transpose_b`, `linalg.batch_matmul` and
    `linalg.batch_matmul_transpose_b` on f32 or f64 memrefs become calls to
    `msdd_rt_matmul_<type>` / `msdd_rt_batch_matmul_<type>` (C-interface functions of the runtime,
    backed by a tuned BLAS). Runs after bufferization.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
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
    `@__msdd_loop_<fn>_<n>(captured values...)` (marked `noinline` for LLVM) and called once:
    LLVM's loop passes cost superlinearly in the number of loops per function (a tiny
    tokenizer's train step took 200 s in IndVarSimplify alone).
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

#endif // MSDD_CONVERSION_PASSES
