//===- CudaEmulator.h - Runs the CUDA pipeline's kernels on the CPU -*- C++ -*-===//
//
// An interpreter for the CUDA pipeline's IR at its `kernels` stage (msdd-compile --target
// cuda --emit=kernels): host functions that allocate device buffers, launch gpu.func kernels
// and call the runtime's cuBLAS entry points. Device memory is host memory; each block's
// threads run as fibers that meet at the collective operations (gpu.shuffle and
// nvvm.mma.sync per warp, gpu.barrier per block), so warp-level code runs as on the GPU.
// Matrix products are computed in float64 from the operands the runtime would hand to
// cuBLAS (rounded to TF32 or bf16 as its math mode does).
//
// It checks what a GPU would not report: indices outside a memref's shape, raw loads outside
// any live buffer, launches of freed buffers, divergent collectives and deadlocks, block
// sizes other than the kernel's known_block_size, operand layouts cuBLAS cannot address,
// and, when asked, data races between the threads of a launch. Fresh device buffers are
// filled with NaN so that reads of unwritten memory show.
//
// It exists so that CI machines without a GPU can check the kernels' numerics against the
// CPU backend (test/Target/cuda-emulate*.test); it links MLIR and is a development tool,
// not part of the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_EMULATION_CUDAEMULATOR_H
#define MSDD_EMULATION_CUDAEMULATOR_H

#include "msdd/Runtime/Tensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace msdd::emulation {

/// Memory traffic of one kernel's loads and stores, counted per warp-wide access (the n-th
/// execution of one load or store by the lanes of a warp) as the GPU serves it.
struct MemoryStats {
  /// Shared memory: one wavefront per 128 bytes a phase of the warp moves (4-byte accesses:
  /// the whole warp; 8-byte: each half; 16-byte: each quarter), more where two different
  /// 4-byte words share one of the 32 banks (a bank conflict).
  int64_t sharedAccesses = 0, wavefronts = 0, idealWavefronts = 0;
  /// Device memory: the 32-byte sectors the lanes touch, and as few as their bytes need
  /// (coalesced).
  int64_t deviceAccesses = 0, sectors = 0, idealSectors = 0;
};

/// What one call did.
struct EmulationStats {
  int64_t launches = 0;
  int64_t threads = 0;
  int64_t collectives = 0; // warp collectives and barriers resolved
  int64_t matmuls = 0;
  /// Per kernel name, when asked for (setMemoryStats).
  std::map<std::string, MemoryStats> memory;
};

class CudaEmulator {
public:
  /// Prepares every function of `module` (which must outlive the emulator). Throws
  /// rt::Error naming the operation when the module holds an operation it cannot run.
  explicit CudaEmulator(mlir::ModuleOp module);
  ~CudaEmulator();

  /// Names and types of a host function's arguments (from their `msdd.name` attributes).
  struct Argument {
    std::string name;
    rt::DType dtype;
    std::vector<int64_t> shape;
  };
  std::vector<Argument> arguments(const std::string &function) const;

  /// Runs `function` on `inputs`, one per leading argument, in order. The arguments after
  /// them are output buffers (bufferization turns results into trailing arguments): they
  /// start as NaN. Returns the function's results, then the output buffers, as dense
  /// tensors. Throws rt::Error on any fault found while running.
  std::vector<rt::Tensor> call(const std::string &function,
                               const std::vector<const rt::Tensor *> &inputs);

  const EmulationStats &stats() const;

  /// Also report data races: two threads of a launch touching the same bytes, one writing,
  /// without a barrier between them, or from different blocks (slower).
  void setCheckRaces(bool check);
  /// Also count each kernel's memory traffic (stats().memory): shared-memory wavefronts and
  /// bank conflicts, device-memory sectors and coalescing. Slower.
  void setMemoryStats(bool count);

  //===--- For the emulated CUDA driver (lib/Emulation/EmulatedDriver.cpp) ---===//
  // It runs the runtime's own CUDA code, with artifacts built for a GPU, on this emulator.

  /// A device buffer of `bytes`, filled with NaN (all bits set) as fresh device memory is
  /// treated here.
  void *allocateDevice(size_t bytes);
  /// Frees a buffer of allocateDevice. Throws if `p` is not one that is live.
  void freeDevice(void *p);
  /// Whether [p, p + bytes) lies inside one live device buffer.
  bool isDevice(const void *p, size_t bytes) const;
  /// Whether the module has a kernel (gpu.func) of this name.
  bool hasKernel(const std::string &name);
  /// A launch of the kernel `name` with its parameters as cuLaunchKernel receives them: a
  /// pointer per parameter, memref arguments expanded as the LLVM lowering expands them
  /// (allocated and aligned pointers, offset, sizes, strides). The parameters are read now;
  /// the launch runs when the returned function is called (at once, or at each replay of a
  /// captured graph). Throws rt::Error when the kernel does not exist or a memref's sizes
  /// disagree with its type (a kernels file that does not belong to the artifact).
  std::function<void()> prepareLaunch(const std::string &name, const int64_t grid[3],
                                      const int64_t block[3], int64_t sharedBytes,
                                      void **params);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// TF32 (10 mantissa bits) and bf16 rounding, to nearest even, as tensor cores round their
/// factors.
float roundToTf32(float x);
float roundToBf16(float x);

} // namespace msdd::emulation

#endif // MSDD_EMULATION_CUDAEMULATOR_H
