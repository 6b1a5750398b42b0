//===- Metrics.h - Reconstruction quality measures --------------*- C++ -*-===//
//
// What msdd-run eval reports, on f32 images [C, H, W] with values in [0, 1] (data range 1).
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_METRICS_H
#define MSDD_RUNTIME_METRICS_H

#include <cstdint>

namespace msdd::rt {

/// Peak signal-to-noise ratio in dB, 10 log10(1 / MSE), of two images of `count` values,
/// both clamped to [0, 1] first. Infinite for identical images.
double psnr(const float *reference, const float *test, int64_t count);

/// Structural similarity of two [channels, height, width] images, clamped to [0, 1], as
/// skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=1, channel_axis=0): local statistics under an
/// 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, averaged over the positions
/// where the window lies inside the image, then over channels. Needs height, width >= 11.
double ssim(const float *reference, const float *test, int64_t channels, int64_t height,
            int64_t width);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_METRICS_H
