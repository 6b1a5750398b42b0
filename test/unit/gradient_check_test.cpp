//===- gradient_check_test.cpp - msdd-autodiff vs central differences ------===//
//
// Each case differentiates loss = sum(op(inputs...) * c) (c a fixed random cotangent) with
// msdd-autodiff, compiles loss and loss_grad in float64 through the whole CPU pipeline, and
// compares every gradient with central finite differences of the compiled loss.
//
//===----------------------------------------------------------------------===//
#include "compile_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace {

using Shape = std::vector<int64_t>;

struct GradCase {
  std::string name;
  std::vector<Shape> inputs;
  Shape output;
  /// The op, reading %a0, %a1, ... and defining %y.
  std::string op;
  /// Inputs that must stay positive (log, sqrt, pow base).
  std::vector<bool> positive = {};
};

std::string t(const Shape &s) {
  std::string r = "tensor<";
  for (int64_t d : s)
    r += std::to_string(d) + "x";
  return r + "f64>";
}

std::string types(const std::vector<Shape> &shapes) {
  std::string r;
  for (size_t i = 0; i < shapes.size(); ++i)
    r += (i ? ", " : "") + t(shapes[i]);
  return r;
}

/// `%y = msdd.<name> %a0, ... <attrs> : (<inputs>) -> <output>`.
std::string op(const std::string &name, const std::vector<Shape> &ins, const Shape &out,
               const std::string &attrs = "") {
  std::string operands;
  for (size_t i = 0; i < ins.size(); ++i)
    operands += (i ? ", %a" : "%a") + std::to_string(i);
  return "%y = msdd." + name + " " + operands + " " + attrs + " : (" + types(ins) + ") -> " +
         t(out);
}

std::string unaryOp(const std::string &name, const Shape &s, const std::string &attrs = "") {
  return "%y = msdd." + name + " %a0 " + attrs + " : " + t(s);
}

std::string lossModule(const GradCase &c) {
  std::ostringstream os;
  os << "func.func @loss(";
  for (size_t i = 0; i < c.inputs.size(); ++i)
    os << "%a" << i << ": " << t(c.inputs[i]) << ", ";
  os << "%c: " << t(c.output) << ") -> tensor<f64> {\n  " << c.op << "\n";
  os << "  %p = msdd.mul %y, %c : (" << t(c.output) << ", " << t(c.output) << ") -> "
     << t(c.output) << "\n";
  std::string axes;
  for (size_t d = 0; d < c.output.size(); ++d)
    axes += (d ? ", " : "") + std::to_string(d);
  if (c.output.empty())
    os << "  %l = msdd.scale %p {factor = 1.0 : f64} : tensor<f64>\n";
  else
    os << "  %l = msdd.reduce_sum %p {axes = array<i64: " << axes << ">} : (" << t(c.output)
       << ") -> tensor<f64>\n";
  os << "  return %l : tensor<f64>\n}\n";
  return os.str();
}

std::vector<GradCase> allCases() {
  Shape s = {2, 3, 5}, b = {3, 1};
  std::vector<GradCase> cases;
  for (const char *name : {"neg", "exp", "tanh", "erf", "sin", "cos", "sigmoid", "relu", "silu", "abs"})
    cases.push_back({name, {s}, s, unaryOp(name, s)});
  for (const char *name : {"log", "sqrt", "rsqrt"})
    cases.push_back({name, {s}, s, unaryOp(name, s), {true}});
  cases.push_back({"gelu_erf", {s}, s, unaryOp("gelu", s)});
  cases.push_back({"gelu_tanh", {s}, s, unaryOp("gelu", s, "{approximate = true}")});
  cases.push_back({"scale", {s}, s, unaryOp("scale", s, "{factor = -1.5 : f64, bias = 2.0 : f64}")});
  for (const char *name : {"add", "sub", "mul", "div", "maximum", "minimum"})
    cases.push_back({name, {s, b}, s, op(name, {s, b}, s)});
  cases.push_back({"pow", {s, b}, s, op("pow", {s, b}, s), {true, false}});
  cases.push_back({"reduce_sum", {s}, {2, 5}, op("reduce_sum", {s}, {2, 5}, "{axes = array<i64: 1>}")});
  cases.push_back({"reduce_mean_keep", {s}, {1, 3, 1},
                   op("reduce_mean", {s}, {1, 3, 1}, "{axes = array<i64: 0, 2>, keep_dims = true}")});
  cases.push_back({"reduce_max", {s}, {2, 3}, op("reduce_max", {s}, {2, 3}, "{axes = array<i64: 2>}")});
  cases.push_back({"reshape", {s}, {6, 5}, op("reshape", {s}, {6, 5})});
  cases.push_back({"transpose", {s}, {5, 2, 3}, op("transpose", {s}, {5, 2, 3}, "{permutation = array<i64: 2, 0, 1>}")});
  cases.push_back({"concat", {{2, 1, 5}, s}, {2, 4, 5}, op("concat", {{2, 1, 5}, s}, {2, 4, 5}, "{axis = 1 : i64}")});
  cases.push_back({"slice", {s}, {2, 3, 2}, op("slice", {s}, {2, 3, 2}, "{axis = 2 : i64, start = 1 : i64}")});
  cases.push_back({"broadcast", {b}, {2, 3, 4}, op("broadcast", {b}, {2, 3, 4})});
  cases.push_back({"linear", {{2, 3, 4}, {5, 4}, {5}}, {2, 3, 5}, op("linear", {{2, 3, 4}, {5, 4}, {5}}, {2, 3, 5})});
  cases.push_back({"matmul", {{2, 3, 4}, {2, 4, 5}}, {2, 3, 5}, op("matmul", {{2, 3, 4}, {2, 4, 5}}, {2, 3, 5})});
  cases.push_back({"matmul_transposed", {{3, 4}, {5, 4}}, {3, 5},
                   op("matmul", {{3, 4}, {5, 4}}, {3, 5}, "{transpose_rhs = true}")});
  cases.push_back({"patchify", {{1, 2, 4, 4}}, {1, 4, 8}, op("patchify", {{1, 2, 4, 4}}, {1, 4, 8}, "{patch_size = 2 : i64}")});
  cases.push_back({"unpatchify", {{1, 4, 8}}, {1, 2, 4, 4}, op("unpatchify", {{1, 4, 8}}, {1, 2, 4, 4}, "{patch_size = 2 : i64}")});
  cases.push_back({"layer_norm", {s}, s, op("layer_norm", {s}, s)});
  cases.push_back({"layer_norm_affine", {s, {5}, {5}}, s, op("layer_norm", {s, {5}, {5}}, s)});
  cases.push_back({"rms_norm_weight", {s, {5}}, s, op("rms_norm", {s, {5}}, s)});
  cases.push_back({"softmax", {s}, s, op("softmax", {s}, s, "{axis = 1 : i64}")});
  Shape q = {1, 2, 4, 4}, kv = {1, 2, 6, 4};
  cases.push_back({"attention", {q, kv, kv}, q, op("attention", {q, kv, kv}, q)});
  cases.push_back({"attention_mask", {q, kv, kv, {4, 6}}, q, op("attention", {q, kv, kv, {4, 6}}, q, "{scale = 0.7 : f64}")});
  cases.push_back({"rope_2d", {{1, 2, 6, 8}}, {1, 2, 6, 8},
                   op("rope_2d", {{1, 2, 6, 8}}, {1, 2, 6, 8}, "{grid_height = 2 : i64, grid_width = 3 : i64}")});
  cases.push_back({"rope_2d_placed", {{1, 2, 6, 8}}, {1, 2, 6, 8},
                   op("rope_2d", {{1, 2, 6, 8}}, {1, 2, 6, 8},
                      "{grid_height = 2 : i64, grid_width = 3 : i64, row_step = 4.0 : f64, "
                      "row_offset = 1.5 : f64, col_step = 0.5 : f64, col_offset = -0.25 : f64}")});
  cases.push_back({"swiglu", {s, s}, s, op("swiglu", {s, s}, s)});
  cases.push_back({"modulate", {s, {2, 5}, {2, 5}}, s, op("modulate", {s, {2, 5}, {2, 5}}, s)});
  cases.push_back({"upsample_nearest", {{1, 2, 2, 3}}, {1, 2, 4, 6}, op("upsample_nearest", {{1, 2, 2, 3}}, {1, 2, 4, 6})});
  cases.push_back({"downsample", {{1, 2, 4, 6}}, {1, 2, 2, 3}, op("downsample", {{1, 2, 4, 6}}, {1, 2, 2, 3})});
  cases.push_back({"block_noise", {{1, 2, 4, 4}}, {1, 2, 4, 4}, op("block_noise", {{1, 2, 4, 4}}, {1, 2, 4, 4}, "{gamma = 0.25 : f64}")});
  cases.push_back({"noise_mix", {s, s}, s, op("noise_mix", {s, s}, s, "{alpha = 0.6 : f64, beta = 0.7 : f64}")});
  cases.push_back({"euler_step", {s, s}, s, op("euler_step", {s, s}, s, "{t_from = 0.8 : f64, t_to = 0.5 : f64}")});
  cases.push_back({"cfg_combine", {s, s}, s, op("cfg_combine", {s, s}, s, "{guidance_scale = 2.0 : f64}")});
  cases.push_back({"timestep_embedding", {{3}}, {3, 8},
                   op("timestep_embedding", {{3}}, {3, 8}, "{scale = 2.0 : f64}")});
  // Convolutions: strided, padded on one side only, dilated; grouped with input rows no
  // output reads (the weight gradient crops them); 1-D.
  cases.push_back({"conv", {{2, 3, 7, 8}, {4, 3, 3, 2}}, {2, 4, 4, 8},
                   op("conv", {{2, 3, 7, 8}, {4, 3, 3, 2}}, {2, 4, 4, 8},
                      "{strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, "
                      "pads_begin = array<i64: 1, 0>, pads_end = array<i64: 1, 2>}")});
  cases.push_back({"conv_grouped", {{1, 4, 6, 6}, {6, 2, 1, 2}}, {1, 6, 3, 3},
                   op("conv", {{1, 4, 6, 6}, {6, 2, 1, 2}}, {1, 6, 3, 3},
                      "{strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, "
                      "pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>, groups = 2 : i64}")});
  cases.push_back({"conv_1d", {{2, 2, 9}, {3, 2, 3}}, {2, 3, 4},
                   op("conv", {{2, 2, 9}, {3, 2, 3}}, {2, 3, 4},
                      "{strides = array<i64: 3>, dilations = array<i64: 1>, "
                      "pads_begin = array<i64: 2>, pads_end = array<i64: 1>}")});
  // Transposed convolutions: strided and wider than its natural output (the adjoint crops
  // the gradient's end); grouped and dilated with a negative pads_begin (cropped start).
  cases.push_back({"conv_transpose", {{2, 3, 4, 5}, {3, 2, 3, 3}}, {2, 2, 8, 12},
                   op("conv_transpose", {{2, 3, 4, 5}, {3, 2, 3, 3}}, {2, 2, 8, 12},
                      "{strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, "
                      "pads_begin = array<i64: 1, 1>}")});
  cases.push_back({"conv_transpose_grouped", {{1, 4, 5, 3}, {4, 1, 2, 3}}, {1, 2, 6, 4},
                   op("conv_transpose", {{1, 4, 5, 3}, {4, 1, 2, 3}}, {1, 2, 6, 4},
                      "{strides = array<i64: 1, 2>, dilations = array<i64: 2, 1>, "
                      "pads_begin = array<i64: -1, 2>, groups = 2 : i64}")});
  cases.push_back({"mse", {s, s}, {}, op("mse", {s, s}, {})});
  cases.push_back({"weighted_mse", {s, s, {2}}, {}, op("weighted_mse", {s, s, {2}}, {}), {false, false, true}});
  return cases;
}

/// Compiles `source` (with `prologue` run first) into an artifact.
std::unique_ptr<msdd::rt::Artifact> compile(const std::string &source, const std::string &prologue) {
  std::string error;
  auto artifact = msdd::test::compileToArtifact(source, error, prologue);
  if (!artifact)
    ADD_FAILURE() << error;
  return artifact;
}

double scalarOf(const msdd::rt::NamedTensors &outputs) {
  return *outputs.begin()->second.data<double>();
}

/// Compares the compiled gradients of `loss` with central differences at up to
/// `samplesPerInput` elements of each differentiated input (all when 0).
void checkGradients(const std::string &name, const std::string &module,
                    const std::vector<std::string> &wrtNames, size_t samplesPerInput,
                    double tolerance, const std::function<double(const std::string &, int64_t)> &init,
                    const std::string &autodiff = "msdd-autodiff{function=loss}") {
  auto artifact = compile(module, autodiff);
  ASSERT_TRUE(artifact) << "could not compile\n" << module;
  const msdd::rt::FunctionSpec &loss = artifact->function("loss");
  msdd::rt::NamedTensors inputs;
  for (const msdd::rt::TensorSpec &spec : loss.inputs) {
    msdd::rt::Tensor tensor(msdd::rt::DType::F64, spec.shape);
    for (int64_t i = 0; i < tensor.numel(); ++i)
      tensor.data<double>()[i] = init(spec.name, i);
    inputs.insert(spec.name, std::move(tensor));
  }
  msdd::rt::NamedTensors grads = artifact->call("loss_grad", inputs);

  std::mt19937 pick(7);
  for (const std::string &input : wrtNames) {
    const msdd::rt::Tensor *analytic = grads.find("grad." + input);
    ASSERT_TRUE(analytic) << "no gradient for " << input;
    msdd::rt::Tensor *x = inputs.find(input);
    std::vector<int64_t> elements(x->numel());
    std::iota(elements.begin(), elements.end(), 0);
    if (samplesPerInput && elements.size() > samplesPerInput) {
      std::shuffle(elements.begin(), elements.end(), pick);
      elements.resize(samplesPerInput);
    }
    double maxErr = 0, maxRef = 1e-3;
    for (int64_t i : elements) {
      double saved = x->data<double>()[i], h = 1e-6 * std::max(1.0, std::fabs(saved));
      x->data<double>()[i] = saved + h;
      double up = scalarOf(artifact->call("loss", inputs));
      x->data<double>()[i] = saved - h;
      double down = scalarOf(artifact->call("loss", inputs));
      x->data<double>()[i] = saved;
      double numeric = (up - down) / (2 * h);
      maxErr = std::max(maxErr, std::fabs(numeric - analytic->data<double>()[i]));
      maxRef = std::max(maxRef, std::fabs(numeric));
    }
    EXPECT_LT(maxErr / maxRef, tolerance)
        << name << ": d loss / d " << input << ": max |analytic - numeric| " << maxErr
        << " for gradients up to " << maxRef;
  }
}

void PrintTo(const GradCase &c, std::ostream *os) { *os << c.name; }

class GradientCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(GradientCheck, MatchesCentralDifferences) {
  const GradCase &c = GetParam();
  std::mt19937_64 rng(std::hash<std::string>{}(c.name));
  std::normal_distribution<double> normal;
  std::vector<std::string> wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    wrt.push_back("arg" + std::to_string(i));
  std::map<std::string, std::vector<double>> values;
  auto init = [&](const std::string &input, int64_t i) {
    std::vector<double> &v = values[input];
    while ((int64_t)v.size() <= i) {
      double x = normal(rng);
      size_t index = input == "arg" + std::to_string(c.inputs.size()) ? c.inputs.size()
                                                                      : std::stoul(input.substr(3));
      if (index < c.positive.size() && c.positive[index])
        x = std::fabs(x) + 0.5;
      v.push_back(x);
    }
    return v[i];
  };
  checkGradients(c.name, lossModule(c), wrt, 0, 1e-6, init);
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradientCheck, ::testing::ValuesIn(allCases()),
                         [](const ::testing::TestParamInfo<GradCase> &info) { return info.param.name; });

/// msdd.stop_gradient passes its value and no gradient: for l = sum(x * stop_gradient(x^2))
/// the gradient is x^2 (the product rule's other term, 2 x * x * x, is cut), where central
/// differences of the same function would give 3 x^2.
TEST(GradientCheckStop, StopGradientCutsOnlyItsPath) {
  const char *module = "func.func @loss(%x: tensor<7xf64> {msdd.name = \"x\", msdd.param}) -> tensor<f64> {\n"
                       "  %sq = msdd.mul %x, %x : (tensor<7xf64>, tensor<7xf64>) -> tensor<7xf64>\n"
                       "  %c = msdd.stop_gradient %sq : tensor<7xf64>\n"
                       "  %p = msdd.mul %x, %c : (tensor<7xf64>, tensor<7xf64>) -> tensor<7xf64>\n"
                       "  %l = msdd.reduce_sum %p {axes = array<i64: 0>} : (tensor<7xf64>) -> tensor<f64>\n"
                       "  return %l : tensor<f64>\n}\n";
  auto artifact = compile(module, "msdd-autodiff{function=loss}");
  ASSERT_TRUE(artifact);
  msdd::rt::NamedTensors inputs;
  msdd::rt::Tensor x(msdd::rt::DType::F64, {7});
  for (int i = 0; i < 7; ++i)
    x.data<double>()[i] = 0.3 * i - 1.1;
  inputs.insert("x", x.clone());
  msdd::rt::NamedTensors out = artifact->call("loss_grad", inputs);
  const msdd::rt::Tensor *grad = out.find("grad.x");
  ASSERT_TRUE(grad);
  double loss = 0;
  for (int i = 0; i < 7; ++i) {
    double v = x.data<double>()[i];
    loss += v * v * v;
    EXPECT_NEAR(grad->data<double>()[i], v * v, 1e-12) << "element " << i;
  }
  EXPECT_NEAR(scalarOf(artifact->call("loss", inputs)), loss, 1e-12);
}

/// The example transformer block (examples/transformer_block/block.mlir) in f64, with a loss
/// on its output: gradients for every parameter, checked at a sample of elements each, with
/// forward values kept or rematerialized.
class GradientCheckBlock : public ::testing::TestWithParam<bool> {};

TEST_P(GradientCheckBlock, TransformerBlock) {
  std::ifstream file(MSDD_SOURCE_DIR "/examples/transformer_block/block.mlir");
  ASSERT_TRUE(file) << "missing example";
  std::stringstream text;
  text << file.rdbuf();
  std::string block = text.str();
  for (size_t pos; (pos = block.find("f32")) != std::string::npos;)
    block.replace(pos, 3, "f64");
  // Rename the block private and add a scalar loss around it.
  block.replace(block.find("func.func @block"), 16, "func.func private @block");
  std::string loss = R"(
func.func @loss(%x: !img {msdd.name = "x"}, %t: tensor<2xf64> {msdd.name = "t"},
                %w_in: tensor<32x48xf64> {msdd.name = "w_in"}, %b_in: !b {msdd.name = "b_in"},
                %w_t: tensor<32x64xf64> {msdd.name = "w_t"}, %b_t: !b {msdd.name = "b_t"},
                %w_shift1: !w {msdd.name = "w_shift1"}, %w_scale1: !w {msdd.name = "w_scale1"},
                %w_shift2: !w {msdd.name = "w_shift2"}, %w_scale2: !w {msdd.name = "w_scale2"},
                %w_q: !w {msdd.name = "w_q"}, %w_k: !w {msdd.name = "w_k"},
                %w_v: !w {msdd.name = "w_v"}, %w_o: !w {msdd.name = "w_o"},
                %q_norm: tensor<16xf64> {msdd.name = "q_norm"}, %k_norm: tensor<16xf64> {msdd.name = "k_norm"},
                %ln2_w: !b {msdd.name = "ln2_w"}, %ln2_b: !b {msdd.name = "ln2_b"},
                %w_gate: tensor<64x32xf64> {msdd.name = "w_gate"}, %w_up: tensor<64x32xf64> {msdd.name = "w_up"},
                %w_down: tensor<32x64xf64> {msdd.name = "w_down"}, %w_out: tensor<48x32xf64> {msdd.name = "w_out"},
                %b_out: tensor<48xf64> {msdd.name = "b_out"}, %target: !img {msdd.name = "target"}) -> tensor<f64> {
  %y = call @block(%x, %t, %w_in, %b_in, %w_t, %b_t, %w_shift1, %w_scale1, %w_shift2, %w_scale2,
                   %w_q, %w_k, %w_v, %w_o, %q_norm, %k_norm, %ln2_w, %ln2_b, %w_gate, %w_up,
                   %w_down, %w_out, %b_out)
      : (!img, tensor<2xf64>, tensor<32x48xf64>, !b, tensor<32x64xf64>, !b, !w, !w, !w, !w, !w, !w, !w, !w,
         tensor<16xf64>, tensor<16xf64>, !b, !b, tensor<64x32xf64>, tensor<64x32xf64>, tensor<32x64xf64>,
         tensor<48x32xf64>, tensor<48xf64>) -> !img
  %l = msdd.mse %y, %target : (!img, !img) -> tensor<f64>
  return %l : tensor<f64>
}
)";
  std::vector<std::string> params = {"x", "w_in", "b_in", "w_t", "b_t", "w_shift1", "w_scale1",
                                     "w_shift2", "w_scale2", "w_q", "w_k", "w_v", "w_o", "q_norm",
                                     "k_norm", "ln2_w", "ln2_b", "w_gate", "w_up", "w_down",
                                     "w_out", "b_out"};
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  auto init = [&](const std::string &name, int64_t) {
    if (name == "t")
      return 0.3 + 0.01 * normal(rng);
    if (name == "q_norm" || name == "k_norm" || name == "ln2_w")
      return 1.0 + 0.1 * normal(rng);
    return (name == "x" || name == "target") ? normal(rng) : 0.2 * normal(rng);
  };
  checkGradients("block", block + loss, params, 6, 1e-5, init,
                 GetParam() ? "msdd-autodiff{function=loss rematerialize=true}"
                            : "msdd-autodiff{function=loss}");
}

INSTANTIATE_TEST_SUITE_P(Remat, GradientCheckBlock, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "rematerialized" : "kept";
                         });

} // namespace
