//===- op_numerics_test.cpp - Every msdd op compiled and run vs float64 ----===//
//
// Each case is a one-op function compiled through the whole CPU pipeline into a native
// artifact, run by the runtime on random inputs, and compared with a plain float64 loop
// implementation written here from the op's definition. The error measure is normwise:
// max |got - want| / max |want|, which stays meaningful where outputs cross zero.
//
//===----------------------------------------------------------------------===//
#include "compile_util.h"
#include "philox_reference.h"


#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <functional>
#include <random>

namespace {

/// A float64 n-d array, row-major.
struct Arr {
  std::vector<int64_t> shape;
  std::vector<double> v;
  Arr() = default;
  explicit Arr(std::vector<int64_t> s) : shape(std::move(s)) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    v.assign(n, 0.0);
  }
  int64_t size() const { return v.size(); }
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  int64_t index(std::initializer_list<int64_t> idx) const {
    int64_t flat = 0, k = 0;
    for (int64_t i : idx)
      flat = flat * shape[k++] + i;
    return flat;
  }
  double &operator()(std::initializer_list<int64_t> idx) { return v[index(idx)]; }
  double operator()(std::initializer_list<int64_t> idx) const { return v[index(idx)]; }
};

using Args = std::vector<Arr>;
using Reference = std::function<Arr(const Args &)>;

enum class Domain { Normal, Positive };

struct InputSpec {
  std::vector<int64_t> shape;
  Domain domain = Domain::Normal;
  /// For i64 scalars (seeds): the value; the input is then a tensor<i64>.
  std::optional<int64_t> integer;
};

struct OpCase {
  std::string name;
  std::string body; // the function @f
  std::vector<InputSpec> inputs;
  Reference reference;
  /// Normwise relative error allowed: float32 rounding, or float64's for f64 cases.
  double tolerance = 1e-5;
};

Arr map(const Arr &a, const std::function<double(double)> &f) {
  Arr r(a.shape);
  for (int64_t i = 0; i < a.size(); ++i)
    r.v[i] = f(a.v[i]);
  return r;
}

/// Elementwise with numpy broadcasting of b into a's shape (b's shape right-aligned).
Arr zipBroadcast(const Arr &a, const Arr &b, const std::function<double(double, double)> &f) {
  Arr r(a.shape);
  size_t off = a.shape.size() - b.shape.size();
  for (int64_t i = 0; i < a.size(); ++i) {
    int64_t rem = i, bi = 0, stride = 1;
    std::vector<int64_t> idx(a.shape.size());
    for (int d = (int)a.shape.size() - 1; d >= 0; --d) {
      idx[d] = rem % a.shape[d];
      rem /= a.shape[d];
    }
    for (int d = (int)b.shape.size() - 1; d >= 0; --d) {
      int64_t j = b.shape[d] == 1 ? 0 : idx[d + off];
      bi += j * stride;
      stride *= b.shape[d];
    }
    r.v[i] = f(a.v[i], b.v[bi]);
  }
  return r;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// Batched matrix product over the last two dims; b transposed if `tb`.
Arr matmul(const Arr &a, const Arr &b, bool tb) {
  size_t r = a.shape.size();
  int64_t m = a.shape[r - 2], k = a.shape[r - 1], n = tb ? b.shape[r - 2] : b.shape[r - 1];
  std::vector<int64_t> shape(a.shape.begin(), a.shape.end() - 1);
  shape.push_back(n);
  Arr c(shape);
  int64_t batch = a.size() / (m * k);
  for (int64_t bt = 0; bt < batch; ++bt)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += a.v[bt * m * k + i * k + p] *
                 (tb ? b.v[bt * n * k + j * k + p] : b.v[bt * k * n + p * n + j]);
        c.v[bt * m * n + i * n + j] = acc;
      }
  return c;
}

/// Softmax over the last dim of rows of length n.
Arr softmaxLast(const Arr &x) {
  Arr r(x.shape);
  int64_t n = x.shape.back();
  for (int64_t row = 0; row < x.size() / n; ++row) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; ++j)
      mx = std::max(mx, x.v[row * n + j]);
    for (int64_t j = 0; j < n; ++j)
      sum += r.v[row * n + j] = std::exp(x.v[row * n + j] - mx);
    for (int64_t j = 0; j < n; ++j)
      r.v[row * n + j] /= sum;
  }
  return r;
}

Arr normLast(const Arr &x, bool center, const Arr *w, const Arr *b, double eps = 1e-6) {
  Arr r(x.shape);
  int64_t n = x.shape.back();
  for (int64_t row = 0; row < x.size() / n; ++row) {
    double mean = 0, var = 0;
    if (center) {
      for (int64_t j = 0; j < n; ++j)
        mean += x.v[row * n + j];
      mean /= n;
    }
    for (int64_t j = 0; j < n; ++j)
      var += std::pow(x.v[row * n + j] - mean, 2);
    var /= n;
    for (int64_t j = 0; j < n; ++j) {
      double y = (x.v[row * n + j] - mean) / std::sqrt(var + eps);
      if (w)
        y *= w->v[j];
      if (b)
        y += b->v[j];
      r.v[row * n + j] = y;
    }
  }
  return r;
}

std::string t(const std::vector<int64_t> &shape) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + "f32>";
}

/// A one-op function body: `%r = <op> : <type>`.
std::string unary(const std::string &op, const std::vector<int64_t> &s,
                  const std::string &attrs = "") {
  return "func.func @f(%a: " + t(s) + ") -> " + t(s) + " {\n  %r = " + op + " %a " + attrs +
         " : " + t(s) + "\n  return %r : " + t(s) + "\n}";
}

std::string call(const std::string &op, const std::vector<std::vector<int64_t>> &ins,
                 const std::vector<int64_t> &out, const std::string &attrs = "") {
  std::string sig, operands, types;
  for (size_t i = 0; i < ins.size(); ++i) {
    sig += (i ? ", " : "") + std::string("%a") + std::to_string(i) + ": " + t(ins[i]);
    operands += (i ? ", " : "") + std::string("%a") + std::to_string(i);
    types += (i ? ", " : "") + t(ins[i]);
  }
  return "func.func @f(" + sig + ") -> " + t(out) + " {\n  %r = " + op + " " + operands + " " +
         attrs + " : (" + types + ") -> " + t(out) + "\n  return %r : " + t(out) + "\n}";
}

std::vector<OpCase> allCases() {
  std::vector<OpCase> cases;
  std::vector<int64_t> s = {3, 5, 17}; // odd sizes catch tiling remainders
  auto addUnary = [&](const std::string &name, std::function<double(double)> f,
                      Domain d = Domain::Normal, const std::string &attrs = "") {
    cases.push_back({name, unary("msdd." + name, s, attrs), {{s, d}},
                     [f](const Args &a) { return map(a[0], f); }});
  };
  addUnary("neg", [](double x) { return -x; });
  addUnary("exp", [](double x) { return std::exp(x); });
  addUnary("log", [](double x) { return std::log(x); }, Domain::Positive);
  addUnary("sqrt", [](double x) { return std::sqrt(x); }, Domain::Positive);
  addUnary("rsqrt", [](double x) { return 1 / std::sqrt(x); }, Domain::Positive);
  addUnary("abs", [](double x) { return std::fabs(x); });
  addUnary("tanh", [](double x) { return std::tanh(x); });
  addUnary("erf", [](double x) { return std::erf(x); });
  addUnary("sin", [](double x) { return std::sin(x); });
  addUnary("cos", [](double x) { return std::cos(x); });
  addUnary("sigmoid", sigmoid);
  addUnary("relu", [](double x) { return std::max(x, 0.0); });
  addUnary("silu", [](double x) { return x * sigmoid(x); });
  addUnary("stop_gradient", [](double x) { return x; });
  cases.push_back({"gelu_erf", unary("msdd.gelu", s), {{s}}, [](const Args &a) {
                     return map(a[0], [](double x) { return 0.5 * x * (1 + std::erf(x / M_SQRT2)); });
                   }});
  cases.push_back({"gelu_tanh", unary("msdd.gelu", s, "{approximate = true}"), {{s}},
                   [](const Args &a) {
                     return map(a[0], [](double x) {
                       return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
                     });
                   }});
  cases.push_back({"scale", unary("msdd.scale", s, "{factor = -1.5 : f64, bias = 0.25 : f64}"),
                   {{s}}, [](const Args &a) { return map(a[0], [](double x) { return -1.5 * x + 0.25; }); }});

  auto addBinary = [&](const std::string &name, std::function<double(double, double)> f,
                       Domain d = Domain::Normal) {
    std::vector<int64_t> b = {5, 1}; // broadcasts along the last dim, stretched
    cases.push_back({name, call("msdd." + name, {s, b}, s), {{s, d}, {b}},
                     [f](const Args &a) { return zipBroadcast(a[0], a[1], f); }});
  };
  addBinary("add", [](double x, double y) { return x + y; });
  addBinary("sub", [](double x, double y) { return x - y; });
  addBinary("mul", [](double x, double y) { return x * y; });
  addBinary("div", [](double x, double y) { return x / (y); }); // |y| from normal: tolerable
  addBinary("maximum", [](double x, double y) { return std::max(x, y); });
  addBinary("minimum", [](double x, double y) { return std::min(x, y); });
  addBinary("pow", [](double x, double y) { return std::pow(x, y); }, Domain::Positive);

  cases.push_back({"reduce_sum", call("msdd.reduce_sum", {s}, {3, 17}, "{axes = array<i64: 1>}"),
                   {{s}}, [](const Args &a) {
                     Arr r({3, 17});
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 17; ++k)
                           r({i, k}) += a[0]({i, j, k});
                     return r;
                   }});
  cases.push_back({"reduce_mean_keep", call("msdd.reduce_mean", {s}, {1, 5, 1},
                                            "{axes = array<i64: 0, 2>, keep_dims = true}"),
                   {{s}}, [](const Args &a) {
                     Arr r({1, 5, 1});
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 17; ++k)
                           r({0, j, 0}) += a[0]({i, j, k}) / 51.0;
                     return r;
                   }});
  cases.push_back({"reduce_max", call("msdd.reduce_max", {s}, {3, 5}, "{axes = array<i64: 2>}"),
                   {{s}}, [](const Args &a) {
                     Arr r({3, 5});
                     for (double &x : r.v)
                       x = -INFINITY;
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 17; ++k)
                           r({i, j}) = std::max(r({i, j}), a[0]({i, j, k}));
                     return r;
                   }});
  cases.push_back({"reshape", call("msdd.reshape", {s}, {15, 17}), {{s}}, [](const Args &a) {
                     Arr r({15, 17});
                     r.v = a[0].v;
                     return r;
                   }});
  cases.push_back({"transpose", call("msdd.transpose", {s}, {17, 3, 5}, "{permutation = array<i64: 2, 0, 1>}"),
                   {{s}}, [](const Args &a) {
                     Arr r({17, 3, 5});
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 17; ++k)
                           r({k, i, j}) = a[0]({i, j, k});
                     return r;
                   }});
  cases.push_back({"concat", call("msdd.concat", {{3, 4, 5}, {3, 2, 5}, {3, 7, 5}}, {3, 13, 5}, "{axis = 1 : i64}"),
                   {{{3, 4, 5}}, {{3, 2, 5}}, {{3, 7, 5}}}, [](const Args &a) {
                     Arr r({3, 13, 5});
                     for (int i = 0; i < 3; ++i)
                       for (int k = 0; k < 5; ++k) {
                         int j = 0;
                         for (const Arr &part : a)
                           for (int p = 0; p < part.shape[1]; ++p)
                             r({i, j++, k}) = part({i, p, k});
                       }
                     return r;
                   }});
  cases.push_back({"slice", call("msdd.slice", {s}, {3, 5, 6}, "{axis = 2 : i64, start = 9 : i64}"),
                   {{s}}, [](const Args &a) {
                     Arr r({3, 5, 6});
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 6; ++k)
                           r({i, j, k}) = a[0]({i, j, 9 + k});
                     return r;
                   }});
  cases.push_back({"linear_bias", call("msdd.linear", {{2, 7, 33}, {19, 33}, {19}}, {2, 7, 19}),
                   {{{2, 7, 33}}, {{19, 33}}, {{19}}}, [](const Args &a) {
                     Arr x = a[0], w = a[1];
                     x.shape = {1, 14, 33};
                     w.shape = {1, 19, 33};
                     Arr y = matmul(x, w, true);
                     y.shape = {2, 7, 19};
                     return zipBroadcast(y, a[2], std::plus<double>());
                   }});
  cases.push_back({"linear", call("msdd.linear", {{70, 33}, {19, 33}}, {70, 19}),
                   {{{70, 33}}, {{19, 33}}}, [](const Args &a) {
                     Arr x = a[0];
                     x.shape = {1, 70, 33};
                     Arr w = a[1];
                     w.shape = {1, 19, 33};
                     Arr r = matmul(x, w, true);
                     r.shape = {70, 19};
                     return r;
                   }});
  cases.push_back({"matmul", call("msdd.matmul", {{13, 29}, {29, 11}}, {13, 11}),
                   {{{13, 29}}, {{29, 11}}}, [](const Args &a) { return matmul(a[0], a[1], false); }});
  cases.push_back({"matmul_batched_transposed",
                   call("msdd.matmul", {{2, 3, 13, 29}, {2, 3, 11, 29}}, {2, 3, 13, 11},
                        "{transpose_rhs = true}"),
                   {{{2, 3, 13, 29}}, {{2, 3, 11, 29}}},
                   [](const Args &a) { return matmul(a[0], a[1], true); }});

  auto patchify = [](const Arr &x, int64_t p) {
    int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), wp = w / p;
    Arr r({b, (h / p) * wp, p * p * c});
    for (int64_t n = 0; n < b; ++n)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx)
            r({n, (y / p) * wp + xx / p, ((y % p) * p + xx % p) * c + ci}) = x({n, ci, y, xx});
    return r;
  };
  cases.push_back({"patchify", call("msdd.patchify", {{2, 3, 8, 12}}, {2, 6, 48}, "{patch_size = 4 : i64}"),
                   {{{2, 3, 8, 12}}}, [patchify](const Args &a) { return patchify(a[0], 4); }});
  cases.push_back({"unpatchify", call("msdd.unpatchify", {{2, 6, 48}}, {2, 3, 8, 12}, "{patch_size = 4 : i64}"),
                   {{{2, 6, 48}}}, [](const Args &a) {
                     Arr r({2, 3, 8, 12});
                     for (int64_t n = 0; n < 2; ++n)
                       for (int64_t ci = 0; ci < 3; ++ci)
                         for (int64_t y = 0; y < 8; ++y)
                           for (int64_t xx = 0; xx < 12; ++xx)
                             r({n, ci, y, xx}) = a[0]({n, (y / 4) * 3 + xx / 4, ((y % 4) * 4 + xx % 4) * 3 + ci});
                     return r;
                   }});
  cases.push_back({"layer_norm", call("msdd.layer_norm", {s}, s), {{s}},
                   [](const Args &a) { return normLast(a[0], true, nullptr, nullptr); }});
  cases.push_back({"layer_norm_affine",
                   "func.func @f(%x: " + t(s) + ", %w: tensor<17xf32>, %b: tensor<17xf32>) -> " + t(s) +
                       " {\n %r = msdd.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f64} : (" + t(s) +
                       ", tensor<17xf32>, tensor<17xf32>) -> " + t(s) + "\n return %r : " + t(s) + "\n}",
                   {{s}, {{17}}, {{17}}},
                   [](const Args &a) { return normLast(a[0], true, &a[1], &a[2], 1e-5); }});
  cases.push_back({"rms_norm", call("msdd.rms_norm", {s}, s), {{s}},
                   [](const Args &a) { return normLast(a[0], false, nullptr, nullptr); }});
  cases.push_back({"rms_norm_weight", call("msdd.rms_norm", {s, {17}}, s), {{s}, {{17}}},
                   [](const Args &a) { return normLast(a[0], false, &a[1], nullptr); }});
  cases.push_back({"softmax", call("msdd.softmax", {s}, s), {{s}},
                   [](const Args &a) { return softmaxLast(a[0]); }});
  cases.push_back({"softmax_axis0", call("msdd.softmax", {{6, 9}}, {6, 9}, "{axis = 0 : i64}"),
                   {{{6, 9}}}, [](const Args &a) {
                     Arr tr({9, 6});
                     for (int i = 0; i < 6; ++i)
                       for (int j = 0; j < 9; ++j)
                         tr({j, i}) = a[0]({i, j});
                     Arr sm = softmaxLast(tr), r({6, 9});
                     for (int i = 0; i < 6; ++i)
                       for (int j = 0; j < 9; ++j)
                         r({i, j}) = sm({j, i});
                     return r;
                   }});
  auto attention = [](const Args &a, double scale, const Arr *mask) {
    Arr s = matmul(a[0], a[1], true);
    for (double &x : s.v)
      x *= scale;
    if (mask)
      s = zipBroadcast(s, *mask, std::plus<double>());
    return matmul(softmaxLast(s), a[2], false);
  };
  std::vector<int64_t> q = {2, 3, 10, 8}, kv = {2, 3, 12, 8};
  cases.push_back({"attention", call("msdd.attention", {q, kv, kv}, q), {{q}, {kv}, {kv}},
                   [attention](const Args &a) { return attention(a, 1 / std::sqrt(8.0), nullptr); }});
  cases.push_back({"attention_mask_scale",
                   call("msdd.attention", {q, kv, kv, {10, 12}}, q, "{scale = 0.5 : f64}"),
                   {{q}, {kv}, {kv}, {{10, 12}}},
                   [attention](const Args &a) { return attention(a, 0.5, &a[3]); }});
  // rope_2d on a 3x4 grid of tokens placed at (rowOffset + rowStep * r, colOffset + colStep * c).
  auto rope = [](double rowStep, double rowOffset, double colStep, double colOffset) {
    return [=](const Args &a) {
      const Arr &x = a[0];
      Arr r(x.shape);
      int64_t d = 8, quarter = 2;
      for (int64_t bh = 0; bh < 4; ++bh)
        for (int64_t tok = 0; tok < 12; ++tok)
          for (int64_t j = 0; j < d / 2; ++j) {
            bool row = j < quarter;
            int64_t i = row ? j : j - quarter;
            double pos = row ? rowOffset + rowStep * double(tok / 4) : colOffset + colStep * double(tok % 4);
            double ang = pos * std::pow(100.0, -double(i) / quarter);
            int64_t base = (bh * 12 + tok) * d + 2 * j;
            double x0 = x.v[base], x1 = x.v[base + 1];
            r.v[base] = x0 * std::cos(ang) - x1 * std::sin(ang);
            r.v[base + 1] = x1 * std::cos(ang) + x0 * std::sin(ang);
          }
      return r;
    };
  };
  cases.push_back({"rope_2d", call("msdd.rope_2d", {{2, 2, 12, 8}}, {2, 2, 12, 8},
                                   "{grid_height = 3 : i64, grid_width = 4 : i64, theta = 100.0 : f64}"),
                   {{{2, 2, 12, 8}}}, rope(1, 0, 1, 0)});
  cases.push_back({"rope_2d_placed",
                   call("msdd.rope_2d", {{2, 2, 12, 8}}, {2, 2, 12, 8},
                        "{grid_height = 3 : i64, grid_width = 4 : i64, theta = 100.0 : f64, "
                        "row_step = 5.0 : f64, row_offset = 2.0 : f64, col_step = 0.5 : f64, "
                        "col_offset = -0.25 : f64}"),
                   {{{2, 2, 12, 8}}}, rope(5, 2, 0.5, -0.25)});
  cases.push_back({"swiglu", call("msdd.swiglu", {s, s}, s), {{s}, {s}}, [](const Args &a) {
                     Arr r(a[0].shape);
                     for (int64_t i = 0; i < r.size(); ++i)
                       r.v[i] = a[0].v[i] * sigmoid(a[0].v[i]) * a[1].v[i];
                     return r;
                   }});
  cases.push_back({"modulate", call("msdd.modulate", {s, {3, 17}, {3, 17}}, s),
                   {{s}, {{3, 17}}, {{3, 17}}}, [](const Args &a) {
                     Arr r(a[0].shape);
                     for (int i = 0; i < 3; ++i)
                       for (int j = 0; j < 5; ++j)
                         for (int k = 0; k < 17; ++k)
                           r({i, j, k}) = a[0]({i, j, k}) * (1 + a[2]({i, k})) + a[1]({i, k});
                     return r;
                   }});
  cases.push_back({"timestep_embedding", call("msdd.timestep_embedding", {{4}}, {4, 32}), {{{4}, Domain::Positive}},
                   [](const Args &a) {
                     Arr r({4, 32});
                     for (int b = 0; b < 4; ++b)
                       for (int i = 0; i < 16; ++i) {
                         double arg = a[0].v[b] * 1000.0 * std::exp(-std::log(10000.0) * i / 16);
                         r({b, i}) = std::cos(arg);
                         r({b, 16 + i}) = std::sin(arg);
                       }
                     return r;
                   }});
  cases.push_back({"upsample_nearest", call("msdd.upsample_nearest", {{2, 3, 5, 7}}, {2, 3, 10, 14}),
                   {{{2, 3, 5, 7}}}, [](const Args &a) {
                     Arr r({2, 3, 10, 14});
                     for (int n = 0; n < 6; ++n)
                       for (int y = 0; y < 10; ++y)
                         for (int x = 0; x < 14; ++x)
                           r.v[(n * 10 + y) * 14 + x] = a[0].v[(n * 5 + y / 2) * 7 + x / 2];
                     return r;
                   }});
  cases.push_back({"downsample", call("msdd.downsample", {{2, 3, 12, 9}}, {2, 3, 4, 3}, "{factor = 3 : i64}"),
                   {{{2, 3, 12, 9}}}, [](const Args &a) {
                     Arr r({2, 3, 4, 3});
                     for (int n = 0; n < 6; ++n)
                       for (int y = 0; y < 12; ++y)
                         for (int x = 0; x < 9; ++x)
                           r.v[(n * 4 + y / 3) * 3 + x / 3] += a[0].v[(n * 12 + y) * 9 + x] / 9.0;
                     return r;
                   }});
  auto blockNoise = [](const Arr &z, double a, double b) {
    Arr r(z.shape);
    int64_t h = z.dim(2), w = z.dim(3);
    double sOrth = std::sqrt(a), sMean = std::sqrt(a + 4 * b);
    for (int64_t n = 0; n < z.dim(0) * z.dim(1); ++n)
      for (int64_t y = 0; y < h; y += 2)
        for (int64_t x = 0; x < w; x += 2) {
          int64_t idx[4] = {(n * h + y) * w + x, (n * h + y) * w + x + 1, (n * h + y + 1) * w + x,
                            (n * h + y + 1) * w + x + 1};
          double m = 0;
          for (int64_t i : idx)
            m += z.v[i] / 4;
          for (int64_t i : idx)
            r.v[i] = sOrth * (z.v[i] - m) + sMean * m;
        }
    return r;
  };
  cases.push_back({"block_noise_pyramidal", call("msdd.block_noise", {{2, 3, 6, 8}}, {2, 3, 6, 8}, "{gamma = 0.25 : f64}"),
                   {{{2, 3, 6, 8}}}, [blockNoise](const Args &a) { return blockNoise(a[0], 1.25, -0.25); }});
  cases.push_back({"block_noise_paper_code",
                   call("msdd.block_noise", {{2, 3, 6, 8}}, {2, 3, 6, 8},
                        "{gamma = 0.3333333333333333 : f64, covariance = \"paper_code\"}"),
                   {{{2, 3, 6, 8}}}, [blockNoise](const Args &a) {
                     return blockNoise(a[0], 1 - 1 / 3.0, 1 / 3.0);
                   }});
  cases.push_back({"noise_mix", call("msdd.noise_mix", {s, s}, s, "{alpha = 0.571 : f64, beta = 0.742 : f64}"),
                   {{s}, {s}}, [](const Args &a) {
                     return zipBroadcast(a[0], a[1], [](double x, double n) { return 0.571 * x + 0.742 * n; });
                   }});
  cases.push_back({"euler_step", call("msdd.euler_step", {s, s}, s, "{t_from = 0.857 : f64, t_to = 0.75 : f64}"),
                   {{s}, {s}}, [](const Args &a) {
                     return zipBroadcast(a[0], a[1], [](double x, double v) { return x + (0.75 - 0.857) * v; });
                   }});
  cases.push_back({"cfg_combine", call("msdd.cfg_combine", {s, s}, s, "{guidance_scale = 2.0 : f64}"),
                   {{s}, {s}}, [](const Args &a) {
                     return zipBroadcast(a[0], a[1], [](double u, double c) { return u + 2.0 * (c - u); });
                   }});
  cases.push_back({"mse", call("msdd.mse", {s, s}, {}), {{s}, {s}}, [](const Args &a) {
                     Arr r(std::vector<int64_t>{});
                     for (int64_t i = 0; i < a[0].size(); ++i)
                       r.v[0] += std::pow(a[0].v[i] - a[1].v[i], 2) / a[0].size();
                     return r;
                   }});
  cases.push_back({"weighted_mse", call("msdd.weighted_mse", {s, s, {3}}, {}), {{s}, {s}, {{3}, Domain::Positive}},
                   [](const Args &a) {
                     Arr r(std::vector<int64_t>{});
                     int64_t per = a[0].size() / 3;
                     for (int64_t i = 0; i < a[0].size(); ++i)
                       r.v[0] += a[2].v[i / per] * std::pow(a[0].v[i] - a[1].v[i], 2) / a[0].size();
                     return r;
                   }});
  // Noise keyed by (seed, step, stream): compared with the Philox definition above.
  cases.push_back({"random_normal",
                   "func.func @f(%seed: tensor<i64>, %step: tensor<i64>) -> tensor<3x5x17xf32> {\n"
                   "  %s = tensor.extract %seed[] : tensor<i64>\n"
                   "  %t = tensor.extract %step[] : tensor<i64>\n"
                   "  %r = msdd.random_normal %s, %t {stream = 7 : i32} : tensor<3x5x17xf32>\n"
                   "  return %r : tensor<3x5x17xf32>\n}",
                   {{{}, Domain::Normal, 0x123456789abcdefLL}, {{}, Domain::Normal, 42}},
                   [](const Args &) {
                     Arr r({3, 5, 17});
                     for (int64_t i = 0; i < r.size(); ++i)
                       r.v[i] = msdd::test::philoxNormal(0x123456789abcdefULL, 42, 7, i);
                     return r;
                   }});
  // A scale transition, written as the chain msdd-expand-sampler emits (the pipeline fuses it
  // into msdd.scale_transition) and as the fused op: both against upsampling, the Philox
  // noise, the block noise and the mix in float64.
  auto transition = [blockNoise](const Args &a) {
    const Arr &x = a[0];
    int64_t h = 2 * x.dim(2), w = 2 * x.dim(3);
    Arr z({x.dim(0), x.dim(1), h, w});
    for (int64_t i = 0; i < z.size(); ++i)
      z.v[i] = msdd::test::philoxNormal(0x5eedULL, 3, 1, i);
    Arr n = blockNoise(z, 1.25, -0.25), r(z.shape);
    for (int64_t i = 0; i < r.size(); ++i) {
      int64_t col = i % w, row = (i / w) % h, plane = i / (w * h);
      double up = x.v[(plane * x.dim(2) + row / 2) * x.dim(3) + col / 2];
      r.v[i] = 0.6 * up + 0.69282032302755 * n.v[i];
    }
    return r;
  };
  const char *transitionHead =
      "func.func @f(%x: tensor<2x3x3x4xf32>, %seed: tensor<i64>, %step: tensor<i64>) -> "
      "tensor<2x3x6x8xf32> {\n"
      "  %s = tensor.extract %seed[] : tensor<i64>\n"
      "  %t = tensor.extract %step[] : tensor<i64>\n";
  std::vector<InputSpec> transitionInputs = {
      {{2, 3, 3, 4}}, {{}, Domain::Normal, 0x5eed}, {{}, Domain::Normal, 3}};
  cases.push_back(
      {"scale_transition_chain",
       std::string(transitionHead) +
           "  %up = msdd.upsample_nearest %x : (tensor<2x3x3x4xf32>) -> tensor<2x3x6x8xf32>\n"
           "  %z = msdd.random_normal %s, %t {stream = 1 : i32} : tensor<2x3x6x8xf32>\n"
           "  %n = msdd.block_noise %z {gamma = 0.25 : f64} : (tensor<2x3x6x8xf32>) -> "
           "tensor<2x3x6x8xf32>\n"
           "  %m = msdd.noise_mix %up, %n {alpha = 0.6 : f64, beta = 0.69282032302755 : f64} : "
           "(tensor<2x3x6x8xf32>, tensor<2x3x6x8xf32>) -> tensor<2x3x6x8xf32>\n"
           "  return %m : tensor<2x3x6x8xf32>\n}",
       transitionInputs, transition});
  cases.push_back(
      {"scale_transition",
       std::string(transitionHead) +
           "  %m = msdd.scale_transition %x, %s, %t {alpha = 0.6 : f64, beta = 0.69282032302755 "
           ": f64, gamma = 0.25 : f64, stream = 1 : i32} : (tensor<2x3x3x4xf32>) -> "
           "tensor<2x3x6x8xf32>\n"
           "  return %m : tensor<2x3x6x8xf32>\n}",
       transitionInputs, transition});
  // The same ops in f64: a much tighter bound shows the lowering is exact up to rounding.
  for (const char *name : {"linear_bias", "matmul_batched_transposed", "softmax",
                           "layer_norm_affine", "attention_mask_scale", "rope_2d", "rope_2d_placed", "gelu_erf",
                           "weighted_mse", "block_noise_pyramidal", "timestep_embedding"}) {
    OpCase c = *std::find_if(cases.begin(), cases.end(), [&](const OpCase &x) { return x.name == name; });
    for (size_t pos; (pos = c.body.find("f32>")) != std::string::npos;)
      c.body.replace(pos, 4, "f64>");
    c.name += "_f64";
    c.tolerance = 1e-12;
    cases.push_back(c);
  }
  return cases;
}

// gtest prints parameters in test names and failures; the case name says it all.
void PrintTo(const OpCase &c, std::ostream *os) { *os << c.name; }

class OpNumerics : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpNumerics, MatchesFloat64Reference) {
  const OpCase &c = GetParam();
  std::string error;
  auto artifact = msdd::test::compileToArtifact(c.body, error);
  ASSERT_TRUE(artifact) << error << "\n" << c.body;

  std::mt19937_64 rng(std::hash<std::string>{}(c.name));
  std::normal_distribution<float> normal;
  msdd::rt::NamedTensors inputs;
  Args args;
  const msdd::rt::FunctionSpec &fn = artifact->function("f");
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const InputSpec &spec = c.inputs[i];
    if (spec.integer) {
      msdd::rt::Tensor tensor(msdd::rt::DType::I64, spec.shape);
      *tensor.data<int64_t>() = *spec.integer;
      inputs.insert(fn.inputs[i].name, std::move(tensor));
      args.emplace_back();
      continue;
    }
    msdd::rt::DType dtype = fn.inputs[i].dtype;
    msdd::rt::Tensor tensor(dtype, spec.shape);
    Arr arr(spec.shape);
    for (int64_t k = 0; k < arr.size(); ++k) {
      float v = normal(rng);
      if (spec.domain == Domain::Positive)
        v = std::fabs(v) + 0.5f;
      if (dtype == msdd::rt::DType::F64)
        tensor.data<double>()[k] = v;
      else
        tensor.data<float>()[k] = v;
      arr.v[k] = v; // the reference sees exactly the inputs
    }
    inputs.insert(fn.inputs[i].name, std::move(tensor));
    args.push_back(std::move(arr));
  }
  msdd::rt::NamedTensors outputs = artifact->call("f", inputs);
  Arr want = c.reference(args);
  const msdd::rt::Tensor &got = outputs.begin()->second;
  ASSERT_EQ(got.shape(), want.shape);
  double maxErr = 0, maxRef = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    double value = got.dtype() == msdd::rt::DType::F64 ? got.data<double>()[i]
                                                       : double(got.data<float>()[i]);
    maxErr = std::max(maxErr, std::fabs(value - want.v[i]));
    maxRef = std::max(maxRef, std::fabs(want.v[i]));
  }
  double relative = maxErr / std::max(maxRef, 1e-30);
  EXPECT_LT(relative, c.tolerance) << c.name << ": max |error| " << maxErr << ", max |reference| " << maxRef;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpNumerics, ::testing::ValuesIn(allCases()),
                         [](const ::testing::TestParamInfo<OpCase> &info) { return info.param.name; });

} // namespace
