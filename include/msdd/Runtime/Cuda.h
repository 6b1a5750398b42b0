//===- Cuda.h - The runtime's NVIDIA GPU support -----------------*- C++ -*-===//
//
// The CUDA driver (libcuda.so.1) and cuBLAS are loaded with dlopen on first use, so the
// runtime and msdd-run have no link-time CUDA dependency and run on machines without a GPU;
// asking for the GPU there fails with "no CUDA device (<why>)". Compiled CUDA artifacts call
// the mgpu* and msdd_rt_cuda_* functions declared in Kernels.h; everything runs on one
// non-blocking stream per host thread, with stream-ordered allocation from the device's
// memory pool (which keeps freed memory for reuse).
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_CUDA_H
#define MSDD_RUNTIME_CUDA_H

#include <cstddef>
#include <functional>
#include <string>

namespace msdd::rt::cuda {

/// Throws Error(context, "no CUDA device (<reason>)") unless a device can be used.
void requireDevice(const std::string &context);
/// "NVIDIA H100 80GB HBM3 (sm_90)"; throws like requireDevice.
std::string deviceName();

/// Names the work under way on this thread (an artifact and its function) in the device's
/// errors: a full device is reported from inside compiled code, which knows neither.
class CallContext {
public:
  explicit CallContext(std::string what);
  ~CallContext();
  CallContext(const CallContext &) = delete;
  CallContext &operator=(const CallContext &) = delete;

private:
  std::string previous_;
};

/// Stream-ordered on the calling thread's stream. Throws Error(<the CallContext>, "out of
/// device memory: ...") when the device is full.
void *allocate(size_t bytes);
void release(void *device);
void copyToDevice(void *device, const void *host, size_t bytes);
void copyToHost(void *host, const void *device, size_t bytes);
void copyOnDevice(void *to, const void *from, size_t bytes);
/// Waits for the calling thread's stream; throws Error("CUDA", ...) on a device fault.
void synchronize();

/// CUDA graphs (Artifact replays repeated calls of a function from one): on unless
/// MSDD_CUDA_GRAPHS=0, MSDD_CUDA_PROFILE=1 or MSDD_CUDA_SYNC=1.
bool graphsEnabled();
/// Records the device work `work` issues on the calling thread's stream into an executable
/// graph, without running it. Returns null, with `why`, when the work cannot be captured.
void *captureGraph(const std::function<void()> &work, std::string &why);
/// Runs a captured graph on the calling thread's stream (stream-ordered, like the work).
void launchGraph(void *graph);
void destroyGraph(void *graph);
/// Waits for the stream, then hands the memory cached by the device pool back to the device
/// (graphs allocate from their own pool).
void trimMemory();

/// Unloads the kernel modules, and frees the device copies of the constants, that belong to
/// the shared object loaded at `libraryBase` (an artifact being closed).
void forgetModules(const void *libraryBase);

/// Whether cuBLAS can address a row-major strided matrix without a copy (as its transpose
/// with leading dimension `rowStride`, or as itself with `colStride`). msdd-emulate-cuda
/// applies the same test.
bool gemmAddressable(int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride);

} // namespace msdd::rt::cuda

#endif // MSDD_RUNTIME_CUDA_H
