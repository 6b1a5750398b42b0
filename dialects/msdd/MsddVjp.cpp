//===- MsddVjp.cpp - Vector-Jacobian products of msdd ops ------------------===//
//
// Each rule builds the operand gradients from msdd ops, next to the forward op, reusing the
// forward operands and result. Rules are the textbook derivatives; where a rule recomputes
// an intermediate (attention's probabilities, a norm's statistics) it says so.
//
//===----------------------------------------------------------------------===//
#include "msdd/MsddDialect.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::msdd;

namespace {

/// Builds msdd ops with result types inferred from the operands.
struct Emitter {
  OpBuilder &b;
  Location loc;

  static RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }
  static ArrayRef<int64_t> shapeOf(Value v) { return typeOf(v).getShape(); }
  RankedTensorType withShape(Value like, ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, typeOf(like).getElementType());
  }

  template <typename OpT> Value binary(Value x, Value y) {
    auto shape = broadcastShapes(shapeOf(x), shapeOf(y));
    assert(succeeded(shape) && "gradient operands must broadcast");
    return b.create<OpT>(loc, withShape(x, *shape), x, y);
  }
  Value add(Value x, Value y) { return binary<AddOp>(x, y); }
  Value sub(Value x, Value y) { return binary<SubOp>(x, y); }
  Value mul(Value x, Value y) { return binary<MulOp>(x, y); }
  Value div(Value x, Value y) { return binary<DivOp>(x, y); }
  template <typename OpT> Value unary(Value x) { return b.create<OpT>(loc, x.getType(), x); }
  Value neg(Value x) { return unary<NegOp>(x); }
  /// x * factor + bias.
  Value affine(Value x, double factor, double bias = 0.0) {
    return b.create<ScaleOp>(loc, x.getType(), x, b.getF64FloatAttr(factor),
                             b.getF64FloatAttr(bias));
  }
  Value reshape(Value x, ArrayRef<int64_t> shape) {
    if (shapeOf(x) == shape)
      return x;
    return b.create<ReshapeOp>(loc, withShape(x, shape), x);
  }
  Value transpose(Value x, ArrayRef<int64_t> perm) {
    SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(shapeOf(x)[p]);
    return b.create<TransposeOp>(loc, withShape(x, shape), x, perm);
  }
  /// Swaps the last two dimensions.
  Value transposeLast2(Value x) {
    SmallVector<int64_t> perm(shapeOf(x).size());
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
    return transpose(x, perm);
  }
  Value reduceSum(Value x, ArrayRef<int64_t> axes, bool keepDims) {
    if (axes.empty())
      return x;
    SmallVector<int64_t> shape;
    for (auto [d, size] : llvm::enumerate(shapeOf(x))) {
      if (!llvm::is_contained(axes, (int64_t)d))
        shape.push_back(size);
      else if (keepDims)
        shape.push_back(1);
    }
    return b.create<ReduceSumOp>(loc, withShape(x, shape), x, axes, keepDims);
  }
  Value reduceMean(Value x, ArrayRef<int64_t> axes, bool keepDims) {
    int64_t count = 1;
    for (int64_t a : axes)
      count *= shapeOf(x)[a];
    return affine(reduceSum(x, axes, keepDims), 1.0 / count);
  }
  Value broadcastTo(Value x, ArrayRef<int64_t> shape) {
    if (shapeOf(x) == shape)
      return x;
    return b.create<BroadcastOp>(loc, withShape(x, shape), x);
  }
  /// The gradient of a value that was broadcast from `shape`: sum over the stretched dims.
  Value sumTo(Value g, ArrayRef<int64_t> shape) {
    ArrayRef<int64_t> gs = shapeOf(g);
    if (gs == shape)
      return g;
    size_t lead = gs.size() - shape.size();
    SmallVector<int64_t> axes;
    for (size_t d = 0; d < gs.size(); ++d)
      if (d < lead || (shape[d - lead] == 1 && gs[d] != 1))
        axes.push_back(d);
    return reshape(reduceSum(g, axes, /*keepDims=*/false), shape);
  }
  Value matmul(Value x, Value y, bool transposeRhs) {
    ArrayRef<int64_t> a = shapeOf(x), c = shapeOf(y);
    SmallVector<int64_t> shape(a.drop_back());
    shape.push_back(transposeRhs ? c[c.size() - 2] : c.back());
    return b.create<MatmulOp>(loc, withShape(x, shape), x, y, transposeRhs);
  }
  /// All dims but the last.
  static SmallVector<int64_t> leadingAxes(Value x) {
    SmallVector<int64_t> axes(shapeOf(x).size() - 1);
    std::iota(axes.begin(), axes.end(), 0);
    return axes;
  }
};

Emitter emitterFor(OpBuilder &b, Operation *op) { return Emitter{b, op->getLoc()}; }

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise binary ops: operand gradients are summed back over broadcast dims.
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.sumTo(g, e.shapeOf(getLhs()));
  grads[1] = e.sumTo(g, e.shapeOf(getRhs()));
  return success();
}

LogicalResult SubOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.sumTo(g, e.shapeOf(getLhs()));
  grads[1] = e.sumTo(e.neg(g), e.shapeOf(getRhs()));
  return success();
}

LogicalResult MulOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.sumTo(e.mul(g, getRhs()), e.shapeOf(getLhs()));
  grads[1] = e.sumTo(e.mul(g, getLhs()), e.shapeOf(getRhs()));
  return success();
}

LogicalResult DivOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value gOverR = e.div(g, getRhs());
  grads[0] = e.sumTo(gOverR, e.shapeOf(getLhs()));
  // d(l / r)/dr = -(l / r) / r.
  grads[1] = e.sumTo(e.neg(e.mul(gOverR, getResult())), e.shapeOf(getRhs()));
  return success();
}

/// max/min route the gradient to the operand that won; ties go to the left operand.
static void selectGradient(Emitter &e, Value g, Value winnerMask, Value lhs, Value rhs,
                           MutableArrayRef<Value> grads) {
  grads[0] = e.sumTo(e.mul(g, winnerMask), e.shapeOf(lhs));
  grads[1] = e.sumTo(e.mul(g, e.affine(winnerMask, -1.0, 1.0)), e.shapeOf(rhs));
}

LogicalResult MaximumOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  selectGradient(e, g, e.unary<StepOp>(e.sub(getLhs(), getRhs())), getLhs(), getRhs(), grads);
  return success();
}

LogicalResult MinimumOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  selectGradient(e, g, e.unary<StepOp>(e.sub(getRhs(), getLhs())), getLhs(), getRhs(), grads);
  return success();
}

LogicalResult PowOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value gy = e.mul(g, getResult());
  // d(l^r)/dl = r l^r / l; d(l^r)/dr = l^r log l (l > 0).
  grads[0] = e.sumTo(e.div(e.mul(gy, getRhs()), getLhs()), e.shapeOf(getLhs()));
  grads[1] = e.sumTo(e.mul(gy, e.unary<LogOp>(getLhs())), e.shapeOf(getRhs()));
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise unary ops
//===----------------------------------------------------------------------===//

#define MSDD_UNARY_VJP(OP)                                                                     \
  LogicalResult OP::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {            \
    Emitter e = emitterFor(b, *this);                                                          \
    Value x = getInput(), y = getResult();                                                     \
    (void)x;                                                                                   \
    (void)y;                                                                                   \
    grads[0] =
#define MSDD_END_VJP                                                                           \
    ;                                                                                          \
    return success();                                                                          \
  }

MSDD_UNARY_VJP(NegOp) e.neg(g) MSDD_END_VJP
MSDD_UNARY_VJP(ExpOp) e.mul(g, y) MSDD_END_VJP
MSDD_UNARY_VJP(LogOp) e.div(g, x) MSDD_END_VJP
MSDD_UNARY_VJP(SqrtOp) e.div(e.affine(g, 0.5), y) MSDD_END_VJP
// d(x^-1/2)/dx = -x^-3/2 / 2 = -y^3 / 2.
MSDD_UNARY_VJP(RsqrtOp) e.mul(g, e.affine(e.mul(y, e.mul(y, y)), -0.5)) MSDD_END_VJP
MSDD_UNARY_VJP(AbsOp) e.mul(g, e.unary<SignOp>(x)) MSDD_END_VJP
MSDD_UNARY_VJP(TanhOp) e.mul(g, e.affine(e.mul(y, y), -1.0, 1.0)) MSDD_END_VJP
MSDD_UNARY_VJP(ErfOp)
    e.mul(g, e.affine(e.unary<ExpOp>(e.neg(e.mul(x, x))), 2.0 / std::sqrt(M_PI))) MSDD_END_VJP
MSDD_UNARY_VJP(SinOp) e.mul(g, e.unary<CosOp>(x)) MSDD_END_VJP
MSDD_UNARY_VJP(CosOp) e.neg(e.mul(g, e.unary<SinOp>(x))) MSDD_END_VJP
MSDD_UNARY_VJP(SigmoidOp) e.mul(g, e.mul(y, e.affine(y, -1.0, 1.0))) MSDD_END_VJP
MSDD_UNARY_VJP(ReluOp) e.mul(g, e.unary<StepOp>(x)) MSDD_END_VJP
// silu' = s (1 + x (1 - s)), s = sigmoid(x).
MSDD_UNARY_VJP(SiluOp) [&] {
  Value s = e.unary<SigmoidOp>(x);
  return e.mul(g, e.mul(s, e.affine(e.mul(x, e.affine(s, -1.0, 1.0)), 1.0, 1.0)));
}() MSDD_END_VJP

// Piecewise constant: no gradient flows.
LogicalResult SignOp::buildVjp(OpBuilder &, Value, MutableArrayRef<Value>) { return success(); }
LogicalResult StepOp::buildVjp(OpBuilder &, Value, MutableArrayRef<Value>) { return success(); }
LogicalResult StopGradientOp::buildVjp(OpBuilder &, Value, MutableArrayRef<Value>) {
  return success();
}

LogicalResult GeluOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value x = getInput();
  Value slope;
  if (getApproximate()) {
    // y = x/2 (1 + tanh(u)), u = k (x + 0.044715 x^3):
    // y' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2).
    double k = std::sqrt(2.0 / M_PI);
    Value x2 = e.mul(x, x);
    Value u = e.affine(e.mul(x, e.affine(x2, 0.044715, 1.0)), k);
    Value t = e.unary<TanhOp>(u);
    Value du = e.affine(x2, 3.0 * 0.044715 * k, k);
    Value sech2 = e.affine(e.mul(t, t), -1.0, 1.0);
    slope = e.add(e.affine(t, 0.5, 0.5), e.mul(e.affine(x, 0.5), e.mul(sech2, du)));
  } else {
    // y = x Phi(x): y' = Phi(x) + x phi(x).
    Value cdf = e.affine(e.unary<ErfOp>(e.affine(x, M_SQRT1_2)), 0.5, 0.5);
    Value pdf = e.affine(e.unary<ExpOp>(e.affine(e.mul(x, x), -0.5)), 1.0 / std::sqrt(2 * M_PI));
    slope = e.add(cdf, e.mul(x, pdf));
  }
  grads[0] = e.mul(g, slope);
  return success();
}

LogicalResult ScaleOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  grads[0] = emitterFor(b, *this).affine(g, getFactor().convertToDouble());
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions and layout
//===----------------------------------------------------------------------===//

/// The reduced gradient with the reduced dims restored as size 1.
static Value keptGradient(Emitter &e, Value g, Value input, ArrayRef<int64_t> axes) {
  SmallVector<int64_t> kept(e.shapeOf(input));
  for (int64_t a : axes)
    kept[a] = 1;
  return e.reshape(g, kept);
}

LogicalResult ReduceSumOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.broadcastTo(keptGradient(e, g, getInput(), getAxes()), e.shapeOf(getInput()));
  return success();
}

LogicalResult ReduceMeanOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t count = 1;
  for (int64_t a : getAxes())
    count *= e.shapeOf(getInput())[a];
  grads[0] = e.broadcastTo(e.affine(keptGradient(e, g, getInput(), getAxes()), 1.0 / count),
                           e.shapeOf(getInput()));
  return success();
}

LogicalResult ReduceMaxOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  ArrayRef<int64_t> shape = e.shapeOf(getInput());
  // Every element equal to its maximum gets the gradient (x - max >= 0 only there).
  Value max = e.broadcastTo(keptGradient(e, getResult(), getInput(), getAxes()), shape);
  Value isMax = e.unary<StepOp>(e.sub(getInput(), max));
  grads[0] = e.mul(e.broadcastTo(keptGradient(e, g, getInput(), getAxes()), shape), isMax);
  return success();
}

LogicalResult ReshapeOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.reshape(g, e.shapeOf(getInput()));
  return success();
}

LogicalResult TransposeOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  grads[0] = emitterFor(b, *this).transpose(g, inverse);
  return success();
}

LogicalResult ConcatOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  int64_t start = 0, axis = getAxis();
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    grads[i] = b.create<SliceOp>(getLoc(), input.getType(), g, axis, start);
    start += Emitter::shapeOf(input)[axis];
  }
  return success();
}

/// The gradient flows into the sliced range; the rest of the input gets zeros.
LogicalResult SliceOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t axis = getAxis(), before = getStart();
  int64_t after = e.shapeOf(getInput())[axis] - before - e.shapeOf(g)[axis];
  SmallVector<Value> parts;
  auto zeros = [&](int64_t n) {
    SmallVector<int64_t> shape(e.shapeOf(g));
    shape[axis] = n;
    auto type = e.withShape(g, shape);
    parts.push_back(b.create<arith::ConstantOp>(
        getLoc(), DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(), 0.0))));
  };
  if (before)
    zeros(before);
  parts.push_back(g);
  if (after)
    zeros(after);
  grads[0] = parts.size() == 1
                 ? g
                 : b.create<ConcatOp>(getLoc(), getInput().getType(), parts, axis).getResult();
  return success();
}

LogicalResult BroadcastOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.sumTo(g, e.shapeOf(getInput()));
  return success();
}

//===----------------------------------------------------------------------===//
// Neural-network ops
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  ArrayRef<int64_t> xs = e.shapeOf(getInput());
  int64_t k = xs.back(), n = e.shapeOf(getWeight())[0];
  int64_t m = getInput().getType().getNumElements() / k;
  Value x2 = e.reshape(getInput(), {m, k}), g2 = e.reshape(g, {m, n});
  grads[0] = e.reshape(e.matmul(g2, getWeight(), false), xs);       // [M, N] x [N, K]
  grads[1] = e.matmul(e.transposeLast2(g2), x2, false);              // [N, M] x [M, K]
  if (getBias())
    grads[2] = e.reduceSum(g2, {0}, false);
  return success();
}

LogicalResult MatmulOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value lhs = getLhs(), rhs = getRhs();
  if (getTransposeRhs()) { // C = A B^T, B: [N, K]
    grads[0] = e.matmul(g, rhs, false);
    grads[1] = e.matmul(e.transposeLast2(g), lhs, false);
  } else {
    grads[0] = e.matmul(g, rhs, true);
    grads[1] = e.matmul(e.transposeLast2(lhs), g, false);
  }
  return success();
}

LogicalResult ConvOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value x = getInput(), w = getWeight();
  ArrayRef<int64_t> xs = e.shapeOf(x), ws = e.shapeOf(w), ys = e.shapeOf(g);
  ArrayRef<int64_t> strides = getStrides(), dilations = getDilations(), padsBegin = getPadsBegin();
  int64_t groups = getGroups(), spatial = xs.size() - 2;
  // The input gradient scatters each output's gradient back through the kernel.
  grads[0] = b.create<ConvTransposeOp>(getLoc(), x.getType(), g, w, strides, dilations, padsBegin,
                                       groups);
  // The weight gradient dw[m, c, j] = sum_{n, o} x[n, c, o s + j d - pb] dy[n, m, o] is itself
  // a conv: of x^T [C, N, D] with dy^T [M, N, O] as the kernel, strides and dilations
  // swapped. Rows of x no output reads are cropped first, so its end padding is >= 0.
  SmallVector<int64_t> perm = {1, 0}, padsEnd;
  for (int64_t i = 0; i < spatial; ++i)
    perm.push_back(2 + i);
  Value xc = x;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t keff = (ws[2 + i] - 1) * dilations[i] + 1;
    int64_t used = (ys[2 + i] - 1) * strides[i] + keff - padsBegin[i];
    if (used < 1) { // every read is padding: no gradient
      grads[1] = e.affine(w, 0.0);
      return success();
    }
    if (used < xs[2 + i]) {
      SmallVector<int64_t> shape(e.shapeOf(xc));
      shape[2 + i] = used;
      xc = b.create<SliceOp>(getLoc(), e.withShape(x, shape), xc, 2 + i, 0);
    }
    padsEnd.push_back(used - e.shapeOf(xc)[2 + i]);
  }
  int64_t cg = xs[1] / groups, mg = ws[0] / groups;
  auto channels = [&](Value v, int64_t count, int64_t group) -> Value {
    if (groups == 1)
      return v;
    SmallVector<int64_t> shape(e.shapeOf(v));
    shape[1] = count;
    return b.create<SliceOp>(getLoc(), e.withShape(v, shape), v, 1, group * count).getResult();
  };
  SmallVector<Value> perGroup;
  for (int64_t group = 0; group < groups; ++group) {
    Value xt = e.transpose(channels(xc, cg, group), perm);
    Value gt = e.transpose(channels(g, mg, group), perm);
    SmallVector<int64_t> shape = {cg, mg};
    shape.append(ws.begin() + 2, ws.end());
    Value dw = b.create<ConvOp>(getLoc(), e.withShape(x, shape), xt, gt, dilations, strides,
                                padsBegin, padsEnd, 1);
    perGroup.push_back(e.transpose(dw, perm));
  }
  grads[1] = groups == 1 ? perGroup[0]
                         : b.create<ConcatOp>(getLoc(), w.getType(), perGroup, 0).getResult();
  return success();
}

LogicalResult ConvTransposeOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value x = getInput(), w = getWeight();
  ArrayRef<int64_t> xs = e.shapeOf(x), ws = e.shapeOf(w);
  ArrayRef<int64_t> strides = getStrides(), dilations = getDilations();
  // The adjoint is the conv with the same attributes from g back to x's size. Its padding
  // (pads_begin, and the end padding that size implies) may be negative: crop g there.
  SmallVector<int64_t> padsBegin, padsEnd;
  Value gc = g;
  for (size_t i = 0; i + 2 < xs.size(); ++i) {
    int64_t keff = (ws[2 + i] - 1) * dilations[i] + 1, out = e.shapeOf(g)[2 + i];
    int64_t begin = getPadsBegin()[i], end = (xs[2 + i] - 1) * strides[i] + keff - out - begin;
    int64_t from = std::max<int64_t>(0, -begin), to = out + std::min<int64_t>(0, end);
    if (from > 0 || to < out) {
      SmallVector<int64_t> shape(e.shapeOf(gc));
      shape[2 + i] = to - from;
      gc = b.create<SliceOp>(getLoc(), e.withShape(g, shape), gc, 2 + i, from);
    }
    padsBegin.push_back(std::max<int64_t>(0, begin));
    padsEnd.push_back(std::max<int64_t>(0, end));
  }
  auto adjoint = b.create<ConvOp>(getLoc(), x.getType(), gc, w, strides, dilations, padsBegin,
                                  padsEnd, getGroups());
  grads[0] = adjoint;
  // y = adjoint^T(x), so dL/dw of y is the adjoint conv's weight gradient with x as its
  // output gradient (its own input gradient, unused, is dead code).
  SmallVector<Value> inner(2);
  if (failed(adjoint.buildVjp(b, x, inner)))
    return failure();
  grads[1] = inner[1];
  return success();
}

LogicalResult PatchifyOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  grads[0] = b.create<UnpatchifyOp>(getLoc(), getInput().getType(), g, getPatchSize());
  return success();
}

LogicalResult UnpatchifyOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  grads[0] = b.create<PatchifyOp>(getLoc(), getInput().getType(), g, getPatchSize());
  return success();
}

/// Shared by layer_norm and rms_norm: parameter gradients summed over all but the last dim.
static Value paramGradient(Emitter &e, Value perElement) {
  return e.reduceSum(perElement, Emitter::leadingAxes(perElement), false);
}

LogicalResult LayerNormOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value x = getInput();
  int64_t last = e.shapeOf(x).size() - 1;
  // The statistics are recomputed: cheaper to store than to keep alive across the step.
  Value mean = e.reduceMean(x, {last}, true);
  Value centered = e.sub(x, mean);
  Value var = e.reduceMean(e.mul(centered, centered), {last}, true);
  Value rstd = e.unary<RsqrtOp>(e.affine(var, 1.0, getEpsilon().convertToDouble()));
  Value xhat = e.mul(centered, rstd);
  Value dxhat = getWeight() ? e.mul(g, getWeight()) : g;
  Value m1 = e.reduceMean(dxhat, {last}, true);
  Value m2 = e.reduceMean(e.mul(dxhat, xhat), {last}, true);
  grads[0] = e.mul(rstd, e.sub(e.sub(dxhat, m1), e.mul(xhat, m2)));
  if (getWeight()) {
    grads[1] = paramGradient(e, e.mul(g, xhat));
    grads[2] = paramGradient(e, g);
  }
  return success();
}

LogicalResult RmsNormOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value x = getInput();
  int64_t last = e.shapeOf(x).size() - 1;
  Value r = e.unary<RsqrtOp>(
      e.affine(e.reduceMean(e.mul(x, x), {last}, true), 1.0, getEpsilon().convertToDouble()));
  Value dxw = getWeight() ? e.mul(g, getWeight()) : g;
  // dx = r (dxw - x r^2 mean(dxw x)).
  Value m = e.reduceMean(e.mul(dxw, x), {last}, true);
  grads[0] = e.mul(r, e.sub(dxw, e.mul(x, e.mul(e.mul(r, r), m))));
  if (getWeight())
    grads[1] = paramGradient(e, e.mul(g, e.mul(x, r)));
  return success();
}

LogicalResult SoftmaxOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t axis = getAxis() < 0 ? getAxis() + e.shapeOf(g).size() : getAxis();
  Value y = getResult();
  grads[0] = e.mul(y, e.sub(g, e.reduceSum(e.mul(g, y), {axis}, true)));
  return success();
}

LogicalResult AttentionOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value q = getQuery(), k = getKey(), v = getValue();
  double scale = getScale() ? getScale()->convertToDouble()
                            : 1.0 / std::sqrt((double)e.shapeOf(q).back());
  // The probabilities are recomputed (as flash attention does) rather than kept from the
  // forward pass, which never materializes them outside the op.
  Value logits = e.affine(e.matmul(q, k, true), scale);
  if (getMask())
    logits = e.add(logits, getMask());
  auto probsType = e.typeOf(logits);
  Value p = b.create<SoftmaxOp>(getLoc(), probsType, logits, b.getI64IntegerAttr(-1));
  grads[2] = e.matmul(e.transposeLast2(p), g, false);
  Value dp = e.matmul(g, v, true);
  Value dlogits = e.mul(p, e.sub(dp, e.reduceSum(e.mul(dp, p), {3}, true)));
  grads[0] = e.affine(e.matmul(dlogits, k, false), scale);
  grads[1] = e.affine(e.matmul(e.transposeLast2(dlogits), q, false), scale);
  if (getMask())
    grads[3] = e.sumTo(dlogits, e.shapeOf(getMask()));
  return success();
}

LogicalResult Rope2dOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  // A rotation's transpose is the rotation by the opposite angle.
  auto transposed = cast<Rope2dOp>(b.clone(*getOperation()));
  transposed->setOperand(0, g);
  transposed.setInverse(!getInverse());
  grads[0] = transposed;
  return success();
}

LogicalResult SwigluOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  Value gate = getGate(), up = getUp();
  Value s = e.unary<SigmoidOp>(gate);
  Value silu = e.mul(gate, s);
  Value siluSlope = e.mul(s, e.affine(e.mul(gate, e.affine(s, -1.0, 1.0)), 1.0, 1.0));
  grads[0] = e.mul(e.mul(g, up), siluSlope);
  grads[1] = e.mul(g, silu);
  return success();
}

LogicalResult ModulateOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  ArrayRef<int64_t> xs = e.shapeOf(getInput());
  Value onePlusScale = e.reshape(e.affine(getScale(), 1.0, 1.0), {xs[0], 1, xs[2]});
  grads[0] = e.mul(g, onePlusScale);
  grads[1] = e.reduceSum(g, {1}, false);
  grads[2] = e.reduceSum(e.mul(g, getInput()), {1}, false);
  return success();
}

LogicalResult TimestepEmbeddingOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  // E = [cos(a), sin(a)], a_j = t s f_j: dE/dt = [-sin(a), cos(a)] * s f_j = [-E2, E1] * s f.
  RankedTensorType type = getType();
  int64_t batch = type.getDimSize(0), dim = type.getDimSize(1), half = dim / 2;
  double logPeriod = std::log(getMaxPeriod().convertToDouble());
  double scale = getScale().convertToDouble();
  SmallVector<double> rate(dim);
  for (int64_t j = 0; j < dim; ++j)
    rate[j] = scale * std::exp(-logPeriod * (j % half) / half);
  auto rateType = RankedTensorType::get({dim}, type.getElementType());
  SmallVector<Attribute> rateAttrs;
  for (double r : rate)
    rateAttrs.push_back(b.getFloatAttr(type.getElementType(), r));
  Value rates = b.create<arith::ConstantOp>(getLoc(), DenseElementsAttr::get(rateType, rateAttrs));
  auto halfType = RankedTensorType::get({batch, half}, type.getElementType());
  auto slice = [&](int64_t offset) -> Value {
    return b.create<tensor::ExtractSliceOp>(getLoc(), halfType, getResult(), ValueRange{},
                                            ValueRange{}, ValueRange{},
                                            b.getDenseI64ArrayAttr({0, offset}),
                                            b.getDenseI64ArrayAttr({batch, half}),
                                            b.getDenseI64ArrayAttr({1, 1}));
  };
  Value slope = b.create<tensor::ConcatOp>(getLoc(), type, /*dim=*/1,
                                           ValueRange{e.neg(slice(half)), slice(0)});
  grads[0] = e.reduceSum(e.mul(e.mul(g, slope), rates), {1}, false);
  return success();
}

LogicalResult UpsampleNearestOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t f = getFactor();
  // Each input pixel feeds f x f outputs: the gradient is their sum = f^2 * block mean.
  Value mean = b.create<DownsampleOp>(getLoc(), getInput().getType(), g, f);
  grads[0] = e.affine(mean, double(f * f));
  return success();
}

LogicalResult DownsampleOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t f = getFactor();
  Value up = b.create<UpsampleNearestOp>(getLoc(), getInput().getType(), g, f);
  grads[0] = e.affine(up, 1.0 / double(f * f));
  return success();
}

LogicalResult BlockNoiseOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  // A symmetric linear map per block (a projection and its complement, scaled): its own
  // adjoint.
  grads[0] = b.create<BlockNoiseOp>(getLoc(), getType(), g, getGamma(), getCovariance());
  return success();
}

LogicalResult NoiseMixOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = e.affine(g, getAlpha().convertToDouble());
  grads[1] = e.affine(g, getBeta().convertToDouble());
  return success();
}

LogicalResult EulerStepOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  grads[0] = g;
  grads[1] = e.affine(g, getTTo().convertToDouble() - getTFrom().convertToDouble());
  return success();
}

LogicalResult CfgCombineOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  double w = getGuidanceScale().convertToDouble();
  grads[0] = e.affine(g, 1.0 - w);
  grads[1] = e.affine(g, w);
  return success();
}

//===----------------------------------------------------------------------===//
// Losses (the result gradient is a scalar, broadcast over the operands)
//===----------------------------------------------------------------------===//

LogicalResult MseOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  int64_t n = getPrediction().getType().getNumElements();
  Value d = e.mul(e.affine(e.sub(getPrediction(), getTarget()), 2.0 / n), g);
  grads[0] = d;
  grads[1] = e.neg(d);
  return success();
}

LogicalResult WeightedMseOp::buildVjp(OpBuilder &b, Value g, MutableArrayRef<Value> grads) {
  Emitter e = emitterFor(b, *this);
  ArrayRef<int64_t> ps = e.shapeOf(getPrediction());
  int64_t n = getPrediction().getType().getNumElements();
  SmallVector<int64_t> perSample(ps.size(), 1);
  perSample[0] = ps[0];
  Value w = e.reshape(getWeight(), perSample);
  Value diff = e.sub(getPrediction(), getTarget());
  Value d = e.mul(e.mul(e.affine(diff, 2.0 / n), w), g);
  grads[0] = d;
  grads[1] = e.neg(d);
  SmallVector<int64_t> rest(ps.size() - 1);
  std::iota(rest.begin(), rest.end(), 1);
  grads[2] = e.mul(e.affine(e.reduceSum(e.mul(diff, diff), rest, false), 1.0 / n), g);
  return success();
}
