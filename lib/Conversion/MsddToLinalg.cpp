//===- MsddToLinalg.cpp - Lower msdd ops to linalg on tensors --------------===//
//
// Every op becomes destination-style linalg/tensor IR: elementwise math as linalg.generic with
// broadcasting maps (so elementwise fusion can merge chains), layout changes as
// expand/collapse_shape + linalg.transpose (so they stay tileable), matrix products as named
// contractions (so the CPU pipeline can hand them to BLAS and the GPU one to tensor cores).
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"
#include "msdd/MsddDialect.h"

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::msdd {
#define GEN_PASS_DEF_CONVERTMSDDTOLINALG
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using namespace mlir::msdd;

namespace {

using BodyBuilder = function_ref<Value(OpBuilder &, Location, ValueRange)>;

RankedTensorType tensorType(Value v) { return cast<RankedTensorType>(v.getType()); }

/// A float constant of `type`, or of the element type of `like`'s type.
Value constFloat(OpBuilder &b, Location loc, Type type, double v) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(type, v));
}
Value constLike(OpBuilder &b, Location loc, Value like, double v) {
  return constFloat(b, loc, getElementTypeOrSelf(like.getType()), v);
}
Type elementTypeOf(Value v) { return getElementTypeOrSelf(v.getType()); }

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType) {
  return b.create<tensor::EmptyOp>(loc, shape, elementType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
                   double value) {
  Value empty = emptyTensor(b, loc, shape, elementType);
  return b.create<linalg::FillOp>(loc, constFloat(b, loc, elementType, value), empty)
      .getResult(0);
}

/// Indexing map of an operand broadcast numpy-style into a result of rank `rank`.
AffineMap broadcastMap(MLIRContext *ctx, ArrayRef<int64_t> operandShape,
                       ArrayRef<int64_t> resultShape) {
  SmallVector<AffineExpr> exprs;
  size_t offset = resultShape.size() - operandShape.size();
  for (size_t i = 0; i < operandShape.size(); ++i) {
    bool stretched = operandShape[i] == 1 && resultShape[offset + i] != 1;
    exprs.push_back(stretched ? getAffineConstantExpr(0, ctx) : getAffineDimExpr(offset + i, ctx));
  }
  return AffineMap::get(resultShape.size(), 0, exprs, ctx);
}

/// A linalg.generic over the loops of `outShape`; `inputMaps` map loops to input indices.
/// Loops listed in `reductionDims` reduce into `init`, whose map is `outMap`.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                   Value init, AffineMap outMap, unsigned numLoops,
                   ArrayRef<unsigned> reductionDims, BodyBuilder body) {
  SmallVector<utils::IteratorType> iterators(numLoops, utils::IteratorType::parallel);
  for (unsigned d : reductionDims)
    iterators[d] = utils::IteratorType::reduction;
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(outMap);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        nb.create<linalg::YieldOp>(nloc, body(nb, nloc, args));
      });
  return generic.getResult(0);
}

/// Elementwise op over `inputs` broadcast numpy-style to `resultType`.
Value buildElementwise(OpBuilder &b, Location loc, RankedTensorType resultType, ValueRange inputs,
                       BodyBuilder body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(broadcastMap(ctx, tensorType(in).getShape(), resultType.getShape()));
  Value init = emptyTensor(b, loc, resultType.getShape(), resultType.getElementType());
  return buildGeneric(b, loc, inputs, maps, init,
                      AffineMap::getMultiDimIdentityMap(resultType.getRank(), ctx),
                      resultType.getRank(), {}, body);
}

/// `value * factor`, elementwise (the 1/N of means).
Value scaleTensor(OpBuilder &b, Location loc, Value value, double factor) {
  return buildElementwise(b, loc, tensorType(value), value,
                          [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                            return nb.create<arith::MulFOp>(l, args[0],
                                                            constLike(nb, l, args[0], factor));
                          });
}

/// Reduces `inputs` (all of one shape) over `axes` with `combine(acc, inputs...)`, starting from
/// `initValue`. The result drops the reduced dims.
Value buildReduction(OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<int64_t> axes,
                     double initValue, BodyBuilder combine,
                     ArrayRef<AffineMap> customMaps = {}) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = tensorType(inputs[0]).getShape();
  unsigned rank = shape.size();
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<unsigned> reductionDims;
  for (unsigned d = 0; d < rank; ++d) {
    if (llvm::is_contained(axes, d)) {
      reductionDims.push_back(d);
      continue;
    }
    outShape.push_back(shape[d]);
    outExprs.push_back(getAffineDimExpr(d, ctx));
  }
  SmallVector<AffineMap> maps(customMaps);
  if (maps.empty())
    maps.assign(inputs.size(), AffineMap::getMultiDimIdentityMap(rank, ctx));
  Value init = filledTensor(b, loc, outShape, elementTypeOf(inputs[0]), initValue);
  return buildGeneric(b, loc, inputs, maps, init, AffineMap::get(rank, 0, outExprs, ctx), rank,
                      reductionDims, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        // Accumulator first, then the inputs.
                        SmallVector<Value> ordered{args.back()};
                        llvm::append_range(ordered, args.drop_back());
                        return combine(nb, nloc, ordered);
                      });
}

/// Map from the loops of a rank-`rank` tensor to a tensor that lacks the dims `dropped`.
AffineMap droppingMap(MLIRContext *ctx, unsigned rank, ArrayRef<int64_t> dropped) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d = 0; d < rank; ++d)
    if (!llvm::is_contained(dropped, d))
      exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// Reshape through a rank-1 view; both steps are plain reassociations.
Value reshapeTensor(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> shape) {
  RankedTensorType inType = tensorType(input);
  if (inType.getShape() == shape)
    return input;
  int64_t n = inType.getNumElements();
  auto flatType = RankedTensorType::get({n}, inType.getElementType());
  auto outType = RankedTensorType::get(shape, inType.getElementType());
  auto allInOne = [&](unsigned rank) {
    SmallVector<ReassociationIndices> r;
    if (rank == 0)
      return r;
    r.emplace_back();
    for (unsigned i = 0; i < rank; ++i)
      r.back().push_back(i);
    return r;
  };
  // A plain collapse or expand when one shape refines the other, else through rank 1.
  if (inType.getRank() > 0 && !shape.empty() && inType.getRank() != (int64_t)shape.size()) {
    if (auto r = getReassociationIndicesForReshape(inType, outType)) {
      if (inType.getRank() > (int64_t)shape.size())
        return b.create<tensor::CollapseShapeOp>(loc, outType, input, *r);
      return b.create<tensor::ExpandShapeOp>(loc, outType, input, *r);
    }
  }
  Value flat = input;
  if (inType.getRank() > 1)
    flat = b.create<tensor::CollapseShapeOp>(loc, flatType, input, allInOne(inType.getRank()));
  else if (inType.getRank() == 0)
    flat = b.create<tensor::ExpandShapeOp>(loc, flatType, input, allInOne(0));
  if (shape.size() == 1)
    return flat;
  if (shape.empty())
    return b.create<tensor::CollapseShapeOp>(loc, outType, flat, allInOne(0));
  return b.create<tensor::ExpandShapeOp>(loc, outType, flat, allInOne(shape.size()));
}

Value transposeTensor(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> perm) {
  ArrayRef<int64_t> shape = tensorType(input).getShape();
  SmallVector<int64_t> outShape;
  for (int64_t p : perm)
    outShape.push_back(shape[p]);
  Value init = emptyTensor(b, loc, outShape, tensorType(input).getElementType());
  return b.create<linalg::TransposeOp>(loc, input, init, perm).getResult()[0];
}

/// Batched or plain matrix product, with the batch dims of rank > 3 operands flattened.
Value buildMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs, bool transposeRhs,
                  Value init = {}) {
  ArrayRef<int64_t> a = tensorType(lhs).getShape(), bs = tensorType(rhs).getShape();
  size_t r = a.size();
  int64_t m = a[r - 2], n = transposeRhs ? bs[r - 2] : bs[r - 1];
  if (r == 2) {
    if (!init)
      init = filledTensor(b, loc, {m, n}, elementTypeOf(lhs), 0.0);
    Type type = init.getType();
    if (transposeRhs)
      return b.create<linalg::MatmulTransposeBOp>(loc, TypeRange{type}, ValueRange{lhs, rhs}, init)
          .getResult(0);
    return b.create<linalg::MatmulOp>(loc, TypeRange{type}, ValueRange{lhs, rhs}, init)
        .getResult(0);
  }
  int64_t batch = 1;
  for (size_t i = 0; i + 2 < r; ++i)
    batch *= a[i];
  Value l3 = reshapeTensor(b, loc, lhs, {batch, a[r - 2], a[r - 1]});
  Value r3 = reshapeTensor(b, loc, rhs, {batch, bs[r - 2], bs[r - 1]});
  Value acc = filledTensor(b, loc, {batch, m, n}, elementTypeOf(lhs), 0.0);
  Value out;
  if (transposeRhs)
    out = b.create<linalg::BatchMatmulTransposeBOp>(loc, TypeRange{acc.getType()},
                                                    ValueRange{l3, r3}, acc)
              .getResult(0);
  else
    out = b.create<linalg::BatchMatmulOp>(loc, TypeRange{acc.getType()}, ValueRange{l3, r3}, acc)
              .getResult(0);
  SmallVector<int64_t> outShape(a.take_front(r - 1));
  outShape.push_back(n);
  return reshapeTensor(b, loc, out, outShape);
}

//===----------------------------------------------------------------------===//
// Scalar body helpers
//===----------------------------------------------------------------------===//

Value sigmoidOf(OpBuilder &b, Location loc, Value x) {
  Value one = constLike(b, loc, x, 1.0);
  Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x));
  return b.create<arith::DivFOp>(loc, one, b.create<arith::AddFOp>(loc, one, e));
}

Value squareOf(OpBuilder &b, Location loc, Value x) { return b.create<arith::MulFOp>(loc, x, x); }

Value indexAsFloat(OpBuilder &b, Location loc, Value index, Type type) {
  Value i = b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
  return b.create<arith::SIToFPOp>(loc, type, i);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

template <typename SourceOp, typename ArithOp>
struct BinaryLowering : OpRewritePattern<SourceOp> {
  using OpRewritePattern<SourceOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(SourceOp op, PatternRewriter &rewriter) const override {
    Value result = buildElementwise(
        rewriter, op.getLoc(), op.getType(), op->getOperands(),
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<ArithOp>(loc, args[0], args[1]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Elementwise ops whose scalar body is given by `Derived::compute`.
template <typename SourceOp>
struct MapLowering : OpRewritePattern<SourceOp> {
  using OpRewritePattern<SourceOp>::OpRewritePattern;
  virtual Value compute(SourceOp op, OpBuilder &b, Location loc, ValueRange args) const = 0;
  LogicalResult matchAndRewrite(SourceOp op, PatternRewriter &rewriter) const override {
    Value result = buildElementwise(
        rewriter, op.getLoc(), cast<RankedTensorType>(op->getResult(0).getType()),
        op->getOperands(),
        [&](OpBuilder &b, Location loc, ValueRange args) { return compute(op, b, loc, args); });
    rewriter.replaceOp(op, result);
    return success();
  }
};

template <typename SourceOp, typename MathOp>
struct UnaryLowering : MapLowering<SourceOp> {
  using MapLowering<SourceOp>::MapLowering;
  Value compute(SourceOp, OpBuilder &b, Location loc, ValueRange args) const override {
    return b.create<MathOp>(loc, args[0]);
  }
};

#define MSDD_MAP_LOWERING(NAME, OP)                                                            \
  struct NAME : MapLowering<OP> {                                                              \
    using MapLowering<OP>::MapLowering;                                                        \
    Value compute(OP op, OpBuilder &b, Location loc, ValueRange args) const override;          \
  };                                                                                           \
  Value NAME::compute(OP op, OpBuilder &b, Location loc, ValueRange args) const

MSDD_MAP_LOWERING(SigmoidLowering, SigmoidOp) { return sigmoidOf(b, loc, args[0]); }
MSDD_MAP_LOWERING(ReluLowering, ReluOp) {
  return b.create<arith::MaximumFOp>(loc, args[0], constLike(b, loc, args[0], 0.0));
}
MSDD_MAP_LOWERING(SignLowering, SignOp) {
  Value x = args[0], zero = constLike(b, loc, x, 0.0);
  Value positive = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, zero);
  Value negative = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, zero);
  Value negOrZero = b.create<arith::SelectOp>(loc, negative, constLike(b, loc, x, -1.0), zero);
  return b.create<arith::SelectOp>(loc, positive, constLike(b, loc, x, 1.0), negOrZero);
}
MSDD_MAP_LOWERING(StepLowering, StepOp) {
  Value x = args[0];
  Value nonNegative =
      b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, x, constLike(b, loc, x, 0.0));
  return b.create<arith::SelectOp>(loc, nonNegative, constLike(b, loc, x, 1.0),
                                   constLike(b, loc, x, 0.0));
}
MSDD_MAP_LOWERING(BroadcastLowering, BroadcastOp) { return args[0]; }
MSDD_MAP_LOWERING(SiluLowering, SiluOp) {
  return b.create<arith::MulFOp>(loc, args[0], sigmoidOf(b, loc, args[0]));
}
MSDD_MAP_LOWERING(SwigluLowering, SwigluOp) {
  Value silu = b.create<arith::MulFOp>(loc, args[0], sigmoidOf(b, loc, args[0]));
  return b.create<arith::MulFOp>(loc, silu, args[1]);
}
MSDD_MAP_LOWERING(GeluLowering, GeluOp) {
  Value x = args[0];
  Value half = b.create<arith::MulFOp>(loc, x, constLike(b, loc, x, 0.5));
  Value inner;
  if (op.getApproximate()) {
    Value x3 = b.create<arith::MulFOp>(loc, squareOf(b, loc, x), x);
    Value poly = b.create<arith::AddFOp>(
        loc, x, b.create<arith::MulFOp>(loc, x3, constLike(b, loc, x, 0.044715)));
    inner = b.create<math::TanhOp>(
        loc, b.create<arith::MulFOp>(loc, poly, constLike(b, loc, x, std::sqrt(2.0 / M_PI))));
  } else {
    inner = b.create<math::ErfOp>(
        loc, b.create<arith::MulFOp>(loc, x, constLike(b, loc, x, M_SQRT1_2)));
  }
  return b.create<arith::MulFOp>(loc, half,
                                 b.create<arith::AddFOp>(loc, inner, constLike(b, loc, x, 1.0)));
}
MSDD_MAP_LOWERING(ScaleLowering, ScaleOp) {
  Value scaled =
      b.create<arith::MulFOp>(loc, args[0], constLike(b, loc, args[0], op.getFactor().convertToDouble()));
  return b.create<arith::AddFOp>(loc, scaled, constLike(b, loc, args[0], op.getBias().convertToDouble()));
}
MSDD_MAP_LOWERING(NoiseMixLowering, NoiseMixOp) {
  Value ax = b.create<arith::MulFOp>(loc, args[0], constLike(b, loc, args[0], op.getAlpha().convertToDouble()));
  Value bn = b.create<arith::MulFOp>(loc, args[1], constLike(b, loc, args[0], op.getBeta().convertToDouble()));
  return b.create<arith::AddFOp>(loc, ax, bn);
}
MSDD_MAP_LOWERING(EulerStepLowering, EulerStepOp) {
  double dt = op.getTTo().convertToDouble() - op.getTFrom().convertToDouble();
  return b.create<arith::AddFOp>(
      loc, args[0], b.create<arith::MulFOp>(loc, args[1], constLike(b, loc, args[0], dt)));
}
MSDD_MAP_LOWERING(CfgCombineLowering, CfgCombineOp) {
  Value diff = b.create<arith::SubFOp>(loc, args[1], args[0]);
  Value w = constLike(b, loc, args[0], op.getGuidanceScale().convertToDouble());
  return b.create<arith::AddFOp>(loc, args[0], b.create<arith::MulFOp>(loc, diff, w));
}
#undef MSDD_MAP_LOWERING

template <typename SourceOp>
struct ReduceLowering : OpRewritePattern<SourceOp> {
  using OpRewritePattern<SourceOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(SourceOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    constexpr bool isMax = std::is_same_v<SourceOp, ReduceMaxOp>;
    constexpr bool isMean = std::is_same_v<SourceOp, ReduceMeanOp>;
    ArrayRef<int64_t> axes = op.getAxes();
    Value reduced = buildReduction(
        rewriter, loc, op.getInput(), axes, isMax ? -INFINITY : 0.0,
        [](OpBuilder &b, Location l, ValueRange args) -> Value {
          if (isMax)
            return b.create<arith::MaximumFOp>(l, args[0], args[1]);
          return b.create<arith::AddFOp>(l, args[0], args[1]);
        });
    if (isMean) {
      int64_t count = 1;
      for (int64_t a : axes)
        count *= op.getInput().getType().getShape()[a];
      reduced = scaleTensor(rewriter, loc, reduced, 1.0 / count);
    }
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, reduced, op.getType().getShape()));
    return success();
  }
};

struct ReshapeLowering : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, reshapeTensor(rewriter, op.getLoc(), op.getInput(),
                                         op.getType().getShape()));
    return success();
  }
};

// Differentiation is over by now: the value passes through.
struct StopGradientLowering : OpRewritePattern<StopGradientOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(StopGradientOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getInput());
    return success();
  }
};

struct ConcatLowering : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op, PatternRewriter &rewriter) const override {
    if (op.getInputs().size() == 1)
      rewriter.replaceOp(op, op.getInputs()[0]);
    else
      rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, op.getType(), op.getAxis(),
                                                    op.getInputs());
    return success();
  }
};

struct SliceLowering : OpRewritePattern<SliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SliceOp op, PatternRewriter &rewriter) const override {
    ArrayRef<int64_t> shape = op.getType().getShape();
    SmallVector<int64_t> offsets(shape.size(), 0), strides(shape.size(), 1);
    offsets[op.getAxis()] = op.getStart();
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, op.getType(), op.getInput(), ValueRange{}, ValueRange{}, ValueRange{},
        rewriter.getDenseI64ArrayAttr(offsets), rewriter.getDenseI64ArrayAttr(shape),
        rewriter.getDenseI64ArrayAttr(strides));
    return success();
  }
};

struct TransposeLowering : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       transposeTensor(rewriter, op.getLoc(), op.getInput(), op.getPermutation()));
    return success();
  }
};

struct LinearLowering : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> x = op.getInput().getType().getShape();
    int64_t n = op.getWeight().getType().getShape()[0], k = x.back();
    int64_t m = op.getInput().getType().getNumElements() / k;
    Value x2 = reshapeTensor(rewriter, loc, op.getInput(), {m, k});
    // The product accumulates into the broadcast bias, saving a pass over the output.
    Value init;
    if (Value bias = op.getBias()) {
      MLIRContext *ctx = getContext();
      init = buildGeneric(rewriter, loc, bias, {AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx)},
                          emptyTensor(rewriter, loc, {m, n}, elementTypeOf(op.getInput())),
                          AffineMap::getMultiDimIdentityMap(2, ctx), 2, {},
                          [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    }
    Value y = buildMatmul(rewriter, loc, x2, op.getWeight(), /*transposeRhs=*/true, init);
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, y, op.getType().getShape()));
    return success();
  }
};

struct MatmulLowering : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildMatmul(rewriter, op.getLoc(), op.getLhs(), op.getRhs(),
                                       op.getTransposeRhs()));
    return success();
  }
};

/// [B, C, H, W] <-> [B, Hp, p, Wp, p, C] views used by patchify and unpatchify.
struct PatchifyLowering : OpRewritePattern<PatchifyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PatchifyOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> s = op.getInput().getType().getShape();
    int64_t p = op.getPatchSize(), hp = s[2] / p, wp = s[3] / p;
    Value six = reshapeTensor(rewriter, loc, op.getInput(), {s[0], s[1], hp, p, wp, p});
    // [B, C, Hp, py, Wp, px] -> [B, Hp, Wp, py, px, C]
    Value t = transposeTensor(rewriter, loc, six, {0, 2, 4, 3, 5, 1});
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, t, op.getType().getShape()));
    return success();
  }
};

struct UnpatchifyLowering : OpRewritePattern<UnpatchifyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(UnpatchifyOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> s = op.getType().getShape();
    int64_t p = op.getPatchSize(), hp = s[2] / p, wp = s[3] / p;
    Value six = reshapeTensor(rewriter, loc, op.getInput(), {s[0], hp, wp, p, p, s[1]});
    // [B, Hp, Wp, py, px, C] -> [B, C, Hp, py, Wp, px]
    Value t = transposeTensor(rewriter, loc, six, {0, 5, 1, 3, 2, 4});
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, t, s));
    return success();
  }
};

/// Mean over the last dim of `x`, as a tensor without that dim.
Value meanOverLastDim(OpBuilder &b, Location loc, Value x, bool squared) {
  ArrayRef<int64_t> shape = tensorType(x).getShape();
  int64_t last = shape.size() - 1;
  double inv = 1.0 / shape.back();
  Value sum = buildReduction(b, loc, x, {last}, 0.0,
                             [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               Value v = squared ? squareOf(nb, l, args[1]) : args[1];
                               return nb.create<arith::AddFOp>(l, args[0], v);
                             });
  return scaleTensor(b, loc, sum, inv);
}

/// `(x - center) * rsqrt(meanSq + eps) [* weight] [+ bias]` over the last dim, statistics
/// broadcast over it.
Value normalize(OpBuilder &b, Location loc, Value x, Value center, Value meanSq, double eps,
                Value weight, Value bias) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType type = tensorType(x);
  unsigned rank = type.getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap stat = droppingMap(ctx, rank, {rank - 1});
  AffineMap param = AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, ctx)}, ctx);
  SmallVector<Value> inputs{x, meanSq};
  SmallVector<AffineMap> maps{id, stat};
  if (center) {
    inputs.push_back(center);
    maps.push_back(stat);
  }
  int weightIdx = -1, biasIdx = -1;
  if (weight) {
    weightIdx = inputs.size();
    inputs.push_back(weight);
    maps.push_back(param);
  }
  if (bias) {
    biasIdx = inputs.size();
    inputs.push_back(bias);
    maps.push_back(param);
  }
  bool centered = static_cast<bool>(center);
  return buildGeneric(
      b, loc, inputs, maps, emptyTensor(b, loc, type.getShape(), type.getElementType()), id, rank,
      {}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value v = centered ? nb.create<arith::SubFOp>(l, args[0], args[2]) : args[0];
        Value r = nb.create<math::RsqrtOp>(
            l, nb.create<arith::AddFOp>(l, args[1], constLike(nb, l, args[0], eps)));
        Value y = nb.create<arith::MulFOp>(l, v, r);
        if (weightIdx >= 0)
          y = nb.create<arith::MulFOp>(l, y, args[weightIdx]);
        if (biasIdx >= 0)
          y = nb.create<arith::AddFOp>(l, y, args[biasIdx]);
        return y;
      });
}

struct LayerNormLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    unsigned rank = op.getInput().getType().getRank();
    Value mean = meanOverLastDim(rewriter, loc, x, /*squared=*/false);
    // Two-pass variance: mean((x - mean)^2), robust where mean^2 >> var.
    MLIRContext *ctx = getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    Value centered = buildGeneric(
        rewriter, loc, ValueRange{x, mean}, {id, droppingMap(ctx, rank, {rank - 1})},
        emptyTensor(rewriter, loc, op.getType().getShape(), elementTypeOf(x)), id, rank, {},
        [](OpBuilder &b, Location l, ValueRange args) -> Value {
          return b.create<arith::SubFOp>(l, args[0], args[1]);
        });
    Value var = meanOverLastDim(rewriter, loc, centered, /*squared=*/true);
    rewriter.replaceOp(op, normalize(rewriter, loc, x, mean, var,
                                     op.getEpsilon().convertToDouble(), op.getWeight(),
                                     op.getBias()));
    return success();
  }
};

struct RmsNormLowering : OpRewritePattern<RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RmsNormOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value ms = meanOverLastDim(rewriter, loc, op.getInput(), /*squared=*/true);
    rewriter.replaceOp(op, normalize(rewriter, loc, op.getInput(), {}, ms,
                                     op.getEpsilon().convertToDouble(), op.getWeight(), {}));
    return success();
  }
};

/// Numerically stable softmax of `x` along `axis`.
Value buildSoftmax(OpBuilder &b, Location loc, Value x, int64_t axis) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType type = tensorType(x);
  unsigned rank = type.getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap stat = droppingMap(ctx, rank, {axis});
  Value max = buildReduction(b, loc, x, {axis}, -INFINITY,
                             [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               return nb.create<arith::MaximumFOp>(l, args[0], args[1]);
                             });
  Value e = buildGeneric(b, loc, ValueRange{x, max}, {id, stat},
                         emptyTensor(b, loc, type.getShape(), type.getElementType()), id, rank, {},
                         [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                           return nb.create<math::ExpOp>(
                               l, nb.create<arith::SubFOp>(l, args[0], args[1]));
                         });
  Value sum = buildReduction(b, loc, e, {axis}, 0.0,
                             [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               return nb.create<arith::AddFOp>(l, args[0], args[1]);
                             });
  return buildGeneric(b, loc, ValueRange{e, sum}, {id, stat},
                      emptyTensor(b, loc, type.getShape(), type.getElementType()), id, rank, {},
                      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                        return nb.create<arith::DivFOp>(l, args[0], args[1]);
                      });
}

struct SoftmaxLowering : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SoftmaxOp op, PatternRewriter &rewriter) const override {
    int64_t axis = op.getAxis();
    if (axis < 0)
      axis += op.getType().getRank();
    rewriter.replaceOp(op, buildSoftmax(rewriter, op.getLoc(), op.getInput(), axis));
    return success();
  }
};

/// softmax(s Q K^T + mask) V, arranged so that no pass over the L x L scores does more than
/// it must: Q is scaled before the product (L x d, not L x L, elements), and the softmax's
/// normalization is applied to the L x d product, (e V) / sum(e), instead of to e.
struct AttentionLowering : OpRewritePattern<AttentionOp> {
  /// `factors`: the flash kernel's, f16, tf32 or tf32x3 (f32 factors split in the kernel).
  AttentionLowering(MLIRContext *ctx, bool flash, StringRef factors)
      : OpRewritePattern(ctx), flash(flash), tf32(factors != "f16"), split(factors == "tf32x3") {}

  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    ArrayRef<int64_t> q = op.getQuery().getType().getShape();
    double scale = op.getScale() ? op.getScale()->convertToDouble() : 1.0 / std::sqrt(q[3]);
    // Up to 128 head dimensions: the kernel keeps a warp's rows of Q and of the output in
    // registers.
    int64_t valueDim = op.getValue().getType().getShape()[3];
    if (flash && !op.getMask() && op.getType().getElementType().isF32() &&
        q[3] % (tf32 ? 8 : 16) == 0 && q[3] <= 128 && valueDim % 8 == 0 && valueDim <= 128) {
      // f16, not bf16: three more mantissa bits for the same tensor-core rate; q and k are
      // normalized and the softmax's weights lie in [0, 1], far inside f16's range. TF32
      // factors stay f32 in memory: the kernel rounds them as it loads them.
      auto toF16 = [&](Value v) {
        if (tf32)
          return v;
        RankedTensorType type = tensorType(v);
        return buildElementwise(rewriter, loc, RankedTensorType::get(type.getShape(), rewriter.getF16Type()),
                                v, [](OpBuilder &b, Location l, ValueRange args) -> Value {
                                  return b.create<arith::TruncFOp>(l, b.getF16Type(), args[0]);
                                });
      };
      Value query16 = toF16(op.getQuery());
      Value key16 = toF16(op.getKey());
      Value value16 = toF16(op.getValue());
      Value init = emptyTensor(rewriter, loc, op.getType().getShape(), rewriter.getF32Type());
      rewriter.replaceOpWithNewOp<FlashAttentionOp>(op, TypeRange{op.getType()}, query16, key16,
                                                    value16, init, rewriter.getF64FloatAttr(scale),
                                                    split ? rewriter.getUnitAttr() : nullptr);
      return success();
    }
    Value query = buildElementwise(rewriter, loc, tensorType(op.getQuery()), op.getQuery(),
                                   [&](OpBuilder &b, Location l, ValueRange args) -> Value {
                                     return b.create<arith::MulFOp>(
                                         l, args[0], constLike(b, l, args[0], scale));
                                   });
    Value logits = buildMatmul(rewriter, loc, query, op.getKey(), /*transposeRhs=*/true);
    RankedTensorType scoresType = tensorType(logits);
    if (op.getMask())
      logits = buildElementwise(rewriter, loc, scoresType, ValueRange{logits, op.getMask()},
                                [](OpBuilder &b, Location l, ValueRange args) -> Value {
                                  return b.create<arith::AddFOp>(l, args[0], args[1]);
                                });
    // Numerically stable: e = exp(logits - max) <= 1 (as buildSoftmax).
    unsigned rank = scoresType.getRank();
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap stat = droppingMap(ctx, rank, {3});
    Value max = buildReduction(rewriter, loc, logits, {3}, -INFINITY,
                               [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                 return nb.create<arith::MaximumFOp>(l, args[0], args[1]);
                               });
    Value e = buildGeneric(rewriter, loc, ValueRange{logits, max}, {id, stat},
                           emptyTensor(rewriter, loc, scoresType.getShape(),
                                       scoresType.getElementType()),
                           id, rank, {}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                             return nb.create<math::ExpOp>(
                                 l, nb.create<arith::SubFOp>(l, args[0], args[1]));
                           });
    Value sum = buildReduction(rewriter, loc, e, {3}, 0.0,
                               [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                                 return nb.create<arith::AddFOp>(l, args[0], args[1]);
                               });
    Value unnormalized = buildMatmul(rewriter, loc, e, op.getValue(), false);
    RankedTensorType outType = tensorType(unnormalized);
    Value out = buildGeneric(rewriter, loc, ValueRange{unnormalized, sum}, {id, stat},
                             emptyTensor(rewriter, loc, outType.getShape(),
                                         outType.getElementType()),
                             id, rank, {}, [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               return nb.create<arith::DivFOp>(l, args[0], args[1]);
                             });
    rewriter.replaceOp(op, out);
    return success();
  }

private:
  bool flash, tf32, split;
};

struct Rope2dLowering : OpRewritePattern<Rope2dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(Rope2dOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    ArrayRef<int64_t> s = op.getType().getShape();
    int64_t d = s[3], quarter = d / 4;
    double logTheta = std::log(op.getTheta().convertToDouble());
    int64_t gridWidth = op.getGridWidth();
    bool inverse = op.getInverse();
    double rowStep = op.getRowStep().convertToDouble(), colStep = op.getColStep().convertToDouble();
    double rowOffset = op.getRowOffset().convertToDouble(), colOffset = op.getColOffset().convertToDouble();
    // View the head dim as pairs: [B, H, L, D/2, 2]; a loop over (b, h, l, j, c) reads both
    // members of pair j through constant indices.
    Value pairs = reshapeTensor(rewriter, loc, op.getInput(), {s[0], s[1], s[2], d / 2, 2});
    auto dims = [&](int64_t c) {
      SmallVector<AffineExpr> e;
      for (unsigned i = 0; i < 4; ++i)
        e.push_back(getAffineDimExpr(i, ctx));
      e.push_back(getAffineConstantExpr(c, ctx));
      return AffineMap::get(5, 0, e, ctx);
    };
    Value out = buildGeneric(
        rewriter, loc, ValueRange{pairs, pairs}, {dims(0), dims(1)},
        emptyTensor(rewriter, loc, {s[0], s[1], s[2], d / 2, 2}, elementTypeOf(op.getInput())),
        AffineMap::getMultiDimIdentityMap(5, ctx), 5, {},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value token = b.create<linalg::IndexOp>(l, 2);
          Value j = b.create<linalg::IndexOp>(l, 3);
          Value c = b.create<linalg::IndexOp>(l, 4);
          Value width = b.create<arith::ConstantIndexOp>(l, gridWidth);
          Value quarterIdx = b.create<arith::ConstantIndexOp>(l, quarter);
          Value isRow = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ult, j, quarterIdx);
          Type ft = elementTypeOf(args[0]);
          // The token's place along one grid axis: offset + step * index.
          auto place = [&](Value index, double step, double offset) -> Value {
            Value p = indexAsFloat(b, l, index, ft);
            if (step != 1)
              p = b.create<arith::MulFOp>(l, p, constFloat(b, l, ft, step));
            if (offset != 0)
              p = b.create<arith::AddFOp>(l, p, constFloat(b, l, ft, offset));
            return p;
          };
          Value pos = b.create<arith::SelectOp>(
              l, isRow, place(b.create<arith::DivUIOp>(l, token, width), rowStep, rowOffset),
              place(b.create<arith::RemUIOp>(l, token, width), colStep, colOffset));
          Value i = b.create<arith::SelectOp>(l, isRow, j,
                                              b.create<arith::SubIOp>(l, j, quarterIdx));
          // freq = theta^(-i / quarter), i.e. theta^(-2i / (D/2)).
          Value freq = b.create<math::ExpOp>(
              l, b.create<arith::MulFOp>(l, indexAsFloat(b, l, i, ft),
                                         constLike(b, l, args[0], -logTheta / quarter)));
          Value angle = b.create<arith::MulFOp>(l, pos, freq);
          Value cs = b.create<math::CosOp>(l, angle), sn = b.create<math::SinOp>(l, angle);
          if (inverse)
            sn = b.create<arith::NegFOp>(l, sn);
          Value x0 = args[0], x1 = args[1];
          Value first = b.create<arith::SubFOp>(l, b.create<arith::MulFOp>(l, x0, cs),
                                                b.create<arith::MulFOp>(l, x1, sn));
          Value second = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, x1, cs),
                                                 b.create<arith::MulFOp>(l, x0, sn));
          Value isFirst = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, c,
                                                  b.create<arith::ConstantIndexOp>(l, 0));
          return b.create<arith::SelectOp>(l, isFirst, first, second);
        });
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, out, s));
    return success();
  }
};

struct ModulateLowering : OpRewritePattern<ModulateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ModulateOp op, PatternRewriter &rewriter) const override {
    MLIRContext *ctx = getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
    AffineMap perSample = droppingMap(ctx, 3, {1});
    Value out = buildGeneric(
        rewriter, op.getLoc(), op->getOperands(), {id, perSample, perSample},
        emptyTensor(rewriter, op.getLoc(), op.getType().getShape(), elementTypeOf(op.getInput())), id, 3,
        {}, [](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value onePlus = b.create<arith::AddFOp>(l, args[2], constLike(b, l, args[0], 1.0));
          return b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, args[0], onePlus), args[1]);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

struct TimestepEmbeddingLowering : OpRewritePattern<TimestepEmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TimestepEmbeddingOp op, PatternRewriter &rewriter) const override {
    MLIRContext *ctx = getContext();
    int64_t half = op.getType().getShape()[1] / 2;
    double logPeriod = std::log(op.getMaxPeriod().convertToDouble());
    double scale = op.getScale().convertToDouble();
    Value out = buildGeneric(
        rewriter, op.getLoc(), op.getTimesteps(), {droppingMap(ctx, 2, {1})},
        emptyTensor(rewriter, op.getLoc(), op.getType().getShape(), elementTypeOf(op.getTimesteps())),
        AffineMap::getMultiDimIdentityMap(2, ctx), 2, {},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          // In f64: arguments reach t * scale = 1000 rad, where an f32 ulp is 6e-5.
          Type f64 = b.getF64Type();
          auto c64 = [&](double v) -> Value {
            return b.create<arith::ConstantOp>(l, b.getF64FloatAttr(v));
          };
          Value j = b.create<linalg::IndexOp>(l, 1);
          Value halfIdx = b.create<arith::ConstantIndexOp>(l, half);
          Value isCos = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ult, j, halfIdx);
          Value i = b.create<arith::SelectOp>(l, isCos, j, b.create<arith::SubIOp>(l, j, halfIdx));
          Value iF = b.create<arith::SIToFPOp>(
              l, f64, b.create<arith::IndexCastOp>(l, b.getI64Type(), i));
          Value freq = b.create<math::ExpOp>(l, b.create<arith::MulFOp>(l, iF, c64(-logPeriod / half)));
          Value t = args[0].getType() == f64 ? args[0] : b.create<arith::ExtFOp>(l, f64, args[0]);
          Value arg = b.create<arith::MulFOp>(l, b.create<arith::MulFOp>(l, t, c64(scale)), freq);
          Value v = b.create<arith::SelectOp>(l, isCos, b.create<math::CosOp>(l, arg),
                                              b.create<math::SinOp>(l, arg));
          Type resultType = elementTypeOf(args[0]);
          return resultType == f64 ? v : b.create<arith::TruncFOp>(l, resultType, v);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// Loops over [B, C, H, f, W, f]: the input of upsampling is read through (b, c, h, w).
struct UpsampleNearestLowering : OpRewritePattern<UpsampleNearestOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(UpsampleNearestOp op, PatternRewriter &rewriter) const override {
    MLIRContext *ctx = getContext();
    ArrayRef<int64_t> s = op.getInput().getType().getShape();
    int64_t f = op.getFactor();
    Value out = buildGeneric(
        rewriter, op.getLoc(), op.getInput(), {droppingMap(ctx, 6, {3, 5})},
        emptyTensor(rewriter, op.getLoc(), {s[0], s[1], s[2], f, s[3], f}, elementTypeOf(op.getInput())),
        AffineMap::getMultiDimIdentityMap(6, ctx), 6, {},
        [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    rewriter.replaceOp(op, reshapeTensor(rewriter, op.getLoc(), out, op.getType().getShape()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

/// `input` placed at `offsets` (with `strides`) in a zero tensor of `shape`.
Value placeInZeros(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> shape,
                   ArrayRef<int64_t> offsets, ArrayRef<int64_t> strides) {
  Value zeros = filledTensor(b, loc, shape, elementTypeOf(input), 0.0);
  return b.create<tensor::InsertSliceOp>(
      loc, input, zeros, ValueRange{}, ValueRange{}, ValueRange{}, b.getDenseI64ArrayAttr(offsets),
      b.getDenseI64ArrayAttr(tensorType(input).getShape()), b.getDenseI64ArrayAttr(strides));
}

/// Ungrouped: im2col then one matrix product (the runtime's BLAS). cols[n, o..., c, j...] =
/// in[n, c, o stride + j dil] is [N P, C K] (P output points, K kernel taps); times w [M, C K]
/// transposed gives [N, P, M], transposed to [N, M, o...].
Value convIm2col(OpBuilder &b, Location loc, Value in, Value w, ArrayRef<int64_t> outSpatial,
                 ArrayRef<int64_t> stride, ArrayRef<int64_t> dil) {
  ArrayRef<int64_t> ws = tensorType(w).getShape();
  int64_t S = ws.size() - 2, N = tensorType(in).getShape()[0], M = ws[0], C = ws[1];
  int64_t P = 1, K = 1;
  unsigned numLoops = 2 + 2 * S; // n, o..., c, j...
  auto dim = [&](int64_t i) { return b.getAffineDimExpr(i); };
  SmallVector<AffineExpr> inE = {dim(0), dim(1 + S)};
  SmallVector<int64_t> colsShape = {N};
  for (int64_t i = 0; i < S; ++i) {
    inE.push_back(dim(1 + i) * stride[i] + dim(2 + S + i) * dil[i]);
    colsShape.push_back(outSpatial[i]);
    P *= outSpatial[i];
    K *= ws[2 + i];
  }
  colsShape.push_back(C);
  colsShape.append(ws.begin() + 2, ws.end());
  MLIRContext *ctx = b.getContext();
  Value cols = buildGeneric(b, loc, {in}, {AffineMap::get(numLoops, 0, inE, ctx)},
                            emptyTensor(b, loc, colsShape, elementTypeOf(in)),
                            AffineMap::getMultiDimIdentityMap(numLoops, ctx), numLoops, {},
                            [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
  Value product = buildMatmul(b, loc, reshapeTensor(b, loc, cols, {N * P, C * K}),
                              reshapeTensor(b, loc, w, {M, C * K}), /*transposeRhs=*/true);
  Value channelsFirst =
      transposeTensor(b, loc, reshapeTensor(b, loc, product, {N, P, M}), {0, 2, 1});
  SmallVector<int64_t> outShape = {N, M};
  outShape.append(outSpatial.begin(), outSpatial.end());
  return reshapeTensor(b, loc, channelsFirst, outShape);
}

/// out[n, g, m, o...] = sum_{c, j...} in[n, g Cg + c, o stride + j dil] w[g Mg + m, c, j...],
/// returned as [N, G Mg, o...]; `in` is already padded. Grouped convolutions are one
/// contraction whose indexing maps are monotonic and have no constant term (tiling needs
/// both); ungrouped ones go through im2col and BLAS.
Value convGeneric(OpBuilder &b, Location loc, Value in, Value w, ArrayRef<int64_t> outSpatial,
                  int64_t groups, ArrayRef<int64_t> stride, ArrayRef<int64_t> dil) {
  if (groups == 1)
    return convIm2col(b, loc, in, w, outSpatial, stride, dil);
  ArrayRef<int64_t> ws = tensorType(w).getShape();
  int64_t S = ws.size() - 2, N = tensorType(in).getShape()[0];
  int64_t Mg = ws[0] / groups, Cg = ws[1];
  unsigned numLoops = 3 + S + 1 + S; // n, g, m, o..., c, j...
  auto dim = [&](int64_t i) { return b.getAffineDimExpr(i); };
  AffineExpr n = dim(0), g = dim(1), m = dim(2), c = dim(3 + S);
  SmallVector<AffineExpr> inE = {n, g * Cg + c}, wE = {g * Mg + m, c}, outE = {n, g, m};
  SmallVector<unsigned> reductions = {unsigned(3 + S)};
  for (int64_t i = 0; i < S; ++i) {
    AffineExpr o = dim(3 + i), j = dim(4 + S + i);
    inE.push_back(o * stride[i] + j * dil[i]);
    wE.push_back(j);
    outE.push_back(o);
    reductions.push_back(4 + S + i);
  }
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> outShape = {N, groups, Mg};
  outShape.append(outSpatial.begin(), outSpatial.end());
  Value init = filledTensor(b, loc, outShape, elementTypeOf(in), 0.0);
  Value out = buildGeneric(
      b, loc, {in, w}, {AffineMap::get(numLoops, 0, inE, ctx), AffineMap::get(numLoops, 0, wE, ctx)},
      init, AffineMap::get(numLoops, 0, outE, ctx), numLoops, reductions,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        return nb.create<arith::AddFOp>(l, a[2], nb.create<arith::MulFOp>(l, a[0], a[1]));
      });
  SmallVector<int64_t> flat = {N, groups * Mg};
  flat.append(outSpatial.begin(), outSpatial.end());
  return reshapeTensor(b, loc, out, flat);
}

struct ConvLowering : OpRewritePattern<ConvOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    ArrayRef<int64_t> xs = tensorType(x).getShape(), ys = op.getType().getShape();
    ArrayRef<int64_t> pb = op.getPadsBegin(), pe = op.getPadsEnd();
    if (llvm::any_of(pb, [](int64_t v) { return v; }) || llvm::any_of(pe, [](int64_t v) { return v; })) {
      SmallVector<int64_t> shape = {xs[0], xs[1]}, offsets = {0, 0}, ones(xs.size(), 1);
      for (size_t i = 2; i < xs.size(); ++i) {
        shape.push_back(xs[i] + pb[i - 2] + pe[i - 2]);
        offsets.push_back(pb[i - 2]);
      }
      x = placeInZeros(rewriter, loc, x, shape, offsets, ones);
    }
    rewriter.replaceOp(op, convGeneric(rewriter, loc, x, op.getWeight(), ys.drop_front(2),
                                       op.getGroups(), op.getStrides(), op.getDilations()));
    return success();
  }
};

/// The input zero-stuffed (x[o] at lead + keff - 1 + o stride), then a stride-1 convolution
/// with the flipped kernel read from pads_begin + lead, lead >= 0 making that start >= 0.
struct ConvTransposeLowering : OpRewritePattern<ConvTransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvTransposeOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput(), w = op.getWeight();
    ArrayRef<int64_t> xs = tensorType(x).getShape(), ws = tensorType(w).getShape();
    ArrayRef<int64_t> ys = op.getType().getShape(), strides = op.getStrides(),
                      dil = op.getDilations(), pb = op.getPadsBegin();
    int64_t S = xs.size() - 2, G = op.getGroups(), Cg = xs[1] / G, Mg = ws[1];
    SmallVector<int64_t> stuffed = {xs[0], xs[1]}, offsets = {0, 0}, steps = {1, 1};
    SmallVector<int64_t> start = {0, 0}, size = {xs[0], xs[1]}, ones(S + 2, 1), kernel;
    for (int64_t i = 0; i < S; ++i) {
      int64_t keff = (ws[2 + i] - 1) * dil[i] + 1, lead = std::max<int64_t>(0, -pb[i]);
      int64_t natural = strides[i] * (xs[2 + i] - 1) + keff;
      int64_t extent = std::max(natural, ys[2 + i] + pb[i]) + lead + keff - 1;
      stuffed.push_back(extent);
      offsets.push_back(lead + keff - 1);
      steps.push_back(strides[i]);
      start.push_back(pb[i] + lead);
      size.push_back(extent - pb[i] - lead);
      kernel.push_back(ws[2 + i]);
    }
    Value u = placeInZeros(rewriter, loc, x, stuffed, offsets, steps);
    MLIRContext *ctx = rewriter.getContext();
    u = rewriter.create<tensor::ExtractSliceOp>(loc, u, getAsIndexOpFoldResult(ctx, start),
                                                getAsIndexOpFoldResult(ctx, size),
                                                getAsIndexOpFoldResult(ctx, ones));
    // flipped[g Mg + m, c, j] = w[g Cg + c, m, k - 1 - j]: a gather (weights are small).
    SmallVector<int64_t> flippedShape = {G * Mg, Cg};
    flippedShape.append(kernel);
    int64_t rank = flippedShape.size();
    Value init = emptyTensor(rewriter, loc, flippedShape, elementTypeOf(w));
    auto flip = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
        SmallVector<AffineMap>{rewriter.getMultiDimIdentityMap(rank)},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange) {
          auto cst = [&](int64_t v) { return nb.create<arith::ConstantIndexOp>(l, v); };
          Value row = nb.create<linalg::IndexOp>(l, 0);
          Value g = nb.create<arith::DivUIOp>(l, row, cst(Mg));
          Value m = nb.create<arith::RemUIOp>(l, row, cst(Mg));
          Value c = nb.create<linalg::IndexOp>(l, 1);
          SmallVector<Value> at = {
              nb.create<arith::AddIOp>(l, nb.create<arith::MulIOp>(l, g, cst(Cg)), c), m};
          for (int64_t i = 0; i < S; ++i)
            at.push_back(nb.create<arith::SubIOp>(l, cst(kernel[i] - 1),
                                                  nb.create<linalg::IndexOp>(l, 2 + i)));
          nb.create<linalg::YieldOp>(l, nb.create<tensor::ExtractOp>(l, w, at).getResult());
        });
    SmallVector<int64_t> unit(S, 1);
    rewriter.replaceOp(op, convGeneric(rewriter, loc, u, flip.getResult(0), ys.drop_front(2), G,
                                       unit, dil));
    return success();
  }
};

/// Mean of each f x f block, through the view [B, C, Ho, f, Wo, f].
Value blockMean(OpBuilder &b, Location loc, Value image, int64_t f) {
  ArrayRef<int64_t> s = tensorType(image).getShape();
  Value six = reshapeTensor(b, loc, image, {s[0], s[1], s[2] / f, f, s[3] / f, f});
  Value sum = buildReduction(b, loc, six, {3, 5}, 0.0,
                             [](OpBuilder &nb, Location l, ValueRange args) -> Value {
                               return nb.create<arith::AddFOp>(l, args[0], args[1]);
                             });
  double inv = 1.0 / (f * f);
  return scaleTensor(b, loc, sum, inv);
}

struct DownsampleLowering : OpRewritePattern<DownsampleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DownsampleOp op, PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, blockMean(rewriter, op.getLoc(), op.getInput(), op.getFactor()));
    return success();
  }
};

/// The factors of the block noise: sqrt(a) for the deviation from the block mean, sqrt(a + 4b)
/// for the mean (see BlockNoiseOp).
std::pair<double, double> blockNoiseScales(double gamma, StringRef covariance) {
  bool pyramidal = covariance == "pyramidal";
  double a = pyramidal ? 1 + gamma : 1 - gamma, b = pyramidal ? -gamma : gamma;
  return {std::sqrt(a), std::sqrt(std::max(0.0, a + 4 * b))};
}

/// n = sqrt(a) (z - m) + sqrt(a + 4b) m per 2x2 block, m the block mean of z: the projection
/// onto the block's all-ones direction gets variance a + 4b, its complement a.
struct BlockNoiseLowering : OpRewritePattern<BlockNoiseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BlockNoiseOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto [sOrth, sMean] = blockNoiseScales(op.getGamma().convertToDouble(), op.getCovariance());
    ArrayRef<int64_t> s = op.getType().getShape();
    Value mean = blockMean(rewriter, loc, op.getInput(), 2);
    Value six = reshapeTensor(rewriter, loc, op.getInput(), {s[0], s[1], s[2] / 2, 2, s[3] / 2, 2});
    AffineMap id = AffineMap::getMultiDimIdentityMap(6, ctx);
    Value out = buildGeneric(
        rewriter, loc, ValueRange{six, mean}, {id, droppingMap(ctx, 6, {3, 5})},
        emptyTensor(rewriter, loc, tensorType(six).getShape(), elementTypeOf(op.getInput())), id, 6, {},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value dev = b.create<arith::SubFOp>(l, args[0], args[1]);
          return b.create<arith::AddFOp>(
              l, b.create<arith::MulFOp>(l, dev, constLike(b, l, args[0], sOrth)),
              b.create<arith::MulFOp>(l, args[1], constLike(b, l, args[0], sMean)));
        });
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, out, s));
    return success();
  }
};

/// The two standard normals (cos and sin branches of Box-Muller, f32) that Philox 4x32-10
/// block `pairIndex` (i64) gives for `(seed, step, stream)`: elements 2k and 2k + 1 of a
/// random_normal tensor. See the op description for the stream layout.
std::pair<Value, Value> philoxNormalPair(OpBuilder &b, Location l, Value seed, Value step,
                                         uint32_t stream, Value pairIndex) {
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  auto trunc = [&](Value v) -> Value { return b.create<arith::TruncIOp>(l, i32, v); };
  auto hi = [&](Value v) -> Value {
    return trunc(b.create<arith::ShRUIOp>(l, v, b.create<arith::ConstantIntOp>(l, 32, i64)));
  };
  auto c32 = [&](uint32_t v) -> Value {
    return b.create<arith::ConstantIntOp>(l, static_cast<int32_t>(v), i32);
  };
  Value ctr[4] = {trunc(pairIndex), hi(pairIndex), trunc(step), c32(stream)};
  Value key[2] = {trunc(seed), hi(seed)};
  for (int round = 0; round < 10; ++round) {
    auto p0 = b.create<arith::MulUIExtendedOp>(l, c32(0xD2511F53u), ctr[0]);
    auto p1 = b.create<arith::MulUIExtendedOp>(l, c32(0xCD9E8D57u), ctr[2]);
    Value next[4] = {
        b.create<arith::XOrIOp>(l, b.create<arith::XOrIOp>(l, p1.getHigh(), ctr[1]), key[0]),
        p1.getLow(),
        b.create<arith::XOrIOp>(l, b.create<arith::XOrIOp>(l, p0.getHigh(), ctr[3]), key[1]),
        p0.getLow()};
    std::copy(std::begin(next), std::end(next), std::begin(ctr));
    key[0] = b.create<arith::AddIOp>(l, key[0], c32(0x9E3779B9u));
    key[1] = b.create<arith::AddIOp>(l, key[1], c32(0xBB67AE85u));
  }
  // 24-bit uniforms: u1 in (0, 1] (log-safe), u2 in [0, 1).
  auto top24 = [&](Value w) -> Value {
    return b.create<arith::UIToFPOp>(l, f32, b.create<arith::ShRUIOp>(l, w, c32(8)));
  };
  Value inv24 = constFloat(b, l, f32, 1.0 / 16777216.0);
  Value u1 = b.create<arith::MulFOp>(
      l, b.create<arith::AddFOp>(l, top24(ctr[0]), constFloat(b, l, f32, 1.0)), inv24);
  Value u2 = b.create<arith::MulFOp>(l, top24(ctr[1]), inv24);
  Value r = b.create<math::SqrtOp>(
      l, b.create<arith::MulFOp>(l, b.create<math::LogOp>(l, u1), constFloat(b, l, f32, -2.0)));
  Value theta = b.create<arith::MulFOp>(l, u2, constFloat(b, l, f32, 2.0 * M_PI));
  return {b.create<arith::MulFOp>(l, r, b.create<math::CosOp>(l, theta)),
          b.create<arith::MulFOp>(l, r, b.create<math::SinOp>(l, theta))};
}

/// Row-major linear index (i64) of `indices` in `shape`.
Value linearIndex(OpBuilder &b, Location l, ValueRange indices, ArrayRef<int64_t> shape) {
  Type i64 = b.getI64Type();
  Value linear = b.create<arith::ConstantIntOp>(l, 0, i64);
  int64_t stride = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    Value idx = indices[d].getType().isIndex()
                    ? b.create<arith::IndexCastOp>(l, i64, indices[d]).getResult()
                    : indices[d];
    linear = b.create<arith::AddIOp>(
        l, linear, b.create<arith::MulIOp>(l, idx, b.create<arith::ConstantIntOp>(l, stride, i64)));
    stride *= shape[d];
  }
  return linear;
}

/// Sampled in f32 on every target; widened for f64 results.
Value widen(OpBuilder &b, Location l, Value sample, Type type) {
  return type == sample.getType() ? sample : b.create<arith::ExtFOp>(l, type, sample);
}

struct RandomNormalLowering : OpRewritePattern<RandomNormalOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RandomNormalOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    uint32_t stream = static_cast<uint32_t>(op.getStream());
    Value out = buildGeneric(
        rewriter, loc, ValueRange{}, {}, emptyTensor(rewriter, loc, type.getShape(), type.getElementType()),
        AffineMap::getMultiDimIdentityMap(rank, getContext()), rank, {},
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          SmallVector<Value> indices;
          for (unsigned d = 0; d < rank; ++d)
            indices.push_back(b.create<linalg::IndexOp>(l, d));
          Value linear = linearIndex(b, l, indices, type.getShape());
          Value pair = b.create<arith::ShRUIOp>(l, linear, b.create<arith::ConstantIntOp>(l, 1, 64));
          auto [even, odd] = philoxNormalPair(b, l, op.getSeed(), op.getStep(), stream, pair);
          Value isOdd = b.create<arith::TruncIOp>(l, b.getI1Type(), linear);
          Value sample = b.create<arith::SelectOp>(l, isOdd, odd, even);
          return widen(b, l, sample, type.getElementType());
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// One generic over the result viewed as [B, C, H, 2, W, 2] (H x W the input): each point
/// reads its input pixel and draws its 2x2 block's four normals (two Philox blocks, rows
/// 2h and 2h + 1), in the same order of operations as the unfused chain.
struct ScaleTransitionLowering : OpRewritePattern<ScaleTransitionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScaleTransitionOp op, PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    ArrayRef<int64_t> in = op.getInput().getType().getShape();
    ArrayRef<int64_t> outShape = op.getType().getShape();
    Type element = op.getType().getElementType();
    auto [sOrth, sMean] = blockNoiseScales(op.getGamma().convertToDouble(), op.getCovariance());
    double alpha = op.getAlpha().convertToDouble(), beta = op.getBeta().convertToDouble();
    uint32_t stream = static_cast<uint32_t>(op.getStream());
    SmallVector<int64_t> six{in[0], in[1], in[2], 2, in[3], 2};
    Value out = buildGeneric(
        rewriter, loc, op.getInput(), {droppingMap(ctx, 6, {3, 5})},
        emptyTensor(rewriter, loc, six, element), AffineMap::getMultiDimIdentityMap(6, ctx), 6, {},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Type i64 = b.getI64Type();
          auto c64 = [&](int64_t v) -> Value { return b.create<arith::ConstantIntOp>(l, v, i64); };
          auto index = [&](unsigned d) -> Value {
            return b.create<arith::IndexCastOp>(l, i64, b.create<linalg::IndexOp>(l, d));
          };
          Value batch = index(0), channel = index(1), h = index(2), i = index(3), w = index(4),
                j = index(5);
          Value row0 = b.create<arith::MulIOp>(l, h, c64(2));
          Value col0 = b.create<arith::MulIOp>(l, w, c64(2));
          // z[r][c]: the noise at (2h + r, 2w + c); a row's pair shares one Philox block.
          Value z[2][2];
          for (int r = 0; r < 2; ++r) {
            Value row = b.create<arith::AddIOp>(l, row0, c64(r));
            Value linear = linearIndex(b, l, {batch, channel, row, col0}, outShape);
            Value pair = b.create<arith::ShRUIOp>(l, linear, c64(1));
            auto [even, odd] = philoxNormalPair(b, l, op.getSeed(), op.getStep(), stream, pair);
            z[r][0] = widen(b, l, even, element);
            z[r][1] = widen(b, l, odd, element);
          }
          Value sum = constFloat(b, l, element, 0.0);
          for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 2; ++c)
              sum = b.create<arith::AddFOp>(l, sum, z[r][c]);
          Value mean = b.create<arith::MulFOp>(l, sum, constFloat(b, l, element, 0.25));
          Value i1 = b.create<arith::TruncIOp>(l, b.getI1Type(), i);
          Value j1 = b.create<arith::TruncIOp>(l, b.getI1Type(), j);
          Value own = b.create<arith::SelectOp>(
              l, i1, b.create<arith::SelectOp>(l, j1, z[1][1], z[1][0]),
              b.create<arith::SelectOp>(l, j1, z[0][1], z[0][0]));
          Value dev = b.create<arith::SubFOp>(l, own, mean);
          Value noise = b.create<arith::AddFOp>(
              l, b.create<arith::MulFOp>(l, dev, constFloat(b, l, element, sOrth)),
              b.create<arith::MulFOp>(l, mean, constFloat(b, l, element, sMean)));
          return b.create<arith::AddFOp>(
              l, b.create<arith::MulFOp>(l, args[0], constFloat(b, l, element, alpha)),
              b.create<arith::MulFOp>(l, noise, constFloat(b, l, element, beta)));
        });
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, out, outShape));
    return success();
  }
};

struct MseLowering : OpRewritePattern<MseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MseOp op, PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getPrediction().getType();
    SmallVector<int64_t> all = llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
    Value sum = buildReduction(rewriter, op.getLoc(), op->getOperands(), all, 0.0,
                               [](OpBuilder &b, Location l, ValueRange args) -> Value {
                                 Value d = b.create<arith::SubFOp>(l, args[1], args[2]);
                                 return b.create<arith::AddFOp>(l, args[0], squareOf(b, l, d));
                               });
    double inv = 1.0 / type.getNumElements();
    rewriter.replaceOp(op, scaleTensor(rewriter, op.getLoc(), sum, inv));
    return success();
  }
};

struct WeightedMseLowering : OpRewritePattern<WeightedMseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(WeightedMseOp op, PatternRewriter &rewriter) const override {
    MLIRContext *ctx = getContext();
    RankedTensorType type = op.getPrediction().getType();
    unsigned rank = type.getRank();
    SmallVector<int64_t> all = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap batch = AffineMap::get(rank, 0, {getAffineDimExpr(0, ctx)}, ctx);
    Value sum = buildReduction(rewriter, op.getLoc(), op->getOperands(), all, 0.0,
                               [](OpBuilder &b, Location l, ValueRange args) -> Value {
                                 Value d = b.create<arith::SubFOp>(l, args[1], args[2]);
                                 Value w = b.create<arith::MulFOp>(l, squareOf(b, l, d), args[3]);
                                 return b.create<arith::AddFOp>(l, args[0], w);
                               },
                               {id, id, batch});
    double inv = 1.0 / type.getNumElements();
    rewriter.replaceOp(op, scaleTensor(rewriter, op.getLoc(), sum, inv));
    return success();
  }
};

struct ConvertMsddToLinalgPass
    : msdd::impl::ConvertMsddToLinalgBase<ConvertMsddToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<BinaryLowering<AddOp, arith::AddFOp>, BinaryLowering<SubOp, arith::SubFOp>,
                 BinaryLowering<MulOp, arith::MulFOp>, BinaryLowering<DivOp, arith::DivFOp>,
                 BinaryLowering<MaximumOp, arith::MaximumFOp>,
                 BinaryLowering<MinimumOp, arith::MinimumFOp>, BinaryLowering<PowOp, math::PowFOp>,
                 UnaryLowering<NegOp, arith::NegFOp>, UnaryLowering<ExpOp, math::ExpOp>,
                 UnaryLowering<LogOp, math::LogOp>, UnaryLowering<SqrtOp, math::SqrtOp>,
                 UnaryLowering<RsqrtOp, math::RsqrtOp>, UnaryLowering<AbsOp, math::AbsFOp>,
                 UnaryLowering<TanhOp, math::TanhOp>, UnaryLowering<ErfOp, math::ErfOp>,
                 UnaryLowering<SinOp, math::SinOp>, UnaryLowering<CosOp, math::CosOp>,
                 SigmoidLowering, ReluLowering, SiluLowering, SignLowering, StepLowering,
                 StopGradientLowering,
                 BroadcastLowering, SwigluLowering, GeluLowering,
                 ScaleLowering, NoiseMixLowering, EulerStepLowering, CfgCombineLowering,
                 ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
                 ReduceLowering<ReduceMaxOp>, ReshapeLowering, TransposeLowering, ConcatLowering, SliceLowering, LinearLowering,
                 MatmulLowering, PatchifyLowering, UnpatchifyLowering, LayerNormLowering,
                 RmsNormLowering, SoftmaxLowering, Rope2dLowering,
                 ModulateLowering, TimestepEmbeddingLowering, UpsampleNearestLowering,
                 DownsampleLowering, ConvLowering, ConvTransposeLowering, BlockNoiseLowering, RandomNormalLowering, ScaleTransitionLowering, MseLowering,
                 WeightedMseLowering>(ctx);
    if (flashAttentionFactors != "f16" && flashAttentionFactors != "tf32" &&
        flashAttentionFactors != "tf32x3") {
      getOperation().emitError() << "flash-attention-factors must be f16, tf32 or tf32x3, not '"
                                 << flashAttentionFactors << "'";
      return signalPassFailure();
    }
    patterns.add<AttentionLowering>(ctx, flashAttention, flashAttentionFactors);

    ConversionTarget target(*ctx);
    target.addIllegalDialect<MsddDialect>();
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect, arith::ArithDialect,
                           math::MathDialect, func::FuncDialect>();
    // The sampler is expanded by its own pass before lowering.
    target.addLegalOp<MultiscaleSampleOp, FlashAttentionOp>();
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      return signalPassFailure();
    // tensor.concat has no bufferization: decompose it into destination-style inserts.
    RewritePatternSet concat(ctx);
    tensor::populateDecomposeTensorConcatPatterns(concat);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(concat))))
      return signalPassFailure();
    getOperation().walk([&](MultiscaleSampleOp op) {
      op.emitOpError("must be expanded into per-scale loops before lowering to linalg");
      signalPassFailure();
    });
  }
};

} // namespace
