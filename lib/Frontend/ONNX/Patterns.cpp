//===- Patterns.cpp - ONNX subgraphs that map onto msdd nn ops -------------===//
//
// Exporters decompose ops that msdd has whole. Matched at the node that ends the pattern
// (the intermediate ops already emitted become dead and are removed):
//   x * 0.5 * (1 + erf(x / sqrt 2))                      -> msdd.gelu
//   x * 0.5 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  -> msdd.gelu {approximate}
//   x * sigmoid(x)                                        -> msdd.silu
//   (x - mean) / sqrt(mean((x - mean)^2) + eps)           -> msdd.layer_norm
//   softmax(q k^T * s [+ mask]) v                         -> msdd.attention
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

namespace {

bool near(std::optional<double> v, double want) {
  return v && std::fabs(*v - want) <= 1e-4 * std::fabs(want);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

const onnx::NodeProto *producerOf(Importer &imp, const std::string &name, StringRef op) {
  const onnx::NodeProto *p = imp.producer(name);
  return p && p->op_type() == op && (p->domain().empty() || p->domain() == "ai.onnx") ? p : nullptr;
}

/// If `a` is 1 + erf(x / sqrt 2) (or x * (1/sqrt 2)), returns x's name.
std::optional<std::string> erfTerm(Importer &imp, const std::string &a) {
  const auto *add = producerOf(imp, a, "Add");
  if (!add || add->input_size() != 2)
    return std::nullopt;
  for (int side : {0, 1}) {
    if (!near(imp.scalarValue(add->input(1 - side)), 1.0))
      continue;
    const auto *erf = producerOf(imp, add->input(side), "Erf");
    if (!erf)
      continue;
    const std::string &d = erf->input(0);
    if (const auto *div = producerOf(imp, d, "Div"))
      if (near(imp.scalarValue(div->input(1)), std::sqrt(2.0)))
        return div->input(0);
    if (const auto *mul = producerOf(imp, d, "Mul"))
      for (int s : {0, 1})
        if (near(imp.scalarValue(mul->input(1 - s)), 1 / std::sqrt(2.0)))
          return mul->input(s);
  }
  return std::nullopt;
}

/// The factor `name` = c * v (either order) with the scalar c near `want`: returns v.
std::optional<std::string> scaledBy(Importer &imp, const std::string &name, double want) {
  if (const auto *mul = producerOf(imp, name, "Mul"))
    for (int s : {0, 1})
      if (near(imp.scalarValue(mul->input(1 - s)), want))
        return mul->input(s);
  return std::nullopt;
}

/// Whether `name` is x^3: Pow(x, 3), x * (x * x) or (x * x) * x.
bool isCube(Importer &imp, const std::string &name, const std::string &x) {
  if (const auto *pw = producerOf(imp, name, "Pow"))
    return pw->input(0) == x && near(imp.scalarValue(pw->input(1)), 3.0);
  if (const auto *mul = producerOf(imp, name, "Mul"))
    for (int s : {0, 1})
      if (mul->input(s) == x)
        if (const auto *sq = producerOf(imp, mul->input(1 - s), "Mul"))
          if (sq->input(0) == x && sq->input(1) == x)
            return true;
  return false;
}

/// If `a` is 1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)), returns x's name.
std::optional<std::string> tanhTerm(Importer &imp, const std::string &a) {
  const auto *add = producerOf(imp, a, "Add");
  if (!add || add->input_size() != 2)
    return std::nullopt;
  for (int side : {0, 1}) {
    if (!near(imp.scalarValue(add->input(1 - side)), 1.0))
      continue;
    const auto *th = producerOf(imp, add->input(side), "Tanh");
    if (!th)
      continue;
    auto v = scaledBy(imp, th->input(0), std::sqrt(2 / M_PI));
    if (!v)
      continue;
    const auto *inner = producerOf(imp, *v, "Add");
    if (!inner)
      continue;
    for (int s : {0, 1}) {
      const std::string &x = inner->input(s);
      auto cube = scaledBy(imp, inner->input(1 - s), 0.044715);
      if (cube && isCube(imp, *cube, x))
        return x;
    }
  }
  return std::nullopt;
}

} // namespace

/// Called for every Mul: x * 0.5 * (1 + erf(x / sqrt 2)) in any association -> msdd.gelu;
/// the tanh form -> msdd.gelu {approximate = true}; x * sigmoid(x) -> msdd.silu.
LogicalResult onnx_import::matchGelu(Importer &imp) {
  const onnx::NodeProto *n = imp.node;
  if (n->input_size() != 2)
    return failure();
  std::string p = n->input(0), q = n->input(1);
  // x * sigmoid(x)
  for (int swap : {0, 1}) {
    const std::string &first = swap ? q : p, &second = swap ? p : q;
    if (const auto *sg = producerOf(imp, second, "Sigmoid"))
      if (sg->input(0) == first)
        if (Val *xv = imp.lookup(first); xv && isFloat(xv->kind)) {
          Value xval = imp.get(*xv);
          imp.setOut(0, imp.b.create<msdd::SiluOp>(imp.loc, xval.getType(), xval).getResult());
          return success();
        }
  }
  std::optional<std::string> x;
  bool approximate = false;
  // The (1 + erf(..)) or (1 + tanh(..)) factor: x's name, tagged with the form.
  auto term = [&](const std::string &a) -> std::optional<std::string> {
    if (auto e = erfTerm(imp, a))
      return "e" + *e;
    if (auto t = tanhTerm(imp, a))
      return "t" + *t;
    return std::nullopt;
  };
  auto matches = [&](const std::optional<std::string> &t, const std::string &want) {
    if (!t || t->substr(1) != want)
      return false;
    x = want;
    approximate = (*t)[0] == 't';
    return true;
  };
  for (int swap : {0, 1}) {
    const std::string &first = swap ? q : p, &second = swap ? p : q;
    // (x * a) * 0.5
    if (near(imp.scalarValue(second), 0.5))
      if (const auto *m = producerOf(imp, first, "Mul"))
        for (int s : {0, 1})
          matches(term(m->input(1 - s)), m->input(s));
    // x * (a * 0.5)
    if (const auto *h = producerOf(imp, second, "Mul"))
      for (int s : {0, 1})
        if (near(imp.scalarValue(h->input(1 - s)), 0.5))
          matches(term(h->input(s)), first);
    // (x * 0.5) * a
    if (const auto *h = producerOf(imp, first, "Mul"))
      for (int s : {0, 1})
        if (near(imp.scalarValue(h->input(1 - s)), 0.5))
          matches(term(second), h->input(s));
  }
  if (!x)
    return failure();
  Val *xv = imp.lookup(*x);
  if (!xv || !isFloat(xv->kind))
    return failure();
  Value xval = imp.get(*xv);
  imp.setOut(0, imp.b.create<msdd::GeluOp>(imp.loc, xval.getType(), xval, approximate).getResult());
  return success();
}

/// The last-axis mean of `name` (ReduceMean, keepdims) of a value of rank `rank`: its input.
static std::optional<std::string> lastAxisMean(Importer &imp, const std::string &name, int64_t rank) {
  const auto *rm = producerOf(imp, name, "ReduceMean");
  if (!rm || rm->input_size() != 1)
    return std::nullopt;
  std::vector<int64_t> axes;
  int64_t keep = 1;
  for (const auto &a : rm->attribute()) {
    if (a.name() == "axes")
      axes.assign(a.ints().begin(), a.ints().end());
    if (a.name() == "keepdims")
      keep = a.i();
  }
  if (!keep || axes.size() != 1 || (axes[0] != -1 && axes[0] != rank - 1))
    return std::nullopt;
  return rm->input(0);
}

/// Called for every Div: (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) over the last
/// axis (LayerNorm as exported before opset 17) -> msdd.layer_norm without affine.
LogicalResult onnx_import::matchLayerNorm(Importer &imp) {
  const onnx::NodeProto *n = imp.node;
  if (n->input_size() != 2)
    return failure();
  const std::string &d = n->input(0);
  Val *dv = imp.lookup(d);
  if (!dv || !isFloat(dv->kind) || dv->shape.empty())
    return failure();
  int64_t rank = dv->shape.size();
  const auto *sub = producerOf(imp, d, "Sub");
  if (!sub)
    return failure();
  auto meanIn = lastAxisMean(imp, sub->input(1), rank);
  if (!meanIn || *meanIn != sub->input(0))
    return failure();
  const auto *sq = producerOf(imp, n->input(1), "Sqrt");
  if (!sq)
    return failure();
  const auto *add = producerOf(imp, sq->input(0), "Add");
  if (!add)
    return failure();
  std::optional<double> eps;
  std::string var;
  for (int side : {0, 1})
    if (auto c = imp.scalarValue(add->input(1 - side)); c && !eps) {
      eps = c;
      var = add->input(side);
    }
  if (!eps || !(*eps > 0))
    return failure();
  auto sqIn = lastAxisMean(imp, var, rank);
  if (!sqIn)
    return failure();
  bool squares = false;
  if (const auto *pw = producerOf(imp, *sqIn, "Pow"))
    squares = pw->input(0) == d && near(imp.scalarValue(pw->input(1)), 2.0);
  else if (const auto *mul = producerOf(imp, *sqIn, "Mul"))
    squares = mul->input(0) == d && mul->input(1) == d;
  if (!squares)
    return failure();
  Val *x = imp.lookup(sub->input(0));
  if (!x || x->kind != dv->kind || x->shape != dv->shape)
    return failure();
  Value xv = imp.get(*x);
  imp.setOut(0, imp.b.create<msdd::LayerNormOp>(imp.loc, xv.getType(), xv, Value(), Value(),
                                                imp.b.getF64FloatAttr((float)*eps))
                    .getResult());
  return success();
}

/// MatMul(Softmax(s), v) with s = [Add](Mul|Div(MatMul(q, Transpose(k)), c), mask) on
/// [B, H, L, D] tensors -> msdd.attention. Returns failure when the pattern does not apply.
LogicalResult onnx_import::matchAttention(Importer &imp) {
  const onnx::NodeProto *n = imp.node;
  const auto *sm = producerOf(imp, n->input(0), "Softmax");
  if (!sm || imp.opset < 13)
    return failure();
  Val *probs = imp.lookup(n->input(0));
  if (!probs || probs->shape.size() != 4)
    return failure();
  int64_t axis = -1;
  for (const auto &a : sm->attribute())
    if (a.name() == "axis")
      axis = a.i();
  if (axis != -1 && axis != 3)
    return failure();
  std::string s = sm->input(0), mask;
  if (const auto *add = producerOf(imp, s, "Add")) {
    // Which side is the scores (a scaled MatMul) and which the mask?
    auto isScores = [&](const std::string &name) {
      return producerOf(imp, name, "MatMul") || producerOf(imp, name, "Mul") ||
             producerOf(imp, name, "Div");
    };
    if (isScores(add->input(0)) && !isScores(add->input(1))) {
      s = add->input(0);
      mask = add->input(1);
    } else if (isScores(add->input(1)) && !isScores(add->input(0))) {
      s = add->input(1);
      mask = add->input(0);
    } else {
      return failure();
    }
  }
  double scale = 1.0;
  if (const auto *mul = producerOf(imp, s, "Mul")) {
    bool found = false;
    for (int side : {0, 1})
      if (auto c = imp.scalarValue(mul->input(1 - side)); c && !found) {
        scale = *c;
        s = mul->input(side);
        found = true;
      }
    if (!found)
      return failure();
  } else if (const auto *div = producerOf(imp, s, "Div")) {
    auto c = imp.scalarValue(div->input(1));
    if (!c || *c == 0)
      return failure();
    scale = 1 / *c;
    s = div->input(0);
  }
  const auto *mm = producerOf(imp, s, "MatMul");
  if (!mm)
    return failure();
  std::string q = mm->input(0), kt = mm->input(1);
  // PyTorch's scaled_dot_product_attention export scales q and k^T by sqrt(scale) each.
  auto unscale = [&](std::string &name) {
    if (const auto *mul = producerOf(imp, name, "Mul"))
      for (int side : {0, 1})
        if (auto c = imp.scalarValue(mul->input(1 - side))) {
          scale *= *c;
          name = mul->input(side);
          return;
        }
  };
  unscale(q);
  unscale(kt);
  const auto *tr = producerOf(imp, kt, "Transpose");
  if (!tr)
    return failure();
  std::vector<int64_t> perm;
  for (const auto &a : tr->attribute())
    if (a.name() == "perm")
      perm.assign(a.ints().begin(), a.ints().end());
  if (perm != std::vector<int64_t>{0, 1, 3, 2})
    return failure();
  std::string k = tr->input(0);
  unscale(k);
  Val *qv = imp.lookup(q), *kv = imp.lookup(k), *vv = imp.lookup(n->input(1));
  if (!qv || !kv || !vv || !(scale > 0))
    return failure();
  EK kind = qv->kind;
  if (!isFloat(kind) || kv->kind != kind || vv->kind != kind)
    return failure();
  if (qv->shape.size() != 4 || kv->shape.size() != 4 || vv->shape.size() != 4)
    return failure();
  Shape qs = qv->shape, ks = kv->shape, vs = vv->shape;
  if (ks[0] != qs[0] || ks[1] != qs[1] || ks[3] != qs[3] || vs[0] != qs[0] || vs[1] != qs[1] ||
      vs[2] != ks[2])
    return failure();
  Value maskV;
  if (!mask.empty()) {
    Val *mv = imp.lookup(mask);
    if (!mv || mv->kind != kind)
      return failure();
    Shape m = mv->shape;
    if (!(m.size() == 2 && m[0] == qs[2] && m[1] == ks[2])) {
      Shape full = {qs[0], qs[1], qs[2], ks[2]}, bc;
      if (!broadcastShape(m, full, bc) || ArrayRef<int64_t>(bc) != ArrayRef<int64_t>(full))
        return failure();
      // [.., Lq, Lk] with leading ones: the 2-D form; anything else broadcasts to full.
      bool leadingOnes = llvm::all_of(ArrayRef<int64_t>(m).drop_back(std::min<size_t>(2, m.size())),
                                      [](int64_t d) { return d == 1; });
      if (m.size() >= 2 && leadingOnes &&
          ArrayRef<int64_t>(m).take_back(2) == ArrayRef<int64_t>{qs[2], ks[2]})
        maskV = imp.reshape(imp.get(*mv), {qs[2], ks[2]});
      else
        maskV = imp.broadcastTo(imp.get(*mv), full);
    } else {
      maskV = imp.get(*mv);
    }
  }
  auto type = imp.tensorType({qs[0], qs[1], qs[2], vs[3]}, kind);
  Value r = imp.b.create<msdd::AttentionOp>(imp.loc, type, imp.get(*qv), imp.get(*kv),
                                            imp.get(*vv), maskV, imp.b.getF64FloatAttr(scale));
  imp.setOut(0, r);
  return success();
}
