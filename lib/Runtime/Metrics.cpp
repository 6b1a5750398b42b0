//===- Metrics.cpp - PSNR, SSIM and the Frechet distance ------------------===//
#include "msdd/Runtime/Metrics.h"

#include "msdd/Runtime/Error.h"

#include <algorithm>
#include <cblas.h>
#include <climits>
#include <cmath>
#include <limits>

// LAPACK from OpenBLAS (no LAPACKE header on Debian); the trailing lengths are the Fortran
// hidden string-length arguments of jobz and uplo.
extern "C" void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
                        const int *lda, double *w, double *work, const int *lwork, int *iwork,
                        const int *liwork, int *info, size_t jobzLength, size_t uploLength);

namespace msdd::rt {

namespace {

constexpr double kSsimSigma = 1.5;
constexpr double kSsimTruncate = 3.5;
constexpr double kSsimK1 = 0.01, kSsimK2 = 0.03;
/// int(truncate * sigma + 0.5), as scipy.ndimage and skimage compute the radius.
constexpr int64_t kSsimRadius = static_cast<int64_t>(kSsimTruncate * kSsimSigma + 0.5);
constexpr int64_t kSsimWindow = 2 * kSsimRadius + 1;

double clamp01(float v) { return std::min(1.0, std::max(0.0, static_cast<double>(v))); }

/// The normalised Gaussian window of scipy.ndimage.gaussian_filter1d.
std::vector<double> gaussianTaps() {
  std::vector<double> taps(kSsimWindow);
  double total = 0;
  for (int64_t k = 0; k < kSsimWindow; ++k) {
    double x = static_cast<double>(k - kSsimRadius);
    taps[k] = std::exp(-0.5 * x * x / (kSsimSigma * kSsimSigma));
    total += taps[k];
  }
  for (double &tap : taps)
    tap /= total;
  return taps;
}

/// SSIM of one channel plane (values already clamped), averaged over the valid interior.
double ssimPlane(const double *x, const double *y, int64_t height, int64_t width,
                 const std::vector<double> &taps) {
  const int64_t rows = height - 2 * kSsimRadius, cols = width - 2 * kSsimRadius;
  // Vertical pass (scipy filters axis 0 first) over the rows whose window fits, all columns:
  // the filtered x, y, x^2, y^2, xy.
  std::vector<double> vertical(5 * static_cast<size_t>(rows * width), 0.0);
  double *vx = vertical.data(), *vy = vx + rows * width, *vxx = vy + rows * width,
         *vyy = vxx + rows * width, *vxy = vyy + rows * width;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < kSsimWindow; ++k) {
      const double w = taps[k];
      const double *xr = x + (r + k) * width, *yr = y + (r + k) * width;
      double *o = vx + r * width;
      for (int64_t j = 0; j < width; ++j) {
        o[j] += w * xr[j];
        o[j + rows * width] += w * yr[j];
        o[j + 2 * rows * width] += w * xr[j] * xr[j];
        o[j + 3 * rows * width] += w * yr[j] * yr[j];
        o[j + 4 * rows * width] += w * xr[j] * yr[j];
      }
    }
  const double c1 = kSsimK1 * kSsimK1, c2 = kSsimK2 * kSsimK2; // data range 1
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
      const int64_t at = r * width + j;
      for (int64_t k = 0; k < kSsimWindow; ++k) {
        const double w = taps[k];
        ux += w * vx[at + k];
        uy += w * vy[at + k];
        uxx += w * vxx[at + k];
        uyy += w * vyy[at + k];
        uxy += w * vxy[at + k];
      }
      const double varX = uxx - ux * ux, varY = uyy - uy * uy, cov = uxy - ux * uy;
      total += ((2 * ux * uy + c1) * (2 * cov + c2)) /
               ((ux * ux + uy * uy + c1) * (varX + varY + c2));
    }
  return total / static_cast<double>(rows * cols);
}

void checkBatches(const Tensor &reference, const Tensor &images, const char *metric) {
  if (reference.dtype() != DType::F32 || images.dtype() != DType::F32 || reference.rank() != 4 ||
      reference.shape() != images.shape())
    throw Error(metric, "expected two f32 [N, C, H, W] batches of one shape, got " +
                            typeToString(reference.dtype(), reference.shape()) + " and " +
                            typeToString(images.dtype(), images.shape()));
}

/// Eigenvalues (ascending) of the symmetric n x n `matrix`; with `vectors`, `matrix` is
/// overwritten by the eigenvectors, eigenvector k in row k (LAPACK's columns, row-major).
std::vector<double> symmetricEigen(std::vector<double> &matrix, int64_t n, bool vectors) {
  if (n > INT_MAX / 2)
    throw Error("Frechet distance", "feature dimension " + std::to_string(n) + " is too large");
  const int size = static_cast<int>(n);
  const char jobz = vectors ? 'V' : 'N', uplo = 'L';
  std::vector<double> eigenvalues(static_cast<size_t>(n));
  int info = 0, lwork = -1, liwork = -1, iworkQuery = 0;
  double workQuery = 0;
  dsyevd_(&jobz, &uplo, &size, matrix.data(), &size, eigenvalues.data(), &workQuery, &lwork,
          &iworkQuery, &liwork, &info, 1, 1);
  if (info != 0)
    throw Error("Frechet distance", "LAPACK dsyevd workspace query failed (info " +
                                        std::to_string(info) + ")");
  lwork = static_cast<int>(workQuery);
  liwork = iworkQuery;
  std::vector<double> work(static_cast<size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<size_t>(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &size, matrix.data(), &size, eigenvalues.data(), work.data(), &lwork,
          iwork.data(), &liwork, &info, 1, 1);
  if (info != 0)
    throw Error("Frechet distance", "LAPACK dsyevd failed (info " + std::to_string(info) +
                                        "; are there NaN or infinite features?)");
  return eigenvalues;
}

} // namespace

double psnr(const float *reference, const float *image, size_t count) {
  double squared = 0;
  for (size_t i = 0; i < count; ++i) {
    double d = clamp01(reference[i]) - clamp01(image[i]);
    squared += d * d;
  }
  double mse = squared / static_cast<double>(count);
  return mse == 0 ? std::numeric_limits<double>::infinity() : -10.0 * std::log10(mse);
}

double ssim(const float *reference, const float *image, int64_t channels, int64_t height,
            int64_t width) {
  if (height < kSsimWindow || width < kSsimWindow)
    throw Error("SSIM", "images of " + std::to_string(width) + "x" + std::to_string(height) +
                            " pixels are smaller than the 11x11 Gaussian window");
  const std::vector<double> taps = gaussianTaps();
  const size_t plane = static_cast<size_t>(height * width);
  std::vector<double> x(plane), y(plane);
  double total = 0;
  for (int64_t c = 0; c < channels; ++c) {
    for (size_t i = 0; i < plane; ++i) {
      x[i] = clamp01(reference[c * plane + i]);
      y[i] = clamp01(image[c * plane + i]);
    }
    total += ssimPlane(x.data(), y.data(), height, width, taps);
  }
  return total / static_cast<double>(channels);
}

std::vector<double> psnrPerImage(const Tensor &reference, const Tensor &images) {
  checkBatches(reference, images, "PSNR");
  const std::vector<int64_t> &shape = reference.shape();
  const size_t count = static_cast<size_t>(shape[1] * shape[2] * shape[3]);
  std::vector<double> values;
  for (int64_t n = 0; n < shape[0]; ++n)
    values.push_back(psnr(reference.data<float>() + n * count, images.data<float>() + n * count,
                          count));
  return values;
}

std::vector<double> ssimPerImage(const Tensor &reference, const Tensor &images) {
  checkBatches(reference, images, "SSIM");
  const std::vector<int64_t> &shape = reference.shape();
  const int64_t count = shape[1] * shape[2] * shape[3];
  std::vector<double> values;
  for (int64_t n = 0; n < shape[0]; ++n)
    values.push_back(ssim(reference.data<float>() + n * count, images.data<float>() + n * count,
                          shape[1], shape[2], shape[3]));
  return values;
}

double mean(const std::vector<double> &values) {
  if (values.empty())
    return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (double v : values)
    total += v;
  return total / static_cast<double>(values.size());
}

FeatureStatistics featureStatistics(const double *features, int64_t count, int64_t dim) {
  if (count < 2)
    throw Error("Frechet distance", "needs at least 2 feature vectors per set, got " +
                                        std::to_string(count));
  if (dim < 1 || dim > INT_MAX / 2)
    throw Error("Frechet distance", "bad feature dimension " + std::to_string(dim));
  FeatureStatistics stats;
  stats.count = count;
  stats.dim = dim;
  stats.mean.assign(static_cast<size_t>(dim), 0.0);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < dim; ++j)
      stats.mean[j] += features[i * dim + j];
  for (double &m : stats.mean)
    m /= static_cast<double>(count);
  std::vector<double> centered(static_cast<size_t>(count * dim));
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < dim; ++j)
      centered[i * dim + j] = features[i * dim + j] - stats.mean[j];
  stats.covariance.assign(static_cast<size_t>(dim * dim), 0.0);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(dim),
              static_cast<int>(dim), static_cast<int>(count), 1.0 / static_cast<double>(count - 1),
              centered.data(), static_cast<int>(dim), centered.data(), static_cast<int>(dim), 0.0,
              stats.covariance.data(), static_cast<int>(dim));
  return stats;
}

double frechetDistance(const FeatureStatistics &a, const FeatureStatistics &b) {
  if (a.dim != b.dim || a.mean.size() != static_cast<size_t>(a.dim) ||
      b.mean.size() != static_cast<size_t>(b.dim) ||
      a.covariance.size() != static_cast<size_t>(a.dim * a.dim) ||
      b.covariance.size() != static_cast<size_t>(b.dim * b.dim))
    throw Error("Frechet distance", "feature statistics of dimensions " + std::to_string(a.dim) +
                                        " and " + std::to_string(b.dim) + " do not match");
  const int64_t n = a.dim;
  const int size = static_cast<int>(n);
  double meanTerm = 0, traceA = 0, traceB = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = a.mean[i] - b.mean[i];
    meanTerm += d * d;
    traceA += a.covariance[i * n + i];
    traceB += b.covariance[i * n + i];
  }
  // sqrt(S1) = V diag(sqrt(l)) V^T = F^T F with F = diag(l^(1/4)) V^T (rows: eigenvectors).
  std::vector<double> f = a.covariance;
  std::vector<double> eigenvalues = symmetricEigen(f, n, /*vectors=*/true);
  for (int64_t k = 0; k < n; ++k) {
    double scale = std::sqrt(std::sqrt(std::max(0.0, eigenvalues[k])));
    for (int64_t i = 0; i < n; ++i)
      f[k * n + i] *= scale;
  }
  std::vector<double> root(static_cast<size_t>(n * n)), product(static_cast<size_t>(n * n)),
      m(static_cast<size_t>(n * n));
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, size, size, size, 1.0, f.data(), size,
              f.data(), size, 0.0, root.data(), size);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0, root.data(), size,
              b.covariance.data(), size, 0.0, product.data(), size);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0, product.data(),
              size, root.data(), size, 0.0, m.data(), size);
  for (int64_t i = 0; i < n; ++i) // symmetric up to rounding: use (M + M^T) / 2
    for (int64_t j = 0; j < i; ++j)
      m[i * n + j] = m[j * n + i] = 0.5 * (m[i * n + j] + m[j * n + i]);
  double traceRoot = 0;
  for (double l : symmetricEigen(m, n, /*vectors=*/false))
    traceRoot += std::sqrt(std::max(0.0, l));
  return std::max(0.0, meanTerm + traceA + traceB - 2 * traceRoot);
}

} // namespace msdd::rt
