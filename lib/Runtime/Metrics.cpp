//===- Metrics.cpp - Reconstruction quality measures -----------------------===//
#include "msdd/Runtime/Metrics.h"

#include "msdd/Runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace msdd::rt {

namespace {

double clamp01(float v) { return std::min(1.0, std::max(0.0, static_cast<double>(v))); }

constexpr int kTaps = 11;

/// The normalized Gaussian window of skimage (sigma 1.5, truncated at 3.5 sigma: 11 taps).
std::vector<double> gaussianTaps() {
  std::vector<double> taps(kTaps);
  double sum = 0;
  for (int i = 0; i < kTaps; ++i)
    sum += taps[i] = std::exp(-0.5 * (i - kTaps / 2) * (i - kTaps / 2) / (1.5 * 1.5));
  for (double &t : taps)
    t /= sum;
  return taps;
}

/// Separable "valid" filtering of an h x w plane: (h - 10) x (w - 10) outputs.
std::vector<double> blurValid(const std::vector<double> &plane, int64_t h, int64_t w,
                              const std::vector<double> &taps) {
  int64_t oh = h - kTaps + 1, ow = w - kTaps + 1;
  std::vector<double> rows(h * ow), out(oh * ow);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < ow; ++x) {
      double s = 0;
      for (int k = 0; k < kTaps; ++k)
        s += taps[k] * plane[y * w + x + k];
      rows[y * ow + x] = s;
    }
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x) {
      double s = 0;
      for (int k = 0; k < kTaps; ++k)
        s += taps[k] * rows[(y + k) * ow + x];
      out[y * ow + x] = s;
    }
  return out;
}

} // namespace

double psnr(const float *reference, const float *test, int64_t count) {
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    double d = clamp01(reference[i]) - clamp01(test[i]);
    sum += d * d;
  }
  double mse = sum / static_cast<double>(count);
  return mse == 0 ? std::numeric_limits<double>::infinity() : -10.0 * std::log10(mse);
}

double ssim(const float *reference, const float *test, int64_t channels, int64_t height,
            int64_t width) {
  if (height < kTaps || width < kTaps)
    throw Error("ssim", "images of " + std::to_string(height) + "x" + std::to_string(width) +
                            " are smaller than the 11x11 window");
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  std::vector<double> taps = gaussianTaps();
  int64_t plane = height * width;
  double total = 0;
  for (int64_t c = 0; c < channels; ++c) {
    std::vector<double> a(plane), b(plane), aa(plane), bb(plane), ab(plane);
    for (int64_t i = 0; i < plane; ++i) {
      a[i] = clamp01(reference[c * plane + i]);
      b[i] = clamp01(test[c * plane + i]);
      aa[i] = a[i] * a[i];
      bb[i] = b[i] * b[i];
      ab[i] = a[i] * b[i];
    }
    std::vector<double> ma = blurValid(a, height, width, taps), mb = blurValid(b, height, width, taps),
                        maa = blurValid(aa, height, width, taps),
                        mbb = blurValid(bb, height, width, taps),
                        mab = blurValid(ab, height, width, taps);
    double sum = 0;
    for (size_t i = 0; i < ma.size(); ++i) {
      double va = maa[i] - ma[i] * ma[i], vb = mbb[i] - mb[i] * mb[i],
             cov = mab[i] - ma[i] * mb[i];
      sum += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) /
             ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
    }
    total += sum / static_cast<double>(ma.size());
  }
  return total / static_cast<double>(channels);
}

} // namespace msdd::rt
