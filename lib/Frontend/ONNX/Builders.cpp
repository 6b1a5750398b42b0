//===- Builders.cpp - IR building blocks of the ONNX importer --------------===//
//
// Float tensors use msdd ops where one exists (so that fusion and autodiff see them);
// integer and boolean tensors, which msdd ops do not take, use linalg.generic and tensor ops.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

FailureOr<int64_t> onnx_import::normAxis(Importer &imp, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return imp.fail("axis " + Twine(axis) + " is out of range for rank " + Twine(rank));
  return axis < 0 ? axis + rank : axis;
}

LogicalResult onnx_import::needFloat(Importer &imp, const Val &v) {
  if (!isFloat(v.kind))
    return imp.unsupported(imp.node->op_type() + " on " + ekName(v.kind) + " tensors");
  return success();
}

Type Importer::elemType(EK k) {
  switch (k) {
  case EK::F32: return b.getF32Type();
  case EK::F64: return b.getF64Type();
  case EK::I32: return b.getI32Type();
  case EK::I64: return b.getI64Type();
  case EK::I1: return b.getI1Type();
  }
  return {};
}

RankedTensorType Importer::tensorType(ArrayRef<int64_t> shape, EK k) {
  return RankedTensorType::get(shape, elemType(k));
}

EK Importer::kindOf(Value v) {
  Type t = llvm::cast<RankedTensorType>(v.getType()).getElementType();
  if (t.isF32()) return EK::F32;
  if (t.isF64()) return EK::F64;
  if (t.isInteger(1)) return EK::I1;
  if (t.isInteger(32)) return EK::I32;
  return EK::I64;
}

Shape Importer::shapeOf(Value v) {
  auto s = llvm::cast<RankedTensorType>(v.getType()).getShape();
  return Shape(s.begin(), s.end());
}

Value Importer::constant(const HostTensor &t) {
  RankedTensorType type = tensorType(t.shape, t.kind);
  int64_t n = t.size();
  bool splat = n > 1;
  for (int64_t k = 1; splat && k < n; ++k)
    splat = isFloat(t.kind) ? t.f[k] == t.f[0] : t.i[k] == t.i[0];
  DenseElementsAttr attr;
  if (splat) {
    Attribute e;
    if (isFloat(t.kind))
      e = b.getFloatAttr(type.getElementType(), t.f[0]);
    else
      e = b.getIntegerAttr(type.getElementType(), t.i[0]);
    attr = DenseElementsAttr::get(type, e);
  } else {
    switch (t.kind) {
    case EK::F32: {
      std::vector<float> v(t.f.begin(), t.f.end());
      attr = DenseElementsAttr::get(type, ArrayRef<float>(v));
      break;
    }
    case EK::F64:
      attr = DenseElementsAttr::get(type, ArrayRef<double>(t.f));
      break;
    case EK::I32: {
      std::vector<int32_t> v(t.i.begin(), t.i.end());
      attr = DenseElementsAttr::get(type, ArrayRef<int32_t>(v));
      break;
    }
    case EK::I64:
      attr = DenseElementsAttr::get(type, ArrayRef<int64_t>(t.i));
      break;
    case EK::I1: {
      SmallVector<bool> v(t.i.begin(), t.i.end());
      attr = DenseElementsAttr::get(type, ArrayRef<bool>(v));
      break;
    }
    }
  }
  return b.create<arith::ConstantOp>(loc, attr);
}

Value Importer::scalar(double x, EK k) {
  HostTensor t(k, {});
  t.setF(0, x);
  return constant(t);
}

Value Importer::scalarConst(OpBuilder &nb, Location l, double x, EK k) {
  Type t = elemType(k);
  if (isFloat(k))
    return nb.create<arith::ConstantOp>(l, nb.getFloatAttr(t, x));
  return nb.create<arith::ConstantOp>(l, nb.getIntegerAttr(t, saturatingInt(x)));
}

Value Importer::elementwise(ArrayRef<Value> ins, ArrayRef<int64_t> outShape, EK outKind,
                            BodyFn body) {
  int64_t rank = outShape.size();
  SmallVector<AffineMap> maps;
  for (Value v : ins) {
    Shape s = shapeOf(v);
    SmallVector<AffineExpr> exprs;
    for (size_t k = 0; k < s.size(); ++k) {
      int64_t od = rank - (int64_t)s.size() + (int64_t)k;
      exprs.push_back(s[k] == 1 && outShape[od] != 1 ? b.getAffineConstantExpr(0)
                                                      : b.getAffineDimExpr(od));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, &ctx));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value empty = b.create<tensor::EmptyOp>(loc, outShape, elemType(outKind));
  auto g = b.create<linalg::GenericOp>(
      loc, TypeRange{empty.getType()}, ins, ValueRange{empty}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        nb.create<linalg::YieldOp>(l, body(nb, l, args.drop_back()));
      });
  return g.getResult(0);
}

Value Importer::mapCopy(Value input, AffineMap inMap, ArrayRef<int64_t> outShape) {
  int64_t rank = outShape.size();
  SmallVector<AffineMap> maps = {inMap, b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value empty = b.create<tensor::EmptyOp>(loc, outShape, elemType(kindOf(input)));
  auto g = b.create<linalg::GenericOp>(
      loc, TypeRange{empty.getType()}, ValueRange{input}, ValueRange{empty}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) { nb.create<linalg::YieldOp>(l, args[0]); });
  return g.getResult(0);
}

Value Importer::gatherGeneric(
    Value src, ArrayRef<int64_t> outShape,
    const std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange)> &index) {
  int64_t rank = outShape.size();
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value empty = b.create<tensor::EmptyOp>(loc, outShape, elemType(kindOf(src)));
  auto g = b.create<linalg::GenericOp>(
      loc, TypeRange{empty.getType()}, ValueRange{}, ValueRange{empty}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange) {
        SmallVector<Value> idx;
        for (int64_t d = 0; d < rank; ++d)
          idx.push_back(nb.create<linalg::IndexOp>(l, d));
        SmallVector<Value> coords = index(nb, l, idx);
        nb.create<linalg::YieldOp>(l, nb.create<tensor::ExtractOp>(l, src, coords).getResult());
      });
  return g.getResult(0);
}

Value Importer::reshape(Value v, ArrayRef<int64_t> shape) {
  Shape from = shapeOf(v);
  if (ArrayRef<int64_t>(from) == shape)
    return v;
  EK k = kindOf(v);
  if (isFloat(k))
    return b.create<msdd::ReshapeOp>(loc, tensorType(shape, k), v);
  // Through 1-D: collapse every dimension into one, then expand into the new shape.
  Value flat = v;
  int64_t n = numel(from);
  if (from.size() > 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < (int64_t)from.size(); ++d)
      all.push_back(d);
    flat = b.create<tensor::CollapseShapeOp>(loc, tensorType({n}, k), v,
                                             ArrayRef<ReassociationIndices>{all});
  } else if (from.empty()) {
    flat = b.create<tensor::ExpandShapeOp>(loc, tensorType({1}, k), v,
                                           ArrayRef<ReassociationIndices>{});
  }
  if (shape.size() == 1)
    return flat;
  if (shape.empty())
    return b.create<tensor::CollapseShapeOp>(loc, tensorType({}, k), flat,
                                             ArrayRef<ReassociationIndices>{});
  ReassociationIndices all;
  for (int64_t d = 0; d < (int64_t)shape.size(); ++d)
    all.push_back(d);
  return b.create<tensor::ExpandShapeOp>(loc, tensorType(shape, k), flat,
                                         ArrayRef<ReassociationIndices>{all});
}

Value Importer::transpose(Value v, ArrayRef<int64_t> perm) {
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i)
    identity &= perm[i] == (int64_t)i;
  if (identity)
    return v;
  Shape in = shapeOf(v), out;
  for (int64_t p : perm)
    out.push_back(in[p]);
  EK k = kindOf(v);
  if (isFloat(k))
    return b.create<msdd::TransposeOp>(loc, tensorType(out, k), v, perm);
  SmallVector<AffineExpr> exprs(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    exprs[perm[i]] = b.getAffineDimExpr(i);
  return mapCopy(v, AffineMap::get(perm.size(), 0, exprs, &ctx), out);
}

Value Importer::broadcastTo(Value v, ArrayRef<int64_t> shape) {
  if (ArrayRef<int64_t>(shapeOf(v)) == shape)
    return v;
  EK k = kindOf(v);
  if (isFloat(k))
    return b.create<msdd::BroadcastOp>(loc, tensorType(shape, k), v);
  return elementwise({v}, shape, k, [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

Value Importer::cast(Value v, EK to) {
  EK from = kindOf(v);
  if (from == to)
    return v;
  Type toType = elemType(to);
  return elementwise({v}, shapeOf(v), to, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value x = a[0];
    if (isFloat(from) && isFloat(to))
      return to == EK::F64 ? (Value)nb.create<arith::ExtFOp>(l, toType, x)
                           : (Value)nb.create<arith::TruncFOp>(l, toType, x);
    if (isFloat(from)) {
      if (to == EK::I1) {
        Value zero = scalarConst(nb, l, 0, from);
        return nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, x, zero);
      }
      return nb.create<arith::FPToSIOp>(l, toType, x);
    }
    if (isFloat(to))
      return from == EK::I1 ? (Value)nb.create<arith::UIToFPOp>(l, toType, x)
                            : (Value)nb.create<arith::SIToFPOp>(l, toType, x);
    if (to == EK::I1) {
      Value zero = scalarConst(nb, l, 0, from);
      return nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, x, zero);
    }
    if (from == EK::I1)
      return nb.create<arith::ExtUIOp>(l, toType, x);
    if (to == EK::I64)
      return nb.create<arith::ExtSIOp>(l, toType, x);
    return nb.create<arith::TruncIOp>(l, toType, x);
  });
}

Value Importer::fill(ArrayRef<int64_t> shape, EK k, double value) {
  Value empty = b.create<tensor::EmptyOp>(loc, shape, elemType(k));
  Value s = scalarConst(b, loc, value, k);
  return b.create<linalg::FillOp>(loc, ValueRange{s}, ValueRange{empty}).getResult(0);
}

Value Importer::copy(Value v) {
  Value empty = b.create<tensor::EmptyOp>(loc, shapeOf(v), elemType(kindOf(v)));
  return b.create<linalg::CopyOp>(loc, ValueRange{v}, ValueRange{empty}).getResult(0);
}

Value Importer::extractSlice(Value v, ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes,
                             ArrayRef<int64_t> strides) {
  Shape in = shapeOf(v);
  bool whole = ArrayRef<int64_t>(in) == sizes;
  for (size_t k = 0; k < offsets.size(); ++k)
    whole &= offsets[k] == 0 && (strides[k] == 1 || sizes[k] <= 1);
  if (whole)
    return v;
  auto type = tensorType(sizes, kindOf(v));
  return b.create<tensor::ExtractSliceOp>(loc, type, v, getAsIndexOpFoldResult(&ctx, offsets),
                                          getAsIndexOpFoldResult(&ctx, sizes),
                                          getAsIndexOpFoldResult(&ctx, strides));
}

Value Importer::insertSlice(Value src, Value dest, ArrayRef<int64_t> offsets,
                            ArrayRef<int64_t> strides) {
  Shape sizes = shapeOf(src);
  return b.create<tensor::InsertSliceOp>(loc, src, dest, getAsIndexOpFoldResult(&ctx, offsets),
                                         getAsIndexOpFoldResult(&ctx, sizes),
                                         getAsIndexOpFoldResult(&ctx, strides));
}

Value Importer::reduce(Value v, ArrayRef<int64_t> axes, bool keepDims, StringRef kind) {
  Shape in = shapeOf(v);
  EK k = kindOf(v);
  if (axes.empty())
    return v;
  Shape kept, dropped;
  for (int64_t d = 0; d < (int64_t)in.size(); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    if (!reduced)
      dropped.push_back(in[d]);
    kept.push_back(reduced ? 1 : in[d]);
  }
  Shape outShape = keepDims ? kept : dropped;
  if (isFloat(k) && (kind == "sum" || kind == "mean" || kind == "max")) {
    auto type = tensorType(outShape, k);
    if (kind == "sum")
      return b.create<msdd::ReduceSumOp>(loc, type, v, axes, keepDims);
    if (kind == "mean")
      return b.create<msdd::ReduceMeanOp>(loc, type, v, axes, keepDims);
    return b.create<msdd::ReduceMaxOp>(loc, type, v, axes, keepDims);
  }
  // Otherwise (integers; min and prod): a linalg.generic reduction into the dropped shape.
  int64_t rank = in.size();
  SmallVector<utils::IteratorType> iters;
  SmallVector<AffineExpr> outExprs;
  for (int64_t d = 0; d < rank; ++d) {
    bool reduced = llvm::is_contained(axes, d);
    iters.push_back(reduced ? utils::IteratorType::reduction : utils::IteratorType::parallel);
    if (!reduced)
      outExprs.push_back(b.getAffineDimExpr(d));
  }
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, outExprs, &ctx)};
  Type et = elemType(k);
  TypedAttr init;
  bool f = isFloat(k);
  unsigned width = f ? 0 : et.getIntOrFloatBitWidth();
  if (kind == "max")
    init = f ? (TypedAttr)b.getFloatAttr(et, -INFINITY)
             : b.getIntegerAttr(et, k == EK::I1 ? APInt(1, 0) : APInt::getSignedMinValue(width));
  else if (kind == "min")
    init = f ? (TypedAttr)b.getFloatAttr(et, INFINITY)
             : b.getIntegerAttr(et, k == EK::I1 ? APInt(1, 1) : APInt::getSignedMaxValue(width));
  else if (kind == "prod")
    init = f ? (TypedAttr)b.getFloatAttr(et, 1.0) : b.getIntegerAttr(et, 1);
  else
    init = f ? (TypedAttr)b.getFloatAttr(et, 0.0) : b.getIntegerAttr(et, 0);
  Value empty = b.create<tensor::EmptyOp>(loc, dropped, et);
  Value s = b.create<arith::ConstantOp>(loc, init);
  Value acc = b.create<linalg::FillOp>(loc, ValueRange{s}, ValueRange{empty}).getResult(0);
  auto g = b.create<linalg::GenericOp>(
      loc, TypeRange{acc.getType()}, ValueRange{v}, ValueRange{acc}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value r;
        if (kind == "max")
          r = f ? (Value)nb.create<arith::MaximumFOp>(l, a[0], a[1])
                : k == EK::I1 ? (Value)nb.create<arith::OrIOp>(l, a[0], a[1])
                              : (Value)nb.create<arith::MaxSIOp>(l, a[0], a[1]);
        else if (kind == "min")
          r = f ? (Value)nb.create<arith::MinimumFOp>(l, a[0], a[1])
                : k == EK::I1 ? (Value)nb.create<arith::AndIOp>(l, a[0], a[1])
                              : (Value)nb.create<arith::MinSIOp>(l, a[0], a[1]);
        else if (kind == "prod")
          r = f ? (Value)nb.create<arith::MulFOp>(l, a[0], a[1])
                : k == EK::I1 ? (Value)nb.create<arith::AndIOp>(l, a[0], a[1])
                              : (Value)nb.create<arith::MulIOp>(l, a[0], a[1]);
        else
          r = f ? (Value)nb.create<arith::AddFOp>(l, a[0], a[1])
                : k == EK::I1 ? (Value)nb.create<arith::OrIOp>(l, a[0], a[1])
                              : (Value)nb.create<arith::AddIOp>(l, a[0], a[1]);
        nb.create<linalg::YieldOp>(l, r);
      });
  Value r = g.getResult(0);
  if (kind == "mean") {
    int64_t count = 1;
    for (int64_t a : axes)
      count *= in[a];
    r = elementwise({r}, dropped, k, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
      return nb.create<arith::DivSIOp>(l, a[0], scalarConst(nb, l, (double)count, k));
    });
  }
  return keepDims ? reshape(r, kept) : r;
}
