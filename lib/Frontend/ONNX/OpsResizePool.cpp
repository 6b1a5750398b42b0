//===- OpsResizePool.cpp - Resize, pooling, index reductions, scans, losses ===//
//
// Resize / Upsample (nearest, linear, cubic; every coordinate mode) -> a linalg.generic
// gathering through per-axis index and weight tables computed at import (or
// msdd.upsample_nearest for integer factors); MaxPool / AveragePool -> a reshape and
// msdd.reduce_max / reduce_mean when the windows tile the input, else a windowed
// linalg.generic; ArgMax / ArgMin / Hardmax, CumSum, Trilu, MeanVarianceNormalization,
// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cfloat>
#include <cmath>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

namespace {

//===----------------------------------------------------------------------===//
// Resize
//===----------------------------------------------------------------------===//

LogicalResult resize(Importer &imp, bool upsample) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  int64_t rank = X.shape.size();
  std::string mode = imp.attrString("mode", "nearest");
  std::string ctm = imp.attrString("coordinate_transformation_mode", "half_pixel");
  std::string nearestMode = imp.attrString("nearest_mode", "round_prefer_floor");
  double cubicA = imp.attrFloat("cubic_coeff_a", -0.75);
  bool excludeOutside = imp.attrInt("exclude_outside", 0) != 0;
  double extrapolation = imp.attrFloat("extrapolation_value", 0.0);
  if (imp.opset < 11 || upsample)
    ctm = "asymmetric";
  if (upsample)
    nearestMode = "floor";
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return imp.unsupported("Resize mode '" + mode + "'");
  if (mode != "nearest" && !isFloat(X.kind))
    return imp.unsupported(mode + " Resize of integer tensors");
  size_t scalesIn = imp.opset < 11 || upsample ? 1 : 2, sizesIn = 3;
  std::vector<double> scales, roi;
  std::vector<int64_t> outShape;
  Val *sc = imp.in(scalesIn);
  std::optional<std::vector<double>> scaleAttr = upsample ? imp.attrFloats("scales") : std::nullopt;
  if (scaleAttr) {
    scales = *scaleAttr;
    if ((int64_t)scales.size() != rank)
      return imp.fail("scales has " + Twine(scales.size()) + " entries for rank " + Twine(rank));
    for (int64_t d = 0; d < rank; ++d)
      outShape.push_back(saturatingInt(std::floor(X.shape[d] * scales[d])));
  } else if (sc && numel(sc->shape) > 0) {
    if (!sc->host)
      return imp.fail("the scales operand is not known at import time (dynamic shapes are not "
                      "supported)");
    for (int64_t i = 0; i < sc->host->size(); ++i)
      scales.push_back(sc->host->getF(i));
    if ((int64_t)scales.size() != rank)
      return imp.fail("scales has " + Twine(scales.size()) + " entries for rank " + Twine(rank));
    for (int64_t d = 0; d < rank; ++d)
      outShape.push_back(saturatingInt(std::floor(X.shape[d] * scales[d])));
  } else if (imp.opset >= 11 && !upsample && imp.hasIn(sizesIn)) {
    auto s = imp.needConst(sizesIn, "sizes");
    if (failed(s))
      return failure();
    outShape = (*s)->ints();
    if ((int64_t)outShape.size() != rank)
      return imp.fail("sizes has " + Twine(outShape.size()) + " entries for rank " + Twine(rank));
    for (int64_t d = 0; d < rank; ++d)
      scales.push_back((double)outShape[d] / X.shape[d]);
  } else {
    return imp.fail("needs scales or sizes");
  }
  if (ctm == "tf_crop_and_resize") {
    Val *r = imp.in(1);
    if (!r || !r->host || r->host->size() != 2 * rank)
      return imp.fail("tf_crop_and_resize needs a constant roi of " + Twine(2 * rank) + " values");
    for (int64_t i = 0; i < 2 * rank; ++i)
      roi.push_back(r->host->getF(i));
  }
  for (int64_t d = 0; d < rank; ++d)
    if (outShape[d] < 0 || outShape[d] > kHostLimit)
      return imp.fail("output dimension " + Twine(outShape[d]) + " is negative or too large");
  // Per axis and output index: the taps (source indices and weights) of the ONNX reference
  // (onnx/backend/test/case/node/resize.py): n = 2 (nearest, linear) or 4 (cubic)
  // neighbours of the source coordinate in the edge-padded input, weights from the ratio.
  int n = mode == "cubic" ? 4 : 2;
  int64_t pad = (n + 1) / 2;
  struct Axis {
    bool identity = true;
    std::vector<std::vector<int64_t>> idx; // [tap][o]
    std::vector<std::vector<double>> w;    // [tap][o]
    std::vector<int64_t> valid;            // tf_crop_and_resize: inside the input
  };
  std::vector<Axis> axes(rank);
  for (int64_t d = 0; d < rank; ++d) {
    int64_t in = X.shape[d], out = outShape[d];
    double scale = scales[d], outWidth = scale * in;
    Axis &a = axes[d];
    int taps = mode == "nearest" ? 1 : n;
    a.idx.assign(taps, std::vector<int64_t>(out));
    a.w.assign(taps, std::vector<double>(out));
    for (int64_t o = 0; o < out; ++o) {
      double x;
      if (ctm == "half_pixel")
        x = (o + 0.5) / scale - 0.5;
      else if (ctm == "pytorch_half_pixel")
        x = outWidth > 1 ? (o + 0.5) / scale - 0.5 : -0.5;
      else if (ctm == "align_corners")
        x = outWidth == 1 ? 0.0 : o * (double)(in - 1) / (outWidth - 1);
      else if (ctm == "asymmetric")
        x = o / scale;
      else if (ctm == "tf_half_pixel_for_nn")
        x = (o + 0.5) / scale;
      else if (ctm == "tf_crop_and_resize")
        x = outWidth > 1 ? roi[d] * (in - 1) + o * (roi[rank + d] - roi[d]) * (in - 1) / (outWidth - 1)
                         : 0.5 * (roi[d] + roi[rank + d]) * (in - 1);
      else
        return imp.unsupported("Resize coordinate_transformation_mode '" + ctm + "'");
      if (ctm == "tf_crop_and_resize")
        a.valid.push_back(x >= 0 && x <= in - 1);
      if (!(std::fabs(x) < 1e15))
        return imp.fail("the scales give source coordinates out of range");
      double fl = std::floor(x);
      bool integral = x == fl;
      double ratio = integral ? 1.0 : x - fl;
      int64_t base = integral ? (int64_t)fl - 1 : (int64_t)fl;
      int64_t start = std::clamp<int64_t>(base - (n / 2 - 1), -pad, in + pad - n);
      std::vector<double> c(n);
      if (mode == "cubic") {
        double A = cubicA, r = ratio, q = 1 - ratio;
        c = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
             ((A + 2) * r - (A + 3)) * r * r + 1, ((A + 2) * q - (A + 3)) * q * q + 1,
             ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A};
      } else if (mode == "linear") {
        c = {1 - ratio, ratio};
      } else {
        bool up;
        if (integral || nearestMode == "ceil")
          up = true;
        else if (nearestMode == "round_prefer_floor")
          up = ratio > 0.5;
        else if (nearestMode == "round_prefer_ceil")
          up = ratio >= 0.5;
        else if (nearestMode == "floor")
          up = false;
        else
          return imp.unsupported("Resize nearest_mode '" + nearestMode + "'");
        c = {up ? 0.0 : 1.0, up ? 1.0 : 0.0};
      }
      if (excludeOutside && mode != "nearest") {
        double sum = 0;
        for (int t = 0; t < n; ++t) {
          if (start + t < 0 || start + t >= in)
            c[t] = 0;
          sum += c[t];
        }
        for (int t = 0; t < n; ++t)
          c[t] = sum != 0 ? c[t] / sum : 0;
      }
      auto clampIdx = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
      if (mode == "nearest") {
        a.idx[0][o] = clampIdx(start + (c[1] == 1.0 ? 1 : 0));
        a.w[0][o] = 1.0;
        a.identity &= in == out && a.idx[0][o] == o;
      } else {
        bool ident = in == out;
        for (int t = 0; t < n; ++t) {
          a.idx[t][o] = clampIdx(start + t);
          a.w[t][o] = c[t];
          if (c[t] != 0 && !(c[t] == 1.0 && a.idx[t][o] == o))
            ident = false;
        }
        a.identity &= ident;
      }
      if (!a.valid.empty() && !a.valid.back())
        a.identity = false;
    }
  }
  OpBuilder &b = imp.b;
  Value x = imp.get(X);
  // Nearest upsampling of an image by an integer factor: msdd.upsample_nearest.
  if (mode == "nearest" && rank == 4 && isFloat(X.kind) && axes[0].identity &&
      axes[1].identity && X.shape[2] && X.shape[3] && outShape[2] % X.shape[2] == 0 &&
      outShape[2] / X.shape[2] >= 2 && outShape[2] * X.shape[3] == outShape[3] * X.shape[2]) {
    int64_t f = outShape[2] / X.shape[2];
    bool plain = true;
    for (int64_t d : {2, 3})
      for (int64_t o = 0; o < outShape[d]; ++o)
        plain &= axes[d].idx[0][o] == o / f;
    if (plain) {
      imp.setOut(0, b.create<msdd::UpsampleNearestOp>(imp.loc, imp.tensorType(outShape, X.kind), x,
                                                      b.getI64IntegerAttr(f))
                        .getResult());
      return success();
    }
  }
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  SmallVector<int64_t> resized;
  int taps = mode == "nearest" ? 1 : n;
  bool crop = ctm == "tf_crop_and_resize";
  for (int64_t d = 0; d < rank; ++d) {
    if (axes[d].identity)
      continue;
    resized.push_back(d);
    AffineMap m = AffineMap::get(rank, 0, {b.getAffineDimExpr(d)}, &imp.ctx);
    int64_t out = outShape[d];
    for (int t = 0; t < taps; ++t) {
      HostTensor idx(EK::I64, {out});
      idx.i = axes[d].idx[t];
      ins.push_back(imp.constant(idx));
      maps.push_back(m);
      if (mode != "nearest") {
        HostTensor w(X.kind, {out});
        for (int64_t o = 0; o < out; ++o)
          w.setF(o, axes[d].w[t][o]);
        ins.push_back(imp.constant(w));
        maps.push_back(m);
      }
    }
    if (crop) {
      HostTensor v(EK::I1, {out});
      v.i = axes[d].valid;
      ins.push_back(imp.constant(v));
      maps.push_back(m);
    }
  }
  if (resized.empty()) {
    imp.setOut(0, X);
    return success();
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value empty = b.create<tensor::EmptyOp>(imp.loc, outShape, imp.elemType(X.kind));
  EK k = X.kind;
  bool weighted = mode != "nearest";
  int perTap = weighted ? 2 : 1;
  int perAxis = taps * perTap + (crop ? 1 : 0);
  auto g = b.create<linalg::GenericOp>(
      imp.loc, TypeRange{empty.getType()}, ins, ValueRange{empty}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        SmallVector<Value> base(rank);
        for (int64_t d = 0; d < rank; ++d)
          base[d] = nb.create<linalg::IndexOp>(l, d);
        auto idx = [&](Value v) { return nb.create<arith::IndexCastOp>(l, nb.getIndexType(), v); };
        size_t r = resized.size();
        Value acc;
        if (!weighted) {
          for (size_t j = 0; j < r; ++j)
            base[resized[j]] = idx(a[perAxis * j]);
          acc = nb.create<tensor::ExtractOp>(l, x, base);
        } else {
          // Sum over the taps^r corners of the products of the per-axis weights.
          uint64_t corners = 1;
          for (size_t j = 0; j < r; ++j)
            corners *= taps;
          for (uint64_t corner = 0; corner < corners; ++corner) {
            SmallVector<Value> coords = base;
            Value w;
            uint64_t rest = corner;
            for (size_t j = 0; j < r; ++j) {
              int t = rest % taps;
              rest /= taps;
              coords[resized[j]] = idx(a[perAxis * j + perTap * t]);
              Value wj = a[perAxis * j + perTap * t + 1];
              w = w ? (Value)nb.create<arith::MulFOp>(l, w, wj) : wj;
            }
            Value v = nb.create<tensor::ExtractOp>(l, x, coords);
            Value p = nb.create<arith::MulFOp>(l, v, w);
            acc = acc ? (Value)nb.create<arith::AddFOp>(l, acc, p) : p;
          }
        }
        if (crop) {
          Value inside;
          for (size_t j = 0; j < r; ++j) {
            Value vj = a[perAxis * j + perAxis - 1];
            inside = inside ? (Value)nb.create<arith::AndIOp>(l, inside, vj) : vj;
          }
          acc = nb.create<arith::SelectOp>(l, inside, acc, imp.scalarConst(nb, l, extrapolation, k));
        }
        nb.create<linalg::YieldOp>(l, acc);
      });
  imp.setOut(0, g.getResult(0));
  return success();
}

//===----------------------------------------------------------------------===//
// Index reductions, pooling, scans
//===----------------------------------------------------------------------===//

/// Index (i64) of the max / min along `axis`, without that axis; ties: first index, or the
/// last with `last`.
Value argReduce(Importer &imp, Value x, int64_t axis, bool isMax, bool last) {
  OpBuilder &b = imp.b;
  Shape in = imp.shapeOf(x), out;
  EK k = imp.kindOf(x);
  int64_t rank = in.size();
  SmallVector<AffineExpr> outE;
  SmallVector<utils::IteratorType> iters;
  for (int64_t d = 0; d < rank; ++d) {
    iters.push_back(d == axis ? utils::IteratorType::reduction : utils::IteratorType::parallel);
    if (d != axis) {
      out.push_back(in[d]);
      outE.push_back(b.getAffineDimExpr(d));
    }
  }
  AffineMap om = AffineMap::get(rank, 0, outE, &imp.ctx);
  double init = isMax ? -INFINITY : INFINITY;
  Value best;
  if (isFloat(k)) {
    best = imp.fill(out, k, init);
  } else {
    Type et = imp.elemType(k);
    unsigned w = et.getIntOrFloatBitWidth();
    Value empty = b.create<tensor::EmptyOp>(imp.loc, out, et);
    Value s = b.create<arith::ConstantOp>(
        imp.loc, b.getIntegerAttr(et, isMax ? APInt::getSignedMinValue(w) : APInt::getSignedMaxValue(w)));
    best = b.create<linalg::FillOp>(imp.loc, ValueRange{s}, ValueRange{empty}).getResult(0);
  }
  Value bestIdx = imp.fill(out, EK::I64, -1);
  auto g = b.create<linalg::GenericOp>(
      imp.loc, TypeRange{best.getType(), bestIdx.getType()}, ValueRange{x},
      ValueRange{best, bestIdx},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank), om, om}, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value i = nb.create<arith::IndexCastOp>(l, nb.getI64Type(),
                                                nb.create<linalg::IndexOp>(l, axis));
        Value better;
        if (isFloat(k))
          better = nb.create<arith::CmpFOp>(l, isMax ? (last ? arith::CmpFPredicate::OGE : arith::CmpFPredicate::OGT)
                                                     : (last ? arith::CmpFPredicate::OLE : arith::CmpFPredicate::OLT),
                                            a[0], a[1]);
        else
          better = nb.create<arith::CmpIOp>(l, isMax ? (last ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sgt)
                                                     : (last ? arith::CmpIPredicate::sle : arith::CmpIPredicate::slt),
                                            a[0], a[1]);
        // The first element always wins (covers all-NaN / extreme rows).
        Value first = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, a[2],
                                               nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(0)));
        better = nb.create<arith::OrIOp>(l, better, first);
        nb.create<linalg::YieldOp>(l, ValueRange{nb.create<arith::SelectOp>(l, better, a[0], a[1]),
                                                 nb.create<arith::SelectOp>(l, better, i, a[2])});
      });
  return g.getResult(1);
}

Handler argHandler(bool isMax) {
  return [isMax](Importer &imp) -> LogicalResult {
    auto xv = imp.need(0);
    if (failed(xv))
      return failure();
    Val &X = **xv;
    if (X.kind == EK::I1)
      return imp.unsupported("ArgMax/ArgMin of bool tensors");
    int64_t rank = X.shape.size();
    auto axis = normAxis(imp, imp.attrInt("axis", 0), rank);
    if (failed(axis))
      return failure();
    bool keep = imp.attrInt("keepdims", 1), last = imp.attrInt("select_last_index", 0);
    Value r = argReduce(imp, imp.get(X), *axis, isMax, last);
    if (keep) {
      Shape s = X.shape;
      s[*axis] = 1;
      r = imp.reshape(r, s);
    }
    imp.setOut(0, r);
    return success();
  };
}

LogicalResult hardmax(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (failed(needFloat(imp, X)))
    return failure();
  int64_t rank = X.shape.size();
  if (imp.opset < 13)
    return imp.unsupported("Hardmax before opset 13");
  auto axis = normAxis(imp, imp.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  Value idx = argReduce(imp, imp.get(X), *axis, true, false);
  Shape s = X.shape;
  s[*axis] = 1;
  idx = imp.reshape(idx, s);
  int64_t ax = *axis;
  EK k = X.kind;
  imp.setOut(0, imp.elementwise({idx}, X.shape, k, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value i = nb.create<arith::IndexCastOp>(l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, ax));
    Value eq = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, i, a[0]);
    return nb.create<arith::UIToFPOp>(l, imp.elemType(k), eq);
  }));
  return success();
}

/// Pools with at most this many window offsets become that many strided views (see pool).
constexpr int64_t kMaxWindowViews = 64;

/// MaxPool / AveragePool. Windows that tile the input: a reshape and a reduction; other
/// windows with few offsets: strided views of the padded input combined elementwise; with
/// Indices or many offsets: pad, then one linalg.generic over (n, c, o..., k...) with a
/// window operand (as linalg's pooling ops have) giving the k loops their bounds.
LogicalResult pool(Importer &imp, bool isMax) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (failed(needFloat(imp, X)))
    return failure();
  int64_t S = (int64_t)X.shape.size() - 2;
  if (S < 1)
    return imp.fail("X must have rank >= 3");
  auto ks = imp.attrInts("kernel_shape");
  if (!ks || (int64_t)ks->size() != S)
    return imp.fail("kernel_shape must have " + Twine(S) + " entries");
  auto get = [&](StringRef name, int64_t dflt, int64_t n) {
    auto v = imp.attrInts(name);
    return v && (int64_t)v->size() == n ? Shape(v->begin(), v->end()) : Shape(n, dflt);
  };
  Shape strides = get("strides", 1, S), dil = get("dilations", 1, S), pads = get("pads", 0, 2 * S);
  if (failed(imp.checkDims(*ks, "kernel_shape")) || failed(imp.checkDims(strides, "strides")) ||
      failed(imp.checkDims(dil, "dilations")) || failed(imp.checkDims(pads, "pads")))
    return failure();
  for (int64_t i = 0; i < S; ++i)
    if ((*ks)[i] < 1 || strides[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[S + i] < 0)
      return imp.fail("kernel_shape, strides and dilations must be >= 1, pads >= 0");
  bool ceilMode = imp.attrInt("ceil_mode", 0), includePad = imp.attrInt("count_include_pad", 0);
  bool columnMajor = imp.attrInt("storage_order", 0) != 0; // only affects Indices
  std::string autoPad = imp.attrString("auto_pad", "NOTSET");
  Shape out, pb(S), pe(S), padded;
  for (int64_t i = 0; i < S; ++i) {
    int64_t in = X.shape[2 + i], keff = ((*ks)[i] - 1) * dil[i] + 1, s = strides[i];
    pb[i] = pads[i];
    pe[i] = pads[S + i];
    int64_t o;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      o = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (o - 1) * s + keff - in);
      pb[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe[i] = total - pb[i];
    } else {
      if (autoPad == "VALID")
        pb[i] = pe[i] = 0;
      int64_t span = in + pb[i] + pe[i] - keff;
      if (span < 0)
        return imp.fail("the window is larger than the padded input");
      o = (ceilMode ? (span + s - 1) / s : span / s) + 1;
      // A window must start inside the input or its left padding.
      if (ceilMode && (o - 1) * s >= in + pb[i])
        --o;
    }
    out.push_back(o);
    padded.push_back(std::max(in + pb[i] + pe[i], (o - 1) * s + keff));
  }
  EK k = X.kind;
  Value x = imp.get(X);
  Shape ps = {X.shape[0], X.shape[1]}, off = {0, 0}, ones(S + 2, 1);
  bool needPad = false;
  for (int64_t i = 0; i < S; ++i) {
    ps.push_back(padded[i]);
    off.push_back(pb[i]);
    needPad |= padded[i] != X.shape[2 + i];
  }
  // Windows that tile the input (VGG's 2x2 / 2): a reshape and a reduction, in msdd ops
  // that have gradient rules (a feature network inside a training loss).
  bool tiles = !imp.hasOut(1);
  Shape blocks = {X.shape[0], X.shape[1]}, windowAxes;
  for (int64_t i = 0; i < S; ++i) {
    tiles &= (*ks)[i] == strides[i] && dil[i] == 1 && pb[i] == 0 && pe[i] == 0 &&
             X.shape[2 + i] == out[i] * (*ks)[i];
    blocks.append({out[i], (*ks)[i]});
    windowAxes.push_back(3 + 2 * i);
  }
  if (tiles) {
    imp.setOut(0, imp.reduce(imp.reshape(x, blocks), windowAxes, false, isMax ? "max" : "mean"));
    return success();
  }
  OpBuilder &b = imp.b;
  Shape outShape = {X.shape[0], X.shape[1]};
  outShape.append(out.begin(), out.end());
  Value y;
  if (!imp.hasOut(1) && numel(*ks) <= kMaxWindowViews) {
    // Overlapping or padded windows (AlexNet's 3x3 / 2): one strided view of the padded input
    // per window offset, combined by msdd.maximum / msdd.add. All msdd ops, so a feature
    // network inside a training loss has a gradient through its pools.
    // Padding with the lowest finite value, not -inf: the maximum's gradient rule subtracts
    // its operands, and -inf - -inf would put NaN where two padded views meet.
    double padValue = !isMax ? 0.0 : k == EK::F64 ? -DBL_MAX : -FLT_MAX;
    Value source = x;
    Shape views = {X.shape[0], X.shape[1]};
    for (int64_t i = 0; i < S; ++i) {
      // Every view is a range of o * s elements, then every s-th of them.
      int64_t extent = std::max(padded[i], ((*ks)[i] - 1) * dil[i] + out[i] * strides[i]);
      SmallVector<Value> parts;
      auto block = [&](int64_t n) {
        Shape bs = imp.shapeOf(source);
        bs[2 + i] = n;
        parts.push_back(imp.fill(bs, k, padValue));
      };
      if (pb[i] > 0)
        block(pb[i]);
      parts.push_back(source);
      if (int64_t end = extent - pb[i] - X.shape[2 + i]; end > 0)
        block(end);
      if (parts.size() > 1) {
        Shape cs = imp.shapeOf(source);
        cs[2 + i] = extent;
        source = b.create<msdd::ConcatOp>(imp.loc, imp.tensorType(cs, k), parts, 2 + i);
      }
      views.append({out[i], strides[i]});
    }
    SmallVector<int64_t> offset(S, 0);
    for (int64_t w = 0, n = numel(*ks); w < n; ++w) {
      Value v = source;
      for (int64_t i = 0; i < S; ++i) {
        Shape vs = imp.shapeOf(v);
        int64_t start = offset[i] * dil[i], size = out[i] * strides[i];
        if (start != 0 || size != vs[2 + i]) {
          vs[2 + i] = size;
          v = b.create<msdd::SliceOp>(imp.loc, imp.tensorType(vs, k), v, 2 + i, start);
        }
      }
      v = imp.reshape(v, views);
      for (int64_t i = 0; i < S; ++i) {
        if (strides[i] == 1)
          continue;
        Shape vs = imp.shapeOf(v);
        vs[3 + 2 * i] = 1;
        v = b.create<msdd::SliceOp>(imp.loc, imp.tensorType(vs, k), v, 3 + 2 * i, 0);
      }
      v = imp.reshape(v, outShape);
      if (!y)
        y = v;
      else if (isMax)
        y = b.create<msdd::MaximumOp>(imp.loc, v.getType(), y, v);
      else
        y = b.create<msdd::AddOp>(imp.loc, v.getType(), y, v);
      // The next window offset, last axis fastest.
      for (int64_t i = S - 1; i >= 0 && ++offset[i] == (*ks)[i]; --i)
        offset[i] = 0;
    }
  } else {
    // Values and Indices, or many offsets: one generic over (n, c, o..., k...).
    if (needPad)
      x = imp.insertSlice(x, imp.fill(ps, k, isMax ? -INFINITY : 0.0), off, ones);
    int64_t nLoops = 2 + 2 * S;
    SmallVector<AffineExpr> inE = {b.getAffineDimExpr(0), b.getAffineDimExpr(1)}, wE,
                            outE = {b.getAffineDimExpr(0), b.getAffineDimExpr(1)};
    for (int64_t i = 0; i < S; ++i) {
      AffineExpr o = b.getAffineDimExpr(2 + i), kk = b.getAffineDimExpr(2 + S + i);
      inE.push_back(o * strides[i] + kk * dil[i]);
      wE.push_back(kk);
      outE.push_back(o);
    }
    Value window = b.create<tensor::EmptyOp>(imp.loc, *ks, imp.elemType(k));
    Value init = imp.fill(outShape, k, isMax ? -INFINITY : 0.0);
    if (isMax && imp.hasOut(1)) {
      // Values and Indices: the row-major flat index into X of each window's (first) maximum.
      Value initIdx = imp.fill(outShape, EK::I64, 0.0);
      SmallVector<utils::IteratorType> it2(2 + S, utils::IteratorType::parallel);
      it2.append(S, utils::IteratorType::reduction);
      AffineMap om = AffineMap::get(nLoops, 0, outE, &imp.ctx);
      Shape xs = X.shape;
      auto g2 = b.create<linalg::GenericOp>(
          imp.loc, TypeRange{init.getType(), initIdx.getType()}, ValueRange{x, window},
          ValueRange{init, initIdx},
          SmallVector<AffineMap>{AffineMap::get(nLoops, 0, inE, &imp.ctx),
                                 AffineMap::get(nLoops, 0, wE, &imp.ctx), om, om},
          it2, [&](OpBuilder &nb, Location l, ValueRange a) {
            auto idx = [&](int64_t d) {
              return nb.create<arith::IndexCastOp>(l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, d));
            };
            auto c64 = [&](int64_t v) { return nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(v)); };
            Value flat = nb.create<arith::AddIOp>(l, nb.create<arith::MulIOp>(l, idx(0), c64(xs[1])), idx(1));
            for (int64_t j = 0; j < S; ++j) {
              int64_t i = columnMajor ? S - 1 - j : j;
              // o * s + kk * d - pb
              Value pos = nb.create<arith::AddIOp>(
                  l, nb.create<arith::MulIOp>(l, idx(2 + i), c64(strides[i])),
                  nb.create<arith::MulIOp>(l, idx(2 + S + i), c64(dil[i])));
              pos = nb.create<arith::SubIOp>(l, pos, c64(pb[i]));
              flat = nb.create<arith::AddIOp>(l, nb.create<arith::MulIOp>(l, flat, c64(xs[2 + i])), pos);
            }
            Value better = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, a[0], a[2]);
            nb.create<linalg::YieldOp>(l, ValueRange{nb.create<arith::SelectOp>(l, better, a[0], a[2]),
                                                     nb.create<arith::SelectOp>(l, better, flat, a[3])});
          });
      imp.setOut(0, g2.getResult(0));
      imp.setOut(1, g2.getResult(1));
      return success();
    }
    SmallVector<utils::IteratorType> iters(2 + S, utils::IteratorType::parallel);
    iters.append(S, utils::IteratorType::reduction);
    auto g = b.create<linalg::GenericOp>(
        imp.loc, TypeRange{init.getType()}, ValueRange{x, window}, ValueRange{init},
        SmallVector<AffineMap>{AffineMap::get(nLoops, 0, inE, &imp.ctx),
                               AffineMap::get(nLoops, 0, wE, &imp.ctx),
                               AffineMap::get(nLoops, 0, outE, &imp.ctx)},
        iters, [&](OpBuilder &nb, Location l, ValueRange a) {
          Value r = isMax ? (Value)nb.create<arith::MaximumFOp>(l, a[2], a[0])
                          : (Value)nb.create<arith::AddFOp>(l, a[2], a[0]);
          nb.create<linalg::YieldOp>(l, r);
        });
    y = g.getResult(0);
  }
  if (!isMax) {
    // Divide by the element count of each window: real elements, or with
    // count_include_pad also the explicit padding (never what ceil_mode adds).
    if (numel(out) > kHostLimit)
      return imp.unsupported("AveragePool with more than " + Twine(kHostLimit) + " outputs per channel");
    HostTensor count(k, out);
    Shape st = stridesOf(out);
    auto ceilDiv = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
    for (int64_t flat = 0; flat < count.size(); ++flat) {
      double c = 1;
      for (int64_t i = 0; i < S; ++i) {
        // #{kk in [0, K): lo <= o*s + kk*d - pb < hi}
        int64_t o = flat / st[i] % out[i], in = X.shape[2 + i];
        int64_t lo = includePad ? -pb[i] : 0, hi = includePad ? in + pe[i] : in;
        int64_t base = o * strides[i] - pb[i];
        int64_t kmin = std::max<int64_t>(0, ceilDiv(lo - base, dil[i]));
        int64_t kmax = std::min<int64_t>((*ks)[i], ceilDiv(hi - base, dil[i]));
        c *= (double)std::max<int64_t>(0, kmax - kmin);
      }
      count.setF(flat, c);
    }
    y = b.create<msdd::DivOp>(imp.loc, y.getType(), y, imp.constant(count));
  }
  imp.setOut(0, y);
  return success();
}

LogicalResult cumSum(Importer &imp) {
  auto xv = imp.need(0);
  auto av = imp.needConst(1, "axis");
  if (failed(xv) || failed(av))
    return failure();
  Val &X = **xv;
  if (X.kind == EK::I1)
    return imp.unsupported("CumSum of bool tensors");
  int64_t rank = X.shape.size();
  auto axis = normAxis(imp, (*av)->getI(0), rank);
  if (failed(axis))
    return failure();
  bool exclusive = imp.attrInt("exclusive", 0), reverse = imp.attrInt("reverse", 0);
  // out[.., i, ..] = sum_j [j <= i] x[.., j, ..] (conditions per exclusive/reverse).
  OpBuilder &b = imp.b;
  SmallVector<AffineExpr> inE, outE;
  for (int64_t d = 0; d < rank; ++d) {
    inE.push_back(b.getAffineDimExpr(d == *axis ? rank : d));
    outE.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  EK k = X.kind;
  bool f = isFloat(k);
  Value init = imp.fill(X.shape, k, 0.0);
  int64_t ax = *axis;
  auto g = b.create<linalg::GenericOp>(
      imp.loc, TypeRange{init.getType()}, ValueRange{imp.get(X)}, ValueRange{init},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, inE, &imp.ctx),
                             AffineMap::get(rank + 1, 0, outE, &imp.ctx)},
      iters, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value i = nb.create<linalg::IndexOp>(l, ax), j = nb.create<linalg::IndexOp>(l, rank);
        auto pred = reverse ? (exclusive ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::uge)
                            : (exclusive ? arith::CmpIPredicate::ult : arith::CmpIPredicate::ule);
        Value take = nb.create<arith::CmpIOp>(l, pred, j, i);
        Value v = nb.create<arith::SelectOp>(l, take, a[0], imp.scalarConst(nb, l, 0, k));
        nb.create<linalg::YieldOp>(l, f ? (Value)nb.create<arith::AddFOp>(l, a[1], v)
                                        : (Value)nb.create<arith::AddIOp>(l, a[1], v));
      });
  imp.setOut(0, g.getResult(0));
  return success();
}

LogicalResult trilu(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  int64_t kOff = 0;
  if (imp.hasIn(1)) {
    auto kv = imp.needConst(1, "k");
    if (failed(kv))
      return failure();
    kOff = (*kv)->getI(0);
  }
  int64_t rank = X.shape.size();
  if (rank < 2)
    return imp.fail("input must have rank >= 2");
  bool upper = imp.attrInt("upper", 1);
  EK k = X.kind;
  if (numel(X.shape) == 0) {
    imp.setOut(0, X);
    return success();
  }
  imp.setOut(0, imp.elementwise({imp.get(X)}, X.shape, k, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    auto idx = [&](int64_t d) {
      return nb.create<arith::IndexCastOp>(l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, d));
    };
    Value diff = nb.create<arith::SubIOp>(l, idx(rank - 1), idx(rank - 2));
    Value kc = nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(kOff));
    Value keep = nb.create<arith::CmpIOp>(l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, diff, kc);
    return nb.create<arith::SelectOp>(l, keep, a[0], imp.scalarConst(nb, l, 0, k));
  }));
  return success();
}

LogicalResult meanVarianceNorm(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (failed(needFloat(imp, X)))
    return failure();
  int64_t rank = X.shape.size();
  std::vector<int64_t> axesAttr = imp.attrInts("axes").value_or(std::vector<int64_t>{0, 2, 3});
  SmallVector<int64_t> axes;
  for (int64_t a : axesAttr) {
    auto n = normAxis(imp, a, rank);
    if (failed(n))
      return failure();
    axes.push_back(*n);
  }
  llvm::sort(axes);
  OpBuilder &b = imp.b;
  Location loc = imp.loc;
  Value x = imp.get(X);
  auto type = x.getType();
  Value mean = imp.reduce(x, axes, true, "mean");
  Value d = b.create<msdd::SubOp>(loc, type, x, mean);
  Value var = imp.reduce(b.create<msdd::MulOp>(loc, type, d, d), axes, true, "mean");
  Value sd = b.create<msdd::SqrtOp>(loc, var.getType(), var);
  Value den = b.create<msdd::AddOp>(loc, var.getType(), sd, imp.scalar(1e-9, X.kind));
  imp.setOut(0, b.create<msdd::DivOp>(loc, type, d, den).getResult());
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

/// log(softmax(x)) along `axis`, stable.
Value logSoftmax(Importer &imp, Value x, int64_t axis) {
  OpBuilder &b = imp.b;
  Location loc = imp.loc;
  Value m = imp.reduce(x, {axis}, true, "max");
  Value sft = b.create<msdd::SubOp>(loc, x.getType(), x, m);
  Value e = b.create<msdd::ExpOp>(loc, x.getType(), sft);
  Value sum = imp.reduce(e, {axis}, true, "sum");
  Value lse = b.create<msdd::LogOp>(loc, sum.getType(), sum);
  return b.create<msdd::SubOp>(loc, x.getType(), sft, lse);
}

/// NegativeLogLikelihoodLoss on log-probabilities [N, C, d...] and targets [N, d...].
FailureOr<Value> nllLoss(Importer &imp, Value logp, Val &target, Val *weight) {
  Shape ps = imp.shapeOf(logp);
  EK k = imp.kindOf(logp);
  if (ps.size() < 2 || target.shape.size() != ps.size() - 1 || isFloat(target.kind) ||
      target.kind == EK::I1)
    return imp.fail("expects input [N, C, d...] and integer target [N, d...]");
  for (size_t d = 0; d < target.shape.size(); ++d)
    if (target.shape[d] != ps[d == 0 ? 0 : d + 1])
      return imp.fail("target " + shapeStr(target.shape) + " does not match input " + shapeStr(ps));
  if (weight && (weight->shape != Shape{ps[1]} || weight->kind != k))
    return imp.fail("weight must be [C] of the input's type");
  std::string reduction = imp.attrString("reduction", "mean");
  const auto *ignoreAttr = imp.attr("ignore_index");
  int64_t ignore = ignoreAttr ? ignoreAttr->i() : 0;
  OpBuilder &b = imp.b;
  Value w = weight ? imp.get(*weight) : Value();
  Shape ts = target.shape;
  int64_t rank = ts.size();
  Value e0 = b.create<tensor::EmptyOp>(imp.loc, ts, imp.elemType(k));
  Value e1 = b.create<tensor::EmptyOp>(imp.loc, ts, imp.elemType(k));
  SmallVector<AffineMap> maps(3, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto g = b.create<linalg::GenericOp>(
      imp.loc, TypeRange{e0.getType(), e1.getType()}, ValueRange{imp.get(target)},
      ValueRange{e0, e1}, maps, iters, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value t = a[0];
        Value ign = ignoreAttr ? (Value)nb.create<arith::CmpIOp>(
                                     l, arith::CmpIPredicate::eq, t,
                                     nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(t.getType(), ignore)))
                               : imp.scalarConst(nb, l, 0, EK::I1);
        Value zeroT = nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(t.getType(), 0));
        Value tc = nb.create<arith::IndexCastOp>(l, nb.getIndexType(), nb.create<arith::SelectOp>(l, ign, zeroT, t));
        SmallVector<Value> coords = {nb.create<linalg::IndexOp>(l, 0), tc};
        for (int64_t d = 1; d < rank; ++d)
          coords.push_back(nb.create<linalg::IndexOp>(l, d));
        Value v = nb.create<tensor::ExtractOp>(l, logp, coords);
        Value wv = w ? (Value)nb.create<tensor::ExtractOp>(l, w, ValueRange{tc}) : imp.scalarConst(nb, l, 1, k);
        Value zero = imp.scalarConst(nb, l, 0, k);
        wv = nb.create<arith::SelectOp>(l, ign, zero, wv);
        Value loss = nb.create<arith::NegFOp>(l, nb.create<arith::MulFOp>(l, v, wv));
        nb.create<linalg::YieldOp>(l, ValueRange{loss, wv});
      });
  Value loss = g.getResult(0), wsum = g.getResult(1);
  if (reduction == "none")
    return loss;
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  Value total = imp.reduce(loss, all, false, "sum");
  if (reduction == "sum")
    return total;
  if (reduction != "mean")
    return imp.fail("unknown reduction '" + reduction + "'");
  Value den = imp.reduce(wsum, all, false, "sum");
  return (Value)b.create<msdd::DivOp>(imp.loc, total.getType(), total, den);
}

LogicalResult nll(Importer &imp) {
  auto xv = imp.need(0), tv = imp.need(1);
  if (failed(xv) || failed(tv))
    return failure();
  if (failed(needFloat(imp, **xv)))
    return failure();
  auto r = nllLoss(imp, imp.get(**xv), **tv, imp.in(2));
  if (failed(r))
    return failure();
  imp.setOut(0, *r);
  return success();
}

LogicalResult softmaxCrossEntropy(Importer &imp) {
  auto xv = imp.need(0), tv = imp.need(1);
  if (failed(xv) || failed(tv))
    return failure();
  if (failed(needFloat(imp, **xv)))
    return failure();
  if ((*xv)->shape.size() < 2)
    return imp.fail("scores must be [N, C, d...]");
  Value logp = logSoftmax(imp, imp.get(**xv), 1);
  auto r = nllLoss(imp, logp, **tv, imp.in(2));
  if (failed(r))
    return failure();
  imp.setOut(0, *r);
  imp.setOut(1, logp);
  return success();
}

} // namespace

void onnx_import::registerMiscOps() {
  auto &h = opHandlers();
  h["Resize"] = [](Importer &imp) { return resize(imp, false); };
  h["Upsample"] = [](Importer &imp) { return resize(imp, true); };
  h["ArgMax"] = argHandler(true);
  h["ArgMin"] = argHandler(false);
  h["Hardmax"] = hardmax;
  h["NegativeLogLikelihoodLoss"] = nll;
  h["SoftmaxCrossEntropyLoss"] = softmaxCrossEntropy;
  h["MaxPool"] = [](Importer &imp) { return pool(imp, true); };
  h["AveragePool"] = [](Importer &imp) { return pool(imp, false); };
  h["CumSum"] = cumSum;
  h["Trilu"] = trilu;
  h["MeanVarianceNormalization"] = meanVarianceNorm;
}
