//===- Metrics.h - Image reconstruction metrics and the Frechet distance -*- C++ -*-===//
//
// What `msdd-run eval` reports (docs/runtime.md#metrics). Everything is computed in double
// precision; images are f32 [C, H, W] planes (or batches [N, C, H, W]) with values meant to
// lie in [0, 1], and are clamped to [0, 1] before any metric sees them.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_METRICS_H
#define MSDD_RUNTIME_METRICS_H

#include "msdd/Runtime/Tensor.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace msdd::rt {

/// PSNR in dB of one image against another of `count` values: both clamped to [0, 1], then
/// 10 log10(1 / MSE) (data range 1). +infinity when they are equal after clamping.
double psnr(const float *reference, const float *image, size_t count);

/// SSIM of one [channels, height, width] image against another, as
/// skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=1, channel_axis=0) computes it: both clamped to
/// [0, 1]; local means, variances and covariance from an 11-tap Gaussian window
/// (sigma 1.5, truncated at 3.5 sigma); K1 = 0.01, K2 = 0.03; the SSIM map averaged over the
/// pixels at least 5 from every border (skimage's crop, which also makes the filter's border
/// mode irrelevant: only those pixels are computed), then over channels. Throws Error if a
/// side is under 11 pixels (skimage refuses those too).
double ssim(const float *reference, const float *image, int64_t channels, int64_t height,
            int64_t width);

/// Per image of two f32 [N, C, H, W] batches of the same shape (Error otherwise); for SSIM
/// H and W must be at least 11.
std::vector<double> psnrPerImage(const Tensor &reference, const Tensor &images);
std::vector<double> ssimPerImage(const Tensor &reference, const Tensor &images);

/// The arithmetic mean (NaN for an empty list; +infinity if any value is).
double mean(const std::vector<double> &values);

/// Mean and sample covariance (divided by count - 1, as numpy.cov) of `count` feature
/// vectors of `dim` values each (row-major [count, dim]). Throws Error if count < 2.
struct FeatureStatistics {
  int64_t count = 0, dim = 0;
  std::vector<double> mean;       // [dim]
  std::vector<double> covariance; // [dim, dim], row-major, symmetric
};
FeatureStatistics featureStatistics(const double *features, int64_t count, int64_t dim);

/// The Frechet distance between the Gaussians N(mu1, S1) and N(mu2, S2):
/// |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2), where tr sqrtm(S1 S2) is the sum of the
/// square roots of the eigenvalues of the symmetric sqrt(S1) S2 sqrt(S1) (LAPACK dsyevd;
/// eigenvalues below 0 from rounding or singular covariances count as 0). Rounding can make
/// the exact value 0 come out slightly negative: the result is max(0, value). Throws Error if
/// the dimensions differ or LAPACK fails.
double frechetDistance(const FeatureStatistics &a, const FeatureStatistics &b);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_METRICS_H
