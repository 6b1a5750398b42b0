//===- runtime_metrics_test.cpp - PSNR, SSIM and the Frechet distance -----===//
//
// Against golden values from an independent float64 numpy implementation
// (data/make_metrics_golden.py writes data/metrics_golden.npz), and properties with known
// answers.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Metrics.h"
#include "msdd/Runtime/Npz.h"

#include "runtime_test_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace msdd::rt;
using msdd::rt::test::errorOf;

namespace {

const std::string kGolden = std::string(MSDD_UNIT_TEST_DATA_DIR) + "/metrics_golden.npz";

/// A batch [n, 3, h, w] of smooth random images in [0, 1].
Tensor randomImages(int64_t n, int64_t h, int64_t w, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> phase(0.0f, 6.0f);
  Tensor images(DType::F32, {n, 3, h, w});
  float *p = images.data<float>();
  for (int64_t plane = 0; plane < n * 3; ++plane) {
    float a = phase(rng), b = phase(rng);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        *p++ = 0.5f + 0.4f * std::sin(a + 0.3f * float(y)) * std::cos(b + 0.2f * float(x));
  }
  return images;
}

Tensor plusNoise(const Tensor &images, float level, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, level);
  Tensor out = images.clone();
  for (int64_t i = 0; i < out.numel(); ++i)
    out.data<float>()[i] += noise(rng);
  return out;
}

std::vector<double> goldenVector(const NamedTensors &golden, const std::string &name) {
  const Tensor *t = golden.find(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? std::vector<double>(t->data<double>(), t->data<double>() + t->numel())
           : std::vector<double>();
}

FeatureStatistics statsOf(const Tensor &features) {
  return featureStatistics(features.data<double>(), features.shape()[0], features.shape()[1]);
}

} // namespace

TEST(Metrics, SsimAndPsnrMatchNumpyReference) {
  NamedTensors golden = readNpz(kGolden);
  int cases = 0;
  for (int k = 0; golden.contains("ssim_case" + std::to_string(k) + "_a"); ++k, ++cases) {
    std::string prefix = "ssim_case" + std::to_string(k);
    const Tensor &a = *golden.find(prefix + "_a");
    const Tensor &b = *golden.find(prefix + "_b");
    std::vector<double> ssimWanted = goldenVector(golden, prefix + "_ssim");
    std::vector<double> psnrWanted = goldenVector(golden, prefix + "_psnr");
    std::vector<double> ssimGot = ssimPerImage(a, b), psnrGot = psnrPerImage(a, b);
    ASSERT_EQ(ssimGot.size(), ssimWanted.size()) << prefix;
    ASSERT_EQ(psnrGot.size(), psnrWanted.size()) << prefix;
    for (size_t i = 0; i < ssimGot.size(); ++i) {
      EXPECT_NEAR(ssimGot[i], ssimWanted[i], 1e-12) << prefix << " image " << i;
      EXPECT_NEAR(psnrGot[i], psnrWanted[i], 1e-9) << prefix << " image " << i;
    }
  }
  EXPECT_EQ(cases, 4);
}

TEST(Metrics, FrechetDistanceMatchesNumpyReference) {
  NamedTensors golden = readNpz(kGolden);
  int cases = 0;
  for (int k = 0; golden.contains("fd_case" + std::to_string(k) + "_x"); ++k, ++cases) {
    std::string prefix = "fd_case" + std::to_string(k);
    double wanted = goldenVector(golden, prefix + "_fd").at(0);
    const Tensor &x = *golden.find(prefix + "_x"), &y = *golden.find(prefix + "_y");
    double got = frechetDistance(statsOf(x), statsOf(y));
    // Fewer samples than features: singular covariances, whose zero eigenvalues come out as
    // rounding noise of either sign (about 1e-15 relative); their square roots (about 3e-8)
    // differ between LAPACK builds, so only sqrt(eps)-level agreement is meaningful there.
    bool singular = x.shape()[0] <= x.shape()[1] || y.shape()[0] <= y.shape()[1];
    EXPECT_NEAR(got, wanted, (singular ? 1e-7 : 1e-10) * wanted) << prefix;
  }
  EXPECT_EQ(cases, 3);
}

TEST(Metrics, SsimOfAnImageWithItselfIsOne) {
  Tensor images = randomImages(3, 17, 23, 1);
  for (double value : ssimPerImage(images, images))
    EXPECT_NEAR(value, 1.0, 1e-12);
}

TEST(Metrics, SsimIsSymmetricAndFallsWithNoise) {
  Tensor images = randomImages(2, 32, 24, 2);
  double previous = 1.0;
  for (float level : {0.01f, 0.05f, 0.2f}) {
    Tensor noisy = plusNoise(images, level, 3);
    std::vector<double> forward = ssimPerImage(images, noisy), backward = ssimPerImage(noisy, images);
    for (size_t i = 0; i < forward.size(); ++i) {
      EXPECT_NEAR(forward[i], backward[i], 1e-12);
      EXPECT_LT(forward[i], previous) << "noise " << level;
    }
    previous = *std::max_element(forward.begin(), forward.end());
  }
}

TEST(Metrics, PsnrOfKnownNoise) {
  // 0.5 +- d alternating: MSE = d^2 exactly, so PSNR = -20 log10(d).
  for (double d : {0.1, 0.01, 0.25}) {
    Tensor a(DType::F32, {2, 3, 8, 8}), b(DType::F32, {2, 3, 8, 8});
    for (int64_t i = 0; i < a.numel(); ++i) {
      a.data<float>()[i] = 0.5f;
      b.data<float>()[i] = static_cast<float>(0.5 + (i % 2 ? d : -d));
    }
    double wanted = -20.0 * std::log10(static_cast<double>(static_cast<float>(0.5 + d)) - 0.5);
    for (double value : psnrPerImage(a, b))
      EXPECT_NEAR(value, wanted, 1e-4) << d;
  }
}

TEST(Metrics, PsnrClampsToTheUnitRange) {
  Tensor a(DType::F32, {1, 3, 4, 4}), b(DType::F32, {1, 3, 4, 4});
  for (int64_t i = 0; i < a.numel(); ++i) {
    a.data<float>()[i] = i % 2 ? 1.0f : 0.0f;
    b.data<float>()[i] = i % 2 ? 1.7f : -0.3f; // the same image once clamped
  }
  EXPECT_EQ(psnrPerImage(a, b)[0], std::numeric_limits<double>::infinity());
  EXPECT_NEAR(ssimPerImage(Tensor(DType::F32, {1, 3, 11, 11}), Tensor(DType::F32, {1, 3, 11, 11}))[0],
              1.0, 1e-12);
  b.data<float>()[0] = 0.5f; // one value off by 0.5 among 48: MSE = 0.25 / 48
  EXPECT_NEAR(psnrPerImage(a, b)[0], 10 * std::log10(48 / 0.25), 1e-9);
}

TEST(Metrics, MeanOfValues) {
  EXPECT_EQ(mean({1.0, 2.0, 6.0}), 3.0);
  EXPECT_TRUE(std::isnan(mean({})));
  EXPECT_EQ(mean({1.0, std::numeric_limits<double>::infinity()}),
            std::numeric_limits<double>::infinity());
}

TEST(Metrics, FrechetDistanceOfASetWithItselfIsZero) {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal;
  const int64_t n = 300, d = 24;
  std::vector<double> x(n * d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) // correlated features
      x[i * d + j] = normal(rng) + (j ? 0.7 * x[i * d + j - 1] : 0.0);
  FeatureStatistics stats = featureStatistics(x.data(), n, d);
  EXPECT_NEAR(frechetDistance(stats, stats), 0.0, 1e-9);
}

TEST(Metrics, FrechetDistanceOfShiftedSetsIsTheSquaredShift) {
  std::mt19937 rng(6);
  std::normal_distribution<double> normal;
  const int64_t n = 100, d = 8;
  std::vector<double> x(n * d), y(n * d), shift(d);
  double squared = 0;
  for (int64_t j = 0; j < d; ++j) {
    shift[j] = normal(rng);
    squared += shift[j] * shift[j];
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      x[i * d + j] = normal(rng) * (1 + j);
      y[i * d + j] = x[i * d + j] + shift[j];
    }
  double fd = frechetDistance(featureStatistics(x.data(), n, d), featureStatistics(y.data(), n, d));
  EXPECT_NEAR(fd, squared, 1e-9 * (1 + squared));
}

TEST(Metrics, FrechetDistanceOfDiagonalGaussians) {
  // With diagonal covariances sqrtm(S1 S2) is diagonal too: FD = |dmu|^2 + sum (s1 - s2)^2.
  const int64_t d = 5;
  FeatureStatistics a, b;
  a.dim = b.dim = d;
  a.count = b.count = 10;
  a.mean = {0, 1, 2, 3, 4};
  b.mean = {1, 1, 2, 3, 2};
  a.covariance.assign(d * d, 0.0);
  b.covariance.assign(d * d, 0.0);
  double wanted = 1 + 4;
  for (int64_t i = 0; i < d; ++i) {
    double s1 = 0.5 + i, s2 = 2.0 / (1 + i);
    a.covariance[i * d + i] = s1 * s1;
    b.covariance[i * d + i] = s2 * s2;
    wanted += (s1 - s2) * (s1 - s2);
  }
  EXPECT_NEAR(frechetDistance(a, b), wanted, 1e-12 * wanted);
}

TEST(Metrics, Errors) {
  Tensor small(DType::F32, {1, 3, 10, 12});
  EXPECT_EQ(errorOf([&] { ssimPerImage(small, small); }),
            "SSIM: images of 12x10 pixels are smaller than the 11x11 Gaussian window");
  Tensor other(DType::F32, {1, 3, 10, 13});
  EXPECT_EQ(errorOf([&] { psnrPerImage(small, other); }),
            "PSNR: expected two f32 [N, C, H, W] batches of one shape, got f32[1, 3, 10, 12] "
            "and f32[1, 3, 10, 13]");
  std::vector<double> one(4, 1.0);
  EXPECT_EQ(errorOf([&] { featureStatistics(one.data(), 1, 4); }),
            "Frechet distance: needs at least 2 feature vectors per set, got 1");
  FeatureStatistics a = featureStatistics(one.data(), 2, 2), b = featureStatistics(one.data(), 4, 1);
  EXPECT_EQ(errorOf([&] { frechetDistance(a, b); }),
            "Frechet distance: feature statistics of dimensions 2 and 1 do not match");
}
