//===- OpsNN.cpp - ONNX neural-network ops ---------------------------------===//
//
// MatMul/Gemm -> msdd.matmul / msdd.linear; Einsum -> a linalg.generic contraction;
// Conv and ConvTranspose (any rank, grouped, strided, dilated, padded) -> msdd.conv /
// msdd.conv_transpose (differentiable: a feature network inside a training loss); LayerNormalization -> msdd.layer_norm; Softmax -> msdd.softmax;
// reductions -> msdd.reduce_* (or linalg.generic); BatchNormalization,
// InstanceNormalization, GlobalAverage/MaxPool from msdd ops.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;
#include <set>

namespace {

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

LogicalResult matmul(Importer &imp) {
  auto av = imp.need(0), bv = imp.need(1);
  if (failed(av) || failed(bv))
    return failure();
  Val &A = **av, &B = **bv;
  if (failed(needFloat(imp, A)) || failed(needFloat(imp, B)))
    return failure();
  if (A.kind != B.kind)
    return imp.fail("operand element types differ");
  if (A.shape.empty() || B.shape.empty())
    return imp.fail("operands must have rank >= 1");
  if (succeeded(matchAttention(imp)))
    return success();
  Shape a = A.shape, bs = B.shape;
  bool squeezeA = a.size() == 1, squeezeB = bs.size() == 1;
  if (squeezeA)
    a.insert(a.begin(), 1);
  if (squeezeB)
    bs.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), Kb = bs[bs.size() - 2], N = bs.back();
  if (K != Kb)
    return imp.fail("contraction sizes differ: " + shapeStr(A.shape) + " x " + shapeStr(B.shape));
  Shape batchA(a.begin(), a.end() - 2), batchB(bs.begin(), bs.end() - 2), batch;
  if (!broadcastShape(batchA, batchB, batch))
    return imp.fail("batch dimensions " + shapeStr(batchA) + " and " + shapeStr(batchB) +
                    " do not broadcast");
  Shape full = batch;
  full.push_back(M);
  full.push_back(N);
  Shape final;
  for (size_t d = 0; d < full.size(); ++d) {
    if (squeezeA && d == full.size() - 2)
      continue;
    if (squeezeB && d == full.size() - 1)
      continue;
    final.push_back(full[d]);
  }
  Value x = imp.reshape(imp.get(A), a), y = imp.reshape(imp.get(B), bs);
  EK k = A.kind;
  Value r;
  if (batchB.empty()) {
    // [..., M, K] x [K, N]: one 2-D product over the flattened rows.
    int64_t rows = numel(batchA) * M;
    Value x2 = imp.reshape(x, {rows, K});
    r = imp.b.create<msdd::MatmulOp>(imp.loc, imp.tensorType({rows, N}, k), x2, y, false);
  } else {
    Shape fa = batch, fb = batch;
    fa.append({M, K});
    fb.append({K, N});
    x = imp.broadcastTo(x, fa);
    y = imp.broadcastTo(y, fb);
    if (batch.empty())
      r = imp.b.create<msdd::MatmulOp>(imp.loc, imp.tensorType({M, N}, k), x, y, false);
    else
      r = imp.b.create<msdd::MatmulOp>(imp.loc, imp.tensorType(full, k), x, y, false);
  }
  imp.setOut(0, imp.reshape(r, final));
  return success();
}

LogicalResult gemm(Importer &imp) {
  auto av = imp.need(0), bv = imp.need(1);
  if (failed(av) || failed(bv))
    return failure();
  Val &A = **av, &B = **bv;
  Val *C = imp.in(2);
  if (failed(needFloat(imp, A)) || A.kind != B.kind || (C && C->kind != A.kind))
    return imp.fail("operands must share one float element type");
  if (A.shape.size() != 2 || B.shape.size() != 2)
    return imp.fail("A and B must be matrices");
  double alpha = imp.attrFloat("alpha", 1.0), beta = imp.attrFloat("beta", 1.0);
  bool transA = imp.attrInt("transA", 0), transB = imp.attrInt("transB", 0);
  int64_t M = transA ? A.shape[1] : A.shape[0], K = transA ? A.shape[0] : A.shape[1];
  int64_t Kb = transB ? B.shape[1] : B.shape[0], N = transB ? B.shape[0] : B.shape[1];
  if (K != Kb)
    return imp.fail("contraction sizes differ");
  EK k = A.kind;
  Shape out = {M, N};
  if (C) {
    Shape bc;
    if (!broadcastShape(C->shape, out, bc) || ArrayRef<int64_t>(bc) != ArrayRef<int64_t>(out))
      return imp.fail("C " + shapeStr(C->shape) + " does not broadcast to " + shapeStr(out));
  }
  Value a = imp.get(A), bm = imp.get(B);
  OpBuilder &b = imp.b;
  if (!transA && transB && alpha == 1.0 &&
      (!C || (beta == 1.0 && C->shape.size() == 1 && C->shape[0] == N))) {
    Value bias = C ? imp.get(*C) : Value();
    imp.setOut(0, b.create<msdd::LinearOp>(imp.loc, imp.tensorType(out, k), a, bm, bias).getResult());
    return success();
  }
  if (transA)
    a = imp.transpose(a, {1, 0});
  Value r = b.create<msdd::MatmulOp>(imp.loc, imp.tensorType(out, k), a, bm, transB);
  if (alpha != 1.0)
    r = b.create<msdd::ScaleOp>(imp.loc, r.getType(), r, b.getF64FloatAttr(alpha),
                                b.getF64FloatAttr(0.0));
  if (C && beta != 0.0) {
    Value c = imp.get(*C);
    if (beta != 1.0)
      c = b.create<msdd::ScaleOp>(imp.loc, c.getType(), c, b.getF64FloatAttr(beta),
                                  b.getF64FloatAttr(0.0));
    r = b.create<msdd::AddOp>(imp.loc, r.getType(), r, c);
  }
  imp.setOut(0, r);
  return success();
}

/// Einsum as one linalg.generic: output labels are parallel loops, the rest reductions.
LogicalResult einsum(Importer &imp) {
  std::string eq;
  for (char c : imp.attrString("equation", ""))
    if (c != ' ')
      eq += c;
  if (eq.empty())
    return imp.fail("missing equation");
  auto arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::optional<std::string> rhs;
  if (arrow != std::string::npos)
    rhs = eq.substr(arrow + 2);
  SmallVector<std::string> terms;
  {
    std::string cur;
    for (char c : lhs) {
      if (c == ',') {
        terms.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    terms.push_back(cur);
  }
  if (terms.size() != imp.numInputs())
    return imp.fail("equation has " + Twine(terms.size()) + " operands but the node has " +
                    Twine(imp.numInputs()));
  // Expand "..." into labels '0'.. (letters are the only user labels).
  int64_t ellRank = 0;
  SmallVector<Val *> ins;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto v = imp.need(i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
    if (terms[i].find("...") != std::string::npos)
      ellRank = std::max<int64_t>(ellRank, (int64_t)(*v)->shape.size() - ((int64_t)terms[i].size() - 3));
  }
  if (ellRank > 9)
    return imp.unsupported("Einsum ellipses of more than 9 dimensions");
  auto expand = [&](const std::string &t, int64_t rank) -> std::string {
    auto p = t.find("...");
    if (p == std::string::npos)
      return t;
    int64_t n = rank - ((int64_t)t.size() - 3);
    std::string e;
    for (int64_t j = ellRank - n; j < ellRank; ++j)
      e += (char)('0' + j);
    return t.substr(0, p) + e + t.substr(p + 3);
  };
  std::map<char, int64_t> sizes;
  std::map<char, int> count;
  SmallVector<std::string> exp;
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string t = expand(terms[i], ins[i]->shape.size());
    if (t.size() != ins[i]->shape.size())
      return imp.fail("operand " + Twine(i) + " has rank " + Twine(ins[i]->shape.size()) +
                      " but its term '" + terms[i] + "' has " + Twine(t.size()) + " labels");
    for (size_t d = 0; d < t.size(); ++d) {
      char c = t[d];
      int64_t s = ins[i]->shape[d];
      if (sizes.count(c) && sizes[c] != s && sizes[c] != 1 && s != 1)
        return imp.fail(Twine("label '") + std::string(1, c) + "' has sizes " + Twine(sizes[c]) +
                        " and " + Twine(s));
      if (!sizes.count(c) || sizes[c] == 1)
        sizes[c] = s;
      ++count[c];
    }
    exp.push_back(t);
  }
  std::string out;
  if (rhs) {
    out = rhs->find("...") != std::string::npos ? expand(*rhs, rhs->size() - 3 + ellRank) : *rhs;
  } else {
    for (int64_t j = 0; j < ellRank; ++j)
      out += (char)('0' + j);
    for (auto &[c, n] : count)
      if (n == 1 && std::isalpha((unsigned char)c))
        out += c;
  }
  for (char c : out)
    if (!sizes.count(c))
      return imp.fail(Twine("output label '") + std::string(1, c) + "' is not in any operand");
  std::string loops = out;
  for (auto &[c, n] : sizes)
    if (out.find(c) == std::string::npos)
      loops += c;
  EK k = ins[0]->kind;
  for (Val *v : ins)
    if (v->kind != k)
      return imp.fail("operands differ in element type");
  if (k == EK::I1)
    return imp.unsupported("Einsum on bool tensors");
  OpBuilder &b = imp.b;
  SmallVector<AffineMap> maps;
  SmallVector<Value> values;
  for (size_t i = 0; i < ins.size(); ++i) {
    SmallVector<AffineExpr> e;
    for (size_t d = 0; d < exp[i].size(); ++d) {
      if (ins[i]->shape[d] == 1 && sizes[exp[i][d]] != 1)
        e.push_back(b.getAffineConstantExpr(0));
      else
        e.push_back(b.getAffineDimExpr(loops.find(exp[i][d])));
    }
    maps.push_back(AffineMap::get(loops.size(), 0, e, &imp.ctx));
    values.push_back(imp.get(*ins[i]));
  }
  Shape outShape;
  SmallVector<AffineExpr> oe;
  for (size_t d = 0; d < out.size(); ++d) {
    outShape.push_back(sizes[out[d]]);
    oe.push_back(b.getAffineDimExpr(d));
  }
  maps.push_back(AffineMap::get(loops.size(), 0, oe, &imp.ctx));
  SmallVector<utils::IteratorType> iters;
  for (size_t d = 0; d < loops.size(); ++d)
    iters.push_back(d < out.size() ? utils::IteratorType::parallel
                                   : utils::IteratorType::reduction);
  Value init = imp.fill(outShape, k, 0.0);
  bool f = isFloat(k);
  auto g = b.create<linalg::GenericOp>(
      imp.loc, TypeRange{init.getType()}, values, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value p = a[0];
        for (size_t i = 1; i + 1 < a.size(); ++i)
          p = f ? (Value)nb.create<arith::MulFOp>(l, p, a[i]) : nb.create<arith::MulIOp>(l, p, a[i]);
        Value s = f ? (Value)nb.create<arith::AddFOp>(l, a.back(), p)
                    : nb.create<arith::AddIOp>(l, a.back(), p);
        nb.create<linalg::YieldOp>(l, s);
      });
  imp.setOut(0, g.getResult(0));
  return success();
}

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

struct ConvParams {
  int64_t spatial = 0, group = 1;
  Shape strides, dilations, padBegin, padEnd, kernel;
};

LogicalResult convParams(Importer &imp, const Val &X, const Val &W, ConvParams &p) {
  if (X.shape.size() < 3 || W.shape.size() != X.shape.size())
    return imp.fail("X " + shapeStr(X.shape) + " and W " + shapeStr(W.shape) +
                    " must have the same rank >= 3");
  p.spatial = X.shape.size() - 2;
  p.group = imp.attrInt("group", 1);
  if (p.group < 1)
    return imp.fail("group must be >= 1");
  p.kernel.assign(W.shape.begin() + 2, W.shape.end());
  if (auto ks = imp.attrInts("kernel_shape"))
    if (ArrayRef<int64_t>(*ks) != ArrayRef<int64_t>(p.kernel))
      return imp.fail("kernel_shape " + shapeStr(*ks) + " differs from the weight's " +
                      shapeStr(p.kernel));
  auto get = [&](StringRef name, int64_t dflt, size_t n) -> FailureOr<Shape> {
    auto v = imp.attrInts(name);
    if (!v)
      return Shape(n, dflt);
    if (v->size() != n)
      return imp.fail(name + " has " + Twine(v->size()) + " entries, expected " + Twine(n));
    return Shape(v->begin(), v->end());
  };
  auto s = get("strides", 1, p.spatial), d = get("dilations", 1, p.spatial),
       pads = get("pads", 0, 2 * p.spatial);
  if (failed(s) || failed(d) || failed(pads))
    return failure();
  if (failed(imp.checkDims(*s, "strides")) || failed(imp.checkDims(*d, "dilations")) ||
      failed(imp.checkDims(*pads, "pads")))
    return failure();
  p.strides = *s;
  p.dilations = *d;
  p.padBegin.assign(pads->begin(), pads->begin() + p.spatial);
  p.padEnd.assign(pads->begin() + p.spatial, pads->end());
  for (int64_t i = 0; i < p.spatial; ++i)
    if (p.strides[i] < 1 || p.dilations[i] < 1 || p.padBegin[i] < 0 || p.padEnd[i] < 0)
      return imp.fail("strides and dilations must be >= 1, pads >= 0");
  return success();
}

Value addChannelBias(Importer &imp, Value y, Val *B) {
  if (!B)
    return y;
  Shape ys = imp.shapeOf(y), bs(ys.size() - 1, 1);
  bs[0] = ys[1];
  Value bias = imp.reshape(imp.get(*B), bs);
  return imp.b.create<msdd::AddOp>(imp.loc, y.getType(), y, bias);
}

LogicalResult conv(Importer &imp) {
  auto xv = imp.need(0), wv = imp.need(1);
  if (failed(xv) || failed(wv))
    return failure();
  Val &X = **xv, &W = **wv;
  Val *B = imp.in(2);
  if (failed(needFloat(imp, X)) || W.kind != X.kind || (B && B->kind != X.kind))
    return imp.fail("X, W and B must share one float element type");
  ConvParams p;
  if (failed(convParams(imp, X, W, p)))
    return failure();
  int64_t N = X.shape[0], C = X.shape[1], M = W.shape[0], Cg = W.shape[1], G = p.group;
  if (C != Cg * G || M % G)
    return imp.fail("channels do not match: X has " + Twine(C) + ", W is " + shapeStr(W.shape) +
                    " with group " + Twine(G));
  if (B && (B->shape.size() != 1 || B->shape[0] != M))
    return imp.fail("B must be [" + Twine(M) + "]");
  std::string autoPad = imp.attrString("auto_pad", "NOTSET");
  Shape outSpatial;
  for (int64_t i = 0; i < p.spatial; ++i) {
    int64_t in = X.shape[2 + i], keff = (p.kernel[i] - 1) * p.dilations[i] + 1;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      int64_t out = (in + p.strides[i] - 1) / p.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * p.strides[i] + keff - in);
      p.padBegin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p.padEnd[i] = total - p.padBegin[i];
    } else if (autoPad == "VALID") {
      p.padBegin[i] = p.padEnd[i] = 0;
    } else if (autoPad != "NOTSET") {
      return imp.fail("unknown auto_pad '" + autoPad + "'");
    }
    int64_t span = in + p.padBegin[i] + p.padEnd[i] - keff;
    if (span < 0)
      return imp.fail("the kernel is larger than the padded input");
    outSpatial.push_back(span / p.strides[i] + 1);
  }
  Shape outShape = {N, M};
  outShape.append(outSpatial.begin(), outSpatial.end());
  Value y = imp.b.create<msdd::ConvOp>(imp.loc, imp.tensorType(outShape, X.kind), imp.get(X),
                                       imp.get(W), p.strides, p.dilations, p.padBegin, p.padEnd,
                                       G);
  imp.setOut(0, addChannelBias(imp, y, B));
  return success();
}

LogicalResult convTranspose(Importer &imp) {
  auto xv = imp.need(0), wv = imp.need(1);
  if (failed(xv) || failed(wv))
    return failure();
  Val &X = **xv, &W = **wv;
  Val *B = imp.in(2);
  if (failed(needFloat(imp, X)) || W.kind != X.kind || (B && B->kind != X.kind))
    return imp.fail("X, W and B must share one float element type");
  ConvParams p;
  if (failed(convParams(imp, X, W, p)))
    return failure();
  int64_t N = X.shape[0], C = X.shape[1], G = p.group, Mg = W.shape[1];
  if (W.shape[0] != C || C % G)
    return imp.fail("channels do not match: X has " + Twine(C) + ", W is " + shapeStr(W.shape) +
                    " with group " + Twine(G));
  int64_t Cg = C / G, M = Mg * G;
  if (B && (B->shape.size() != 1 || B->shape[0] != M))
    return imp.fail("B must be [" + Twine(M) + "]");
  Shape outPad = Shape(p.spatial, 0);
  if (auto op = imp.attrInts("output_padding")) {
    if ((int64_t)op->size() != p.spatial)
      return imp.fail("output_padding has the wrong length");
    outPad.assign(op->begin(), op->end());
    if (failed(imp.checkDims(outPad, "output_padding")))
      return failure();
  }
  std::optional<std::vector<int64_t>> outputShape = imp.attrInts("output_shape");
  if (outputShape && (int64_t)outputShape->size() == p.spatial + 2)
    outputShape = std::vector<int64_t>(outputShape->begin() + 2, outputShape->end());
  if (outputShape && (int64_t)outputShape->size() != p.spatial)
    return imp.fail("output_shape has the wrong length");
  if (outputShape && failed(imp.checkDims(*outputShape, "output_shape")))
    return failure();
  std::string autoPad = imp.attrString("auto_pad", "NOTSET");
  auto floorDiv2 = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  Shape outSpatial, natural;
  for (int64_t i = 0; i < p.spatial; ++i) {
    int64_t in = X.shape[2 + i], s = p.strides[i];
    int64_t keff = (p.kernel[i] - 1) * p.dilations[i] + 1;
    natural.push_back(s * (in - 1) + outPad[i] + keff); // the output with no padding
    bool same = autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER";
    if (outputShape || same) {
      int64_t out = outputShape ? (*outputShape)[i] : in * s;
      int64_t total = natural[i] - out; // negative: zeros past the end
      if (autoPad == "SAME_UPPER") {
        p.padBegin[i] = floorDiv2(total);
        p.padEnd[i] = total - floorDiv2(total);
      } else {
        p.padBegin[i] = total - floorDiv2(total);
        p.padEnd[i] = floorDiv2(total);
      }
    } else if (autoPad == "VALID") {
      p.padBegin[i] = p.padEnd[i] = 0;
    } else if (autoPad != "NOTSET") {
      return imp.fail("unknown auto_pad '" + autoPad + "'");
    }
    int64_t out = natural[i] - p.padBegin[i] - p.padEnd[i];
    if (out <= 0)
      return imp.fail("the output would be empty");
    outSpatial.push_back(out);
  }
  Shape outShape = {N, M};
  outShape.append(outSpatial.begin(), outSpatial.end());
  Value y = imp.b.create<msdd::ConvTransposeOp>(imp.loc, imp.tensorType(outShape, X.kind),
                                                imp.get(X), imp.get(W), p.strides, p.dilations,
                                                p.padBegin, G);
  imp.setOut(0, addChannelBias(imp, y, B));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, reductions
//===----------------------------------------------------------------------===//

LogicalResult layerNorm(Importer &imp) {
  auto xv = imp.need(0), sv = imp.need(1);
  if (failed(xv) || failed(sv))
    return failure();
  Val &X = **xv, &S = **sv;
  Val *B = imp.in(2);
  if (failed(needFloat(imp, X)) || S.kind != X.kind || (B && B->kind != X.kind))
    return imp.fail("X, Scale and B must share one float element type");
  int64_t rank = X.shape.size();
  auto axis = normAxis(imp, imp.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  double eps = imp.attrFloat("epsilon", 1e-5);
  EK k = X.kind;
  Shape normShape(X.shape.begin() + *axis, X.shape.end()), bc;
  for (Val *p : {&S, B})
    if (p && (!broadcastShape(p->shape, normShape, bc) ||
              ArrayRef<int64_t>(bc) != ArrayRef<int64_t>(normShape)))
      return imp.fail("Scale and B must broadcast to the normalized shape " + shapeStr(normShape) +
                      ", got " + shapeStr(p->shape));
  OpBuilder &b = imp.b;
  Location loc = imp.loc;
  Value x = imp.get(X), scale = imp.get(S), bias = B ? imp.get(*B) : Value();
  auto type = imp.tensorType(X.shape, k);
  int64_t D = 1;
  for (int64_t d = *axis; d < rank; ++d)
    D *= X.shape[d];
  bool stats = imp.hasOut(1) || imp.hasOut(2);
  if (!stats && eps > 0) {
    Shape flat = {numel(X.shape) / std::max<int64_t>(D, 1), D};
    bool lastAxis = *axis == rank - 1;
    Value y;
    if (lastAxis && S.shape == Shape{D} && (!B || B->shape == Shape{D}) && B) {
      y = b.create<msdd::LayerNormOp>(loc, type, x, scale, bias, b.getF64FloatAttr(eps));
    } else {
      Value n = b.create<msdd::LayerNormOp>(loc, imp.tensorType(flat, k), imp.reshape(x, flat),
                                            Value(), Value(), b.getF64FloatAttr(eps));
      y = imp.reshape(n, X.shape);
      y = b.create<msdd::MulOp>(loc, type, y, scale);
      if (bias)
        y = b.create<msdd::AddOp>(loc, type, y, bias);
    }
    imp.setOut(0, y);
    return success();
  }
  SmallVector<int64_t> axes;
  for (int64_t d = *axis; d < rank; ++d)
    axes.push_back(d);
  Value mean = imp.reduce(x, axes, true, "mean");
  Value diff = b.create<msdd::SubOp>(loc, type, x, mean);
  Value sq = b.create<msdd::MulOp>(loc, type, diff, diff);
  Value var = imp.reduce(sq, axes, true, "mean");
  Value ve = b.create<msdd::AddOp>(loc, var.getType(), var, imp.scalar(eps, k));
  Value inv = b.create<msdd::RsqrtOp>(loc, ve.getType(), ve);
  Value y = b.create<msdd::MulOp>(loc, type, diff, inv);
  y = b.create<msdd::MulOp>(loc, type, y, scale);
  if (bias)
    y = b.create<msdd::AddOp>(loc, type, y, bias);
  imp.setOut(0, y);
  imp.setOut(1, mean);
  imp.setOut(2, inv);
  return success();
}

/// Softmax / LogSoftmax. Before opset 13 the input is seen as 2-D [outer, inner] at `axis`.
LogicalResult softmaxLike(Importer &imp, bool log) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (failed(needFloat(imp, X)))
    return failure();
  int64_t rank = X.shape.size();
  if (rank == 0)
    return imp.fail("input must have rank >= 1");
  auto axis = normAxis(imp, imp.attrInt("axis", imp.opset < 13 ? 1 : -1), rank);
  if (failed(axis))
    return failure();
  Value x = imp.get(X);
  int64_t ax = *axis;
  if (imp.opset < 13 && ax != rank - 1) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d)
      (d < ax ? outer : inner) *= X.shape[d];
    x = imp.reshape(x, {outer, inner});
    ax = 1;
  }
  OpBuilder &b = imp.b;
  Value y;
  if (!log) {
    y = b.create<msdd::SoftmaxOp>(imp.loc, x.getType(), x, b.getI64IntegerAttr(ax));
  } else {
    // x - max - log(sum(exp(x - max))): stays finite for large inputs.
    Value m = imp.reduce(x, {ax}, true, "max");
    Value s = b.create<msdd::SubOp>(imp.loc, x.getType(), x, m);
    Value e = b.create<msdd::ExpOp>(imp.loc, x.getType(), s);
    Value sum = imp.reduce(e, {ax}, true, "sum");
    Value lse = b.create<msdd::LogOp>(imp.loc, sum.getType(), sum);
    y = b.create<msdd::SubOp>(imp.loc, x.getType(), s, lse);
  }
  imp.setOut(0, imp.reshape(y, X.shape));
  return success();
}

Handler reduceHandler(StringRef kind, int64_t axesInputSince) {
  std::string k = kind.str();
  return [k, axesInputSince](Importer &imp) -> LogicalResult {
    auto xv = imp.need(0);
    if (failed(xv))
      return failure();
    Val &X = **xv;
    int64_t rank = X.shape.size();
    std::optional<std::vector<int64_t>> axes;
    if (imp.opset >= axesInputSince) {
      if (imp.hasIn(1)) {
        auto a = imp.needConst(1, "axes");
        if (failed(a))
          return failure();
        axes = (*a)->ints();
      }
    } else {
      axes = imp.attrInts("axes");
    }
    bool keep = imp.attrInt("keepdims", 1) != 0;
    bool noop = imp.attrInt("noop_with_empty_axes", 0) != 0;
    SmallVector<int64_t> list;
    if (!axes || axes->empty()) {
      if (noop) {
        imp.setOut(0, X);
        return success();
      }
      for (int64_t d = 0; d < rank; ++d)
        list.push_back(d);
    } else {
      for (int64_t a : *axes) {
        auto n = normAxis(imp, a, rank);
        if (failed(n))
          return failure();
        if (!llvm::is_contained(list, *n))
          list.push_back(*n);
      }
      llvm::sort(list);
    }
    if (X.kind == EK::I1)
      return imp.unsupported(imp.node->op_type() + " of a bool tensor");
    bool floatOnly = k == "l2" || k == "logsum" || k == "logsumexp";
    if (floatOnly && !isFloat(X.kind))
      return imp.unsupported(imp.node->op_type() + " of integer tensors");
    Value x = imp.get(X);
    EK kind = X.kind;
    Location loc = imp.loc;
    OpBuilder &b = imp.b;
    // Elementwise prologue: |x| or x^2.
    if (k == "l1" || k == "l2" || k == "sumsquare") {
      bool sq = k != "l1";
      if (isFloat(kind))
        x = sq ? (Value)b.create<msdd::MulOp>(loc, x.getType(), x, x)
               : (Value)b.create<msdd::AbsOp>(loc, x.getType(), x);
      else
        x = imp.elementwise({x}, X.shape, kind, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return sq ? (Value)nb.create<arith::MulIOp>(l, a[0], a[0])
                    : (Value)nb.create<math::AbsIOp>(l, a[0]);
        });
    }
    if (list.empty()) {
      if (k == "l2")
        x = b.create<msdd::SqrtOp>(loc, x.getType(), x);
      else if (k == "logsum")
        x = b.create<msdd::LogOp>(loc, x.getType(), x);
      imp.setOut(0, x);
      return success();
    }
    Value r;
    if (k == "logsumexp") {
      // max + log(sum(exp(x - max))).
      Value m = imp.reduce(x, list, true, "max");
      Value e = b.create<msdd::ExpOp>(loc, x.getType(), b.create<msdd::SubOp>(loc, x.getType(), x, m));
      Value sum = imp.reduce(e, list, true, "sum");
      r = b.create<msdd::AddOp>(loc, sum.getType(), b.create<msdd::LogOp>(loc, sum.getType(), sum), m);
      Shape out;
      for (int64_t d = 0; d < rank; ++d)
        if (keep || !llvm::is_contained(list, d))
          out.push_back(llvm::is_contained(list, d) ? 1 : X.shape[d]);
      r = imp.reshape(r, out);
    } else {
      StringRef base = k == "l1" || k == "l2" || k == "sumsquare" || k == "logsum" ? "sum" : StringRef(k);
      r = imp.reduce(x, list, keep, base);
      if (k == "l2")
        r = b.create<msdd::SqrtOp>(loc, r.getType(), r);
      else if (k == "logsum")
        r = b.create<msdd::LogOp>(loc, r.getType(), r);
    }
    imp.setOut(0, r);
    return success();
  };
}

LogicalResult globalPool(Importer &imp, StringRef kind) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  if (failed(needFloat(imp, **xv)))
    return failure();
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < (int64_t)(*xv)->shape.size(); ++d)
    axes.push_back(d);
  imp.setOut(0, imp.reduce(imp.get(**xv), axes, true, kind));
  return success();
}

/// Inference-mode BatchNormalization: (x - mean) / sqrt(var + eps) * scale + B per channel.
LogicalResult batchNorm(Importer &imp) {
  SmallVector<Val *> v;
  for (int i = 0; i < 5; ++i) {
    auto x = imp.need(i);
    if (failed(x))
      return failure();
    v.push_back(*x);
  }
  bool training = imp.attrInt("training_mode", 0) != 0;
  if (!training && (imp.hasOut(1) || imp.hasOut(2)))
    return imp.unsupported("BatchNormalization's running statistics outside training mode");
  Val &X = *v[0];
  if (failed(needFloat(imp, X)) || X.shape.size() < 2)
    return imp.fail("X must be a float tensor of rank >= 2");
  int64_t C = X.shape[1];
  for (int i = 1; i < 5; ++i)
    if (v[i]->shape != Shape{C} || v[i]->kind != X.kind)
      return imp.fail("scale, B, mean and var must be [" + Twine(C) + "] of X's type");
  double eps = imp.attrFloat("epsilon", 1e-5);
  Shape cs(X.shape.size() - 1, 1);
  cs[0] = C;
  OpBuilder &b = imp.b;
  Location loc = imp.loc;
  auto ct = imp.tensorType(cs, X.kind);
  Value scale = imp.reshape(imp.get(*v[1]), cs), bias = imp.reshape(imp.get(*v[2]), cs),
        mean = imp.reshape(imp.get(*v[3]), cs), var = imp.reshape(imp.get(*v[4]), cs);
  if (training) {
    // Batch statistics (biased variance) normalize; the running ones are updated with
    // momentum: running = running * momentum + batch * (1 - momentum).
    SmallVector<int64_t> axes = {0};
    for (int64_t d = 2; d < (int64_t)X.shape.size(); ++d)
      axes.push_back(d);
    Value x = imp.get(X);
    Value bm = imp.reduce(x, axes, false, "mean");
    Value bmk = imp.reshape(bm, cs);
    Value diff = b.create<msdd::SubOp>(loc, x.getType(), x, bmk);
    Value bv = imp.reduce(b.create<msdd::MulOp>(loc, x.getType(), diff, diff), axes, false, "mean");
    double momentum = imp.attrFloat("momentum", 0.9);
    auto vt = bm.getType();
    auto blend = [&](Value running, Value batch) -> Value {
      Value r = b.create<msdd::ScaleOp>(loc, vt, running, b.getF64FloatAttr(momentum), b.getF64FloatAttr(0.0));
      Value c = b.create<msdd::ScaleOp>(loc, vt, batch, b.getF64FloatAttr(1 - momentum), b.getF64FloatAttr(0.0));
      return b.create<msdd::AddOp>(loc, vt, r, c);
    };
    imp.setOut(1, blend(imp.get(*v[3]), bm));
    imp.setOut(2, blend(imp.get(*v[4]), bv));
    mean = bmk;
    var = imp.reshape(bv, cs);
  }
  Value inv = b.create<msdd::RsqrtOp>(loc, ct, b.create<msdd::AddOp>(loc, ct, var, imp.scalar(eps, X.kind)));
  Value a = b.create<msdd::MulOp>(loc, ct, scale, inv);
  auto type = imp.tensorType(X.shape, X.kind);
  Value y = b.create<msdd::SubOp>(loc, type, imp.get(X), mean);
  y = b.create<msdd::MulOp>(loc, type, y, a);
  y = b.create<msdd::AddOp>(loc, type, y, bias);
  imp.setOut(0, y);
  return success();
}

/// InstanceNormalization: per (n, c) statistics over the spatial dimensions.
LogicalResult instanceNorm(Importer &imp) {
  auto xv = imp.need(0), sv = imp.need(1), bv = imp.need(2);
  if (failed(xv) || failed(sv) || failed(bv))
    return failure();
  Val &X = **xv;
  if (failed(needFloat(imp, X)) || X.shape.size() < 3)
    return imp.fail("X must be a float tensor of rank >= 3");
  int64_t N = X.shape[0], C = X.shape[1];
  if ((*sv)->shape != Shape{C} || (*bv)->shape != Shape{C} || (*sv)->kind != X.kind ||
      (*bv)->kind != X.kind)
    return imp.fail("scale and B must be [" + Twine(C) + "] of X's type");
  if (N * C == 0)
    return imp.fail("X must not be empty");
  int64_t D = numel(X.shape) / (N * C);
  double eps = imp.attrFloat("epsilon", 1e-5);
  OpBuilder &b = imp.b;
  Location loc = imp.loc;
  Value x = imp.reshape(imp.get(X), {N * C, D});
  Value n = b.create<msdd::LayerNormOp>(loc, x.getType(), x, Value(), Value(),
                                        b.getF64FloatAttr(eps));
  Value y = imp.reshape(n, X.shape);
  Shape cs(X.shape.size() - 1, 1);
  cs[0] = C;
  auto type = imp.tensorType(X.shape, X.kind);
  y = b.create<msdd::MulOp>(loc, type, y, imp.reshape(imp.get(**sv), cs));
  y = b.create<msdd::AddOp>(loc, type, y, imp.reshape(imp.get(**bv), cs));
  imp.setOut(0, y);
  return success();
}

} // namespace

void onnx_import::registerNNOps() {
  auto &h = opHandlers();
  h["MatMul"] = matmul;
  h["Gemm"] = gemm;
  h["Einsum"] = einsum;
  h["Conv"] = conv;
  h["ConvTranspose"] = convTranspose;
  h["LayerNormalization"] = layerNorm;
  h["Softmax"] = [](Importer &imp) { return softmaxLike(imp, false); };
  h["LogSoftmax"] = [](Importer &imp) { return softmaxLike(imp, true); };
  h["ReduceMean"] = reduceHandler("mean", 18);
  h["ReduceMax"] = reduceHandler("max", 18);
  h["ReduceSum"] = reduceHandler("sum", 13);
  h["ReduceMin"] = reduceHandler("min", 18);
  h["ReduceProd"] = reduceHandler("prod", 18);
  h["ReduceL1"] = reduceHandler("l1", 18);
  h["ReduceL2"] = reduceHandler("l2", 18);
  h["ReduceLogSum"] = reduceHandler("logsum", 18);
  h["ReduceLogSumExp"] = reduceHandler("logsumexp", 18);
  h["ReduceSumSquare"] = reduceHandler("sumsquare", 18);
  h["GlobalAveragePool"] = [](Importer &imp) { return globalPool(imp, "mean"); };
  h["GlobalMaxPool"] = [](Importer &imp) { return globalPool(imp, "max"); };
  h["BatchNormalization"] = batchNorm;
  h["InstanceNormalization"] = instanceNorm;
}
