//===- runtime_kernels_test.cpp - Matrix-product kernels vs a reference ---===//
#include "msdd/Runtime/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

/// How a logical matrix is laid out inside a larger buffer.
enum class Layout {
  RowMajor,       // unit inner stride (BLAS direct)
  PaddedRowMajor, // unit inner stride, leading dimension larger than the row
  ColumnMajor,    // a transposed view (BLAS direct, transposed)
  Strided,        // inner stride 2 (must be packed)
};
const Layout kLayouts[] = {Layout::RowMajor, Layout::PaddedRowMajor, Layout::ColumnMajor,
                           Layout::Strided};
const char *layoutName(Layout layout) {
  switch (layout) {
  case Layout::RowMajor: return "row-major";
  case Layout::PaddedRowMajor: return "padded";
  case Layout::ColumnMajor: return "column-major";
  case Layout::Strided: return "strided";
  }
  return "?";
}

/// A batch of `rows x cols` matrices in a buffer with a nonzero offset, filled with noise.
struct Matrix {
  Matrix(int64_t batch, int64_t rows, int64_t cols, Layout layout, std::mt19937 &rng)
      : batch(batch), rows(rows), cols(cols) {
    switch (layout) {
    case Layout::RowMajor: rowStride = cols, colStride = 1; break;
    case Layout::PaddedRowMajor: rowStride = cols + 3, colStride = 1; break;
    case Layout::ColumnMajor: rowStride = 1, colStride = rows; break;
    case Layout::Strided: rowStride = 2 * cols + 1, colStride = 2; break;
    }
    int64_t matrixSpan = std::max<int64_t>(0, (rows - 1) * rowStride + (cols - 1) * colStride + 1);
    batchStride = matrixSpan + 5;
    offset = 7;
    buffer.resize(static_cast<size_t>(offset + batch * batchStride + 3));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float &v : buffer)
      v = dist(rng);
  }
  float &at(int64_t b, int64_t i, int64_t j) {
    return buffer[offset + b * batchStride + i * rowStride + j * colStride];
  }
  msdd_memref2d_f32 desc2d() {
    return {buffer.data(), buffer.data(), offset, {rows, cols}, {rowStride, colStride}};
  }
  msdd_memref3d_f32 desc3d() {
    return {buffer.data(), buffer.data(), offset, {batch, rows, cols},
            {batchStride, rowStride, colStride}};
  }

  int64_t batch, rows, cols, rowStride = 0, colStride = 0, batchStride = 0, offset = 0;
  std::vector<float> buffer;
};

/// The largest error of C against C0 + A op(B) (A op(B) without `accumulate`) over all
/// batches, computed in double, relative to |C0| + |A| |op(B)| elementwise: the scale of float
/// rounding, which stays meaningful when the result cancels to near zero. Also checks that
/// the kernel wrote nothing outside C's elements.
double relativeError(Matrix &a, Matrix &b, Matrix &c, const std::vector<float> &c0Buffer,
                     bool transposeB, bool accumulate = true) {
  std::vector<bool> isElement(c.buffer.size(), false);
  double worst = 0;
  Matrix c0 = c;
  c0.buffer = c0Buffer;
  for (int64_t batch = 0; batch < c.batch; ++batch)
    for (int64_t i = 0; i < c.rows; ++i)
      for (int64_t j = 0; j < c.cols; ++j) {
        double ref = accumulate ? c0.at(batch, i, j) : 0.0, scale = std::fabs(ref);
        for (int64_t k = 0; k < a.cols; ++k) {
          double product =
              double(a.at(batch, i, k)) * (transposeB ? b.at(batch, j, k) : b.at(batch, k, j));
          ref += product;
          scale += std::fabs(product);
        }
        worst = std::max(worst, std::fabs(c.at(batch, i, j) - ref) / scale);
        isElement[&c.at(batch, i, j) - c.buffer.data()] = true;
      }
  for (size_t i = 0; i < c.buffer.size(); ++i)
    if (!isElement[i])
      EXPECT_EQ(c.buffer[i], c0Buffer[i]) << "wrote outside C at " << i;
  return worst;
}

struct Dims {
  int64_t m, n, k;
};

/// Without accumulation C must not be read: its elements start as NaN, which any read would
/// carry into the result.
void poisonElements(Matrix &c) {
  for (int64_t batch = 0; batch < c.batch; ++batch)
    for (int64_t i = 0; i < c.rows; ++i)
      for (int64_t j = 0; j < c.cols; ++j)
        c.at(batch, i, j) = std::numeric_limits<float>::quiet_NaN();
}

} // namespace

TEST(RuntimeKernels, MatmulMatchesReferenceForAllLayouts) {
  std::mt19937 rng(42);
  const Dims dims[] = {{5, 7, 3}, {33, 17, 65}, {1, 9, 4}, {8, 1, 6}, {1, 1, 1}, {70, 80, 90}};
  for (const Dims &d : dims)
    for (bool transposeB : {false, true})
      for (bool accumulate : {true, false})
        for (Layout la : kLayouts)
          for (Layout lb : kLayouts)
            for (Layout lc : kLayouts) {
              Matrix a(1, d.m, d.k, la, rng);
              Matrix b(1, transposeB ? d.n : d.k, transposeB ? d.k : d.n, lb, rng);
              Matrix c(1, d.m, d.n, lc, rng);
              if (!accumulate)
                poisonElements(c);
              std::vector<float> c0 = c.buffer;
              msdd_memref2d_f32 da = a.desc2d(), db = b.desc2d(), dc = c.desc2d();
              _mlir_ciface_msdd_rt_matmul_f32(&da, &db, &dc, transposeB, accumulate);
              double error = relativeError(a, b, c, c0, transposeB, accumulate);
              ASSERT_LT(error, 1e-5) << d.m << "x" << d.n << "x" << d.k << " transposeB "
                                     << transposeB << " accumulate " << accumulate << " A "
                                     << layoutName(la) << " B " << layoutName(lb) << " C "
                                     << layoutName(lc);
            }
}

TEST(RuntimeKernels, MatmulWithEmptyReductionLeavesCUnchanged) {
  std::mt19937 rng(1);
  Matrix a(1, 4, 0, Layout::RowMajor, rng), b(1, 0, 5, Layout::RowMajor, rng),
      c(1, 4, 5, Layout::RowMajor, rng);
  std::vector<float> c0 = c.buffer;
  msdd_memref2d_f32 da = a.desc2d(), db = b.desc2d(), dc = c.desc2d();
  _mlir_ciface_msdd_rt_matmul_f32(&da, &db, &dc, 0, 1);
  EXPECT_EQ(c.buffer, c0);
}

TEST(RuntimeKernels, MatmulWithEmptyReductionOverwritesCWithZeros) {
  // Without accumulation C = A op(B) is an empty sum: zero, whatever C held.
  std::mt19937 rng(1);
  Matrix a(1, 4, 0, Layout::RowMajor, rng), b(1, 0, 5, Layout::RowMajor, rng),
      c(1, 4, 5, Layout::Strided, rng);
  poisonElements(c);
  std::vector<float> c0 = c.buffer;
  msdd_memref2d_f32 da = a.desc2d(), db = b.desc2d(), dc = c.desc2d();
  _mlir_ciface_msdd_rt_matmul_f32(&da, &db, &dc, 0, 0);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 5; ++j)
      EXPECT_EQ(c.at(0, i, j), 0.0f);
  EXPECT_LT(relativeError(a, b, c, c0, false, false), 1.0); // nothing outside C written
}

TEST(RuntimeKernels, BatchMatmulMatchesReference) {
  std::mt19937 rng(7);
  // Small products run batches on the thread pool; large ones use threaded BLAS per batch.
  const Dims dims[] = {{3, 4, 5}, {16, 16, 16}, {1, 8, 2}, {65, 66, 67}};
  for (const Dims &d : dims)
    for (int64_t batches : {1, 3, 10})
      for (bool transposeB : {false, true})
        for (bool accumulate : {true, false})
          for (Layout la : kLayouts)
            for (Layout lb : kLayouts)
              for (Layout lc : {Layout::RowMajor, Layout::ColumnMajor, Layout::Strided}) {
                if (d.m * d.n * d.k > 64 * 64 * 64 && batches == 10)
                  continue; // keeps the reference loop quick
                Matrix a(batches, d.m, d.k, la, rng);
                Matrix b(batches, transposeB ? d.n : d.k, transposeB ? d.k : d.n, lb, rng);
                Matrix c(batches, d.m, d.n, lc, rng);
                if (!accumulate)
                  poisonElements(c);
                std::vector<float> c0 = c.buffer;
                msdd_memref3d_f32 da = a.desc3d(), db = b.desc3d(), dc = c.desc3d();
                _mlir_ciface_msdd_rt_batch_matmul_f32(&da, &db, &dc, transposeB, accumulate);
                double error = relativeError(a, b, c, c0, transposeB, accumulate);
                ASSERT_LT(error, 1e-5)
                    << batches << " x " << d.m << "x" << d.n << "x" << d.k << " transposeB "
                    << transposeB << " accumulate " << accumulate << " A " << layoutName(la)
                    << " B " << layoutName(lb) << " C " << layoutName(lc);
              }
}

/// `m`'s buffer rounded to bf16 values (the low 16 bits cleared), and its words as bf16.
static std::vector<uint16_t> toBf16(Matrix &m) {
  std::vector<uint16_t> words(m.buffer.size());
  for (size_t i = 0; i < m.buffer.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &m.buffer[i], sizeof bits);
    words[i] = uint16_t(bits >> 16);
    bits &= 0xFFFF0000u;
    std::memcpy(&m.buffer[i], &bits, sizeof bits);
  }
  return words;
}

TEST(RuntimeKernels, Bf16MatmulMatchesReferenceForAllLayouts) {
  // bf16 factors (the CPU's --math-mode bf16) in every layout, against the double product
  // of the same bf16 values: widening is exact, so only f32 summation error remains.
  std::mt19937 rng(11);
  const Dims dims[] = {{5, 7, 3}, {33, 17, 65}, {1, 9, 4}, {70, 80, 90}};
  for (const Dims &d : dims)
    for (bool transposeB : {false, true})
      for (bool accumulate : {true, false})
        for (Layout la : kLayouts)
          for (Layout lb : kLayouts) {
            Matrix a(1, d.m, d.k, la, rng);
            Matrix b(1, transposeB ? d.n : d.k, transposeB ? d.k : d.n, lb, rng);
            Matrix c(1, d.m, d.n, Layout::PaddedRowMajor, rng);
            std::vector<uint16_t> a16 = toBf16(a), b16 = toBf16(b);
            if (!accumulate)
              poisonElements(c);
            std::vector<float> c0 = c.buffer;
            msdd_memref2d_bf16 da{a16.data(), a16.data(), a.offset, {a.rows, a.cols},
                                  {a.rowStride, a.colStride}};
            msdd_memref2d_bf16 db{b16.data(), b16.data(), b.offset, {b.rows, b.cols},
                                  {b.rowStride, b.colStride}};
            msdd_memref2d_f32 dc = c.desc2d();
            _mlir_ciface_msdd_rt_matmul_bf16(&da, &db, &dc, transposeB, accumulate);
            ASSERT_LT(relativeError(a, b, c, c0, transposeB, accumulate), 1e-5)
                << d.m << "x" << d.n << "x" << d.k << " transposeB " << transposeB << " A "
                << layoutName(la) << " B " << layoutName(lb);
          }
}

TEST(RuntimeKernels, Bf16BatchMatmulMatchesReference) {
  std::mt19937 rng(12);
  for (int64_t batches : {1, 3})
    for (bool transposeB : {false, true})
      for (Layout la : kLayouts)
        for (Layout lb : kLayouts) {
          const int64_t m = 9, n = 6, k = 13;
          Matrix a(batches, m, k, la, rng);
          Matrix b(batches, transposeB ? n : k, transposeB ? k : n, lb, rng);
          Matrix c(batches, m, n, Layout::ColumnMajor, rng);
          std::vector<uint16_t> a16 = toBf16(a), b16 = toBf16(b);
          std::vector<float> c0 = c.buffer;
          msdd_memref3d_bf16 da{a16.data(), a16.data(), a.offset, {batches, m, k},
                                {a.batchStride, a.rowStride, a.colStride}};
          msdd_memref3d_bf16 db{b16.data(), b16.data(), b.offset, {b.batch, b.rows, b.cols},
                                {b.batchStride, b.rowStride, b.colStride}};
          msdd_memref3d_f32 dc = c.desc3d();
          _mlir_ciface_msdd_rt_batch_matmul_bf16(&da, &db, &dc, transposeB, 1);
          ASSERT_LT(relativeError(a, b, c, c0, transposeB), 1e-5)
              << batches << " batches, transposeB " << transposeB << " A " << layoutName(la)
              << " B " << layoutName(lb);
        }
}

TEST(RuntimeKernels, Bf16MatmulToBf16RoundsTheF32Product) {
  // C = round_bf16(A op(B)) into a strided bf16 C: within half a bf16 ulp (2^-8 relative) of
  // the double product, plus f32 summation error; C's padding is left alone.
  std::mt19937 rng(13);
  for (bool transposeB : {false, true})
    for (Layout la : kLayouts) {
      const int64_t m = 17, n = 11, k = 40;
      Matrix a(1, m, k, la, rng);
      Matrix b(1, transposeB ? n : k, transposeB ? k : n, Layout::RowMajor, rng);
      std::vector<uint16_t> a16 = toBf16(a), b16 = toBf16(b);
      const int64_t ldc = n + 5;
      std::vector<uint16_t> c16(size_t(3 + m * ldc), 0xABCD);
      msdd_memref2d_bf16 da{a16.data(), a16.data(), a.offset, {m, k}, {a.rowStride, a.colStride}};
      msdd_memref2d_bf16 db{b16.data(), b16.data(), b.offset, {b.rows, b.cols},
                            {b.rowStride, b.colStride}};
      msdd_memref2d_bf16 dc{c16.data(), c16.data(), 3, {m, n}, {ldc, 1}};
      _mlir_ciface_msdd_rt_matmul_bf16_to_bf16(&da, &db, &dc, transposeB, 0);
      int64_t exact = 0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double ref = 0, scale = 0;
          for (int64_t kk = 0; kk < k; ++kk) {
            double p = double(a.at(0, i, kk)) * (transposeB ? b.at(0, j, kk) : b.at(0, kk, j));
            ref += p;
            scale += std::fabs(p);
          }
          uint32_t bits = uint32_t(c16[size_t(3 + i * ldc + j)]) << 16;
          float got;
          std::memcpy(&got, &bits, sizeof got);
          ASSERT_LE(std::fabs(got - ref), std::ldexp(std::fabs(ref), -8) + 1e-6 * scale)
              << i << "," << j << " A " << layoutName(la) << " transposeB " << transposeB;
          float nearest = float(ref);
          uint32_t nb;
          std::memcpy(&nb, &nearest, sizeof nb);
          exact += (nb + 0x7FFFu + ((nb >> 16) & 1u)) >> 16 == (bits >> 16);
        }
      EXPECT_GE(exact, m * n * 95 / 100) << "not rounded to nearest";
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = n; j < ldc && 3 + i * ldc + j < int64_t(c16.size()); ++j)
          EXPECT_EQ(c16[size_t(3 + i * ldc + j)], 0xABCD) << "wrote C's padding";
    }
}

TEST(RuntimeKernels, BatchMatmulWithInterleavedBatchDimension) {
  // A [B, M, K] view of a [M, B, K] buffer: the batch stride is smaller than the row stride,
  // as when a head dimension is sliced out of a larger tensor.
  std::mt19937 rng(3);
  const int64_t batches = 4, m = 6, k = 5, n = 3;
  Matrix a(1, m, batches * k, Layout::RowMajor, rng);
  Matrix b(batches, k, n, Layout::RowMajor, rng);
  Matrix c(batches, m, n, Layout::RowMajor, rng);
  std::vector<float> c0 = c.buffer;
  msdd_memref3d_f32 da{a.buffer.data(), a.buffer.data(), a.offset, {batches, m, k},
                       {k, batches * k, 1}};
  msdd_memref3d_f32 db = b.desc3d(), dc = c.desc3d();
  _mlir_ciface_msdd_rt_batch_matmul_f32(&da, &db, &dc, 0, 1);
  for (int64_t batch = 0; batch < batches; ++batch)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = c0[c.offset + batch * c.batchStride + i * c.rowStride + j];
        for (int64_t kk = 0; kk < k; ++kk)
          ref += double(a.at(0, i, batch * k + kk)) * b.at(batch, kk, j);
        EXPECT_NEAR(c.at(batch, i, j), ref, 1e-5 * (1 + std::fabs(ref)));
      }
}

namespace {

/// A strided view for memrefCopy: its sizes, strides (in elements) and offset.
struct CopyView {
  std::vector<int64_t> sizes, strides;
  int64_t offset;

  /// MLIR's ranked descriptor {allocated, aligned, offset, sizes, strides} over `base`.
  std::vector<int64_t> descriptor(void *base) const {
    std::vector<int64_t> d{reinterpret_cast<int64_t>(base), reinterpret_cast<int64_t>(base),
                           offset};
    d.insert(d.end(), sizes.begin(), sizes.end());
    d.insert(d.end(), strides.begin(), strides.end());
    return d;
  }
  /// One past the largest element offset the view touches.
  int64_t extent() const {
    int64_t last = offset;
    for (size_t d = 0; d < sizes.size(); ++d)
      last += (sizes[d] - 1) * strides[d];
    return last + 1;
  }
};

/// memrefCopy from `from` to `to` (same sizes) against an element-by-element copy, for
/// elements of `elementSize` bytes: the whole destination buffer must match, so nothing
/// outside the destination view may change.
void checkCopy(const CopyView &from, const CopyView &to, int64_t elementSize) {
  std::mt19937 rng(11);
  std::vector<uint8_t> source(size_t(from.extent() * elementSize)),
      destination(size_t(to.extent() * elementSize + 3 * elementSize));
  for (uint8_t &byte : source)
    byte = uint8_t(rng());
  for (uint8_t &byte : destination)
    byte = uint8_t(rng());
  std::vector<uint8_t> expected = destination;
  int64_t rank = int64_t(from.sizes.size()), total = 1;
  for (int64_t size : from.sizes)
    total *= size;
  std::vector<int64_t> index(size_t(rank), 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t s = from.offset, t = to.offset;
    for (int64_t d = 0; d < rank; ++d) {
      s += index[size_t(d)] * from.strides[size_t(d)];
      t += index[size_t(d)] * to.strides[size_t(d)];
    }
    std::memcpy(&expected[size_t(t * elementSize)], &source[size_t(s * elementSize)],
                size_t(elementSize));
    for (int64_t d = rank - 1; d >= 0 && ++index[size_t(d)] == from.sizes[size_t(d)]; --d)
      index[size_t(d)] = 0;
  }
  std::vector<int64_t> s = from.descriptor(source.data()), t = to.descriptor(destination.data());
  msdd_unranked_memref us{rank, s.data()}, ut{rank, t.data()};
  memrefCopy(elementSize, &us, &ut);
  EXPECT_EQ(destination, expected);
}

} // namespace

TEST(RuntimeKernels, MemrefCopyMatchesElementwiseCopy) {
  for (int64_t elementSize : {1, 4, 8}) {
    SCOPED_TRACE(elementSize);
    // Heads [2, 4, 32, 8] written into a joint sequence [2, 4, 40, 8] after 8 latent rows:
    // contiguous runs of 32 x 8 elements.
    checkCopy({{2, 4, 32, 8}, {1024, 256, 8, 1}, 0}, {{2, 4, 32, 8}, {1280, 320, 8, 1}, 64},
              elementSize);
    // A transposed source, then a transposed destination: no unit stride on one side.
    checkCopy({{6, 5}, {1, 6}, 3}, {{6, 5}, {5, 1}, 0}, elementSize);
    checkCopy({{6, 5}, {5, 1}, 0}, {{6, 5}, {1, 6}, 3}, elementSize);
    // Dimensions of size 1 between contiguous ones, and a broadcast (stride 0) source.
    checkCopy({{3, 1, 4, 7}, {28, 5, 7, 1}, 2}, {{3, 1, 4, 7}, {28, 28, 7, 1}, 1}, elementSize);
    checkCopy({{4, 9}, {0, 1}, 0}, {{4, 9}, {10, 1}, 0}, elementSize);
    // Rank 0, an empty view, and a fully contiguous copy.
    checkCopy({{}, {}, 5}, {{}, {}, 2}, elementSize);
    checkCopy({{3, 0, 2}, {0, 2, 1}, 0}, {{3, 0, 2}, {0, 2, 1}, 0}, elementSize);
    checkCopy({{2, 3, 4}, {12, 4, 1}, 0}, {{2, 3, 4}, {12, 4, 1}, 0}, elementSize);
  }
}
