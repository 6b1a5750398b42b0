//===- CPU.h - The CPU pipeline and artifact writer -------------*- C++ -*-===//
#ifndef MSDD_TARGET_CPU_H
#define MSDD_TARGET_CPU_H

#include "mlir/IR/BuiltinOps.h"
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
};

/// msdd/tensor IR -> LLVM dialect with exported entry points (the whole target-neutral and
/// CPU-specific pass list).
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// msdd/tensor IR -> GPU kernels in NVVM compiled to PTX (`gpu.binary` ops holding PTX text)
/// for `gpuArch` (e.g. "sm_90"), and host code in the LLVM dialect. Shares every stage up to
/// the bufferized, tiled loops with the CPU pipeline; `stopAfter` may name those stages.
void buildCudaPipeline(OpPassManager &pm, const CpuPipelineOptions &options,
                       const std::string &gpuArch);

/// Writes the PTX of every kernel module of `module` (after buildCudaPipeline) to
/// `directory`/<module name>.ptx. Returns failure with a message in `error`.
LogicalResult writePtxFiles(ModuleOp module, StringRef directory, std::string &error);

/// Registers `msdd-cpu-pipeline` for msdd-opt.
void registerCpuPipeline();

/// Translates an LLVM-dialect module to an optimized native object for the host CPU and links
/// it into a shared-library artifact at `outputPath` (written atomically). Returns failure with
/// a message in `error`.
LogicalResult writeCpuArtifact(ModuleOp module, StringRef outputPath, std::string &error);

} // namespace mlir::msdd

#endif // MSDD_TARGET_CPU_H
