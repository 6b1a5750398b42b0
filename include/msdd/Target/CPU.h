//===- CPU.h - The CPU pipeline and artifact writer -------------*- C++ -*-===//
#ifndef MSDD_TARGET_CPU_H
#define MSDD_TARGET_CPU_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::msdd {

/// Options of the CPU pipeline; each has a msdd-compile flag.
struct CpuPipelineOptions {
  /// Tiles per parallel op to aim for (see msdd-tile-parallel-dims).
  int64_t minTiles = 64;
  /// Stop after this stage and print the IR instead of writing an artifact:
  /// "linalg", "loops", "llvm" or "" (write the artifact).
  std::string stopAfter;
  /// Passes to run first, in pass-pipeline syntax (msdd-compile --train puts msdd-autodiff and
  /// msdd-build-train-step here).
  std::string prologue;
  /// Round the factors of every f32 product to bf16 as the CUDA bf16 mode does (msdd-compile
  /// --math-mode bf16): the same graph, its numerics checkable without a GPU.
  bool bf16Factors = false;
};

/// msdd/tensor IR -> LLVM dialect with exported entry points (the whole target-neutral and
/// CPU-specific pass list).
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// Options of the CUDA pipeline; each has a msdd-compile flag.
struct CudaOptions {
  std::string gpuArch = "sm_90";
  /// Matrix products on cuBLAS: "f32", "tf32" or "bf16" (see msdd-linalg-to-runtime-calls).
  std::string mathMode = "tf32";
  /// Keep the kernels as PTX text (for writePtxFiles) instead of ptxas-compiled cubin.
  bool emitPtx = false;
  /// In bf16 and TF32 modes, attention as one fused tensor-core kernel
  /// (msdd.flash_attention).
  bool flashAttention = true;
  /// The flash kernel's query rows per block: 64, 128, or 0 (the pass's choice per kernel).
  int64_t flashQueryTile = 0;
};

/// msdd/tensor IR -> host code in the LLVM dialect that launches kernels through the
/// runtime's mgpu* functions, the kernels deduplicated into one module `msdd_kernels` and
/// compiled for `gpuArch` (a `gpu.binary` holding cubin, or PTX with `emitPtx`). Shares the
/// linalg and bufferized stages with the CPU pipeline (`stopAfter` may name them, or
/// "kernels": after outlining).
void buildCudaPipeline(OpPassManager &pm, const CpuPipelineOptions &options,
                       const CudaOptions &cuda);

/// $CUDA_HOME if set, else /usr/local/cuda; "" if that directory does not exist.
std::string cudaToolkitPath();

/// Writes the PTX of every kernel module of `module` (after buildCudaPipeline) to
/// `directory`/<module name>.ptx. Returns failure with a message in `error`.
LogicalResult writePtxFiles(ModuleOp module, StringRef directory, std::string &error);

/// Registers `msdd-cpu-pipeline` for msdd-opt.
void registerCpuPipeline();

/// Translates an LLVM-dialect module to an optimized native object for the host CPU and links
/// it into a shared-library artifact at `outputPath` (written atomically). Returns failure with
/// a message in `error`.
LogicalResult writeCpuArtifact(ModuleOp module, StringRef outputPath, std::string &error,
                               TimingScope *timing = nullptr);

/// The LLVM IR the CPU back end compiles: `module` (LLVM dialect) translated and optimized for
/// the host exactly as writeCpuArtifact does, printed to `os` (msdd-compile --emit=llvm-ir).
LogicalResult writeOptimizedLlvmIr(ModuleOp module, llvm::raw_ostream &os, std::string &error);

} // namespace mlir::msdd

#endif // MSDD_TARGET_CPU_H
