//===- sampler_schedule_test.cpp - Windows, alpha/beta and block noise -----===//
//
// The schedule against the numbers of ../shared/DESIGN.md and the identities that put the
// scale transition on the flow path; the compiled block noise against its covariance,
// measured over many samples.
//
//===----------------------------------------------------------------------===//
#include "compile_util.h"
#include "msdd/Models/Schedule.h"
#include "philox_reference.h"


#include <gtest/gtest.h>

#include <cmath>

namespace {

using msdd::computeMultiscaleSchedule;

void expectAll(const std::vector<double> &got, const std::vector<double> &want, double tol,
               const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

TEST(MultiscaleSchedule, FourScalesMatchTheDesign) {
  auto s = computeMultiscaleSchedule(4, 1.0 / 3.0);
  expectAll(s.windowStart, {1.0, 0.857, 0.667, 0.40}, 5e-4, "start");
  expectAll(s.windowEnd, {0.75, 0.5, 0.25, 0.0}, 1e-12, "end");
  expectAll(s.alpha, {0.571, 0.667, 0.8}, 5e-4, "alpha");
  expectAll(s.beta, {0.742, 0.577, 0.346}, 5e-4, "beta");
  expectAll(s.tauStart, {1.0, 0.824, 0.574, 0.281}, 5e-4, "tau start");
  expectAll(s.tauEnd, {0.824, 0.574, 0.281, 0.0}, 5e-4, "tau end");
}

TEST(MultiscaleSchedule, ThreeScalesMatchTheDesign) {
  auto s = computeMultiscaleSchedule(3, 1.0 / 3.0);
  expectAll(s.windowStart, {1.0, 0.8, 0.5}, 5e-4, "start");
  expectAll(s.windowEnd, {2.0 / 3, 1.0 / 3, 0.0}, 1e-12, "end");
  expectAll(s.alpha, {0.6, 0.75}, 5e-4, "alpha");
  expectAll(s.beta, {0.693, 0.433}, 5e-4, "beta");
}

TEST(MultiscaleSchedule, TransitionsLandOnTheFlowPath) {
  // At the end of window s-1, x = (1 - t) x0 + t e (t = the window's end). Upsampling makes
  // the noise fully correlated in each 2x2 block (covariance t^2 11^T); adding beta n with
  // cov(n) = (1 + g) I - g 11^T must give i.i.d. noise of level t' = the rectified start:
  // alpha^2 t^2 = beta^2 g (the 11^T parts cancel) and beta^2 (1 + g) = t'^2, with signal
  // coefficient alpha (1 - t) = 1 - t'.
  for (int scales : {2, 3, 4, 6})
    for (double gamma : {0.2, 1.0 / 3.0}) {
      auto s = computeMultiscaleSchedule(scales, gamma);
      for (int k = 1; k < scales; ++k) {
        double t = s.windowEnd[k - 1], a = s.alpha[k - 1], b = s.beta[k - 1];
        double start = s.windowStart[k];
        EXPECT_NEAR(a * a * t * t, b * b * gamma, 1e-12);
        EXPECT_NEAR(b * b * (1 + gamma), start * start, 1e-12);
        EXPECT_NEAR(a * (1 - t), 1 - start, 1e-12);
      }
      // tau is continuous, decreasing, and spans [1, 0].
      EXPECT_DOUBLE_EQ(s.tauStart.front(), 1.0);
      EXPECT_DOUBLE_EQ(s.tauEnd.back(), 0.0);
      for (int k = 1; k < scales; ++k)
        EXPECT_NEAR(s.tauStart[k], s.tauEnd[k - 1], 1e-12);
    }
}

/// Empirical 4x4 covariance of the 2x2 blocks of an [1, 1, H, W] sample.
std::array<double, 16> blockCovariance(const float *v, int64_t h, int64_t w) {
  std::array<double, 16> cov{};
  int64_t blocks = 0;
  for (int64_t y = 0; y < h; y += 2)
    for (int64_t x = 0; x < w; x += 2) {
      double e[4] = {v[y * w + x], v[y * w + x + 1], v[(y + 1) * w + x], v[(y + 1) * w + x + 1]};
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          cov[i * 4 + j] += e[i] * e[j];
      ++blocks;
    }
  for (double &c : cov)
    c /= blocks;
  return cov;
}

class BlockNoiseCovariance : public ::testing::TestWithParam<std::string> {};

TEST_P(BlockNoiseCovariance, MatchesTheFormula) {
  const std::string covariance = GetParam();
  const double gamma = 1.0 / 3.0;
  // 512 x 512 gives 65536 blocks: the standard error of each entry is about 0.006.
  std::string source = R"(
func.func @noise(%seed: tensor<i64> {msdd.name = "seed"}) -> (tensor<1x1x512x512xf32> {msdd.name = "n"},
                                        tensor<1x1x512x512xf32> {msdd.name = "mixed"}) {
  %s = tensor.extract %seed[] : tensor<i64>
  %c0 = arith.constant 0 : i64
  %z = msdd.random_normal %s, %c0 {stream = 1 : i32} : tensor<1x1x512x512xf32>
  %n = msdd.block_noise %z {gamma = 0.3333333333333333 : f64, covariance = ")" + covariance + R"("} : (tensor<1x1x512x512xf32>) -> tensor<1x1x512x512xf32>
  // The 3-scale transition 1 -> 2 on pure noise of level t = 2/3: alpha up(t e) + beta n.
  %e = msdd.random_normal %s, %c0 {stream = 2 : i32} : tensor<1x1x256x256xf32>
  %x = msdd.scale %e {factor = 0.6666666666666666 : f64} : tensor<1x1x256x256xf32>
  %up = msdd.upsample_nearest %x : (tensor<1x1x256x256xf32>) -> tensor<1x1x512x512xf32>
  %mixed = msdd.noise_mix %up, %n {alpha = 0.6 : f64, beta = 0.6928203230275509 : f64} : (tensor<1x1x512x512xf32>, tensor<1x1x512x512xf32>) -> tensor<1x1x512x512xf32>
  return %n, %mixed : tensor<1x1x512x512xf32>, tensor<1x1x512x512xf32>
}
)";
  std::string error;
  auto artifact = msdd::test::compileToArtifact(source, error);
  ASSERT_TRUE(artifact) << error;
  msdd::rt::NamedTensors inputs;
  msdd::rt::Tensor seed(msdd::rt::DType::I64, {});
  *seed.data<int64_t>() = 20261126;
  inputs.insert("seed", std::move(seed));
  msdd::rt::NamedTensors out = artifact->call("noise", inputs);

  bool pyramidal = covariance == "pyramidal";
  double a = pyramidal ? 1 + gamma : 1 - gamma, b = pyramidal ? -gamma : gamma;
  auto cov = blockCovariance(out.find("n")->data<float>(), 512, 512);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      EXPECT_NEAR(cov[i * 4 + j], (i == j ? a : 0.0) + b, 0.03) << "entry " << i << "," << j;

  // On the flow path only with the pyramidal covariance: i.i.d. noise of level 0.8 (0.64 I).
  auto mixed = blockCovariance(out.find("mixed")->data<float>(), 512, 512);
  double worst = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      worst = std::max(worst, std::fabs(mixed[i * 4 + j] - (i == j ? 0.64 : 0.0)));
  if (pyramidal)
    EXPECT_LT(worst, 0.03) << "alpha up(x) + beta n is not i.i.d. noise of level 0.8";
  else
    EXPECT_GT(worst, 0.1) << "the released code's covariance should leave block correlation";
}

INSTANTIATE_TEST_SUITE_P(Covariances, BlockNoiseCovariance,
                         ::testing::Values("pyramidal", "paper_code"));

/// A whole two-scale sampler (4 CFG Euler steps at 8x8, a transition, 1 step at 16x16) with
/// the design's schedule and an analytic denoiser v = x tau - latent, compiled through the
/// pipeline (msdd-expand-sampler first) against the same sampler in double precision.
TEST(MultiscaleSampler, MatchesFloat64Reference) {
  auto sched = computeMultiscaleSchedule(2, 1.0 / 3.0);
  auto list = [](const std::vector<double> &v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i)
      s += (i ? ", " : "") + std::to_string(v[i]);
    return s;
  };
  auto denoiser = [](int r) {
    std::string x = "tensor<2x3x" + std::to_string(r) + "x" + std::to_string(r) + "xf32>";
    return "func.func private @d" + std::to_string(r) + "(%x: " + x +
           ", %tau: tensor<2xf32>, %c: tensor<2x3xf32>) -> " + x + " {\n"
           "  %tb = msdd.reshape %tau : (tensor<2xf32>) -> tensor<2x1x1x1xf32>\n"
           "  %xt = msdd.mul %x, %tb : (" + x + ", tensor<2x1x1x1xf32>) -> " + x + "\n"
           "  %cb = msdd.reshape %c : (tensor<2x3xf32>) -> tensor<2x3x1x1xf32>\n"
           "  %v = msdd.sub %xt, %cb : (" + x + ", tensor<2x3x1x1xf32>) -> " + x + "\n"
           "  return %v : " + x + "\n}\n";
  };
  std::string source = denoiser(8) + denoiser(16) +
      "func.func @sample(%l: tensor<2x3xf32> {msdd.name = \"latent\"}, %n: tensor<2x3xf32> {msdd.name = \"null\"},"
      " %seed: tensor<i64> {msdd.name = \"seed\"}) -> tensor<2x3x16x16xf32> {\n"
      "  %s = tensor.extract %seed[] : tensor<i64>\n"
      "  %y = msdd.multiscale_sample [@d8, @d16](%l, %n, %s) {resolutions = array<i64: 8, 16>,"
      " steps = array<i64: 4, 1>, window_start = array<f64: " + list(sched.windowStart) +
      ">, window_end = array<f64: " + list(sched.windowEnd) + ">, tau_start = array<f64: " +
      list(sched.tauStart) + ">, tau_end = array<f64: " + list(sched.tauEnd) +
      ">, alpha = array<f64: " + list(sched.alpha) + ">, beta = array<f64: " + list(sched.beta) +
      ">, guidance_scale = 2.0 : f64, gamma = 0.3333333333333333 : f64}"
      " : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3x16x16xf32>\n"
      "  return %y : tensor<2x3x16x16xf32>\n}\n";
  std::string error;
  auto artifact = msdd::test::compileToArtifact(source, error);
  ASSERT_TRUE(artifact) << error << "\n" << source;

  const uint64_t seed = 77;
  float latent[6] = {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.5f}, nulls[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  msdd::rt::NamedTensors inputs;
  msdd::rt::Tensor l(msdd::rt::DType::F32, {2, 3}), n(msdd::rt::DType::F32, {2, 3}),
      s(msdd::rt::DType::I64, {});
  std::copy(latent, latent + 6, l.data<float>());
  std::copy(nulls, nulls + 6, n.data<float>());
  *s.data<int64_t>() = seed;
  inputs.insert("latent", std::move(l));
  inputs.insert("null", std::move(n));
  inputs.insert("seed", std::move(s));
  msdd::rt::NamedTensors out = artifact->call("sample", inputs);

  // The reference: the same sampler, loop by loop.
  auto euler = [&](std::vector<double> &x, int r, int steps, int scale) {
    double dt = (sched.windowEnd[scale] - sched.windowStart[scale]) / steps;
    double dtau = (sched.tauEnd[scale] - sched.tauStart[scale]) / steps;
    for (int k = 0; k < steps; ++k) {
      double tau = double(float(sched.tauStart[scale]) + float(k) * float(dtau));
      for (size_t i = 0; i < x.size(); ++i) {
        size_t bc = i / (r * r); // (b, c) index
        double vc = x[i] * tau - latent[bc], vu = x[i] * tau - nulls[bc];
        x[i] += dt * (vu + 2.0 * (vc - vu));
      }
    }
  };
  std::vector<double> x(2 * 3 * 8 * 8);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = msdd::test::philoxNormal(seed, 0, 0, i);
  euler(x, 8, 4, 0);
  std::vector<double> up(2 * 3 * 16 * 16), z(up.size()), mixed(up.size());
  for (size_t i = 0; i < up.size(); ++i) {
    size_t bc = i / 256, y = (i / 16) % 16, xx = i % 16;
    up[i] = x[bc * 64 + (y / 2) * 8 + xx / 2];
    z[i] = msdd::test::philoxNormal(seed, 1, 1, i);
  }
  double g = 1.0 / 3.0, sOrth = std::sqrt(1 + g), sMean = std::sqrt(1 - 3 * g);
  for (size_t bc = 0; bc < 6; ++bc)
    for (int y = 0; y < 16; y += 2)
      for (int xx = 0; xx < 16; xx += 2) {
        size_t idx[4] = {bc * 256 + y * 16 + xx, bc * 256 + y * 16 + xx + 1,
                         bc * 256 + (y + 1) * 16 + xx, bc * 256 + (y + 1) * 16 + xx + 1};
        double m = 0;
        for (size_t i : idx)
          m += z[i] / 4;
        for (size_t i : idx)
          mixed[i] = sched.alpha[0] * up[i] + sched.beta[0] * (sOrth * (z[i] - m) + sMean * m);
      }
  euler(mixed, 16, 1, 1);

  const float *got = out.begin()->second.data<float>();
  double maxErr = 0, maxRef = 0;
  for (size_t i = 0; i < mixed.size(); ++i) {
    maxErr = std::max(maxErr, std::fabs(got[i] - mixed[i]));
    maxRef = std::max(maxRef, std::fabs(mixed[i]));
  }
  EXPECT_LT(maxErr / maxRef, 2e-5) << "max |error| " << maxErr << " of " << maxRef;
}

} // namespace
