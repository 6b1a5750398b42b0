//===- runtime_metrics_test.cpp - PSNR and SSIM against numpy --------------===//
#include "msdd/Runtime/Metrics.h"

#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Npz.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace msdd::rt;

namespace {

TEST(Metrics, MatchNumpyReference) {
  // test/unit/data/make_metrics_golden.py: an independent float64 numpy implementation
  // (reflect-padded 2-D Gaussian filtering, cropped, as skimage does).
  NamedTensors golden = readNpz(MSDD_UNIT_TEST_DATA_DIR "/metrics_golden.npz");
  int cases = 0;
  for (int i = 0;; ++i) {
    std::string key = std::to_string(i);
    const Tensor *ref = golden.find(key + "_reference");
    if (!ref)
      break;
    const Tensor &test = *golden.find(key + "_test");
    const std::vector<int64_t> &s = ref->shape();
    double expectPsnr = *golden.find(key + "_psnr")->data<double>();
    double expectSsim = *golden.find(key + "_ssim")->data<double>();
    EXPECT_NEAR(psnr(ref->data<float>(), test.data<float>(), ref->numel()), expectPsnr, 1e-9) << key;
    EXPECT_NEAR(ssim(ref->data<float>(), test.data<float>(), s[0], s[1], s[2]), expectSsim, 1e-9) << key;
    ++cases;
  }
  EXPECT_EQ(cases, 5);
}

TEST(Metrics, Properties) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> a(3 * 16 * 16), b(a.size());
  for (float &v : a)
    v = uniform(gen);
  EXPECT_TRUE(std::isinf(psnr(a.data(), a.data(), a.size())));
  EXPECT_NEAR(ssim(a.data(), a.data(), 3, 16, 16), 1.0, 1e-12);
  // A constant offset of 0.1 (inside [0, 1]): MSE 0.01, PSNR exactly 20 dB.
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = 0.8f * a[i];
    b[i] = a[i] + 0.1f;
  }
  EXPECT_NEAR(psnr(a.data(), b.data(), a.size()), 20.0, 1e-5);
  // SSIM is symmetric and below 1 for different images.
  double ab = ssim(a.data(), b.data(), 3, 16, 16), ba = ssim(b.data(), a.data(), 3, 16, 16);
  EXPECT_NEAR(ab, ba, 1e-12);
  EXPECT_LT(ab, 1.0);
  EXPECT_THROW(ssim(a.data(), b.data(), 3, 10, 16), Error);
}

} // namespace
