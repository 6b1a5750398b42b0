//===- EmulatedDriver.cpp - The CUDA driver and cuBLAS, on the CPU ---------===//
//
// A stand-in for libcuda.so.1 and libcublas.so.13 that runs on CudaEmulator: built as
// build/lib/emulated-cuda/libcuda.so.1, with libcublas.so.13 a link to the same file (the
// dynamic loader then opens it once, so both share one device). With that folder first on
// LD_LIBRARY_PATH, the runtime's own CUDA code (lib/Runtime/Cuda.cpp: module and constant
// caches, stream-ordered memory, graph capture and replay, the cuBLAS operand translation)
// runs CUDA artifacts on machines without a GPU. Only the entry points the runtime binds are
// provided.
//
// The cubins cannot run here: the kernels come from the artifact's own IR at the CUDA
// pipeline's `kernels` stage (msdd-compile --target cuda --emit=kernels), named by
// MSDD_EMULATED_CUDA_KERNELS. cuBLAS products are computed in float64 from the column-major
// operands cuBLAS is given, with the factors rounded as the compute type says.
//
// Work runs when it is issued; a stream being captured records it instead, and a launched
// graph runs what it recorded. Device memory is host memory filled with NaN when allocated
// (again at each replay for memory allocated inside a graph). Copies, memsets and products
// on memory that is not a live device buffer, copies from host memory inside a capture, and
// every fault the emulator finds (printed once, to stderr) fail like a device error: that call
// and every later one return an error, as after a fault on a GPU.
//
// MSDD_EMULATED_CUDA_STATS=FILE writes counts at exit (JSON): launches, graph replays,
// products, bytes copied each way, allocations, the peak of live device memory.
//
// MSDD_EMULATED_CUDA_MEMORY=BYTES is the device's memory (default 1 TiB): allocations past
// it fail with CUDA_ERROR_OUT_OF_MEMORY, as on a GPU, so the runtime's handling of a full
// device is testable.
//
// A development tool: it links MLIR, and is never part of the runtime or an artifact.
//
//===----------------------------------------------------------------------===//
#include "msdd/Emulation/CudaEmulator.h"

#include "msdd/Runtime/Json.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = uint64_t;
using Step = std::function<void()>;

// The driver's and cuBLAS's status codes that can come back from here.
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNotInitialized = 3,
                   kNoDevice = 100,
                   kInvalidImage = 200, kInvalidHandle = 400, kNotFound = 500,
                   kIllegalAddress = 700, kLaunchFailed = 719,
                   kStreamCaptureUnsupported = 900, kStreamCaptureInvalidated = 901;
constexpr int kBlasSuccess = 0, kBlasInvalidValue = 7, kBlasExecutionFailed = 13;

/// What a graph recorded, shared by the graph and its executable copies: the buffers it
/// allocated stay live until the last of them is destroyed.
struct Recording {
  std::vector<Step> steps;
  std::vector<void *> buffers;
  ~Recording();
};

struct Stream {
  std::shared_ptr<Recording> capture; // set while the stream is captured
};

struct Graph {
  std::shared_ptr<Recording> recording;
};

struct Event {
  std::chrono::steady_clock::time_point time;
};

struct BlasHandle {
  Stream *stream = nullptr;
};

struct Stats {
  int64_t launches = 0, graphLaunches = 0, graphSteps = 0, gemms = 0, allocations = 0;
  int64_t bytesToDevice = 0, bytesToHost = 0, bytesDeviceToDevice = 0;
  int64_t peakBytes = 0; // the most device memory live at once
};

struct Device {
  std::recursive_mutex mutex; // a replayed graph's steps take it again
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<msdd::emulation::CudaEmulator> emulator;
  bool initialized = false;
  CUresult sticky = kSuccess; // the error every call returns after a fault
  Stats stats;
  Stream defaultStream;
  size_t capacity = memoryFromEnvironment(), used = 0; // device memory, bytes
  std::map<const void *, size_t> sizes;                 // of the live buffers

  Device() : context(registry()) { context.allowUnregisteredDialects(); }

  static size_t memoryFromEnvironment() {
    const char *env = std::getenv("MSDD_EMULATED_CUDA_MEMORY");
    return env && *env ? std::strtoull(env, nullptr, 10) : size_t(1) << 40;
  }

  void free(void *p) {
    emulator->freeDevice(p); // throws when p is not live
    auto it = sizes.find(p);
    used -= it->second;
    sizes.erase(it);
  }

  static mlir::DialectRegistry registry() {
    mlir::DialectRegistry registry;
    mlir::registerAllDialects(registry);
    return registry;
  }

  /// Reports a fault once and makes the device unusable, as a GPU fault does.
  CUresult fail(CUresult code, const std::string &problem) {
    if (sticky == kSuccess)
      std::fprintf(stderr, "msdd emulated CUDA: %s\n", problem.c_str());
    sticky = sticky == kSuccess ? code : sticky;
    return sticky;
  }

  /// Runs `step` now, or records it when `stream` is being captured.
  CUresult issue(Stream *stream, Step step, CUresult code) {
    if (sticky)
      return sticky;
    if (!stream)
      stream = &defaultStream;
    if (stream->capture) {
      stream->capture->steps.push_back(std::move(step));
      return kSuccess;
    }
    return run(step, code);
  }

  CUresult run(const Step &step, CUresult code) {
    try {
      step();
    } catch (const std::exception &e) {
      return fail(code, e.what());
    }
    return sticky;
  }

  bool isDevice(CUdeviceptr p, size_t bytes) const {
    return emulator && emulator->isDevice(reinterpret_cast<const void *>(p), bytes);
  }

  void writeStats() {
    const char *path = std::getenv("MSDD_EMULATED_CUDA_STATS");
    if (!path)
      return;
    msdd::rt::Json doc = msdd::rt::Json::object();
    doc["launches"] = stats.launches;
    doc["graph_launches"] = stats.graphLaunches;
    doc["graph_steps"] = stats.graphSteps;
    doc["gemms"] = stats.gemms;
    doc["allocations"] = stats.allocations;
    doc["peak_bytes"] = stats.peakBytes;
    doc["bytes_to_device"] = stats.bytesToDevice;
    doc["bytes_to_host"] = stats.bytesToHost;
    doc["bytes_device_to_device"] = stats.bytesDeviceToDevice;
    doc["fault"] = sticky != kSuccess;
    std::ofstream(path) << doc.dump() << "\n";
  }
};

Device &device() {
  static Device *instance = new Device; // never destroyed: artifacts may run at exit
  return *instance;
}

Recording::~Recording() {
  Device &d = device();
  for (void *p : buffers)
    d.free(p);
}

using Lock = std::lock_guard<std::recursive_mutex>;

std::string hex(CUdeviceptr p) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(p));
  return text;
}

CUresult allocate(CUdeviceptr *out, size_t bytes, Stream *stream) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.sticky)
    return d.sticky;
  if (!d.emulator)
    return kNotInitialized;
  if (bytes > d.capacity - d.used)
    return kOutOfMemory; // not a fault: later calls still work
  void *p = d.emulator->allocateDevice(bytes);
  d.used += bytes;
  d.sizes[p] = bytes;
  d.stats.peakBytes = std::max<int64_t>(d.stats.peakBytes, static_cast<int64_t>(d.used));
  *out = reinterpret_cast<CUdeviceptr>(p);
  ++d.stats.allocations;
  if (stream && stream->capture) {
    // Graph memory: owned by the graph, and fresh (NaN) again at every replay.
    stream->capture->buffers.push_back(p);
    stream->capture->steps.push_back([p, bytes] { std::memset(p, 0xFF, bytes); });
  }
  return kSuccess;
}

CUresult release(CUdeviceptr p, Stream *stream) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.sticky)
    return d.sticky;
  if (stream && stream->capture) {
    for (void *owned : stream->capture->buffers)
      if (reinterpret_cast<CUdeviceptr>(owned) == p)
        return kSuccess; // freed with the graph
    return d.fail(kStreamCaptureUnsupported,
                  "cuMemFreeAsync of " + hex(p) + ", allocated outside the graph being captured");
  }
  try {
    d.free(reinterpret_cast<void *>(p));
  } catch (const std::exception &e) {
    return d.fail(kInvalidValue, "cuMemFree(" + hex(p) + "): " + e.what());
  }
  return kSuccess;
}

/// A copy of `bytes` from `src` to `dst`, each checked to be device memory when `*Device`.
CUresult copy(const char *what, CUdeviceptr dst, bool dstDevice, CUdeviceptr src,
              bool srcDevice, size_t bytes, Stream *stream, int64_t Stats::*counter) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.sticky)
    return d.sticky;
  if (!stream)
    stream = &d.defaultStream;
  if (stream->capture && (!dstDevice || !srcDevice))
    return d.fail(kStreamCaptureUnsupported,
                  std::string(what) + " of pageable host memory while the stream is captured");
  Step step = [=, &d] {
    if (dstDevice && !d.isDevice(dst, bytes))
      throw std::runtime_error(std::string(what) + ": destination " + hex(dst) + " (" +
                               std::to_string(bytes) + " bytes) is not a live device buffer");
    if (srcDevice && !d.isDevice(src, bytes))
      throw std::runtime_error(std::string(what) + ": source " + hex(src) + " (" +
                               std::to_string(bytes) + " bytes) is not a live device buffer");
    std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), bytes);
    d.stats.*counter += static_cast<int64_t>(bytes);
  };
  return d.issue(stream, std::move(step), kIllegalAddress);
}

//===----------------------------------------------------------------------===//
// cuBLAS: C = alpha op(A) op(B) + beta C, column-major, for each matrix of a batch
//===----------------------------------------------------------------------===//

constexpr int kR32F = 0, kR64F = 1, kR16BF = 14;
constexpr int kComputeF32 = 68, kComputeF64 = 70, kComputeF32FastBF16 = 75,
              kComputeF32FastTF32 = 77;

size_t typeBytes(int type) { return type == kR64F ? 8 : type == kR16BF ? 2 : 4; }

double loadElement(int type, const char *p) {
  if (type == kR64F)
    return *reinterpret_cast<const double *>(p);
  if (type == kR16BF) {
    uint32_t bits = static_cast<uint32_t>(*reinterpret_cast<const uint16_t *>(p)) << 16;
    float x;
    std::memcpy(&x, &bits, 4);
    return x;
  }
  return *reinterpret_cast<const float *>(p);
}

void storeElement(int type, char *p, double x) {
  if (type == kR64F) {
    *reinterpret_cast<double *>(p) = x;
  } else if (type == kR16BF) {
    float rounded = msdd::emulation::roundToBf16(static_cast<float>(x));
    uint32_t bits;
    std::memcpy(&bits, &rounded, 4);
    *reinterpret_cast<uint16_t *>(p) = static_cast<uint16_t>(bits >> 16);
  } else {
    *reinterpret_cast<float *>(p) = static_cast<float>(x);
  }
}

/// One operand of a strided batched product: `rows` x `cols` as stored (before op).
struct BlasMatrix {
  const char *name;
  CUdeviceptr data;
  int type;
  int64_t rows, cols, ld, batchStride;

  size_t elementBytes() const { return typeBytes(type); }
  /// What cuBLAS rejects as an invalid value, or "".
  std::string invalid() const {
    if (ld < std::max<int64_t>(1, rows))
      return std::string("ld") + name + " = " + std::to_string(ld) + " < " + std::to_string(rows);
    return "";
  }
  /// The bytes [first, last) the whole batch spans.
  std::pair<CUdeviceptr, CUdeviceptr> span(int64_t batch) const {
    if (rows == 0 || cols == 0 || batch == 0)
      return {data, data};
    int64_t last = (batch - 1) * batchStride + (cols - 1) * ld + rows;
    return {data, data + static_cast<CUdeviceptr>(last) * elementBytes()};
  }
  /// Where a batch's matrix leaves device memory, or "".
  std::string outsideDevice(const Device &d, int64_t batch) const {
    if (rows == 0 || cols == 0)
      return "";
    size_t bytes = static_cast<size_t>((cols - 1) * ld + rows) * elementBytes();
    for (int64_t b = 0; b < batch; ++b) {
      CUdeviceptr start = data + static_cast<CUdeviceptr>(b * batchStride) * elementBytes();
      if (!d.isDevice(start, bytes))
        return std::string(name) + " of batch " + std::to_string(b) + " (" + hex(start) + ", " +
               std::to_string(bytes) + " bytes) is not inside a live device buffer";
    }
    return "";
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// The driver API
//===----------------------------------------------------------------------===//

extern "C" {

CUresult cuInit(unsigned /*flags*/) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.initialized)
    return d.emulator ? kSuccess : kNoDevice;
  d.initialized = true;
  const char *path = std::getenv("MSDD_EMULATED_CUDA_KERNELS");
  if (!path || !*path) {
    std::fprintf(stderr, "msdd emulated CUDA: MSDD_EMULATED_CUDA_KERNELS is not set (the "
                         "artifact's IR from msdd-compile --target cuda --emit=kernels)\n");
    return kNoDevice;
  }
  d.module = mlir::parseSourceFile<mlir::ModuleOp>(path, &d.context);
  if (!d.module) {
    std::fprintf(stderr, "msdd emulated CUDA: %s: cannot parse the kernels file\n", path);
    return kNoDevice;
  }
  try {
    d.emulator = std::make_unique<msdd::emulation::CudaEmulator>(*d.module);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "msdd emulated CUDA: %s: %s\n", path, e.what());
    return kNoDevice;
  }
  std::atexit([] { device().writeStats(); });
  return kSuccess;
}

CUresult cuGetErrorString(CUresult code, const char **text) {
  switch (code) {
  case kSuccess: *text = "no error"; break;
  case kInvalidValue: *text = "invalid argument"; break;
  case kOutOfMemory: *text = "out of memory"; break;
  case kNotInitialized: *text = "initialization error"; break;
  case kNoDevice: *text = "no CUDA-capable device is detected (emulated driver)"; break;
  case kInvalidImage: *text = "device kernel image is invalid"; break;
  case kInvalidHandle: *text = "invalid resource handle"; break;
  case kNotFound: *text = "named symbol not found"; break;
  case kIllegalAddress: *text = "an illegal memory access was encountered"; break;
  case kLaunchFailed: *text = "unspecified launch failure"; break;
  case kStreamCaptureUnsupported: *text = "operation not permitted when stream is capturing"; break;
  case kStreamCaptureInvalidated: *text = "operation failed due to a previous error during capture"; break;
  default: return kInvalidValue;
  }
  return kSuccess;
}

CUresult cuDeviceGetCount(int *count) {
  *count = device().emulator ? 1 : 0;
  return device().initialized ? kSuccess : kNotInitialized;
}

CUresult cuDeviceGet(int *dev, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *dev = 0;
  return kSuccess;
}

CUresult cuDeviceGetName(char *name, int length, int /*dev*/) {
  std::snprintf(name, static_cast<size_t>(length), "msdd emulated GPU");
  return kSuccess;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, int /*dev*/) {
  constexpr int kComputeCapabilityMajor = 75; // minor (76): 0
  *value = attribute == kComputeCapabilityMajor ? 9 : 0;
  return kSuccess;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int /*dev*/) {
  static int primary;
  *context = &primary;
  return kSuccess;
}

CUresult cuCtxSetCurrent(void * /*context*/) { return kSuccess; }

CUresult cuDeviceGetDefaultMemPool(void **pool, int /*dev*/) {
  static int defaultPool;
  *pool = &defaultPool;
  return kSuccess;
}

CUresult cuMemPoolSetAttribute(void * /*pool*/, int /*attribute*/, void * /*value*/) {
  return kSuccess;
}
CUresult cuMemPoolTrimTo(void * /*pool*/, size_t /*keep*/) { return kSuccess; }
CUresult cuDeviceGraphMemTrim(int /*dev*/) { return kSuccess; }

CUresult cuStreamCreate(void **stream, unsigned /*flags*/) {
  *stream = new Stream;
  return kSuccess;
}

CUresult cuStreamSynchronize(void *stream) {
  Device &d = device();
  Lock lock(d.mutex);
  if (stream && static_cast<Stream *>(stream)->capture)
    return d.fail(kStreamCaptureUnsupported, "cuStreamSynchronize on a stream being captured");
  return d.sticky;
}

CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t bytes) { return allocate(out, bytes, nullptr); }
CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  Device &d = device();
  Lock lock(d.mutex);
  *free = d.capacity - d.used;
  *total = d.capacity;
  return d.sticky;
}
CUresult cuMemAllocAsync(CUdeviceptr *out, size_t bytes, void *stream) {
  return allocate(out, bytes, static_cast<Stream *>(stream));
}
CUresult cuMemFree_v2(CUdeviceptr p) { return release(p, nullptr); }
CUresult cuMemFreeAsync(CUdeviceptr p, void *stream) {
  return release(p, static_cast<Stream *>(stream));
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *stream) {
  return copy("cuMemcpyAsync", dst, true, src, true, bytes, static_cast<Stream *>(stream),
              &Stats::bytesDeviceToDevice);
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, void *stream) {
  return copy("cuMemcpyHtoDAsync", dst, true, reinterpret_cast<CUdeviceptr>(src), false, bytes,
              static_cast<Stream *>(stream), &Stats::bytesToDevice);
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, void *stream) {
  return copy("cuMemcpyDtoHAsync", reinterpret_cast<CUdeviceptr>(dst), false, src, true, bytes,
              static_cast<Stream *>(stream), &Stats::bytesToHost);
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  // Synchronous and on no stream: allowed during a relaxed capture, never recorded.
  return copy("cuMemcpyHtoD", dst, true, reinterpret_cast<CUdeviceptr>(src), false, bytes,
              nullptr, &Stats::bytesToDevice);
}

CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, void *stream) {
  Device &d = device();
  Lock lock(d.mutex);
  Step step = [=, &d] {
    if (!d.isDevice(dst, count * 4))
      throw std::runtime_error("cuMemsetD32Async: " + hex(dst) + " (" + std::to_string(count * 4) +
                               " bytes) is not a live device buffer");
    auto *words = reinterpret_cast<uint32_t *>(dst);
    std::fill(words, words + count, value);
  };
  return d.issue(static_cast<Stream *>(stream), std::move(step), kIllegalAddress);
}

CUresult cuModuleLoadData(void **module, const void *image) {
  Device &d = device();
  Lock lock(d.mutex);
  if (!d.emulator)
    return kNotInitialized;
  if (std::memcmp(image, "\x7f" "ELF", 4) != 0)
    return d.fail(kInvalidImage, "cuModuleLoadData: the image is not a cubin (ELF)");
  static int loaded;
  *module = &loaded; // the kernels come from the one kernels file
  return kSuccess;
}

CUresult cuModuleUnload(void * /*module*/) { return kSuccess; }

CUresult cuModuleGetFunction(void **function, void * /*module*/, const char *name) {
  Device &d = device();
  Lock lock(d.mutex);
  if (!d.emulator)
    return kNotInitialized;
  if (!d.emulator->hasKernel(name)) {
    std::fprintf(stderr, "msdd emulated CUDA: the kernels file has no kernel '%s'\n", name);
    return kNotFound;
  }
  static std::mutex namesMutex;
  static std::vector<std::unique_ptr<std::string>> names;
  std::lock_guard<std::mutex> namesLock(namesMutex);
  for (const auto &known : names)
    if (*known == name) {
      *function = known.get();
      return kSuccess;
    }
  names.push_back(std::make_unique<std::string>(name));
  *function = names.back().get();
  return kSuccess;
}

CUresult cuLaunchKernel(void *function, unsigned gridX, unsigned gridY, unsigned gridZ,
                        unsigned blockX, unsigned blockY, unsigned blockZ, unsigned sharedBytes,
                        void *stream, void **params, void **extra) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.sticky)
    return d.sticky;
  if (extra)
    return d.fail(kInvalidValue, "cuLaunchKernel: 'extra' parameters are not supported");
  const std::string &name = *static_cast<std::string *>(function);
  int64_t grid[3] = {gridX, gridY, gridZ}, block[3] = {blockX, blockY, blockZ};
  Step launch;
  try {
    launch = d.emulator->prepareLaunch(name, grid, block, sharedBytes, params);
  } catch (const std::exception &e) {
    return d.fail(kInvalidValue, e.what());
  }
  Stats &stats = d.stats;
  return d.issue(static_cast<Stream *>(stream), [launch = std::move(launch), &stats] {
    ++stats.launches;
    launch();
  }, kLaunchFailed);
}

CUresult cuEventCreate(void **event, unsigned /*flags*/) {
  *event = new Event;
  return kSuccess;
}
CUresult cuEventRecord(void *event, void * /*stream*/) {
  // Work runs when it is issued: the host's clock is the stream's.
  static_cast<Event *>(event)->time = std::chrono::steady_clock::now();
  return device().sticky;
}
CUresult cuEventSynchronize(void * /*event*/) { return device().sticky; }
CUresult cuEventElapsedTime(float *ms, void *start, void *stop) {
  *ms = std::chrono::duration<float, std::milli>(static_cast<Event *>(stop)->time -
                                                 static_cast<Event *>(start)->time)
            .count();
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *event) {
  delete static_cast<Event *>(event);
  return kSuccess;
}

CUresult cuStreamBeginCapture_v2(void *stream, int /*mode*/) {
  Device &d = device();
  Lock lock(d.mutex);
  auto *s = static_cast<Stream *>(stream);
  if (!s || s->capture)
    return kInvalidValue;
  s->capture = std::make_shared<Recording>();
  return d.sticky;
}

CUresult cuStreamEndCapture(void *stream, void **graph) {
  Device &d = device();
  Lock lock(d.mutex);
  auto *s = static_cast<Stream *>(stream);
  if (!s || !s->capture)
    return kInvalidValue;
  *graph = new Graph{std::move(s->capture)};
  s->capture = nullptr;
  return d.sticky ? kStreamCaptureInvalidated : kSuccess;
}

CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long /*flags*/) {
  *exec = new Graph{static_cast<Graph *>(graph)->recording};
  return device().sticky;
}

CUresult cuGraphLaunch(void *exec, void *stream) {
  Device &d = device();
  Lock lock(d.mutex);
  auto *s = static_cast<Stream *>(stream);
  if (s && s->capture)
    return d.fail(kStreamCaptureUnsupported, "cuGraphLaunch inside a capture");
  if (d.sticky)
    return d.sticky;
  ++d.stats.graphLaunches;
  for (const Step &step : static_cast<Graph *>(exec)->recording->steps) {
    ++d.stats.graphSteps;
    if (CUresult rc = d.run(step, kLaunchFailed))
      return rc;
  }
  return kSuccess;
}

CUresult cuGraphExecDestroy(void *exec) {
  Lock lock(device().mutex);
  delete static_cast<Graph *>(exec);
  return kSuccess;
}

CUresult cuGraphDestroy(void *graph) {
  Lock lock(device().mutex);
  delete static_cast<Graph *>(graph);
  return kSuccess;
}

//===----------------------------------------------------------------------===//
// cuBLAS
//===----------------------------------------------------------------------===//

int cublasCreate_v2(void **handle) {
  *handle = new BlasHandle;
  return kBlasSuccess;
}

int cublasSetStream_v2(void *handle, void *stream) {
  static_cast<BlasHandle *>(handle)->stream = static_cast<Stream *>(stream);
  return kBlasSuccess;
}

int cublasGemmStridedBatchedEx(void *handle, int transa, int transb, int m, int n, int k,
                               const void *alpha, const void *A, int aType, int lda,
                               long long strideA, const void *B, int bType, int ldb,
                               long long strideB, const void *beta, void *C, int cType, int ldc,
                               long long strideC, int batch, int compute, int /*algo*/) {
  Device &d = device();
  Lock lock(d.mutex);
  if (d.sticky)
    return kBlasExecutionFailed;
  auto invalid = [&](const std::string &problem) {
    std::fprintf(stderr, "msdd emulated CUDA: cublasGemmStridedBatchedEx: %s\n", problem.c_str());
    return kBlasInvalidValue;
  };
  constexpr int kOpN = 0, kOpT = 1;
  if ((transa != kOpN && transa != kOpT) || (transb != kOpN && transb != kOpT))
    return invalid("only CUBLAS_OP_N and CUBLAS_OP_T are emulated");
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return invalid("negative size");
  bool doubles = compute == kComputeF64;
  if (doubles ? (aType != kR64F || bType != kR64F || cType != kR64F)
              : (aType == kR64F || bType == kR64F || cType == kR64F))
    return invalid("data types do not match the compute type " + std::to_string(compute));
  if (aType != bType)
    return invalid("A and B differ in type");
  if (compute != kComputeF32 && compute != kComputeF64 && compute != kComputeF32FastBF16 &&
      compute != kComputeF32FastTF32)
    return invalid("compute type " + std::to_string(compute) + " is not emulated");
  BlasMatrix a{"A", reinterpret_cast<CUdeviceptr>(A), aType, transa == kOpN ? m : k,
               transa == kOpN ? k : m, lda, strideA};
  BlasMatrix b{"B", reinterpret_cast<CUdeviceptr>(B), bType, transb == kOpN ? k : n,
               transb == kOpN ? n : k, ldb, strideB};
  BlasMatrix c{"C", reinterpret_cast<CUdeviceptr>(C), cType, m, n, ldc, strideC};
  for (const BlasMatrix *matrix : {&a, &b, &c})
    if (std::string problem = matrix->invalid(); !problem.empty())
      return invalid(problem);
  for (const BlasMatrix *matrix : {&a, &b, &c})
    if (std::string problem = matrix->outsideDevice(d, batch); !problem.empty()) {
      d.fail(kIllegalAddress, "cublasGemmStridedBatchedEx: " + problem);
      return kBlasExecutionFailed;
    }
  // Tiles read A and B while others write C: cuBLAS products are not in place.
  for (const BlasMatrix *factor : {&a, &b}) {
    auto [cFirst, cLast] = c.span(batch);
    auto [first, last] = factor->span(batch);
    if (cFirst < last && first < cLast) {
      d.fail(kIllegalAddress, std::string("cublasGemmStridedBatchedEx: C overlaps ") +
                                  factor->name + " (a product written over its own factor)");
      return kBlasExecutionFailed;
    }
  }
  double alphaValue = doubles ? *static_cast<const double *>(alpha) : *static_cast<const float *>(alpha);
  double betaValue = doubles ? *static_cast<const double *>(beta) : *static_cast<const float *>(beta);
  Stats &stats = d.stats;
  Step product = [=, &stats] {
    ++stats.gemms;
    auto factor = [&](const BlasMatrix &x, int64_t batchIndex, int64_t row, int64_t col) {
      const char *p = reinterpret_cast<const char *>(x.data) +
                      (batchIndex * x.batchStride + row + col * x.ld) * x.elementBytes();
      double value = loadElement(x.type, p);
      if (x.type == kR32F && compute == kComputeF32FastTF32)
        return static_cast<double>(msdd::emulation::roundToTf32(static_cast<float>(value)));
      if (x.type == kR32F && compute == kComputeF32FastBF16)
        return static_cast<double>(msdd::emulation::roundToBf16(static_cast<float>(value)));
      return value;
    };
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < m; ++i) {
          double sum = 0;
          for (int64_t p = 0; p < k; ++p)
            sum += (transa == kOpN ? factor(a, t, i, p) : factor(a, t, p, i)) *
                   (transb == kOpN ? factor(b, t, p, j) : factor(b, t, j, p));
          char *out = reinterpret_cast<char *>(c.data) +
                      (t * c.batchStride + i + j * c.ld) * c.elementBytes();
          // beta = 0 does not read C (it may hold NaN).
          double previous = betaValue == 0 ? 0 : betaValue * loadElement(c.type, out);
          storeElement(c.type, out, alphaValue * sum + previous);
        }
  };
  auto *h = static_cast<BlasHandle *>(handle);
  return d.issue(h->stream, std::move(product), kLaunchFailed) ? kBlasExecutionFailed
                                                                 : kBlasSuccess;
}

} // extern "C"
