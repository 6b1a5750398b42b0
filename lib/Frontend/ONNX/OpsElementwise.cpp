//===- OpsElementwise.cpp - ONNX elementwise ops ---------------------------===//
//
// Float tensors map onto msdd's elementwise ops (numpy broadcasting); integer and boolean
// tensors, comparisons, Where and Cast onto broadcasting linalg.generics. When every input
// is known at import (shape arithmetic) the result is computed on the host instead.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>

using namespace mlir;
using namespace mlir::msdd;
using namespace mlir::msdd::onnx_import;

namespace {

/// Largest result computed on the host when every input is known.
constexpr int64_t kFoldLimit = 1 << 16;

/// Host evaluation of a broadcasting op: fn(output flat index, input flat indices).
void forEachBroadcast(ArrayRef<int64_t> out, ArrayRef<Shape> ins,
                      const std::function<void(int64_t, ArrayRef<int64_t>)> &fn) {
  int64_t rank = out.size(), n = numel(out);
  SmallVector<Shape> strides;
  for (const Shape &s : ins) {
    Shape st = stridesOf(s), full(rank, 0);
    for (size_t k = 0; k < s.size(); ++k)
      full[rank - s.size() + k] = s[k] == 1 ? 0 : st[k];
    strides.push_back(full);
  }
  Shape idx(rank, 0);
  SmallVector<int64_t> flat(ins.size());
  for (int64_t o = 0; o < n; ++o) {
    for (size_t j = 0; j < ins.size(); ++j) {
      int64_t f = 0;
      for (int64_t d = 0; d < rank; ++d)
        f += idx[d] * strides[j][d];
      flat[j] = f;
    }
    fn(o, flat);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < out[d])
        break;
      idx[d] = 0;
    }
  }
}

bool allKnown(Importer &imp, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Val *v = imp.in(i);
    if (!v || !v->host || v->initializer >= 0)
      return false;
  }
  return true;
}

enum class Bin { Add, Sub, Mul, Div, Pow, Max, Min, Mod, Eq, Lt, Gt, Le, Ge, And, Or, Xor };

bool isCompare(Bin op) { return op == Bin::Eq || op == Bin::Lt || op == Bin::Gt || op == Bin::Le || op == Bin::Ge; }
bool isLogical(Bin op) { return op == Bin::And || op == Bin::Or || op == Bin::Xor; }

double hostBinF(Bin op, double a, double b) {
  switch (op) {
  case Bin::Add: return a + b;
  case Bin::Sub: return a - b;
  case Bin::Mul: return a * b;
  case Bin::Div: return a / b;
  case Bin::Pow: return std::pow(a, b);
  case Bin::Max: return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
  case Bin::Min: return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
  case Bin::Mod: return std::fmod(a, b);
  case Bin::Eq: return a == b;
  case Bin::Lt: return a < b;
  case Bin::Gt: return a > b;
  case Bin::Le: return a <= b;
  case Bin::Ge: return a >= b;
  case Bin::And: return (a != 0) && (b != 0);
  case Bin::Or: return (a != 0) || (b != 0);
  case Bin::Xor: return (a != 0) != (b != 0);
  }
  return 0;
}

int64_t hostBinI(Bin op, int64_t a, int64_t b) {
  switch (op) {
  case Bin::Add: return wrapAdd(a, b);
  case Bin::Sub: return wrapSub(a, b);
  case Bin::Mul: return wrapMul(a, b);
  case Bin::Div: return b == 0 ? 0 : (b == -1 ? wrapSub(0, a) : a / b);
  case Bin::Pow: return saturatingInt(std::pow((double)a, (double)b));
  case Bin::Max: return std::max(a, b);
  case Bin::Min: return std::min(a, b);
  case Bin::Mod: { if (b == 0 || b == -1) return 0; int64_t r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
  case Bin::Eq: return a == b;
  case Bin::Lt: return a < b;
  case Bin::Gt: return a > b;
  case Bin::Le: return a <= b;
  case Bin::Ge: return a >= b;
  case Bin::And: return a && b;
  case Bin::Or: return a || b;
  case Bin::Xor: return (a != 0) != (b != 0);
  }
  return 0;
}

/// The scalar op inside a linalg.generic for operands of kind `k`.
Value scalarBin(Importer &imp, OpBuilder &nb, Location l, Bin op, EK k, Value a, Value b) {
  bool f = isFloat(k);
  switch (op) {
  case Bin::Add: return f ? (Value)nb.create<arith::AddFOp>(l, a, b) : nb.create<arith::AddIOp>(l, a, b);
  case Bin::Sub: return f ? (Value)nb.create<arith::SubFOp>(l, a, b) : nb.create<arith::SubIOp>(l, a, b);
  case Bin::Mul: return f ? (Value)nb.create<arith::MulFOp>(l, a, b) : nb.create<arith::MulIOp>(l, a, b);
  case Bin::Div: return f ? (Value)nb.create<arith::DivFOp>(l, a, b) : nb.create<arith::DivSIOp>(l, a, b);
  case Bin::Max: return f ? (Value)nb.create<arith::MaximumFOp>(l, a, b) : nb.create<arith::MaxSIOp>(l, a, b);
  case Bin::Min: return f ? (Value)nb.create<arith::MinimumFOp>(l, a, b) : nb.create<arith::MinSIOp>(l, a, b);
  case Bin::Mod: {
    if (f)
      return nb.create<arith::RemFOp>(l, a, b);
    // Python's %: the remainder takes the divisor's sign.
    Value rem = nb.create<arith::RemSIOp>(l, a, b);
    Value zero = imp.scalarConst(nb, l, 0, k);
    Value nonzero = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, rem, zero);
    Value remNeg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, rem, zero);
    Value bNeg = nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, b, zero);
    Value differ = nb.create<arith::XOrIOp>(l, remNeg, bNeg);
    Value adjust = nb.create<arith::AndIOp>(l, nonzero, differ);
    return nb.create<arith::SelectOp>(l, adjust, nb.create<arith::AddIOp>(l, rem, b), rem);
  }
  case Bin::Pow: {
    if (f)
      return nb.create<math::PowFOp>(l, a, b);
    Type f64 = nb.getF64Type();
    Value x = nb.create<arith::SIToFPOp>(l, f64, a), y = nb.create<arith::SIToFPOp>(l, f64, b);
    return nb.create<arith::FPToSIOp>(l, a.getType(), nb.create<math::PowFOp>(l, x, y));
  }
  case Bin::Eq: case Bin::Lt: case Bin::Gt: case Bin::Le: case Bin::Ge: {
    if (f) {
      auto p = op == Bin::Eq ? arith::CmpFPredicate::OEQ : op == Bin::Lt ? arith::CmpFPredicate::OLT
             : op == Bin::Gt ? arith::CmpFPredicate::OGT : op == Bin::Le ? arith::CmpFPredicate::OLE
                             : arith::CmpFPredicate::OGE;
      return nb.create<arith::CmpFOp>(l, p, a, b);
    }
    auto p = op == Bin::Eq ? arith::CmpIPredicate::eq : op == Bin::Lt ? arith::CmpIPredicate::slt
           : op == Bin::Gt ? arith::CmpIPredicate::sgt : op == Bin::Le ? arith::CmpIPredicate::sle
                           : arith::CmpIPredicate::sge;
    if (k == EK::I1) // booleans compare as unsigned
      p = op == Bin::Eq ? p : op == Bin::Lt ? arith::CmpIPredicate::ult : op == Bin::Gt ? arith::CmpIPredicate::ugt
        : op == Bin::Le ? arith::CmpIPredicate::ule : arith::CmpIPredicate::uge;
    return nb.create<arith::CmpIOp>(l, p, a, b);
  }
  case Bin::And: return nb.create<arith::AndIOp>(l, a, b);
  case Bin::Or: return nb.create<arith::OrIOp>(l, a, b);
  case Bin::Xor: return nb.create<arith::XOrIOp>(l, a, b);
  }
  (void)imp;
  return {};
}

/// One binary op on two values (emitting or folding); `out` is the result.
LogicalResult binary(Importer &imp, Bin op, Val &x, Val &y, Val &out) {
  Shape shape;
  if (!broadcastShape(x.shape, y.shape, shape))
    return imp.fail("operand shapes " + shapeStr(x.shape) + " and " + shapeStr(y.shape) +
                    " do not broadcast");
  EK k = x.kind;
  if (isLogical(op) && (x.kind != EK::I1 || y.kind != EK::I1))
    return imp.fail("logical ops need bool operands");
  if (x.kind != y.kind && op != Bin::Pow)
    return imp.fail(Twine("operand element types differ: ") + ekName(x.kind) + " and " +
                    ekName(y.kind));
  EK outKind = isCompare(op) ? EK::I1 : k;
  bool floatOp = isFloat(k);

  if (x.host && y.host && x.initializer < 0 && y.initializer < 0 && numel(shape) <= kFoldLimit) {
    HostTensor r(outKind, shape);
    bool intMath = !isFloat(k) && !isFloat(y.kind);
    forEachBroadcast(shape, {x.shape, y.shape}, [&](int64_t o, ArrayRef<int64_t> f) {
      if (intMath)
        r.setI(o, hostBinI(op, x.host->getI(f[0]), y.host->getI(f[1])));
      else
        r.setF(o, hostBinF(op, x.host->getF(f[0]), y.host->getF(f[1])));
    });
    out = Val();
    out.kind = r.kind;
    out.shape = r.shape;
    out.host = std::make_shared<const HostTensor>(std::move(r));
    return success();
  }

  Value a = imp.get(x), bv = imp.get(y);
  if (op == Bin::Pow && x.kind != y.kind) {
    // The exponent's type may differ: compute in the base's type (float bases), or in f64.
    if (floatOp) {
      bv = imp.cast(bv, k);
    } else {
      Value af = imp.cast(a, EK::F64), bf = imp.cast(bv, EK::F64);
      Value r = imp.elementwise({af, bf}, shape, EK::F64, [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
        return nb.create<math::PowFOp>(l, s[0], s[1]);
      });
      r = imp.cast(r, k);
      out = Val();
      out.kind = k;
      out.shape = shape;
      out.value = r;
      return success();
    }
  }
  Value r;
  auto type = imp.tensorType(shape, outKind);
  OpBuilder &b = imp.b;
  if (floatOp && !isCompare(op) && op != Bin::Mod) {
    switch (op) {
    case Bin::Add: r = b.create<msdd::AddOp>(imp.loc, type, a, bv); break;
    case Bin::Sub: r = b.create<msdd::SubOp>(imp.loc, type, a, bv); break;
    case Bin::Mul: r = b.create<msdd::MulOp>(imp.loc, type, a, bv); break;
    case Bin::Div: r = b.create<msdd::DivOp>(imp.loc, type, a, bv); break;
    case Bin::Pow: r = b.create<msdd::PowOp>(imp.loc, type, a, bv); break;
    case Bin::Max: r = b.create<msdd::MaximumOp>(imp.loc, type, a, bv); break;
    case Bin::Min: r = b.create<msdd::MinimumOp>(imp.loc, type, a, bv); break;
    default: break;
    }
  } else {
    r = imp.elementwise({a, bv}, shape, outKind, [&](OpBuilder &nb, Location l, ValueRange s) {
      return scalarBin(imp, nb, l, op, k, s[0], s[1]);
    });
  }
  out = Val();
  out.kind = outKind;
  out.shape = shape;
  out.value = r;
  return success();
}

Handler binaryHandler(Bin op) {
  return [op](Importer &imp) -> LogicalResult {
    auto x = imp.need(0), y = imp.need(1);
    if (failed(x) || failed(y))
      return failure();
    if (op == Bin::Mod && imp.attrInt("fmod", 0) == 0 && isFloat((*x)->kind))
      return imp.unsupported("Mod with fmod=0 on floats");
    Val out;
    if (op == Bin::Mod && !isFloat((*x)->kind) && imp.attrInt("fmod", 0) == 1 &&
        (*x)->kind == (*y)->kind) {
      // C's %: the remainder takes the dividend's sign.
      Shape shape;
      if (!broadcastShape((*x)->shape, (*y)->shape, shape))
        return imp.fail("operand shapes do not broadcast");
      imp.setOut(0, imp.elementwise({imp.get(**x), imp.get(**y)}, shape, (*x)->kind,
                                    [](OpBuilder &nb, Location l, ValueRange s) -> Value {
                                      return nb.create<arith::RemSIOp>(l, s[0], s[1]);
                                    }));
      return success();
    }
    if (failed(binary(imp, op, **x, **y, out)))
      return failure();
    if (op == Bin::Mul && succeeded(matchGelu(imp)))
      return success();
    if (op == Bin::Div && succeeded(matchLayerNorm(imp)))
      return success();
    imp.setOut(0, out);
    return success();
  };
}

/// Max, Min, Sum, Mean: one or more inputs.
Handler variadicHandler(Bin op, bool mean = false) {
  return [op, mean](Importer &imp) -> LogicalResult {
    if (imp.numInputs() == 0)
      return imp.fail("needs at least one input");
    auto first = imp.need(0);
    if (failed(first))
      return failure();
    Val acc = **first;
    for (size_t i = 1; i < imp.numInputs(); ++i) {
      auto next = imp.need(i);
      if (failed(next))
        return failure();
      Val r;
      if (failed(binary(imp, op, acc, **next, r)))
        return failure();
      acc = r;
    }
    if (mean && imp.numInputs() > 1) {
      Val n;
      HostTensor c(acc.kind, {});
      c.setF(0, (double)imp.numInputs());
      n.kind = acc.kind;
      n.host = std::make_shared<const HostTensor>(std::move(c));
      Val r;
      if (failed(binary(imp, Bin::Div, acc, n, r)))
        return failure();
      acc = r;
    }
    imp.setOut(0, acc);
    return success();
  };
}

//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

enum class Un { Neg, Abs, Sqrt, Exp, Log, Erf, Tanh, Sigmoid, Relu, Cos, Sin, Reciprocal,
                Floor, Ceil, Sign, Not, Softplus, Round, IsNaN };

double hostUn(Un op, double x) {
  switch (op) {
  case Un::Neg: return -x;
  case Un::Abs: return std::fabs(x);
  case Un::Sqrt: return std::sqrt(x);
  case Un::Exp: return std::exp(x);
  case Un::Log: return std::log(x);
  case Un::Erf: return std::erf(x);
  case Un::Tanh: return std::tanh(x);
  case Un::Sigmoid: return 1 / (1 + std::exp(-x));
  case Un::Relu: return x > 0 ? x : 0;
  case Un::Cos: return std::cos(x);
  case Un::Sin: return std::sin(x);
  case Un::Reciprocal: return 1 / x;
  case Un::Floor: return std::floor(x);
  case Un::Ceil: return std::ceil(x);
  case Un::Sign: return x > 0 ? 1 : x < 0 ? -1 : 0;
  case Un::Not: return x == 0;
  case Un::Softplus: return std::log1p(std::exp(x));
  case Un::Round: return std::nearbyint(x);
  case Un::IsNaN: return std::isnan(x);
  }
  return 0;
}

Handler unaryHandler(Un op) {
  return [op](Importer &imp) -> LogicalResult {
    auto xv = imp.need(0);
    if (failed(xv))
      return failure();
    Val &x = **xv;
    EK k = x.kind;
    bool floatOnly = op != Un::Neg && op != Un::Abs && op != Un::Relu && op != Un::Sign &&
                     op != Un::Not;
    if (op == Un::Not && k != EK::I1)
      return imp.fail("Not needs a bool operand");
    if (op != Un::Not && k == EK::I1)
      return imp.unsupported(Twine(imp.node->op_type()) + " of a bool tensor");
    if (floatOnly && !isFloat(k))
      return imp.unsupported(Twine(imp.node->op_type()) + " of an integer tensor");
    EK outKind = op == Un::IsNaN ? EK::I1 : k;
    if (x.host && x.initializer < 0 && x.host->size() <= kFoldLimit) {
      HostTensor r(outKind, x.shape);
      for (int64_t i = 0; i < r.size(); ++i) {
        if (!isFloat(k) && op != Un::Not)
          r.setI(i, saturatingInt(hostUn(op, (double)x.host->getI(i))));
        else
          r.setF(i, hostUn(op, x.host->getF(i)));
      }
      imp.setOut(0, std::move(r));
      return success();
    }
    Value v = imp.get(x);
    OpBuilder &b = imp.b;
    Location loc = imp.loc;
    Type t = v.getType();
    Value r;
    if (isFloat(k)) {
      switch (op) {
      case Un::Neg: r = b.create<msdd::NegOp>(loc, t, v); break;
      case Un::Abs: r = b.create<msdd::AbsOp>(loc, t, v); break;
      case Un::Sqrt: r = b.create<msdd::SqrtOp>(loc, t, v); break;
      case Un::Exp: r = b.create<msdd::ExpOp>(loc, t, v); break;
      case Un::Log: r = b.create<msdd::LogOp>(loc, t, v); break;
      case Un::Erf: r = b.create<msdd::ErfOp>(loc, t, v); break;
      case Un::Tanh: r = b.create<msdd::TanhOp>(loc, t, v); break;
      case Un::Sigmoid: r = b.create<msdd::SigmoidOp>(loc, t, v); break;
      case Un::Relu: r = b.create<msdd::ReluOp>(loc, t, v); break;
      case Un::Cos: r = b.create<msdd::CosOp>(loc, t, v); break;
      case Un::Sin: r = b.create<msdd::SinOp>(loc, t, v); break;
      case Un::Sign: r = b.create<msdd::SignOp>(loc, t, v); break;
      case Un::Reciprocal:
        r = b.create<msdd::DivOp>(loc, t, imp.scalar(1.0, k), v);
        break;
      default: break;
      }
    }
    if (!r) {
      r = imp.elementwise({v}, x.shape, outKind, [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
        Value a = s[0];
        switch (op) {
        case Un::Floor: return nb.create<math::FloorOp>(l, a);
        case Un::Ceil: return nb.create<math::CeilOp>(l, a);
        case Un::Round: return nb.create<math::RoundEvenOp>(l, a);
        case Un::IsNaN: return nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNO, a, a);
        case Un::Softplus: {
          // log(1 + exp(x)), stable: max(x, 0) + log1p(exp(-|x|)).
          Value zero = imp.scalarConst(nb, l, 0, k);
          Value ax = nb.create<math::AbsFOp>(l, a);
          Value e = nb.create<math::ExpOp>(l, nb.create<arith::NegFOp>(l, ax));
          Value lp = nb.create<math::Log1pOp>(l, e);
          return nb.create<arith::AddFOp>(l, nb.create<arith::MaximumFOp>(l, a, zero), lp);
        }
        case Un::Not: return nb.create<arith::XOrIOp>(l, a, imp.scalarConst(nb, l, 1, EK::I1));
        case Un::Neg: return nb.create<arith::SubIOp>(l, imp.scalarConst(nb, l, 0, k), a);
        case Un::Abs: return nb.create<math::AbsIOp>(l, a);
        case Un::Relu: return nb.create<arith::MaxSIOp>(l, a, imp.scalarConst(nb, l, 0, k));
        case Un::Sign: {
          Value zero = imp.scalarConst(nb, l, 0, k);
          Value pos = nb.create<arith::ExtUIOp>(l, a.getType(), nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sgt, a, zero));
          Value neg = nb.create<arith::ExtUIOp>(l, a.getType(), nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, a, zero));
          return nb.create<arith::SubIOp>(l, pos, neg);
        }
        default: return a;
        }
      });
    }
    imp.setOut(0, r);
    return success();
  };
}

/// LeakyRelu, Elu, HardSigmoid, Clip, Selu: small float-only elementwise formulas.
LogicalResult leakyRelu(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  if (!isFloat((*x)->kind))
    return imp.unsupported("LeakyRelu of an integer tensor");
  double alpha = imp.attrFloat("alpha", 0.01);
  EK k = (*x)->kind;
  Value r = imp.elementwise({imp.get(**x)}, (*x)->shape, k, [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
    Value zero = imp.scalarConst(nb, l, 0, k);
    Value neg = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, s[0], zero);
    Value scaled = nb.create<arith::MulFOp>(l, s[0], imp.scalarConst(nb, l, alpha, k));
    return nb.create<arith::SelectOp>(l, neg, scaled, s[0]);
  });
  imp.setOut(0, r);
  return success();
}

LogicalResult clip(Importer &imp) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &x = **xv;
  EK k = x.kind;
  if (k == EK::I1)
    return imp.unsupported("Clip of a bool tensor");
  std::optional<double> lo, hi;
  if (imp.opset < 11) {
    lo = imp.attrFloat("min", -INFINITY);
    hi = imp.attrFloat("max", INFINITY);
  } else {
    for (int i : {1, 2}) {
      if (!imp.hasIn(i))
        continue;
      Val *v = imp.in(i);
      if (!v->host || v->host->size() != 1)
        return imp.unsupported("Clip bounds that are not constants known at import");
      (i == 1 ? lo : hi) = v->host->getF(0);
    }
  }
  if (!lo && !hi) {
    imp.setOut(0, x);
    return success();
  }
  Value r = imp.elementwise({imp.get(x)}, x.shape, k, [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
    Value a = s[0];
    if (lo)
      a = isFloat(k) ? (Value)nb.create<arith::MaximumFOp>(l, a, imp.scalarConst(nb, l, *lo, k))
                     : (Value)nb.create<arith::MaxSIOp>(l, a, imp.scalarConst(nb, l, *lo, k));
    if (hi)
      a = isFloat(k) ? (Value)nb.create<arith::MinimumFOp>(l, a, imp.scalarConst(nb, l, *hi, k))
                     : (Value)nb.create<arith::MinSIOp>(l, a, imp.scalarConst(nb, l, *hi, k));
    return a;
  });
  imp.setOut(0, r);
  return success();
}

LogicalResult where(Importer &imp) {
  auto c = imp.need(0), x = imp.need(1), y = imp.need(2);
  if (failed(c) || failed(x) || failed(y))
    return failure();
  if ((*c)->kind != EK::I1)
    return imp.fail("the condition must be bool");
  if ((*x)->kind != (*y)->kind)
    return imp.fail("X and Y element types differ");
  Shape s1, shape;
  if (!broadcastShape((*c)->shape, (*x)->shape, s1) || !broadcastShape(s1, (*y)->shape, shape))
    return imp.fail("operand shapes do not broadcast");
  EK k = (*x)->kind;
  if (allKnown(imp, 3) && numel(shape) <= kFoldLimit) {
    HostTensor r(k, shape);
    forEachBroadcast(shape, {(*c)->shape, (*x)->shape, (*y)->shape}, [&](int64_t o, ArrayRef<int64_t> f) {
      bool cond = (*c)->host->getI(f[0]) != 0;
      if (isFloat(k))
        r.setF(o, cond ? (*x)->host->getF(f[1]) : (*y)->host->getF(f[2]));
      else
        r.setI(o, cond ? (*x)->host->getI(f[1]) : (*y)->host->getI(f[2]));
    });
    imp.setOut(0, std::move(r));
    return success();
  }
  Value r = imp.elementwise({imp.get(**c), imp.get(**x), imp.get(**y)}, shape, k,
                            [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
                              return nb.create<arith::SelectOp>(l, s[0], s[1], s[2]);
                            });
  imp.setOut(0, r);
  return success();
}

LogicalResult castOp(Importer &imp, EK to) {
  auto xv = imp.need(0);
  if (failed(xv))
    return failure();
  Val &x = **xv;
  if (x.host && x.initializer < 0) {
    HostTensor r(to, x.shape);
    for (int64_t i = 0; i < r.size(); ++i) {
      if (isFloat(x.kind))
        r.setF(i, x.host->getF(i));
      else
        r.setI(i, x.host->getI(i));
    }
    imp.setOut(0, std::move(r));
    return success();
  }
  imp.setOut(0, imp.cast(imp.get(x), to));
  return success();
}

LogicalResult castNode(Importer &imp) {
  const auto *to = imp.attr("to");
  if (!to)
    return imp.fail("missing attribute 'to'");
  EK k;
  if (!ekFromOnnx(to->i(), k))
    return imp.unsupported(Twine("Cast to ") + onnxTypeName(to->i()));
  return castOp(imp, k);
}

LogicalResult castLike(Importer &imp) {
  auto t = imp.need(1);
  if (failed(t))
    return failure();
  return castOp(imp, (*t)->kind);
}

LogicalResult identity(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  imp.setOut(0, **x);
  return success();
}

/// Float-only elementwise formulas with attributes: f(builder, loc, x, kind).
using Formula = std::function<Value(Importer &, OpBuilder &, Location, Value, EK)>;
Handler formulaHandler(Formula f) {
  return [f](Importer &imp) -> LogicalResult {
    auto xv = imp.need(0);
    if (failed(xv))
      return failure();
    Val &x = **xv;
    if (!isFloat(x.kind))
      return imp.unsupported(imp.node->op_type() + " of " + ekName(x.kind) + " tensors");
    EK k = x.kind;
    imp.setOut(0, imp.elementwise({imp.get(x)}, x.shape, k, [&](OpBuilder &nb, Location l, ValueRange s) {
      return f(imp, nb, l, s[0], k);
    }));
    return success();
  };
}

template <typename MathOp> Formula mathOp() {
  return [](Importer &, OpBuilder &nb, Location l, Value x, EK) -> Value {
    return nb.create<MathOp>(l, x);
  };
}

Value cmpLt(OpBuilder &nb, Location l, Value a, Value b) {
  return nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, a, b);
}

LogicalResult prelu(Importer &imp) {
  auto x = imp.need(0), slope = imp.need(1);
  if (failed(x) || failed(slope))
    return failure();
  if (!isFloat((*x)->kind) || (*slope)->kind != (*x)->kind)
    return imp.unsupported("PRelu of non-float tensors");
  Shape shape;
  Value slopeV = imp.get(**slope);
  const Shape &xs = (*x)->shape, &ss = (*slope)->shape;
  if (!broadcastShape(xs, ss, shape) || ArrayRef<int64_t>(shape) != ArrayRef<int64_t>(xs)) {
    // Before opset 7 a [C] slope is per channel (dimension 1).
    if (ss.size() == 1 && xs.size() >= 2 && ss[0] == xs[1]) {
      Shape cs(xs.size() - 1, 1);
      cs[0] = xs[1];
      slopeV = imp.reshape(slopeV, cs);
      shape = xs;
    } else {
      return imp.fail("slope " + shapeStr(ss) + " does not broadcast to X " + shapeStr(xs));
    }
  }
  EK k = (*x)->kind;
  imp.setOut(0, imp.elementwise({imp.get(**x), slopeV}, shape, k,
                                [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
                                  Value neg = cmpLt(nb, l, s[0], imp.scalarConst(nb, l, 0, k));
                                  Value scaled = nb.create<arith::MulFOp>(l, s[0], s[1]);
                                  return nb.create<arith::SelectOp>(l, neg, scaled, s[0]);
                                }));
  return success();
}

LogicalResult dropout(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  if (imp.hasIn(2)) {
    Val *t = imp.in(2), *ratio = imp.in(1);
    bool training = !t->host || t->host->getI(0) != 0;
    bool zeroRatio = ratio && ratio->host && ratio->host->getF(0) == 0.0;
    if (training && !zeroRatio)
      return imp.unsupported("Dropout in training mode (random masks)");
  }
  imp.setOut(0, **x);
  if (imp.hasOut(1)) {
    HostTensor mask(EK::I1, (*x)->shape);
    for (auto &v : mask.i)
      v = 1;
    imp.setOut(1, std::move(mask));
  }
  return success();
}

LogicalResult isInf(Importer &imp) {
  auto x = imp.need(0);
  if (failed(x))
    return failure();
  if (!isFloat((*x)->kind))
    return imp.fail("IsInf needs a float tensor");
  bool pos = imp.attrInt("detect_positive", 1), neg = imp.attrInt("detect_negative", 1);
  EK k = (*x)->kind;
  imp.setOut(0, imp.elementwise({imp.get(**x)}, (*x)->shape, EK::I1,
                                [&](OpBuilder &nb, Location l, ValueRange s) -> Value {
                                  Value r = imp.scalarConst(nb, l, 0, EK::I1);
                                  if (pos)
                                    r = nb.create<arith::OrIOp>(l, r, nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, s[0], imp.scalarConst(nb, l, INFINITY, k)));
                                  if (neg)
                                    r = nb.create<arith::OrIOp>(l, r, nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, s[0], imp.scalarConst(nb, l, -INFINITY, k)));
                                  return r;
                                }));
  return success();
}

} // namespace

void onnx_import::registerElementwiseOps() {
  auto &h = opHandlers();
  h["Add"] = binaryHandler(Bin::Add);
  h["Sub"] = binaryHandler(Bin::Sub);
  h["Mul"] = binaryHandler(Bin::Mul);
  h["Div"] = binaryHandler(Bin::Div);
  h["Pow"] = binaryHandler(Bin::Pow);
  h["Mod"] = binaryHandler(Bin::Mod);
  h["Equal"] = binaryHandler(Bin::Eq);
  h["Less"] = binaryHandler(Bin::Lt);
  h["Greater"] = binaryHandler(Bin::Gt);
  h["LessOrEqual"] = binaryHandler(Bin::Le);
  h["GreaterOrEqual"] = binaryHandler(Bin::Ge);
  h["And"] = binaryHandler(Bin::And);
  h["Or"] = binaryHandler(Bin::Or);
  h["Xor"] = binaryHandler(Bin::Xor);
  h["Max"] = variadicHandler(Bin::Max);
  h["Min"] = variadicHandler(Bin::Min);
  h["Sum"] = variadicHandler(Bin::Add);
  h["Mean"] = variadicHandler(Bin::Add, /*mean=*/true);
  h["Neg"] = unaryHandler(Un::Neg);
  h["Abs"] = unaryHandler(Un::Abs);
  h["Sqrt"] = unaryHandler(Un::Sqrt);
  h["Exp"] = unaryHandler(Un::Exp);
  h["Log"] = unaryHandler(Un::Log);
  h["Erf"] = unaryHandler(Un::Erf);
  h["Tanh"] = unaryHandler(Un::Tanh);
  h["Sigmoid"] = unaryHandler(Un::Sigmoid);
  h["Relu"] = unaryHandler(Un::Relu);
  h["Cos"] = unaryHandler(Un::Cos);
  h["Sin"] = unaryHandler(Un::Sin);
  h["Reciprocal"] = unaryHandler(Un::Reciprocal);
  h["Floor"] = unaryHandler(Un::Floor);
  h["Ceil"] = unaryHandler(Un::Ceil);
  h["Sign"] = unaryHandler(Un::Sign);
  h["Not"] = unaryHandler(Un::Not);
  h["Softplus"] = unaryHandler(Un::Softplus);
  h["Round"] = unaryHandler(Un::Round);
  h["IsNaN"] = unaryHandler(Un::IsNaN);
  h["LeakyRelu"] = leakyRelu;
  h["Clip"] = clip;
  h["Where"] = where;
  h["Cast"] = castNode;
  h["CastLike"] = castLike;
  h["Identity"] = identity;
  h["PRelu"] = prelu;
  h["Dropout"] = dropout;
  h["IsInf"] = isInf;
  h["Tan"] = formulaHandler(mathOp<math::TanOp>());
  h["Acos"] = formulaHandler(mathOp<math::AcosOp>());
  // asin(x) = atan2(x, sqrt(1 - x^2)) (math.asin's lowering loses accuracy near +-1).
  h["Asin"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    Value one = imp.scalarConst(nb, l, 1, k);
    Value c = nb.create<math::SqrtOp>(l, nb.create<arith::SubFOp>(l, one, nb.create<arith::MulFOp>(l, x, x)));
    return nb.create<math::Atan2Op>(l, x, c);
  });
  h["Atan"] = formulaHandler(mathOp<math::AtanOp>());
  h["Sinh"] = formulaHandler(mathOp<math::SinhOp>());
  h["Cosh"] = formulaHandler(mathOp<math::CoshOp>());
  h["Asinh"] = formulaHandler(mathOp<math::AsinhOp>());
  h["Acosh"] = formulaHandler(mathOp<math::AcoshOp>());
  h["Atanh"] = formulaHandler(mathOp<math::AtanhOp>());
  h["Softsign"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    Value d = nb.create<arith::AddFOp>(l, imp.scalarConst(nb, l, 1, k), nb.create<math::AbsFOp>(l, x));
    return nb.create<arith::DivFOp>(l, x, d);
  });
  // x < 0 ? alpha * (exp(x) - 1) : x (scaled by gamma for Selu; Celu: alpha * (exp(x / alpha) - 1)).
  auto eluLike = [](StringRef op) {
    std::string name = op.str();
    return [name](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
      double alpha = imp.attrFloat("alpha", name == "Selu" ? 1.67326319217681884765625 : 1.0);
      double gamma = name == "Selu" ? imp.attrFloat("gamma", 1.05070102214813232421875) : 1.0;
      Value arg = name == "Celu" ? (Value)nb.create<arith::DivFOp>(l, x, imp.scalarConst(nb, l, alpha, k)) : x;
      Value em1 = nb.create<math::ExpM1Op>(l, arg);
      Value neg = nb.create<arith::MulFOp>(l, em1, imp.scalarConst(nb, l, alpha, k));
      Value r = nb.create<arith::SelectOp>(l, cmpLt(nb, l, x, imp.scalarConst(nb, l, 0, k)), neg, x);
      return gamma == 1.0 ? r : (Value)nb.create<arith::MulFOp>(l, r, imp.scalarConst(nb, l, gamma, k));
    };
  };
  h["Elu"] = formulaHandler(eluLike("Elu"));
  h["Selu"] = formulaHandler(eluLike("Selu"));
  h["Celu"] = formulaHandler(eluLike("Celu"));
  h["HardSigmoid"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    double alpha = imp.attrFloat("alpha", 0.2), beta = imp.attrFloat("beta", 0.5);
    Value y = nb.create<arith::AddFOp>(l, nb.create<arith::MulFOp>(l, x, imp.scalarConst(nb, l, alpha, k)),
                                       imp.scalarConst(nb, l, beta, k));
    y = nb.create<arith::MaximumFOp>(l, y, imp.scalarConst(nb, l, 0, k));
    return nb.create<arith::MinimumFOp>(l, y, imp.scalarConst(nb, l, 1, k));
  });
  h["HardSwish"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    Value y = nb.create<arith::AddFOp>(l, nb.create<arith::MulFOp>(l, x, imp.scalarConst(nb, l, 1.0 / 6, k)),
                                       imp.scalarConst(nb, l, 0.5, k));
    y = nb.create<arith::MaximumFOp>(l, y, imp.scalarConst(nb, l, 0, k));
    y = nb.create<arith::MinimumFOp>(l, y, imp.scalarConst(nb, l, 1, k));
    return nb.create<arith::MulFOp>(l, x, y);
  });
  h["ThresholdedRelu"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    Value above = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, imp.scalarConst(nb, l, imp.attrFloat("alpha", 1.0), k));
    return nb.create<arith::SelectOp>(l, above, x, imp.scalarConst(nb, l, 0, k));
  });
  h["Shrink"] = formulaHandler([](Importer &imp, OpBuilder &nb, Location l, Value x, EK k) -> Value {
    double bias = imp.attrFloat("bias", 0.0), lambd = imp.attrFloat("lambd", 0.5);
    Value lo = cmpLt(nb, l, x, imp.scalarConst(nb, l, -lambd, k));
    Value hi = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, imp.scalarConst(nb, l, lambd, k));
    Value plus = nb.create<arith::AddFOp>(l, x, imp.scalarConst(nb, l, bias, k));
    Value minus = nb.create<arith::SubFOp>(l, x, imp.scalarConst(nb, l, bias, k));
    Value zero = imp.scalarConst(nb, l, 0, k);
    return nb.create<arith::SelectOp>(l, lo, plus, nb.create<arith::SelectOp>(l, hi, minus, zero));
  });
}
