//===- Kernels.cpp - Functions that compiled artifacts call ---------------===//
//
// Matrix products go to OpenBLAS. Strided views that BLAS can address directly (row- or
// column-major with a leading dimension) are passed as they are; anything else is packed
// into a dense temporary first.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Kernels.h"

#include "msdd/Runtime/ThreadPool.h"

#include <algorithm>
#include <cblas.h>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <vector>

using msdd::rt::ThreadPool;

namespace {

/// Below this many multiply-adds OpenBLAS runs sgemm on one thread anyway, so the batches of
/// a batched product are better spread over the runtime's pool.
constexpr int64_t kSmallMatmulWork = 64 * 64 * 64;

[[noreturn]] void fatal(const char *kernel, const char *problem) {
  // Compiled code has no way to receive an error; a violated contract is a compiler bug.
  std::fprintf(stderr, "msdd runtime: %s: %s\n", kernel, problem);
  std::abort();
}

/// A rows x cols strided view: element (i, j) at data[i * rowStride + j * colStride].
template <typename T> struct View {
  T *data;
  int64_t rows, cols, rowStride, colStride;

  T &at(int64_t i, int64_t j) const { return data[i * rowStride + j * colStride]; }
  View transposed() const { return {data, cols, rows, colStride, rowStride}; }
};

/// A view as cblas sees it, in CblasRowMajor terms.
template <typename T> struct BlasOperand {
  T *data;
  CBLAS_TRANSPOSE trans;
  int64_t ld;
  BlasOperand transposed() const {
    return {data, trans == CblasNoTrans ? CblasTrans : CblasNoTrans, ld};
  }
};

bool fitsBlasInt(int64_t v) { return v >= 1 && v <= INT_MAX; }

/// How BLAS can address `v` without a copy, if it can. The stride of a dimension of size 1
/// is never used, so it does not constrain the layout.
template <typename T> std::optional<BlasOperand<T>> asBlasOperand(const View<T> &v) {
  bool unitCols = v.cols == 1 || v.colStride == 1;
  bool unitRows = v.rows == 1 || v.rowStride == 1;
  if (unitCols && (v.rows == 1 || v.rowStride >= v.cols)) {
    int64_t ld = v.rows == 1 ? std::max<int64_t>(v.cols, 1) : v.rowStride;
    if (fitsBlasInt(ld))
      return BlasOperand<T>{v.data, CblasNoTrans, ld};
  }
  if (unitRows && (v.cols == 1 || v.colStride >= v.rows)) {
    int64_t ld = v.cols == 1 ? std::max<int64_t>(v.rows, 1) : v.colStride;
    if (fitsBlasInt(ld))
      return BlasOperand<T>{v.data, CblasTrans, ld};
  }
  return std::nullopt;
}

/// A dense row-major copy of `v`, for views BLAS cannot address.
template <typename T> std::vector<T> pack(const View<T> &v) {
  std::vector<T> dense(static_cast<size_t>(v.rows * v.cols));
  for (int64_t i = 0; i < v.rows; ++i)
    for (int64_t j = 0; j < v.cols; ++j)
      dense[i * v.cols + j] = v.at(i, j);
  return dense;
}

template <typename T> View<T> denseView(std::vector<T> &buffer, int64_t rows, int64_t cols) {
  return {buffer.data(), rows, cols, cols, 1};
}

/// The BLAS gemm of T, row-major, alpha = 1 (beta = 0: C is written without being read).
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float *a, int lda,
          const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double *a, int lda,
          const double *b, int ldb, double beta, double *c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void multiplyIntoSerial(const View<T> &a, const View<T> &b, const View<T> &c, bool accumulate);

/// Rows [begin, end) of a view.
template <typename T> View<T> rowsOf(const View<T> &v, int64_t begin, int64_t end) {
  return {v.data + begin * v.rowStride, end - begin, v.cols, v.rowStride, v.colStride};
}

template <typename T> struct ProductJob {
  View<T> a, b, c;
  bool accumulate;
  int64_t rowsPerChunk;
};

/// c += a * b (c = a * b without `accumulate`) with a: M x K, b: K x N, c: M x N; large
/// products are split by rows (or, for short wide ones, by columns) over the runtime's pool,
/// one single-threaded BLAS call each.
template <typename T>
void multiplyInto(const View<T> &a, const View<T> &b, const View<T> &c, bool accumulate) {
  int threads = ThreadPool::global().numThreads();
  int64_t work = c.rows * c.cols * a.cols;
  if (threads <= 1 || work < kSmallMatmulWork) {
    multiplyIntoSerial(a, b, c, accumulate);
    return;
  }
  if (c.rows < 2 * threads && c.cols >= 2 * threads) {
    // Split columns: the same problem, transposed (C^T += B^T A^T).
    multiplyInto(b.transposed(), a.transposed(), c.transposed(), accumulate);
    return;
  }
  int64_t chunks = std::min<int64_t>(c.rows, 4 * threads);
  ProductJob<T> job{a, b, c, accumulate, (c.rows + chunks - 1) / chunks};
  ThreadPool::global().parallelFor(
      [](void *ctx, int64_t begin, int64_t end) {
        auto &j = *static_cast<ProductJob<T> *>(ctx);
        for (int64_t chunk = begin; chunk < end; ++chunk) {
          int64_t r0 = chunk * j.rowsPerChunk, r1 = std::min(j.c.rows, r0 + j.rowsPerChunk);
          if (r0 < r1)
            multiplyIntoSerial(rowsOf(j.a, r0, r1), j.b, rowsOf(j.c, r0, r1), j.accumulate);
        }
      },
      &job, (c.rows + job.rowsPerChunk - 1) / job.rowsPerChunk);
}

/// c += a * b (c = a * b without `accumulate`) on the calling thread.
template <typename T>
void multiplyIntoSerial(const View<T> &a, const View<T> &b, const View<T> &c, bool accumulate) {
  int64_t m = c.rows, n = c.cols, k = a.cols;
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    if (!accumulate) // an empty sum: c was never initialized
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          c.at(i, j) = T(0);
    return;
  }
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    fatal("matmul", "a dimension exceeds the BLAS integer range");

  std::vector<T> packedA, packedB, packedC;
  std::optional<BlasOperand<T>> opA = asBlasOperand(a), opB = asBlasOperand(b);
  if (!opA) {
    packedA = pack(a);
    opA = asBlasOperand(denseView(packedA, m, k));
  }
  if (!opB) {
    packedB = pack(b);
    opB = asBlasOperand(denseView(packedB, k, n));
  }
  std::optional<BlasOperand<T>> opC = asBlasOperand(c);
  View<T> packedCView{};
  if (!opC) {
    packedC = accumulate ? pack(c) : std::vector<T>(size_t(m * n));
    packedCView = denseView(packedC, m, n);
    opC = asBlasOperand(packedCView);
  }

  T beta = accumulate ? T(1) : T(0);
  if (opC->trans == CblasNoTrans) {
    gemm(opA->trans, opB->trans, int(m), int(n), int(k), opA->data, int(opA->ld), opB->data,
         int(opB->ld), beta, opC->data, int(opC->ld));
  } else {
    // C is column-major: compute C^T += B^T A^T into its row-major transpose.
    BlasOperand<T> bt = opB->transposed(), at = opA->transposed();
    gemm(bt.trans, at.trans, int(n), int(m), int(k), bt.data, int(bt.ld), at.data, int(at.ld), beta,
         opC->data, int(opC->ld));
  }

  if (!packedC.empty())
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c.at(i, j) = packedCView.at(i, j);
}

/// The logical K x N right operand: B[K, N], or B[N, K] read transposed.
template <typename T> View<T> rightOperand(const View<T> &stored, bool transposeB) {
  return transposeB ? stored.transposed() : stored;
}

template <typename Descriptor>
auto matrixOf(const Descriptor &d, int64_t firstDim, int64_t batch)
    -> View<std::remove_pointer_t<decltype(d.aligned)>> {
  int64_t batchOffset = firstDim == 1 ? batch * d.strides[0] : 0;
  return {d.aligned + d.offset + batchOffset, d.sizes[firstDim], d.sizes[firstDim + 1],
          d.strides[firstDim], d.strides[firstDim + 1]};
}

template <typename T>
void checkShapes(const char *kernel, const View<T> &a, const View<T> &b, const View<T> &c) {
  if (a.cols != b.rows || a.rows != c.rows || b.cols != c.cols)
    fatal(kernel, "operand shapes do not form a matrix product");
}

/// Synchronises OpenBLAS's own thread count with an explicit MSDD_NUM_THREADS, once, so the
/// variable bounds all threads the runtime uses. Without it OpenBLAS keeps its own default.
void configureBlasThreads() {
  // OpenBLAS's own threads spin (sched_yield) between calls and fight the runtime's pool for
  // the same cores; one BLAS thread per pool thread, with the pool splitting large products,
  // keeps every core busy with one thing.
  static const bool configured = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)configured;
}

template <typename Descriptor> struct BatchJob {
  const Descriptor *a, *b, *c;
  bool transposeB;
  bool accumulate;
};

template <typename Descriptor>
void runBatches(const BatchJob<Descriptor> &job, int64_t begin, int64_t end) {
  for (int64_t batch = begin; batch < end; ++batch)
    multiplyInto(matrixOf(*job.a, 1, batch),
                 rightOperand(matrixOf(*job.b, 1, batch), job.transposeB),
                 matrixOf(*job.c, 1, batch), job.accumulate);
}

template <typename Descriptor>
void matmul(const char *kernel, const Descriptor &A, const Descriptor &B, const Descriptor &C,
            int64_t transposeB, int64_t accumulate) {
  configureBlasThreads();
  auto a = matrixOf(A, 0, 0), b = rightOperand(matrixOf(B, 0, 0), transposeB != 0),
       c = matrixOf(C, 0, 0);
  checkShapes(kernel, a, b, c);
  multiplyInto(a, b, c, accumulate != 0);
}

template <typename Descriptor>
void batchMatmul(const char *kernel, const Descriptor &A, const Descriptor &B,
                 const Descriptor &C, int64_t transposeB, int64_t accumulate) {
  configureBlasThreads();
  int64_t batches = C.sizes[0];
  if (A.sizes[0] != batches || B.sizes[0] != batches)
    fatal(kernel, "operands have different batch sizes");
  if (batches == 0)
    return;
  BatchJob<Descriptor> job{&A, &B, &C, transposeB != 0, accumulate != 0};
  auto a = matrixOf(A, 1, 0), b = rightOperand(matrixOf(B, 1, 0), job.transposeB),
       c = matrixOf(C, 1, 0);
  checkShapes(kernel, a, b, c);

  if (c.rows * c.cols * a.cols < kSmallMatmulWork) {
    ThreadPool::global().parallelFor(
        [](void *ctx, int64_t begin, int64_t end) {
          runBatches(*static_cast<const BatchJob<Descriptor> *>(ctx), begin, end);
        },
        &job, batches);
  } else {
    runBatches(job, 0, batches); // each product is threaded by OpenBLAS
  }
}

/// Compiled code allocates the same temporaries every call; glibc returns large blocks to
/// the kernel on free (mmap), so each call would page-fault them back in. Freed blocks are
/// kept per size and reused. A 64-byte header before each block records its size.
class BlockCache {
public:
  static constexpr size_t kHeader = 64;
  static constexpr size_t kMaxCachedBytes = size_t(4) << 30;

  void *allocate(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void *block = it->second.back();
        it->second.pop_back();
        cachedBytes_ -= size;
        return static_cast<char *>(block) + kHeader;
      }
    }
    void *block = std::aligned_alloc(kHeader, kHeader + ((size + kHeader - 1) / kHeader) * kHeader);
    if (!block)
      fatal("allocate", "out of memory");
    *static_cast<size_t *>(block) = size;
    return static_cast<char *>(block) + kHeader;
  }

  void release(void *pointer) {
    if (!pointer)
      return;
    void *block = static_cast<char *>(pointer) - kHeader;
    size_t size = *static_cast<size_t *>(block);
    std::lock_guard<std::mutex> lock(mutex_);
    if (cachedBytes_ + size > kMaxCachedBytes) {
      std::free(block);
      return;
    }
    free_[size].push_back(block);
    cachedBytes_ += size;
  }

private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void *>> free_;
  size_t cachedBytes_ = 0;
};

BlockCache &blockCache() {
  static BlockCache *cache = new BlockCache; // never destroyed: artifacts may free at exit
  return *cache;
}

/// `value` rounded to the nearest bf16, ties to even (as arith.truncf and the GPU round).
uint16_t roundToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return uint16_t((bits >> 16) | 0x40); // NaN stays a (quiet) NaN
  return uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

/// A dense row-major f32 copy of a strided bf16 view (exact: bf16 is f32's upper half),
/// described like the view so the f32 kernels take it.
template <typename F32Descriptor> struct WidenedBf16 {
  static constexpr int kRank = sizeof(F32Descriptor::sizes) / sizeof(int64_t);

  template <typename Bf16Descriptor> explicit WidenedBf16(const Bf16Descriptor &view) {
    int64_t count = 1;
    for (int d = kRank - 1; d >= 0; --d) {
      descriptor.sizes[d] = view.sizes[d];
      descriptor.strides[d] = count;
      count *= view.sizes[d];
    }
    data.resize(size_t(count));
    // Row-major walk over the view's index space; `source` follows the view's strides.
    int64_t index[kRank] = {};
    for (int64_t i = 0; i < count; ++i) {
      int64_t source = view.offset;
      for (int d = 0; d < kRank; ++d)
        source += index[d] * view.strides[d];
      uint32_t bits = uint32_t(view.aligned[source]) << 16;
      std::memcpy(&data[size_t(i)], &bits, sizeof bits);
      for (int d = kRank - 1; d >= 0 && ++index[d] == view.sizes[d]; --d)
        index[d] = 0;
    }
    descriptor.allocated = descriptor.aligned = data.data();
    descriptor.offset = 0;
  }

  std::vector<float> data;
  F32Descriptor descriptor{};
};

} // namespace

extern "C" {

void *_mlir_memref_to_llvm_alloc(size_t size) { return blockCache().allocate(size); }

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  if (alignment > BlockCache::kHeader)
    fatal("aligned_alloc", "alignment above 64 bytes is not supported");
  return blockCache().allocate(size);
}

void _mlir_memref_to_llvm_free(void *pointer) { blockCache().release(pointer); }


void msdd_rt_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx,
                          int64_t n) {
  ThreadPool::global().parallelFor(body, ctx, n);
}

void _mlir_ciface_msdd_rt_matmul_f32(msdd_memref2d_f32 *A, msdd_memref2d_f32 *B,
                                     msdd_memref2d_f32 *C, int64_t transposeB, int64_t accumulate) {
  matmul("msdd_rt_matmul_f32", *A, *B, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_matmul_f64(msdd_memref2d_f64 *A, msdd_memref2d_f64 *B,
                                     msdd_memref2d_f64 *C, int64_t transposeB, int64_t accumulate) {
  matmul("msdd_rt_matmul_f64", *A, *B, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_batch_matmul_f32(msdd_memref3d_f32 *A, msdd_memref3d_f32 *B,
                                           msdd_memref3d_f32 *C, int64_t transposeB, int64_t accumulate) {
  batchMatmul("msdd_rt_batch_matmul_f32", *A, *B, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_batch_matmul_f64(msdd_memref3d_f64 *A, msdd_memref3d_f64 *B,
                                           msdd_memref3d_f64 *C, int64_t transposeB, int64_t accumulate) {
  batchMatmul("msdd_rt_batch_matmul_f64", *A, *B, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_matmul_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                      msdd_memref2d_f32 *C, int64_t transposeB, int64_t accumulate) {
  WidenedBf16<msdd_memref2d_f32> a(*A), b(*B);
  matmul("msdd_rt_matmul_bf16", a.descriptor, b.descriptor, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_batch_matmul_bf16(msdd_memref3d_bf16 *A, msdd_memref3d_bf16 *B,
                                            msdd_memref3d_f32 *C, int64_t transposeB,
                                            int64_t accumulate) {
  WidenedBf16<msdd_memref3d_f32> a(*A), b(*B);
  batchMatmul("msdd_rt_batch_matmul_bf16", a.descriptor, b.descriptor, *C, transposeB, accumulate);
}

void _mlir_ciface_msdd_rt_matmul_bf16_to_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                              msdd_memref2d_bf16 *C, int64_t transposeB,
                                              int64_t accumulate) {
  if (accumulate)
    fatal("msdd_rt_matmul_bf16_to_bf16", "a bf16 result cannot accumulate");
  WidenedBf16<msdd_memref2d_f32> a(*A), b(*B);
  std::vector<float> product(size_t(C->sizes[0] * C->sizes[1]));
  msdd_memref2d_f32 c{product.data(), product.data(), 0, {C->sizes[0], C->sizes[1]},
                      {C->sizes[1], 1}};
  matmul("msdd_rt_matmul_bf16_to_bf16", a.descriptor, b.descriptor, c, transposeB, 0);
  for (int64_t i = 0; i < C->sizes[0]; ++i)
    for (int64_t j = 0; j < C->sizes[1]; ++j)
      C->aligned[C->offset + i * C->strides[0] + j * C->strides[1]] =
          roundToBf16(product[size_t(i * C->sizes[1] + j)]);
}

void memrefCopy(int64_t elementSize, msdd_unranked_memref *source,
                msdd_unranked_memref *destination) {
  int64_t rank = source->rank;
  if (rank != destination->rank)
    fatal("memrefCopy", "source and destination ranks differ");
  // {allocated, aligned, offset, sizes[rank], strides[rank]}, as 8-byte words.
  auto *src = static_cast<int64_t *>(source->descriptor);
  auto *dst = static_cast<int64_t *>(destination->descriptor);
  char *srcBase = reinterpret_cast<char *>(src[1]) + src[2] * elementSize;
  char *dstBase = reinterpret_cast<char *>(dst[1]) + dst[2] * elementSize;
  const int64_t *sizes = src + 3, *srcStrides = src + 3 + rank, *dstStrides = dst + 3 + rank;

  // Dimensions that are contiguous in both views merge into their inner neighbour, so that
  // the copy is a few long runs (a slice of heads written into a joint sequence: runs of
  // tokens x head-dim elements), not one call per element.
  std::vector<int64_t> shape, srcStride, dstStride; // innermost first
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (sizes[d] == 0)
      return;
    if (sizes[d] == 1)
      continue;
    if (!shape.empty() && srcStrides[d] == srcStride.back() * shape.back() &&
        dstStrides[d] == dstStride.back() * shape.back()) {
      shape.back() *= sizes[d];
      continue;
    }
    shape.push_back(sizes[d]);
    srcStride.push_back(srcStrides[d]);
    dstStride.push_back(dstStrides[d]);
  }
  if (shape.empty()) { // one element
    std::memcpy(dstBase, srcBase, elementSize);
    return;
  }
  int64_t run = shape[0];
  bool dense = srcStride[0] == 1 && dstStride[0] == 1;
  std::vector<int64_t> index(shape.size(), 0);
  int64_t srcOff = 0, dstOff = 0;
  while (true) {
    if (dense) {
      std::memcpy(dstBase + dstOff * elementSize, srcBase + srcOff * elementSize,
                  run * elementSize);
    } else {
      for (int64_t i = 0; i < run; ++i)
        std::memcpy(dstBase + (dstOff + i * dstStride[0]) * elementSize,
                    srcBase + (srcOff + i * srcStride[0]) * elementSize, elementSize);
    }
    // The next run: an odometer over the outer dimensions.
    size_t d = 1;
    for (; d < shape.size(); ++d) {
      srcOff += srcStride[d];
      dstOff += dstStride[d];
      if (++index[d] < shape[d])
        break;
      srcOff -= srcStride[d] * shape[d];
      dstOff -= dstStride[d] * shape[d];
      index[d] = 0;
    }
    if (d == shape.size())
      return;
  }
}

} // extern "C"
