//===- OpsShape.cpp - ONNX shape and data-movement ops ---------------------===//
//
// Shape, Size, Range, ConstantOfShape always fold (shapes are static). Reshape, Slice,
// Gather, Concat, ... fold when their data input is known at import (shape subgraphs) and
// otherwise become msdd.reshape / msdd.transpose (floats), tensor.extract_slice,
// tensor.concat and linalg.generic. Operands that determine a shape (Reshape's shape,
// Slice's starts, ...) must be known at import: static shapes only.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

namespace {

constexpr int64_t kFoldLimit = 1 << 16;

bool foldable(const Val *v) {
  return v && v->host && v->initializer < 0 && v->host->size() <= kFoldLimit;
}

/// out[idx] = in[src(idx)] on the host.
HostTensor remap(const HostTensor &in, ArrayRef<int64_t> outShape,
                 const std::function<int64_t(ArrayRef<int64_t>)> &src) {
  HostTensor r(in.kind, outShape);
  int64_t n = r.size(), rank = outShape.size();
  Shape idx(rank, 0);
  for (int64_t o = 0; o < n; ++o) {
    int64_t s = src(idx);
    if (isFloat(in.kind))
      r.f[o] = in.f[s];
    else
      r.i[o] = in.i[s];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  return r;
}

HostTensor withShape(const HostTensor &in, ArrayRef<int64_t> shape) {
  HostTensor r = in;
  r.shape.assign(shape.begin(), shape.end());
  return r;
}

/// Axes from the attribute (older opsets) or from input `inputIndex` (newer ones).
FailureOr<std::optional<std::vector<int64_t>>> axesOperand(Importer &imp, int64_t sinceOpset,
                                                           size_t inputIndex) {
  if (imp.opset < sinceOpset)
    return imp.attrInts("axes");
  if (!imp.hasIn(inputIndex))
    return std::optional<std::vector<int64_t>>();
  auto h = imp.needConst(inputIndex, "axes");
  if (failed(h))
    return failure();
  return std::optional<std::vector<int64_t>>((*h)->ints());
}

LogicalResult reshapeTo(Importer &imp, Val &x, ArrayRef<int64_t> shape) {
  if (numel(shape) != numel(x.shape))
    return imp.fail("cannot reshape " + shapeStr(x.shape) + " to " + shapeStr(shape));
  if (foldable(&x)) {
    imp.setOut(0, withShape(*x.host, shape));
    return success();
  }
  imp.setOut(0, imp.reshape(imp.get(x), shape));
  return success();
}

LogicalResult constantOp(Importer &imp) {
  const onnx::AttributeProto *a = nullptr;
  for (const auto &at : imp.node->attribute())
    a = &at;
  if (!a)
    return imp.fail("has no value attribute");
  HostTensor t;
  const std::string &n = a->name();
  if (n == "value") {
    auto h = imp.tensorFromProto(a->t(), "the value");
    if (failed(h))
      return failure();
    t = std::move(*h);
  } else if (n == "value_float") {
    t = HostTensor(EK::F32, {});
    t.setF(0, a->f());
  } else if (n == "value_floats") {
    t = HostTensor(EK::F32, {(int64_t)a->floats_size()});
    for (int i = 0; i < a->floats_size(); ++i)
      t.setF(i, a->floats(i));
  } else if (n == "value_int") {
    t = HostTensor(EK::I64, {});
    t.setI(0, a->i());
  } else if (n == "value_ints") {
    t = HostTensor(EK::I64, {(int64_t)a->ints_size()});
    for (int i = 0; i < a->ints_size(); ++i)
      t.setI(i, a->ints(i));
  } else {
    return imp.unsupported("Constant with attribute '" + n + "'");
  }
  imp.setOut(0, std::move(t));
  return success();
}

LogicalResult shapeOp(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  int64_t rank = (*x)->shape.size();
  int64_t start = imp.attrInt("start", 0), end = imp.attrInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  int64_t n = std::max<int64_t>(end - start, 0);
  HostTensor t(EK::I64, {n});
  for (int64_t i = 0; i < n; ++i)
    t.i[i] = (*x)->shape[start + i];
  imp.setOut(0, std::move(t));
  return success();
}

LogicalResult sizeOp(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  HostTensor t(EK::I64, {});
  t.i[0] = numel((*x)->shape);
  imp.setOut(0, std::move(t));
  return success();
}

LogicalResult constantOfShape(Importer &imp) {
  auto s = imp.needConst(0, "shape");
  if (failed(s))
    return failure();
  std::vector<int64_t> shape = (*s)->ints();
  if (failed(imp.checkDims(shape, "shape")))
    return failure();
  for (int64_t d : shape)
    if (d < 0)
      return imp.fail("negative dimension in shape " + shapeStr(shape));
  HostTensor value(EK::F32, {});
  if (const auto *a = imp.attr("value")) {
    auto h = imp.tensorFromProto(a->t(), "the value");
    if (failed(h))
      return failure();
    if (h->size() != 1)
      return imp.fail("value must hold one element");
    value = std::move(*h);
  }
  if (numel(shape) > kFoldLimit) {
    imp.setOut(0, imp.fill(shape, value.kind, value.getF(0)));
    return success();
  }
  HostTensor t(value.kind, shape);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (isFloat(value.kind))
      t.f[i] = value.f[0];
    else
      t.i[i] = value.i[0];
  }
  imp.setOut(0, std::move(t));
  return success();
}

LogicalResult rangeOp(Importer &imp) {
  auto s = imp.needConst(0, "start"), l = imp.needConst(1, "limit"), d = imp.needConst(2, "delta");
  if (failed(s) || failed(l) || failed(d))
    return failure();
  EK k = (*s)->kind;
  HostTensor out;
  if (isFloat(k)) {
    double start = (*s)->getF(0), limit = (*l)->getF(0), delta = (*d)->getF(0);
    if (delta == 0)
      return imp.fail("delta is 0");
    double count = std::ceil((limit - start) / delta);
    if (!(count <= (double)kHostLimit))
      return imp.fail("the range has more than " + Twine(kHostLimit) + " elements");
    int64_t n = std::max<int64_t>(saturatingInt(count), 0);
    out = HostTensor(k, {n});
    for (int64_t i = 0; i < n; ++i)
      out.setF(i, start + i * delta);
  } else {
    int64_t start = (*s)->getI(0), limit = (*l)->getI(0), delta = (*d)->getI(0);
    if (delta == 0)
      return imp.fail("delta is 0");
    double count = std::ceil(((double)limit - (double)start) / (double)delta);
    if (!(count <= (double)kHostLimit))
      return imp.fail("the range has more than " + Twine(kHostLimit) + " elements");
    int64_t n = std::max<int64_t>(saturatingInt(count), 0);
    out = HostTensor(k, {n});
    for (int64_t i = 0; i < n; ++i)
      out.setI(i, wrapAdd(start, wrapMul(i, delta)));
  }
  imp.setOut(0, std::move(out));
  return success();
}

LogicalResult reshapeOp(Importer &imp) {
  auto x = imp.need(0);
  auto s = imp.needConst(1, "shape");
  if (failed(x) || failed(s))
    return failure();
  std::vector<int64_t> spec = (*s)->ints();
  if (failed(imp.checkDims(spec, "shape")))
    return failure();
  bool allowZero = imp.attrInt("allowzero", 0) != 0;
  Shape shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowZero) {
      if (i >= (*x)->shape.size())
        return imp.fail("shape " + shapeStr(spec) + " copies dimension " + Twine(i) +
                        " that the input " + shapeStr((*x)->shape) + " lacks");
      d = (*x)->shape[i];
    }
    if (d == -1) {
      if (infer >= 0)
        return imp.fail("shape " + shapeStr(spec) + " has more than one -1");
      infer = i;
      shape.push_back(1);
      continue;
    }
    if (d < 0)
      return imp.fail("shape " + shapeStr(spec) + " has a negative dimension");
    known *= d;
    shape.push_back(d);
  }
  if (infer >= 0) {
    int64_t total = numel((*x)->shape);
    if (known == 0 || total % known)
      return imp.fail("cannot reshape " + shapeStr((*x)->shape) + " to " + shapeStr(spec));
    shape[infer] = total / known;
  }
  return reshapeTo(imp, **x, shape);
}

LogicalResult flattenOp(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  int64_t rank = (*x)->shape.size();
  int64_t axis = imp.attrInt("axis", 1);
  if (axis < -rank || axis > rank)
    return imp.fail("axis " + Twine(axis) + " is out of range");
  if (axis < 0)
    axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? outer : inner) *= (*x)->shape[d];
  return reshapeTo(imp, **x, {outer, inner});
}

LogicalResult squeezeOp(Importer &imp) {
  auto x = imp.need(0);
  auto axes = axesOperand(imp, 13, 1);
  if (failed(x) || failed(axes))
    return failure();
  int64_t rank = (*x)->shape.size();
  SmallVector<bool> drop(rank, false);
  if (*axes) {
    for (int64_t a : **axes) {
      auto n = normAxis(imp, a, rank);
      if (failed(n))
        return failure();
      if ((*x)->shape[*n] != 1)
        return imp.fail("cannot squeeze dimension " + Twine(*n) + " of size " +
                        Twine((*x)->shape[*n]));
      drop[*n] = true;
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      drop[d] = (*x)->shape[d] == 1;
  }
  Shape shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d])
      shape.push_back((*x)->shape[d]);
  return reshapeTo(imp, **x, shape);
}

LogicalResult unsqueezeOp(Importer &imp) {
  auto x = imp.need(0);
  auto axes = axesOperand(imp, 13, 1);
  if (failed(x) || failed(axes))
    return failure();
  if (!*axes)
    return imp.fail("missing axes");
  int64_t rank = (*x)->shape.size() + (*axes)->size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t a : **axes) {
    auto n = normAxis(imp, a, rank);
    if (failed(n))
      return failure();
    if (inserted[*n])
      return imp.fail("axis " + Twine(a) + " is repeated");
    inserted[*n] = true;
  }
  Shape shape;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d)
    shape.push_back(inserted[d] ? 1 : (*x)->shape[next++]);
  return reshapeTo(imp, **x, shape);
}

LogicalResult transposeOp(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  int64_t rank = (*x)->shape.size();
  std::vector<int64_t> perm;
  if (auto p = imp.attrInts("perm")) {
    perm = *p;
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  if ((int64_t)perm.size() != rank)
    return imp.fail("perm " + shapeStr(perm) + " does not match rank " + Twine(rank));
  SmallVector<bool> seen(rank, false);
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return imp.fail("perm is not a permutation");
    seen[p] = true;
  }
  Shape out;
  for (int64_t p : perm)
    out.push_back((*x)->shape[p]);
  if (foldable(*x)) {
    Shape st = stridesOf((*x)->shape);
    imp.setOut(0, remap(*(*x)->host, out, [&](ArrayRef<int64_t> idx) {
      int64_t s = 0;
      for (int64_t d = 0; d < rank; ++d)
        s += idx[d] * st[perm[d]];
      return s;
    }));
    return success();
  }
  imp.setOut(0, imp.transpose(imp.get(**x), perm));
  return success();
}

LogicalResult concatOp(Importer &imp) {
  if (imp.numInputs() == 0)
    return imp.fail("needs at least one input");
  auto first = imp.need(0);
  if (failed(first))
    return failure();
  int64_t rank = (*first)->shape.size();
  auto axis = normAxis(imp, imp.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  SmallVector<Val *> ins;
  Shape out = (*first)->shape;
  out[*axis] = 0;
  bool allFold = true;
  for (size_t i = 0; i < imp.numInputs(); ++i) {
    auto v = imp.need(i);
    if (failed(v))
      return failure();
    if ((*v)->kind != (*first)->kind || (int64_t)(*v)->shape.size() != rank)
      return imp.fail("inputs differ in element type or rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != *axis && (*v)->shape[d] != out[d])
        return imp.fail("input shapes " + shapeStr((*first)->shape) + " and " +
                        shapeStr((*v)->shape) + " differ outside the axis");
    out[*axis] += (*v)->shape[*axis];
    allFold &= foldable(*v);
    ins.push_back(*v);
  }
  if (allFold) {
    HostTensor r((*first)->kind, out);
    Shape ost = stridesOf(out);
    int64_t offset = 0;
    for (Val *v : ins) {
      const HostTensor &h = *v->host;
      Shape st = stridesOf(v->shape);
      for (int64_t k = 0; k < h.size(); ++k) {
        int64_t rem = k, o = 0;
        for (int64_t d = 0; d < rank; ++d) {
          int64_t i = rem / st[d];
          rem %= st[d];
          o += (d == *axis ? i + offset : i) * ost[d];
        }
        if (isFloat(h.kind))
          r.f[o] = h.f[k];
        else
          r.i[o] = h.i[k];
      }
      offset += v->shape[*axis];
    }
    imp.setOut(0, std::move(r));
    return success();
  }
  SmallVector<Value> values;
  for (Val *v : ins)
    if (v->shape[*axis] != 0)
      values.push_back(imp.get(*v));
  if (values.empty()) {
    imp.setOut(0, HostTensor((*first)->kind, out));
    return success();
  }
  if (values.size() == 1) {
    imp.setOut(0, values[0]);
    return success();
  }
  imp.setOut(0, imp.b.create<tensor::ConcatOp>(imp.loc, *axis, values).getResult());
  return success();
}

/// A strided slice along some axes (steps may be negative).
LogicalResult emitSlice(Importer &imp, Val &x, size_t out, ArrayRef<int64_t> starts,
                        ArrayRef<int64_t> sizes, ArrayRef<int64_t> steps) {
  int64_t rank = x.shape.size();
  if (foldable(&x)) {
    Shape st = stridesOf(x.shape);
    imp.setOut(out, remap(*x.host, sizes, [&](ArrayRef<int64_t> idx) {
      int64_t s = 0;
      for (int64_t d = 0; d < rank; ++d)
        s += (starts[d] + idx[d] * steps[d]) * st[d];
      return s;
    }));
    return success();
  }
  if (numel(sizes) == 0) {
    imp.setOut(out, HostTensor(x.kind, sizes));
    return success();
  }
  Value v = imp.get(x);
  bool positive = llvm::all_of(steps, [](int64_t s) { return s > 0; });
  if (positive) {
    imp.setOut(out, imp.extractSlice(v, starts, sizes, steps));
    return success();
  }
  // Negative steps: src[start + i * step], computed in the body (not an indexing map).
  imp.setOut(out, imp.gatherGeneric(v, sizes, [&](OpBuilder &nb, Location l, ValueRange idx) {
    SmallVector<Value> c;
    for (int64_t d = 0; d < rank; ++d) {
      Value i = idx[d];
      if (steps[d] != 1)
        i = nb.create<arith::MulIOp>(l, i, nb.create<arith::ConstantIndexOp>(l, steps[d]));
      if (starts[d])
        i = nb.create<arith::AddIOp>(l, i, nb.create<arith::ConstantIndexOp>(l, starts[d]));
      c.push_back(i);
    }
    return c;
  }));
  return success();
}

LogicalResult sliceOp(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &x = **xv;
  int64_t rank = x.shape.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (imp.opset < 10) {
    starts = imp.attrInts("starts").value_or(std::vector<int64_t>{});
    ends = imp.attrInts("ends").value_or(std::vector<int64_t>{});
    if (auto a = imp.attrInts("axes"))
      axes = *a;
  } else {
    auto s = imp.needConst(1, "starts"), e = imp.needConst(2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = (*s)->ints();
    ends = (*e)->ints();
    if (imp.hasIn(3)) {
      auto a = imp.needConst(3, "axes");
      if (failed(a))
        return failure();
      axes = (*a)->ints();
    }
    if (imp.hasIn(4)) {
      auto st = imp.needConst(4, "steps");
      if (failed(st))
        return failure();
      steps = (*st)->ints();
    }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return imp.fail("starts, ends, axes and steps differ in length");
  Shape off(rank, 0), size = x.shape, step(rank, 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto a = normAxis(imp, axes[i], rank);
    if (failed(a))
      return failure();
    int64_t dim = x.shape[*a], s = starts[i], e = ends[i], st = steps[i];
    if (st == 0 || st < -kMaxDim || st > kMaxDim)
      return imp.fail("step " + Twine(st) + " is 0 or too large");
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      size[*a] = std::max<int64_t>(0, (e - s + st - 1) / st);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      size[*a] = std::max<int64_t>(0, (s - e + (-st) - 1) / (-st));
    }
    off[*a] = size[*a] ? s : 0;
    step[*a] = st;
  }
  return emitSlice(imp, x, 0, off, size, step);
}

LogicalResult splitOp(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &x = **xv;
  int64_t rank = x.shape.size();
  auto axis = normAxis(imp, imp.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  std::vector<int64_t> split;
  if (imp.opset < 13) {
    split = imp.attrInts("split").value_or(std::vector<int64_t>{});
  } else if (imp.hasIn(1)) {
    auto s = imp.needConst(1, "split");
    if (failed(s))
      return failure();
    split = (*s)->ints();
  }
  int64_t dim = x.shape[*axis], n = imp.numOutputs();
  if (split.empty()) {
    if (n == 0 || dim % n)
      return imp.fail("cannot split dimension " + Twine(dim) + " into " + Twine(n) + " equal parts");
    split.assign(n, dim / n);
  }
  if (failed(imp.checkDims(split, "split")))
    return failure();
  if ((int64_t)split.size() != n)
    return imp.fail("split has " + Twine(split.size()) + " parts for " + Twine(n) + " outputs");
  if (std::accumulate(split.begin(), split.end(), (int64_t)0) != dim)
    return imp.fail("split sizes do not add up to " + Twine(dim));
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    Shape off(rank, 0), size = x.shape, step(rank, 1);
    off[*axis] = offset;
    size[*axis] = split[i];
    if (failed(emitSlice(imp, x, i, off, size, step)))
      return failure();
    offset += split[i];
  }
  return success();
}

LogicalResult gatherOp(Importer &imp) {
  auto dv = imp.need(0), iv = imp.need(1);
  if (failed(dv) || failed(iv))
    return failure();
  Val &data = **dv, &indices = **iv;
  if (isFloat(indices.kind) || indices.kind == EK::I1)
    return imp.fail("indices must be integers");
  int64_t rank = data.shape.size(), q = indices.shape.size();
  auto axis = normAxis(imp, imp.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  int64_t dim = data.shape[*axis];
  Shape out(data.shape.begin(), data.shape.begin() + *axis);
  out.append(indices.shape.begin(), indices.shape.end());
  out.append(data.shape.begin() + *axis + 1, data.shape.end());

  std::optional<HostTensor> idx;
  if (indices.host) {
    idx = *indices.host;
    for (int64_t &i : idx->i) {
      if (i < -dim || i >= dim)
        return imp.fail("index " + Twine(i) + " is out of range for dimension " + Twine(dim));
      if (i < 0)
        i += dim;
    }
  }
  if (idx && foldable(&data) && numel(out) <= kFoldLimit) {
    Shape st = stridesOf(data.shape), ist = stridesOf(indices.shape);
    imp.setOut(0, remap(*data.host, out, [&](ArrayRef<int64_t> o) {
      int64_t flatIdx = 0;
      for (int64_t j = 0; j < q; ++j)
        flatIdx += o[*axis + j] * ist[j];
      int64_t s = 0;
      for (int64_t d = 0; d < rank; ++d) {
        int64_t i = d < *axis ? o[d] : d == *axis ? idx->i[flatIdx] : o[d + q - 1];
        s += i * st[d];
      }
      return s;
    }));
    return success();
  }
  Value dataV = imp.get(data);
  if (idx && idx->size() == 1) {
    // One index: a slice, reshaped to drop (q = 0) or keep (q >= 1, all ones) the axis.
    Shape off(rank, 0), size = data.shape, step(rank, 1);
    off[*axis] = idx->i[0];
    size[*axis] = 1;
    Value s = imp.extractSlice(dataV, off, size, step);
    imp.setOut(0, imp.reshape(s, out));
    return success();
  }
  Value indicesV = idx ? imp.constant(*idx) : imp.get(indices);
  int64_t outRank = out.size();
  SmallVector<AffineExpr> idxExprs;
  for (int64_t j = 0; j < q; ++j)
    idxExprs.push_back(imp.b.getAffineDimExpr(*axis + j));
  SmallVector<AffineMap> maps = {AffineMap::get(outRank, 0, idxExprs, &imp.ctx),
                                 imp.b.getMultiDimIdentityMap(outRank)};
  SmallVector<utils::IteratorType> iters(outRank, utils::IteratorType::parallel);
  Value empty = imp.b.create<tensor::EmptyOp>(imp.loc, out, imp.elemType(data.kind));
  bool checkNegative = !idx;
  auto g = imp.b.create<linalg::GenericOp>(
      imp.loc, TypeRange{empty.getType()}, ValueRange{indicesV}, ValueRange{empty}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value i = a[0];
        if (checkNegative) {
          Value zero = nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(i.getType(), 0));
          Value d = nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(i.getType(), dim));
          Value neg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i, zero);
          i = nb.create<arith::SelectOp>(l, neg, nb.create<arith::AddIOp>(l, i, d), i);
        }
        Value index = nb.create<arith::IndexCastOp>(l, nb.getIndexType(), i);
        SmallVector<Value> coords;
        for (int64_t d = 0; d < rank; ++d) {
          if (d == *axis)
            coords.push_back(index);
          else
            coords.push_back(nb.create<linalg::IndexOp>(l, d < *axis ? d : d + q - 1));
        }
        nb.create<linalg::YieldOp>(l, nb.create<tensor::ExtractOp>(l, dataV, coords).getResult());
      });
  imp.setOut(0, g.getResult(0));
  return success();
}

LogicalResult expandOp(Importer &imp) {
  auto xv = imp.need(0);
  auto s = imp.needConst(1, "shape");
  if (failed(xv) || failed(s))
    return failure();
  Val &x = **xv;
  Shape out;
  if (failed(imp.checkDims((*s)->ints(), "shape")))
    return failure();
  for (int64_t d : (*s)->ints())
    if (d < 0)
      return imp.fail("negative dimension in shape " + shapeStr((*s)->ints()));
  if (!broadcastShape(x.shape, (*s)->ints(), out))
    return imp.fail("cannot expand " + shapeStr(x.shape) + " to " + shapeStr((*s)->ints()));
  if (foldable(&x) && numel(out) <= kFoldLimit) {
    int64_t rank = out.size(), off = rank - x.shape.size();
    Shape st = stridesOf(x.shape);
    imp.setOut(0, remap(*x.host, out, [&](ArrayRef<int64_t> idx) {
      int64_t f = 0;
      for (size_t d = 0; d < x.shape.size(); ++d)
        f += (x.shape[d] == 1 ? 0 : idx[off + d]) * st[d];
      return f;
    }));
    return success();
  }
  imp.setOut(0, imp.broadcastTo(imp.get(x), out));
  return success();
}

LogicalResult tileOp(Importer &imp) {
  auto xv = imp.need(0);
  auto r = imp.needConst(1, "repeats");
  if (failed(xv) || failed(r))
    return failure();
  Val &x = **xv;
  std::vector<int64_t> reps = (*r)->ints();
  if (failed(imp.checkDims(reps, "repeats")))
    return failure();
  int64_t rank = x.shape.size();
  if ((int64_t)reps.size() != rank)
    return imp.fail("repeats has " + Twine(reps.size()) + " entries for rank " + Twine(rank));
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (reps[d] < 0)
      return imp.fail("negative repeat");
    out.push_back(x.shape[d] * reps[d]);
  }
  if (foldable(&x) && numel(out) <= kFoldLimit) {
    Shape st = stridesOf(x.shape);
    imp.setOut(0, remap(*x.host, out, [&](ArrayRef<int64_t> idx) {
      int64_t f = 0;
      for (int64_t d = 0; d < rank; ++d)
        f += (idx[d] % x.shape[d]) * st[d];
      return f;
    }));
    return success();
  }
  if (numel(out) == 0) {
    imp.setOut(0, HostTensor(x.kind, out));
    return success();
  }
  // src[i mod size] (mod is not monotonic, so it is computed in the body).
  imp.setOut(0, imp.gatherGeneric(imp.get(x), out, [&](OpBuilder &nb, Location l, ValueRange idx) {
    SmallVector<Value> c;
    for (int64_t d = 0; d < rank; ++d)
      c.push_back(reps[d] == 1 ? idx[d]
                  : x.shape[d] == 1
                      ? (Value)nb.create<arith::ConstantIndexOp>(l, 0)
                      : (Value)nb.create<arith::RemUIOp>(
                            l, idx[d], nb.create<arith::ConstantIndexOp>(l, x.shape[d])));
    return c;
  }));
  return success();
}

LogicalResult padOp(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &x = **xv;
  int64_t rank = x.shape.size();
  std::string mode = imp.attrString("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    return imp.unsupported("Pad mode '" + mode + "'");
  std::vector<int64_t> pads;
  double value = 0;
  if (imp.opset < 11) {
    pads = imp.attrInts("pads").value_or(std::vector<int64_t>{});
    value = imp.attrFloat("value", 0);
  } else {
    auto p = imp.needConst(1, "pads");
    if (failed(p))
      return failure();
    pads = (*p)->ints();
    if (imp.hasIn(2)) {
      auto c = imp.needConst(2, "constant_value");
      if (failed(c))
        return failure();
      value = (*c)->getF(0);
    }
    if (imp.hasIn(3))
      return imp.unsupported("Pad with axes");
  }
  if ((int64_t)pads.size() != 2 * rank)
    return imp.fail("pads has " + Twine(pads.size()) + " entries for rank " + Twine(rank));
  if (failed(imp.checkDims(pads, "pads")))
    return failure();
  Shape out, off, ones(rank, 1);
  for (int64_t d = 0; d < rank; ++d) {
    if (pads[d] < 0 || pads[rank + d] < 0)
      return imp.unsupported("negative pads");
    out.push_back(x.shape[d] + pads[d] + pads[rank + d]);
    off.push_back(pads[d]);
  }
  if (mode == "constant") {
    Value dest = imp.fill(out, x.kind, value);
    imp.setOut(0, numel(x.shape) ? imp.insertSlice(imp.get(x), dest, off, ones) : dest);
    return success();
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (x.shape[d] == 0 && out[d] != 0)
      return imp.fail("cannot " + mode + "-pad an empty dimension");
    if (mode == "reflect" && (pads[d] >= x.shape[d] || pads[rank + d] >= x.shape[d]) &&
        out[d] != x.shape[d])
      return imp.unsupported("reflect pads as large as the dimension");
  }
  // edge: src[clamp(i - pad, 0, n - 1)]; reflect: |i - pad| mirrored at n - 1.
  bool reflect = mode == "reflect";
  imp.setOut(0, imp.gatherGeneric(imp.get(x), out, [&](OpBuilder &nb, Location l, ValueRange idx) {
    SmallVector<Value> c;
    for (int64_t d = 0; d < rank; ++d) {
      if (!pads[d] && !pads[rank + d]) {
        c.push_back(idx[d]);
        continue;
      }
      auto cst = [&](int64_t v) { return nb.create<arith::ConstantIndexOp>(l, v); };
      Value i = nb.create<arith::SubIOp>(l, idx[d], cst(pads[d]));
      Value last = cst(x.shape[d] - 1);
      if (reflect) {
        Value neg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i, cst(0));
        i = nb.create<arith::SelectOp>(l, neg, nb.create<arith::SubIOp>(l, cst(0), i), i);
        Value over = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sgt, i, last);
        Value mirrored = nb.create<arith::SubIOp>(l, cst(2 * (x.shape[d] - 1)), i);
        i = nb.create<arith::SelectOp>(l, over, mirrored, i);
      } else {
        i = nb.create<arith::MaxSIOp>(l, i, cst(0));
        i = nb.create<arith::MinSIOp>(l, i, last);
      }
      c.push_back(i);
    }
    return c;
  }));
  return success();
}

LogicalResult depthSpace(Importer &imp, bool toSpace) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (X.shape.size() != 4)
    return imp.fail("input must be [N, C, H, W]");
  int64_t bs = imp.attrInt("blocksize", 0);
  if (bs < 1)
    return imp.fail("blocksize must be >= 1");
  int64_t N = X.shape[0], C = X.shape[1], H = X.shape[2], W = X.shape[3];
  Value x = imp.get(X);
  Value y;
  if (toSpace) {
    if (C % (bs * bs))
      return imp.fail("channels are not divisible by blocksize^2");
    bool crd = imp.attrString("mode", "DCR") == "CRD";
    int64_t c = C / (bs * bs);
    if (crd) {
      x = imp.reshape(x, {N, c, bs, bs, H, W});
      x = imp.transpose(x, {0, 1, 4, 2, 5, 3});
    } else {
      x = imp.reshape(x, {N, bs, bs, c, H, W});
      x = imp.transpose(x, {0, 3, 4, 1, 5, 2});
    }
    y = imp.reshape(x, {N, c, H * bs, W * bs});
  } else {
    if (H % bs || W % bs)
      return imp.fail("height and width are not divisible by blocksize");
    x = imp.reshape(x, {N, C, H / bs, bs, W / bs, bs});
    x = imp.transpose(x, {0, 3, 5, 1, 2, 4});
    y = imp.reshape(x, {N, C * bs * bs, H / bs, W / bs});
  }
  imp.setOut(0, y);
  return success();
}

LogicalResult gatherElements(Importer &imp) {
  auto dv = imp.need(0), iv = imp.need(1);
  if (failed(dv) || failed(iv))
    return failure();
  Val &data = **dv, &indices = **iv;
  int64_t rank = data.shape.size();
  if ((int64_t)indices.shape.size() != rank || isFloat(indices.kind) || indices.kind == EK::I1)
    return imp.fail("indices must be integers of the data's rank");
  auto axis = normAxis(imp, imp.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  int64_t dim = data.shape[*axis], ax = *axis;
  Value dataV = imp.get(data);
  if (numel(indices.shape) == 0) {
    imp.setOut(0, HostTensor(data.kind, indices.shape));
    return success();
  }
  imp.setOut(0, imp.elementwise({imp.get(indices)}, indices.shape, data.kind,
                                [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value i = a[0];
    Value zero = nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(i.getType(), 0));
    Value d = nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(i.getType(), dim));
    Value neg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i, zero);
    i = nb.create<arith::SelectOp>(l, neg, nb.create<arith::AddIOp>(l, i, d), i);
    SmallVector<Value> coords;
    for (int64_t k = 0; k < rank; ++k)
      coords.push_back(k == ax ? (Value)nb.create<arith::IndexCastOp>(l, nb.getIndexType(), i)
                               : (Value)nb.create<linalg::IndexOp>(l, k));
    return nb.create<tensor::ExtractOp>(l, dataV, coords);
  }));
  return success();
}

LogicalResult oneHot(Importer &imp) {
  auto iv = imp.need(0), vv = imp.need(2);
  auto dv = imp.needConst(1, "depth");
  if (failed(iv) || failed(vv) || failed(dv))
    return failure();
  Val &indices = **iv, &values = **vv;
  int64_t depth = saturatingInt((*dv)->getF(0));
  if (depth > kMaxDim)
    return imp.fail("depth " + Twine(depth) + " is too large");
  if (depth < 1 || numel(values.shape) != 2)
    return imp.fail("needs depth >= 1 and two values [off, on]");
  int64_t outRank = indices.shape.size() + 1;
  int64_t axis = imp.attrInt("axis", -1);
  if (axis < -outRank || axis >= outRank)
    return imp.fail("axis " + Twine(axis) + " is out of range");
  if (axis < 0)
    axis += outRank;
  Shape out = indices.shape;
  out.insert(out.begin() + axis, depth);
  Value valuesV = imp.reshape(imp.get(values), {2});
  Value idx = imp.reshape(imp.get(indices), [&] {
    Shape s = indices.shape;
    s.insert(s.begin() + axis, 1);
    return s;
  }());
  EK ik = indices.kind, k = values.kind;
  imp.setOut(0, imp.elementwise({idx}, out, k, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value i = a[0];
    if (isFloat(ik))
      i = nb.create<arith::FPToSIOp>(l, nb.getI64Type(), i);
    else if (ik != EK::I64)
      i = nb.create<arith::ExtSIOp>(l, nb.getI64Type(), i);
    Value d = nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(depth));
    Value neg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i,
                                         nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(0)));
    i = nb.create<arith::SelectOp>(l, neg, nb.create<arith::AddIOp>(l, i, d), i);
    Value pos = nb.create<arith::IndexCastOp>(l, nb.getI64Type(), nb.create<linalg::IndexOp>(l, axis));
    Value hot = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, i, pos);
    Value off = nb.create<tensor::ExtractOp>(l, valuesV, ValueRange{nb.create<arith::ConstantIndexOp>(l, 0)});
    Value on = nb.create<tensor::ExtractOp>(l, valuesV, ValueRange{nb.create<arith::ConstantIndexOp>(l, 1)});
    return nb.create<arith::SelectOp>(l, hot, on, off);
  }));
  return success();
}

LogicalResult eyeLike(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &X = **xv;
  if (X.shape.size() != 2)
    return imp.fail("input must be 2-D");
  EK k = X.kind;
  if (const auto *d = imp.attr("dtype"))
    if (!ekFromOnnx(d->i(), k))
      return imp.unsupported(Twine("EyeLike dtype ") + onnxTypeName(d->i()));
  int64_t off = imp.attrInt("k", 0);
  if (numel(X.shape) > kHostLimit)
    return imp.unsupported("EyeLike of more than " + Twine(kHostLimit) + " elements");
  HostTensor t(k, X.shape);
  for (int64_t i = 0; i < X.shape[0]; ++i)
    if (i + off >= 0 && i + off < X.shape[1])
      t.setI(i * X.shape[1] + i + off, 1);
  imp.setOut(0, std::move(t));
  return success();
}

/// HannWindow, HammingWindow, BlackmanWindow: computed at import (size must be known).
Handler windowHandler(int which) {
  return [which](Importer &imp) -> LogicalResult {
    auto sv = imp.needConst(0, "size");
    if (failed(sv))
      return failure();
    int64_t n = (*sv)->getI(0);
    if (n < 0 || n > kHostLimit)
      return imp.fail("size " + Twine(n) + " is negative or too large");
    EK k = EK::F32;
    if (const auto *d = imp.attr("output_datatype"))
      if (!ekFromOnnx(d->i(), k))
        return imp.unsupported(Twine("window output_datatype ") + onnxTypeName(d->i()));
    bool periodic = imp.attrInt("periodic", 1) != 0;
    double N = periodic ? (double)n : (double)n - 1;
    HostTensor t(k, {n});
    for (int64_t i = 0; i < n; ++i) {
      double a = N > 0 ? 2 * M_PI * i / N : 0;
      double v = which == 0   ? 0.5 - 0.5 * std::cos(a)
                 : which == 1 ? 25.0 / 46 - (1 - 25.0 / 46) * std::cos(a)
                              : 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
      t.setF(i, v);
    }
    imp.setOut(0, std::move(t));
    return success();
  };
}

} // namespace

void onnx_import::registerShapeOps() {
  auto &h = opHandlers();
  h["Constant"] = constantOp;
  h["Shape"] = shapeOp;
  h["Size"] = sizeOp;
  h["ConstantOfShape"] = constantOfShape;
  h["Range"] = rangeOp;
  h["Reshape"] = reshapeOp;
  h["Flatten"] = flattenOp;
  h["Squeeze"] = squeezeOp;
  h["Unsqueeze"] = unsqueezeOp;
  h["Transpose"] = transposeOp;
  h["Concat"] = concatOp;
  h["Slice"] = sliceOp;
  h["Split"] = splitOp;
  h["Gather"] = gatherOp;
  h["Expand"] = expandOp;
  h["Tile"] = tileOp;
  h["Pad"] = padOp;
  h["DepthToSpace"] = [](Importer &imp) { return depthSpace(imp, true); };
  h["SpaceToDepth"] = [](Importer &imp) { return depthSpace(imp, false); };
  h["GatherElements"] = gatherElements;
  h["OneHot"] = oneHot;
  h["EyeLike"] = eyeLike;
  h["HannWindow"] = windowHandler(0);
  h["HammingWindow"] = windowHandler(1);
  h["BlackmanWindow"] = windowHandler(2);
}
