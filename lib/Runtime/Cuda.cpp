//===- Cuda.cpp - CUDA driver and cuBLAS through dlopen -------------------===//
//
// Only the handful of driver and cuBLAS entry points the artifacts need, declared here with
// their C ABI so that building the runtime needs no CUDA headers. See Cuda.h.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Cuda.h"

#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Kernels.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUmemoryPool = void *;
using CUdeviceptr = uint64_t;
using CUevent = void *;
using CUgraph = void *;
using CUgraphExec = void *;
using cublasHandle_t = void *;
using cublasStatus_t = int;

constexpr int kStreamNonBlocking = 1;
constexpr int kAttrComputeCapabilityMajor = 75, kAttrComputeCapabilityMinor = 76;
constexpr int kMemPoolReleaseThreshold = 4;
constexpr int kCudaR32F = 0, kCudaR64F = 1, kCudaR16BF = 14;
constexpr int kComputeF32 = 68, kComputeF32FastBF16 = 75, kComputeF32FastTF32 = 77,
              kComputeF64 = 70;
constexpr int kGemmDefault = -1;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kStreamCaptureModeRelaxed = 2;
constexpr int kErrorOutOfMemory = 2, kErrorNotPermitted = 800,
              kErrorStreamCaptureUnsupported = 900;

/// Set while the calling thread's stream is being captured into a graph: failures are
/// recorded here instead of ending the process, and the capture is abandoned.
thread_local std::string *captureFailure = nullptr;

/// The calling thread's cuda::CallContext ("model.msdd: function 'decode'"), or empty.
thread_local std::string currentCall;

[[noreturn]] void fatal(const char *what, const std::string &problem) {
  // Compiled code has no way to receive an error (as in Kernels.cpp).
  std::fprintf(stderr, "msdd runtime: %s: %s\n", what, problem.c_str());
  std::abort();
}

/// "1.50 GiB", "12.0 MiB" or "512 bytes".
std::string formatBytes(double bytes) {
  char text[32];
  if (bytes >= (1 << 30))
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1 << 30));
  else if (bytes >= (1 << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%.0f bytes", bytes);
  return text;
}

bool envFlag(const char *name) {
  const char *env = std::getenv(name);
  return env && std::string(env) == "1";
}

template <typename F> void bind(void *library, F &fn, const char *name, std::string &missing) {
  fn = reinterpret_cast<F>(dlsym(library, name));
  if (!fn && missing.empty())
    missing = name;
}

/// The driver, loaded and initialized once per process.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, int, void *);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemPoolTrimTo)(CUmemoryPool, size_t);
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuDeviceGraphMemTrim)(CUdevice);
  CUresult (*cuMemGetInfo)(size_t *, size_t *) = nullptr; // optional: for error messages

  std::string unavailable; // why the device cannot be used; empty when it can
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmemoryPool pool = nullptr;
  std::string name;

  Driver() {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      unavailable = "libcuda.so.1 not found: no NVIDIA driver on this machine";
      return;
    }
    std::string missing;
    bind(library, cuInit, "cuInit", missing);
    bind(library, cuGetErrorString, "cuGetErrorString", missing);
    bind(library, cuDeviceGetCount, "cuDeviceGetCount", missing);
    bind(library, cuDeviceGet, "cuDeviceGet", missing);
    bind(library, cuDeviceGetName, "cuDeviceGetName", missing);
    bind(library, cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
    bind(library, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", missing);
    bind(library, cuCtxSetCurrent, "cuCtxSetCurrent", missing);
    bind(library, cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool", missing);
    bind(library, cuMemPoolSetAttribute, "cuMemPoolSetAttribute", missing);
    bind(library, cuStreamCreate, "cuStreamCreate", missing);
    bind(library, cuStreamSynchronize, "cuStreamSynchronize", missing);
    bind(library, cuMemAllocAsync, "cuMemAllocAsync", missing);
    bind(library, cuMemFreeAsync, "cuMemFreeAsync", missing);
    bind(library, cuMemcpyAsync, "cuMemcpyAsync", missing);
    bind(library, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", missing);
    bind(library, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", missing);
    bind(library, cuMemsetD32Async, "cuMemsetD32Async", missing);
    bind(library, cuModuleLoadData, "cuModuleLoadData", missing);
    bind(library, cuModuleUnload, "cuModuleUnload", missing);
    bind(library, cuModuleGetFunction, "cuModuleGetFunction", missing);
    bind(library, cuLaunchKernel, "cuLaunchKernel", missing);
    bind(library, cuEventCreate, "cuEventCreate", missing);
    bind(library, cuEventRecord, "cuEventRecord", missing);
    bind(library, cuEventSynchronize, "cuEventSynchronize", missing);
    bind(library, cuEventElapsedTime, "cuEventElapsedTime", missing);
    bind(library, cuEventDestroy, "cuEventDestroy_v2", missing);
    bind(library, cuMemAlloc, "cuMemAlloc_v2", missing);
    bind(library, cuMemFree, "cuMemFree_v2", missing);
    bind(library, cuMemcpyHtoD, "cuMemcpyHtoD_v2", missing);
    bind(library, cuMemPoolTrimTo, "cuMemPoolTrimTo", missing);
    bind(library, cuStreamBeginCapture, "cuStreamBeginCapture_v2", missing);
    bind(library, cuStreamEndCapture, "cuStreamEndCapture", missing);
    bind(library, cuGraphInstantiate, "cuGraphInstantiateWithFlags", missing);
    bind(library, cuGraphLaunch, "cuGraphLaunch", missing);
    bind(library, cuGraphExecDestroy, "cuGraphExecDestroy", missing);
    bind(library, cuGraphDestroy, "cuGraphDestroy", missing);
    bind(library, cuDeviceGraphMemTrim, "cuDeviceGraphMemTrim", missing);
    cuMemGetInfo = reinterpret_cast<decltype(cuMemGetInfo)>(dlsym(library, "cuMemGetInfo_v2"));
    if (!missing.empty()) {
      unavailable = "libcuda.so.1 lacks " + missing + " (driver older than CUDA 11.4?)";
      return;
    }
    int count = 0;
    if (CUresult rc = cuInit(0)) {
      unavailable = "cuInit failed: " + errorString(rc);
      return;
    }
    if (CUresult rc = cuDeviceGetCount(&count); rc || count == 0) {
      unavailable = rc ? "cuDeviceGetCount failed: " + errorString(rc) : "the driver sees no GPU";
      return;
    }
    int ordinal = 0;
    if (const char *env = std::getenv("MSDD_CUDA_DEVICE"))
      ordinal = std::atoi(env);
    if (ordinal < 0 || ordinal >= count) {
      unavailable = "MSDD_CUDA_DEVICE=" + std::to_string(ordinal) + " but there are " +
                    std::to_string(count) + " devices";
      return;
    }
    char buffer[256] = {};
    int major = 0, minor = 0;
    if (CUresult rc = cuDeviceGet(&device, ordinal); rc ||
        (rc = cuDevicePrimaryCtxRetain(&context, device))) {
      unavailable = "cannot open device " + std::to_string(ordinal) + ": " + errorString(rc);
      return;
    }
    cuDeviceGetName(buffer, sizeof buffer - 1, device);
    cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, device);
    cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, device);
    name = std::string(buffer) + " (sm_" + std::to_string(major) + std::to_string(minor) + ")";
    // The pool keeps freed blocks instead of returning them at every synchronization: this
    // is the runtime's device memory cache.
    if (cuDeviceGetDefaultMemPool(&pool, device) == 0) {
      uint64_t keep = UINT64_MAX;
      cuMemPoolSetAttribute(pool, kMemPoolReleaseThreshold, &keep);
    } else {
      pool = nullptr;
    }
  }

  std::string errorString(CUresult rc) const {
    const char *text = nullptr;
    if (cuGetErrorString && cuGetErrorString(rc, &text) == 0 && text)
      return text;
    return "CUDA error " + std::to_string(rc);
  }

  /// What a user needs when the device is full: the request, what is free, and the way out.
  std::string outOfMemory(size_t bytes) const {
    std::string text = "out of device memory: cannot allocate " + formatBytes(bytes);
    size_t free = 0, total = 0;
    if (cuMemGetInfo && cuMemGetInfo(&free, &total) == 0)
      text += " (" + formatBytes(free) + " free of " + formatBytes(total) + " on " + name + ")";
    return text + "; a smaller batch needs less";
  }

  /// check() for the allocations of compiled code, which cannot receive an error: a full
  /// device is not a bug, so it ends the process with a message and status 1, not a core.
  void checkAllocation(CUresult rc, size_t bytes, const char *what) const {
    if (rc == kErrorOutOfMemory && !captureFailure) {
      std::fprintf(stderr, "msdd runtime: %s%s\n",
                   currentCall.empty() ? "" : (currentCall + ": ").c_str(),
                   outOfMemory(bytes).c_str());
      std::fflush(stderr);
      std::_Exit(1);
    }
    check(rc, what);
  }

  void check(CUresult rc, const char *what) const {
    if (!rc)
      return;
    if (captureFailure) {
      if (captureFailure->empty())
        *captureFailure = std::string(what) + ": " + errorString(rc);
      return;
    }
    fatal(what, errorString(rc));
  }
};

Driver &driver() {
  static Driver *instance = new Driver; // never destroyed: artifacts may run at exit
  return *instance;
}

/// The calling thread's stream, created (with the context made current) on first use.
CUstream threadStream() {
  thread_local CUstream stream = [] {
    Driver &d = driver();
    if (!d.unavailable.empty())
      fatal("CUDA", "no CUDA device (" + d.unavailable + ")");
    d.check(d.cuCtxSetCurrent(d.context), "cuCtxSetCurrent");
    CUstream s;
    d.check(d.cuStreamCreate(&s, kStreamNonBlocking), "cuStreamCreate");
    return s;
  }();
  return stream;
}

/// MSDD_CUDA_PROFILE=1: GPU time per kernel name and per cuBLAS product shape, from events
/// around each launch, summed when a call synchronizes and printed at exit (stderr).
class Profiler {
public:
  static Profiler &get() {
    static Profiler *instance = new Profiler;
    return *instance;
  }
  bool enabled() const { return enabled_; }

  /// Returns the event to pass to end(), recorded before the work on `stream`.
  CUevent begin(CUstream stream) {
    Driver &d = driver();
    CUevent start;
    d.check(d.cuEventCreate(&start, 0), "cuEventCreate");
    d.check(d.cuEventRecord(start, stream), "cuEventRecord");
    return start;
  }
  void end(std::string name, CUevent start, CUstream stream) {
    Driver &d = driver();
    CUevent stop;
    d.check(d.cuEventCreate(&stop, 0), "cuEventCreate");
    d.check(d.cuEventRecord(stop, stream), "cuEventRecord");
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({std::move(name), start, stop});
  }
  /// Folds the finished work into the totals (after a synchronization).
  void collect() {
    Driver &d = driver();
    std::lock_guard<std::mutex> lock(mutex_);
    for (Pending &p : pending_) {
      float ms = 0;
      d.check(d.cuEventSynchronize(p.stop), "cuEventSynchronize");
      d.check(d.cuEventElapsedTime(&ms, p.start, p.stop), "cuEventElapsedTime");
      Total &total = totals_[p.name];
      total.count += 1;
      total.ms += ms;
      d.cuEventDestroy(p.start);
      d.cuEventDestroy(p.stop);
    }
    pending_.clear();
  }

private:
  struct Pending {
    std::string name;
    CUevent start, stop;
  };
  struct Total {
    int64_t count = 0;
    double ms = 0;
  };

  Profiler() {
    enabled_ = envFlag("MSDD_CUDA_PROFILE");
    if (enabled_)
      std::atexit([] { get().print(); });
  }

  void print() {
    std::vector<std::pair<std::string, Total>> rows(totals_.begin(), totals_.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto &a, const auto &b) { return a.second.ms > b.second.ms; });
    double all = 0;
    for (const auto &row : rows)
      all += row.second.ms;
    std::fprintf(stderr, "msdd CUDA profile: %.1f ms of GPU time in %zu kernels and products\n",
                 all, rows.size());
    std::fprintf(stderr, "%10s %6s %8s  %s\n", "ms", "%", "calls", "kernel");
    for (size_t i = 0; i < rows.size() && i < 40; ++i)
      std::fprintf(stderr, "%10.2f %6.1f %8lld  %s\n", rows[i].second.ms,
                   100 * rows[i].second.ms / std::max(all, 1e-9),
                   static_cast<long long>(rows[i].second.count), rows[i].first.c_str());
  }

  bool enabled_ = false;
  std::mutex mutex_;
  std::vector<Pending> pending_;
  std::map<std::string, Total> totals_;
};

/// cuBLAS, loaded on the first matrix product.
struct Blas {
  cublasStatus_t (*create)(cublasHandle_t *);
  cublasStatus_t (*setStream)(cublasHandle_t, CUstream);
  cublasStatus_t (*gemm)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int,
                         int, long long, const void *, int, int, long long, const void *, void *,
                         int, int, long long, int, int, int);

  Blas() {
    std::vector<std::string> candidates;
    for (const char *env : {"CUDA_HOME", "CUDA_PATH"})
      if (const char *root = std::getenv(env))
        for (const char *version : {".13", ".12"})
          candidates.push_back(std::string(root) + "/lib64/libcublas.so" + version);
    for (const char *version : {".13", ".12"}) {
      candidates.push_back(std::string("libcublas.so") + version);
      candidates.push_back(std::string("/usr/local/cuda/lib64/libcublas.so") + version);
    }
    void *library = nullptr;
    for (const std::string &candidate : candidates)
      if ((library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!library)
      fatal("cuBLAS", "libcublas.so.13 or .12 not found (set LD_LIBRARY_PATH or CUDA_HOME)");
    std::string missing;
    bind(library, create, "cublasCreate_v2", missing);
    bind(library, setStream, "cublasSetStream_v2", missing);
    bind(library, gemm, "cublasGemmStridedBatchedEx", missing);
    if (!missing.empty())
      fatal("cuBLAS", "the library lacks " + missing);
  }
};

Blas &blas() {
  static Blas *instance = new Blas;
  return *instance;
}

cublasHandle_t threadBlasHandle() {
  thread_local cublasHandle_t handle = [] {
    cublasHandle_t h;
    CUstream stream = threadStream();
    if (int rc = blas().create(&h))
      fatal("cublasCreate", "status " + std::to_string(rc));
    if (int rc = blas().setStream(h, stream))
      fatal("cublasSetStream", "status " + std::to_string(rc));
    return h;
  }();
  return handle;
}

/// A row-major strided view as cuBLAS (column-major) addresses it without a copy: the
/// column-major matrix at `data` with leading dimension `ld` is the view's transpose when
/// `op` is N, the view itself when `op` is T.
struct GemmOperand {
  int op;
  int64_t ld;
};

bool fitsInt(int64_t v) { return v >= 1 && v <= INT_MAX; }

bool rowMajorOperand(int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride) {
  // The stride of a dimension of size 1 is never used.
  return (cols == 1 || colStride == 1) && (rows == 1 || rowStride >= cols);
}

bool asGemmOperand(int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride,
                   GemmOperand &out) {
  if (rowMajorOperand(rows, cols, rowStride, colStride)) {
    out = {kOpN, rows == 1 ? std::max<int64_t>(cols, 1) : rowStride};
    return fitsInt(out.ld);
  }
  if (rowMajorOperand(cols, rows, colStride, rowStride)) {
    out = {kOpT, cols == 1 ? std::max<int64_t>(rows, 1) : colStride};
    return fitsInt(out.ld);
  }
  return false;
}

/// Of A and B; C is f32 except for F64 and BF16_TO_BF16 (a bf16 C, f32 compute).
enum class GemmTypes { F32, F64, BF16, BF16_TO_BF16 };

/// C[b] = A[b] * op(B[b]) (+ C[b] if `accumulate`) for `batch` matrices (row-major views;
/// batch strides in elements).
void gemm(const char *kernel, GemmTypes types, int64_t batch, const void *a, const int64_t *aSizes,
          const int64_t *aStrides, int64_t aBatchStride, const void *b, const int64_t *bSizes,
          const int64_t *bStrides, int64_t bBatchStride, void *c, const int64_t *cSizes,
          const int64_t *cStrides, int64_t cBatchStride, bool transposeB, bool accumulate,
          int64_t mathMode) {
  int64_t m = cSizes[0], n = cSizes[1], k = aSizes[1];
  if (m == 0 || n == 0 || batch == 0)
    return;
  GemmOperand ga, gb, gc;
  // op(B) as a K x N view.
  int64_t bRows = transposeB ? bSizes[1] : bSizes[0], bCols = transposeB ? bSizes[0] : bSizes[1];
  int64_t bRowStride = transposeB ? bStrides[1] : bStrides[0];
  int64_t bColStride = transposeB ? bStrides[0] : bStrides[1];
  if (!asGemmOperand(aSizes[0], aSizes[1], aStrides[0], aStrides[1], ga) ||
      !asGemmOperand(bRows, bCols, bRowStride, bColStride, gb) ||
      !asGemmOperand(m, n, cStrides[0], cStrides[1], gc) || gc.op != kOpN ||
      !fitsInt(m) || !fitsInt(n) || !fitsInt(batch) || k > INT_MAX)
    fatal(kernel, "operand layout not addressable by cuBLAS");
  // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS's A is our B and vice versa.
  bool isDouble = types == GemmTypes::F64;
  bool bf16Factors = types == GemmTypes::BF16 || types == GemmTypes::BF16_TO_BF16;
  int abType = isDouble ? kCudaR64F : bf16Factors ? kCudaR16BF : kCudaR32F;
  int cType = isDouble ? kCudaR64F : types == GemmTypes::BF16_TO_BF16 ? kCudaR16BF : kCudaR32F;
  int compute = isDouble ? kComputeF64
                : bf16Factors ? kComputeF32
                : mathMode == 1 ? kComputeF32FastTF32
                : mathMode == 2 ? kComputeF32FastBF16
                                : kComputeF32;
  float oneF = 1.0f, zeroF = 0.0f;
  double oneD = 1.0, zeroD = 0.0;
  const void *one = isDouble ? static_cast<const void *>(&oneD) : &oneF;
  const void *beta = accumulate ? one : isDouble ? static_cast<const void *>(&zeroD) : &zeroF;
  if (k == 0 && accumulate)
    return; // C += nothing
  Profiler &profiler = Profiler::get();
  CUevent start = profiler.enabled() ? profiler.begin(threadStream()) : nullptr;
  if (int rc = blas().gemm(threadBlasHandle(), gb.op, ga.op, static_cast<int>(n),
                           static_cast<int>(m), static_cast<int>(k), one, b, abType,
                           static_cast<int>(gb.ld), bBatchStride, a, abType,
                           static_cast<int>(ga.ld), aBatchStride, beta, c, cType,
                           static_cast<int>(gc.ld), cBatchStride, static_cast<int>(batch),
                           compute, kGemmDefault)) {
    std::string problem = "cublasGemmStridedBatchedEx failed with status " + std::to_string(rc);
    if (!captureFailure)
      fatal(kernel, problem);
    if (captureFailure->empty())
      *captureFailure = std::string(kernel) + ": " + problem;
  }
  if (start)
    profiler.end(std::string(kernel) + " " + std::to_string(batch) + "x" + std::to_string(m) +
                     "x" + std::to_string(n) + "x" + std::to_string(k),
                 start, threadStream());
}

template <typename MA, typename MC>
void matmul2d(const char *kernel, GemmTypes types, MA *A, MA *B, MC *C, int64_t transposeB,
              int64_t accumulate, int64_t mathMode) {
  gemm(kernel, types, 1, A->aligned + A->offset, A->sizes, A->strides, 0,
       B->aligned + B->offset, B->sizes, B->strides, 0, C->aligned + C->offset, C->sizes,
       C->strides, 0, transposeB, accumulate, mathMode);
}

template <typename MA, typename MC>
void matmul3d(const char *kernel, GemmTypes types, MA *A, MA *B, MC *C, int64_t transposeB,
              int64_t accumulate, int64_t mathMode) {
  auto batchStride = [](auto *v) -> int64_t { return v->sizes[0] == 1 ? 0 : v->strides[0]; };
  gemm(kernel, types, C->sizes[0], A->aligned + A->offset, A->sizes + 1, A->strides + 1,
       batchStride(A), B->aligned + B->offset, B->sizes + 1, B->strides + 1, batchStride(B),
       C->aligned + C->offset, C->sizes + 1, C->strides + 1, batchStride(C), transposeB,
       accumulate, mathMode);
}

/// Kernel modules by image address: the host code asks for its module at every launch.
struct ModuleCache {
  struct Entry {
    CUmodule module = nullptr;
    const void *libraryBase = nullptr; // of the artifact holding the image
  };
  std::mutex mutex;
  std::map<const void *, Entry> modules;
  std::map<std::pair<CUmodule, std::string>, CUfunction> functions;
  std::map<CUfunction, std::string> names; // for the profile
};

ModuleCache &moduleCache() {
  static ModuleCache *cache = new ModuleCache;
  return *cache;
}

/// Device copies of the artifacts' constants (their read-only data), made on first use: calls
/// then copy device to device, which costs less than an upload per call and, unlike a copy
/// from pageable host memory, can be captured into a graph.
struct ConstantCache {
  struct Entry {
    size_t bytes = 0;
    CUdeviceptr device = 0;
    const void *libraryBase = nullptr;
  };
  std::mutex mutex;
  std::map<const void *, Entry> constants;

  /// The device copy of `bytes` at `host` (inside the shared object at `libraryBase`).
  CUdeviceptr get(const void *host, size_t bytes, const void *libraryBase) {
    std::lock_guard<std::mutex> lock(mutex);
    Entry &entry = constants[host];
    if (entry.device && entry.bytes >= bytes)
      return entry.device;
    Driver &d = driver();
    if (entry.device)
      d.cuMemFree(entry.device);
    // Synchronous and outside the stream: allowed while a capture is under way, and not
    // part of any graph.
    d.checkAllocation(d.cuMemAlloc(&entry.device, bytes), bytes, "cuMemAlloc");
    d.check(d.cuMemcpyHtoD(entry.device, host, bytes), "cuMemcpyHtoD");
    entry.bytes = bytes;
    entry.libraryBase = libraryBase;
    return entry.device;
  }
};

ConstantCache &constantCache() {
  static ConstantCache *cache = new ConstantCache;
  return *cache;
}


} // namespace

namespace msdd::rt::cuda {

void requireDevice(const std::string &context) {
  const Driver &d = driver();
  if (!d.unavailable.empty())
    throw Error(context, "no CUDA device (" + d.unavailable + ")");
}

CallContext::CallContext(std::string what) : previous_(std::move(currentCall)) {
  currentCall = std::move(what);
}

CallContext::~CallContext() { currentCall = std::move(previous_); }

std::string deviceName() {
  requireDevice("CUDA");
  return driver().name;
}

void *allocate(size_t bytes) {
  CUdeviceptr pointer = 0;
  if (bytes == 0)
    return nullptr;
  Driver &d = driver();
  if (CUresult rc = d.cuMemAllocAsync(&pointer, bytes, threadStream()))
    throw Error(currentCall.empty() ? "CUDA" : currentCall, rc == kErrorOutOfMemory
                            ? d.outOfMemory(bytes)
                            : "cannot allocate " + std::to_string(bytes) +
                                  " bytes of device memory: " + d.errorString(rc));
  return reinterpret_cast<void *>(pointer);
}

void release(void *device) {
  if (device)
    driver().check(driver().cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(device), threadStream()),
                   "cuMemFreeAsync");
}

void copyToDevice(void *device, const void *host, size_t bytes) {
  if (bytes)
    driver().check(driver().cuMemcpyHtoDAsync(reinterpret_cast<CUdeviceptr>(device), host, bytes,
                                              threadStream()),
                   "cuMemcpyHtoDAsync");
}

void copyToHost(void *host, const void *device, size_t bytes) {
  if (bytes)
    driver().check(driver().cuMemcpyDtoHAsync(host, reinterpret_cast<CUdeviceptr>(device), bytes,
                                              threadStream()),
                   "cuMemcpyDtoHAsync");
}

void copyOnDevice(void *to, const void *from, size_t bytes) {
  if (bytes)
    driver().check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(to),
                                          reinterpret_cast<CUdeviceptr>(from), bytes,
                                          threadStream()),
                   "cuMemcpyAsync");
}

void synchronize() {
  Driver &d = driver();
  if (CUresult rc = d.cuStreamSynchronize(threadStream()))
    throw Error("CUDA", "device error: " + d.errorString(rc));
  if (Profiler::get().enabled())
    Profiler::get().collect();
}

void forgetModules(const void *libraryBase) {
  {
    ConstantCache &constants = constantCache();
    std::lock_guard<std::mutex> lock(constants.mutex);
    for (auto it = constants.constants.begin(); it != constants.constants.end();)
      if (it->second.libraryBase == libraryBase) {
        driver().cuMemFree(it->second.device);
        it = constants.constants.erase(it);
      } else {
        ++it;
      }
  }
  ModuleCache &cache = moduleCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  for (auto it = cache.modules.begin(); it != cache.modules.end();) {
    if (it->second.libraryBase == libraryBase) {
      CUmodule module = it->second.module;
      for (auto f = cache.functions.begin(); f != cache.functions.end();)
        if (f->first.first == module) {
          cache.names.erase(f->second);
          f = cache.functions.erase(f);
        } else {
          ++f;
        }
      driver().cuModuleUnload(module);
      it = cache.modules.erase(it);
    } else {
      ++it;
    }
  }
}

bool graphsEnabled() {
  // The profiler and MSDD_CUDA_SYNC need every launch to happen when it is issued.
  static const bool enabled = [] {
    const char *env = std::getenv("MSDD_CUDA_GRAPHS");
    bool off = env && std::string(env) == "0";
    return !off && !envFlag("MSDD_CUDA_PROFILE") && !envFlag("MSDD_CUDA_SYNC");
  }();
  return enabled;
}

void *captureGraph(const std::function<void()> &work, std::string &why) {
  Driver &d = driver();
  CUstream stream = threadStream();
  threadBlasHandle(); // cuBLAS's setup is not capturable
  // Relaxed: the constant cache may allocate synchronously during the capture.
  if (CUresult rc = d.cuStreamBeginCapture(stream, kStreamCaptureModeRelaxed)) {
    why = "cuStreamBeginCapture: " + d.errorString(rc);
    return nullptr;
  }
  std::string failure;
  captureFailure = &failure;
  try {
    work();
  } catch (...) {
    captureFailure = nullptr;
    CUgraph partial = nullptr;
    if (d.cuStreamEndCapture(stream, &partial) == 0 && partial)
      d.cuGraphDestroy(partial);
    throw;
  }
  captureFailure = nullptr;
  CUgraph graph = nullptr;
  CUresult rc = d.cuStreamEndCapture(stream, &graph);
  if (failure.empty() && rc)
    failure = "cuStreamEndCapture: " + d.errorString(rc);
  CUgraphExec exec = nullptr;
  if (failure.empty())
    if (CUresult irc = d.cuGraphInstantiate(&exec, graph, 0))
      failure = "cuGraphInstantiate: " + d.errorString(irc);
  if (graph)
    d.cuGraphDestroy(graph); // the executable graph keeps what it needs
  if (!failure.empty()) {
    why = failure;
    return nullptr;
  }
  return exec;
}

void launchGraph(void *graph) {
  Driver &d = driver();
  if (CUresult rc = d.cuGraphLaunch(graph, threadStream()))
    throw Error("CUDA", "cuGraphLaunch: " + d.errorString(rc));
}

void destroyGraph(void *graph) {
  if (graph)
    driver().cuGraphExecDestroy(graph);
}

bool gemmAddressable(int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride) {
  GemmOperand unused;
  return asGemmOperand(rows, cols, rowStride, colStride, unused);
}

void trimMemory() {
  Driver &d = driver();
  synchronize();
  if (d.pool)
    d.cuMemPoolTrimTo(d.pool, 0);
  d.cuDeviceGraphMemTrim(d.device);
}

} // namespace msdd::rt::cuda

// MLIR's gpu-to-llvm host code calls these (the names and signatures are MLIR's).
extern "C" {

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  ModuleCache &cache = moduleCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  ModuleCache::Entry &entry = cache.modules[data];
  if (!entry.module) {
    threadStream(); // makes the context current
    driver().check(driver().cuModuleLoadData(&entry.module, data), "cuModuleLoadData");
    Dl_info info;
    if (dladdr(data, &info))
      entry.libraryBase = info.dli_fbase;
  }
  return entry.module;
}

void mgpuModuleUnload(void * /*module*/) {
  // Kept until the artifact is closed (forgetModules): loading costs milliseconds.
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  ModuleCache &cache = moduleCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  CUfunction &function = cache.functions[{module, name}];
  if (!function) {
    driver().check(driver().cuModuleGetFunction(&function, module, name), name);
    cache.names[function] = name;
  }
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                      intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t sharedBytes,
                      void *stream, void **params, void **extra, size_t /*paramsCount*/) {
  Profiler &profiler = Profiler::get();
  CUevent start = profiler.enabled() ? profiler.begin(stream) : nullptr;
  driver().check(driver().cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                                         sharedBytes, stream, params, extra),
                 "cuLaunchKernel");
  if (start) {
    std::string name;
    {
      ModuleCache &cache = moduleCache();
      std::lock_guard<std::mutex> lock(cache.mutex);
      name = cache.names[function];
    }
    profiler.end(std::move(name), start, stream);
  }
}

// Every stream the host code asks for is the calling thread's stream: kernels, copies,
// stream-ordered allocations and cuBLAS calls run in issue order. The host code never reads
// device memory (msdd-map-loops-to-gpu rejects code that would), so the waits it asks for
// before host calls are not needed: the runtime synchronizes once, when it copies a call's
// outputs back. MSDD_CUDA_SYNC=1 makes every wait real (with CUDA_LAUNCH_BLOCKING=1, errors
// are then reported at the kernel that caused them).
void *mgpuStreamCreate() { return threadStream(); }
void mgpuStreamDestroy(void * /*stream*/) {}
void mgpuStreamSynchronize(void *stream) {
  static const bool sync = envFlag("MSDD_CUDA_SYNC");
  if (sync)
    driver().check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
}
// One stream means events are already ordered.
void *mgpuEventCreate() { return nullptr; }
void mgpuEventDestroy(void * /*event*/) {}
void mgpuEventRecord(void * /*event*/, void * /*stream*/) {}
void mgpuEventSynchronize(void * /*event*/) {
  driver().check(driver().cuStreamSynchronize(threadStream()), "cuStreamSynchronize");
}
void mgpuStreamWaitEvent(void * /*stream*/, void * /*event*/) {}

void *mgpuMemAlloc(uint64_t bytes, void *stream, bool /*isHostShared*/) {
  CUdeviceptr pointer = 0;
  if (bytes)
    driver().checkAllocation(
        driver().cuMemAllocAsync(&pointer, bytes, stream ? stream : threadStream()), bytes,
        "cuMemAllocAsync");
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *pointer, void *stream) {
  if (pointer)
    driver().check(driver().cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(pointer),
                                           stream ? stream : threadStream()),
                   "cuMemFreeAsync");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  if (!bytes)
    return;
  // A source inside a loaded shared object is one of the artifact's constants (device
  // buffers and the host heap are not in any object's mapping).
  CUdeviceptr source = reinterpret_cast<CUdeviceptr>(src);
  Dl_info info;
  if (dladdr(src, &info) && info.dli_fbase)
    source = constantCache().get(src, bytes, info.dli_fbase);
  driver().check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst), source, bytes,
                                        stream ? stream : threadStream()),
                 "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream) {
  if (count)
    driver().check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                                             stream ? stream : threadStream()),
                   "cuMemsetD32Async");
}

void _mlir_ciface_msdd_rt_cuda_matmul_f32(msdd_memref2d_f32 *A, msdd_memref2d_f32 *B,
                                          msdd_memref2d_f32 *C, int64_t transposeB,
                                          int64_t accumulate,
                                          int64_t mathMode) {
  matmul2d("msdd_rt_cuda_matmul_f32", GemmTypes::F32, A, B, C, transposeB, accumulate, mathMode);
}

void _mlir_ciface_msdd_rt_cuda_matmul_f64(msdd_memref2d_f64 *A, msdd_memref2d_f64 *B,
                                          msdd_memref2d_f64 *C, int64_t transposeB,
                                          int64_t accumulate,
                                          int64_t mathMode) {
  matmul2d("msdd_rt_cuda_matmul_f64", GemmTypes::F64, A, B, C, transposeB, accumulate, mathMode);
}

void _mlir_ciface_msdd_rt_cuda_batch_matmul_f32(msdd_memref3d_f32 *A, msdd_memref3d_f32 *B,
                                                msdd_memref3d_f32 *C, int64_t transposeB,
                                                int64_t accumulate,
                                                int64_t mathMode) {
  matmul3d("msdd_rt_cuda_batch_matmul_f32", GemmTypes::F32, A, B, C,
           transposeB, accumulate, mathMode);
}

void _mlir_ciface_msdd_rt_cuda_batch_matmul_f64(msdd_memref3d_f64 *A, msdd_memref3d_f64 *B,
                                                msdd_memref3d_f64 *C, int64_t transposeB,
                                                int64_t accumulate,
                                                int64_t mathMode) {
  matmul3d("msdd_rt_cuda_batch_matmul_f64", GemmTypes::F64, A, B, C,
           transposeB, accumulate, mathMode);
}

void _mlir_ciface_msdd_rt_cuda_matmul_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                           msdd_memref2d_f32 *C, int64_t transposeB,
                                           int64_t accumulate) {
  matmul2d("msdd_rt_cuda_matmul_bf16", GemmTypes::BF16, A, B, C, transposeB, accumulate, 0);
}

void _mlir_ciface_msdd_rt_cuda_batch_matmul_bf16(msdd_memref3d_bf16 *A, msdd_memref3d_bf16 *B,
                                                 msdd_memref3d_f32 *C, int64_t transposeB,
                                                 int64_t accumulate) {
  matmul3d("msdd_rt_cuda_batch_matmul_bf16", GemmTypes::BF16, A, B, C, transposeB, accumulate, 0);
}

void _mlir_ciface_msdd_rt_cuda_matmul_bf16_to_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                                   msdd_memref2d_bf16 *C, int64_t transposeB,
                                                   int64_t accumulate) {
  if (accumulate)
    fatal("msdd_rt_cuda_matmul_bf16_to_bf16", "a bf16 result cannot accumulate");
  matmul2d("msdd_rt_cuda_matmul_bf16_to_bf16", GemmTypes::BF16_TO_BF16, A, B, C, transposeB, 0, 0);
}

} // extern "C"
