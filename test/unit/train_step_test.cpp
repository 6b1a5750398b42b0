//===- train_step_test.cpp - msdd-build-train-step vs a float64 reference --===//
//
// loss(W, b; x, t) = mse(x W^T + b, t) has a closed-form gradient, so three compiled steps of
// each optimizer (with clipping, warm-up + cosine or wsd schedule and EMA) are checked against
// the same steps in double precision.
//
//===----------------------------------------------------------------------===//
#include "compile_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace {

constexpr int M = 6, K = 5, N = 4; // batch rows, inputs, outputs

const char *kModel = R"(
func.func @loss(%w: tensor<4x5xf32> {msdd.name = "w", msdd.param},
                %b: tensor<4xf32> {msdd.name = "b", msdd.param},
                %x: tensor<6x5xf32> {msdd.name = "x"},
                %t: tensor<6x4xf32> {msdd.name = "t"}) -> tensor<f32> {
  %y = msdd.linear %x, %w, %b : (tensor<6x5xf32>, tensor<4x5xf32>, tensor<4xf32>) -> tensor<6x4xf32>
  %l = msdd.mse %y, %t : (tensor<6x4xf32>, tensor<6x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
)";

struct Config {
  std::string optimizer;
  double lr = 0.05, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weightDecay = 0.1, momentum = 0.0;
  double clip = 0.5, ema = 0.9;
  int warmup = 2, total = 5;
  std::string schedule = "cosine";
  int decay = 0; // wsd only
};

std::unique_ptr<msdd::rt::Artifact> compileTrainStep(const Config &c) {
  std::string prologue =
      "msdd-autodiff{function=loss}, msdd-build-train-step{optimizer=" + c.optimizer +
      " lr=" + std::to_string(c.lr) + " beta1=" + std::to_string(c.beta1) +
      " beta2=" + std::to_string(c.beta2) + " eps=" + std::to_string(c.eps) +
      " weight-decay=" + std::to_string(c.weightDecay) + " momentum=" + std::to_string(c.momentum) +
      " clip-norm=" + std::to_string(c.clip) + " schedule=" + c.schedule + " warmup-steps=" +
      std::to_string(c.warmup) + " total-steps=" + std::to_string(c.total) +
      " decay-steps=" + std::to_string(c.decay) +
      " ema=" + std::to_string(c.ema) + "}";
  std::string error;
  auto artifact = msdd::test::compileToArtifact(kModel, error, prologue);
  if (!artifact)
    ADD_FAILURE() << error;
  return artifact;
}

using Vec = std::vector<double>;

/// The reference: the same step in double precision.
struct Reference {
  Config c;
  std::map<std::string, Vec> state; // w, b, and optimizer state by the artifact's names

  double step(int t, const Vec &x, const Vec &target, double &gradNorm, double &lr) {
    Vec &w = state["w"], &b = state["b"];
    Vec y(M * N), gw(N * K, 0.0), gb(N, 0.0);
    double loss = 0;
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double acc = b[n];
        for (int k = 0; k < K; ++k)
          acc += x[m * K + k] * w[n * K + k];
        double d = acc - target[m * N + n];
        loss += d * d / (M * N);
        for (int k = 0; k < K; ++k)
          gw[n * K + k] += 2 * d / (M * N) * x[m * K + k];
        gb[n] += 2 * d / (M * N);
      }
    double sq = 0;
    for (double g : gw)
      sq += g * g;
    for (double g : gb)
      sq += g * g;
    gradNorm = std::sqrt(sq);
    double factor = std::min(1.0, c.clip / (gradNorm + 1e-6));
    lr = c.lr * std::min(1.0, double(t) / c.warmup);
    if (c.schedule == "cosine") {
      double progress = std::min(1.0, std::max(0.0, double(t - c.warmup) / (c.total - c.warmup)));
      lr *= 0.5 * (1 + std::cos(M_PI * progress));
    } else { // wsd
      lr *= std::min(1.0, std::max(0.0, double(c.total - t) / c.decay));
    }
    for (auto [name, g] : {std::pair<std::string, Vec *>{"w", &gw}, {"b", &gb}}) {
      Vec &p = state[name];
      for (size_t i = 0; i < p.size(); ++i) {
        double gi = (*g)[i] * factor, update;
        if (c.optimizer != "adamw")
          gi += c.weightDecay * p[i];
        if (c.optimizer == "sgd") {
          double &buf = state["momentum." + name][i];
          buf = c.momentum * buf + gi;
          update = buf;
        } else {
          double &m = state["adam_m." + name][i], &v = state["adam_v." + name][i];
          m = c.beta1 * m + (1 - c.beta1) * gi;
          v = c.beta2 * v + (1 - c.beta2) * gi * gi;
          double mhat = m / (1 - std::pow(c.beta1, t)), vhat = v / (1 - std::pow(c.beta2, t));
          update = mhat / (std::sqrt(vhat) + c.eps);
          if (c.optimizer == "adamw")
            update += c.weightDecay * p[i];
        }
        p[i] -= lr * update;
        double &e = state["ema." + name][i];
        e = c.ema * e + (1 - c.ema) * p[i];
      }
    }
    return loss;
  }
};

class TrainStep : public ::testing::TestWithParam<Config> {};

TEST_P(TrainStep, MatchesFloat64Reference) {
  Config c = GetParam();
  auto artifact = compileTrainStep(c);
  ASSERT_TRUE(artifact);
  const msdd::rt::FunctionSpec &fn = artifact->function("train_step");

  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  msdd::rt::NamedTensors state;
  Reference ref{c, {}};
  for (const msdd::rt::TensorSpec &in : fn.inputs) {
    if (in.name == "step" || in.name == "x" || in.name == "t")
      continue;
    msdd::rt::Tensor tensor(msdd::rt::DType::F32, in.shape);
    Vec values(tensor.numel(), 0.0);
    bool isParam = in.name == "w" || in.name == "b";
    for (int64_t i = 0; i < tensor.numel(); ++i)
      values[i] = tensor.data<float>()[i] = isParam ? normal(rng) : 0.0f;
    if (in.name.rfind("ema.", 0) == 0) // the EMA starts at the initial weights
      continue;
    ref.state[in.name] = values;
    state.insert(in.name, std::move(tensor));
  }
  for (const char *p : {"w", "b"}) {
    msdd::rt::Tensor ema = state.find(p)->clone();
    ref.state[std::string("ema.") + p] = ref.state[p];
    state.insert(std::string("ema.") + p, std::move(ema));
  }

  for (int t = 1; t <= 4; ++t) {
    msdd::rt::NamedTensors inputs;
    for (auto &[name, tensor] : state)
      inputs.insert(name, tensor.clone());
    msdd::rt::Tensor x(msdd::rt::DType::F32, {M, K}), target(msdd::rt::DType::F32, {M, N}),
        step(msdd::rt::DType::F32, {});
    Vec xd(M * K), td(M * N);
    for (int i = 0; i < M * K; ++i)
      xd[i] = x.data<float>()[i] = normal(rng);
    for (int i = 0; i < M * N; ++i)
      td[i] = target.data<float>()[i] = normal(rng);
    *step.data<float>() = float(t);
    inputs.insert("x", std::move(x));
    inputs.insert("t", std::move(target));
    inputs.insert("step", std::move(step));

    msdd::rt::NamedTensors out = artifact->call("train_step", inputs);
    double gradNorm, lr;
    double loss = ref.step(t, xd, td, gradNorm, lr);
    EXPECT_NEAR(*out.find("loss")->data<float>(), loss, 1e-5 * std::max(1.0, loss)) << "step " << t;
    EXPECT_NEAR(*out.find("grad_norm")->data<float>(), gradNorm, 1e-5 * std::max(1.0, gradNorm));
    EXPECT_NEAR(*out.find("lr")->data<float>(), lr, 1e-6 * c.lr) << "step " << t;
    for (auto &[name, want] : ref.state) {
      const msdd::rt::Tensor *got = out.find(name);
      ASSERT_TRUE(got) << name;
      double maxErr = 0, maxRef = 1e-3;
      for (size_t i = 0; i < want.size(); ++i) {
        maxErr = std::max(maxErr, std::fabs(got->data<float>()[i] - want[i]));
        maxRef = std::max(maxRef, std::fabs(want[i]));
      }
      EXPECT_LT(maxErr / maxRef, 2e-5) << name << " after step " << t;
    }

    for (auto &[name, tensor] : state)
      tensor = out.find(name)->clone();
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainStep,
                         ::testing::Values(Config{"adamw"}, Config{"adam"},
                                           Config{"sgd", 0.05, 0.9, 0.95, 1e-8, 0.1, 0.9},
                                           // Steps 3 and 4 fall in the decay: 2/3 and 1/3 of lr.
                                           Config{"adamw", 0.05, 0.9, 0.95, 1e-8, 0.1, 0.0, 0.5,
                                                  0.9, 1, 5, "wsd", 3}),
                         [](const ::testing::TestParamInfo<Config> &info) {
                           return info.param.optimizer + (info.param.schedule == "wsd" ? "_wsd" : "");
                         });

} // namespace
