//===- RoundContractionOperands.cpp - Narrow factors for tensor cores -----===//
//
// Rounding the factors at the tensor level, rather than next to the library call, lets
// elementwise fusion put the rounding into whatever op produced each factor. The same holds
// for the TF32 splits of 3xTF32 products (msdd-split-contraction-operands).
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"
#include "msdd/Transforms/Rounding.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <functional>

namespace mlir::msdd {
#define GEN_PASS_DEF_ROUNDCONTRACTIONOPERANDS
#define GEN_PASS_DEF_SPLITCONTRACTIONOPERANDS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// Computes pointwise functions of a product's f32 factor, of the Rounder's `narrow` type.
using PointwiseFn = std::function<SmallVector<Value>(OpBuilder &, Location, Value)>;

/// Applies pointwise functions (roundings; by default one, `arith.truncf` to `narrow`) to
/// the factors of products, each value once, in the op that computes it where it can:
/// reshapes, transposes and the slices of a concatenation are looked through and redone on
/// the results, so that the functions meet the elementwise op that produced the values and
/// fuse into it. The functions of one value are the results of one generic, which then
/// reads the value (or recomputes it) once for all of them.
class Rounder {
public:
  explicit Rounder(FloatType narrow, unsigned numResults = 1, PointwiseFn fn = nullptr)
      : narrow(narrow), numResults(numResults),
        fn(fn ? std::move(fn) : [narrow](OpBuilder &b, Location loc, Value x) {
          return SmallVector<Value>{b.create<arith::TruncFOp>(loc, narrow, x)};
        }) {}

  /// The functions' results for `value`, in order.
  SmallVector<Value> round(Value value) {
    if (auto done = rounded.find(value); done != rounded.end())
      return done->second;
    OpBuilder b(value.getContext());
    b.setInsertionPointAfterValue(value);
    Location loc = value.getLoc();
    auto type = cast<RankedTensorType>(value.getType());
    RankedTensorType narrowType = type.clone(narrow);
    SmallVector<Value> results;
    if (auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>()) {
      for (Value source : round(collapse.getSrc())) {
        b.setInsertionPointAfterValue(source);
        results.push_back(b.create<tensor::CollapseShapeOp>(
            loc, narrowType, source, collapse.getReassociationIndices()));
      }
    } else if (auto expand = value.getDefiningOp<tensor::ExpandShapeOp>()) {
      for (Value source : round(expand.getSrc())) {
        b.setInsertionPointAfterValue(source);
        results.push_back(b.create<tensor::ExpandShapeOp>(loc, narrowType, source,
                                                          expand.getReassociationIndices()));
      }
    } else if (auto empty = value.getDefiningOp<tensor::EmptyOp>()) {
      for (unsigned i = 0; i < numResults; ++i)
        results.push_back(b.create<tensor::EmptyOp>(loc, type.getShape(), narrow));
    } else if (auto insert = value.getDefiningOp<tensor::InsertSliceOp>();
               insert && insert.getSourceType().hasStaticShape()) {
      SmallVector<Value> sources = round(insert.getSource());
      SmallVector<Value> dests = round(insert.getDest());
      b.setInsertionPoint(insert);
      for (auto [source, dest] : llvm::zip_equal(sources, dests))
        results.push_back(b.create<tensor::InsertSliceOp>(
            loc, source, dest, insert.getMixedOffsets(), insert.getMixedSizes(),
            insert.getMixedStrides()));
    } else if (auto transpose = value.getDefiningOp<linalg::TransposeOp>();
               transpose && transpose.hasPureTensorSemantics()) {
      if (isElementwiseBehindReshapes(transpose.getInput())) {
        // The rounding fuses into that producer; the transpose then moves half the bytes.
        for (Value input : round(transpose.getInput())) {
          b.setInsertionPoint(transpose);
          Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), narrow);
          results.push_back(
              b.create<linalg::TransposeOp>(loc, input, init, transpose.getPermutation())
                  ->getResult(0));
        }
      } else {
        // One pass that reads the f32 data transposed and writes it rounded. Output
        // dimension i reads input dimension permutation[i].
        AffineMap read = AffineMap::getPermutationMap(
            invertPermutationVector(transpose.getPermutation()), b.getContext());
        results = apply(b, loc, transpose.getInput(), narrowType, read);
      }
    } else {
      results = apply(b, loc, value, narrowType, b.getMultiDimIdentityMap(type.getRank()));
    }
    rounded[value] = results;
    return results;
  }

private:
  /// Whether `value` is computed by an elementwise generic, possibly reshaped since.
  static bool isElementwiseBehindReshapes(Value value) {
    while (Operation *def = value.getDefiningOp()) {
      if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(def)) {
        value = def->getOperand(0);
        continue;
      }
      auto generic = dyn_cast<linalg::GenericOp>(def);
      return generic && generic.getNumLoops() == generic.getNumParallelLoops();
    }
    return false;
  }

  /// One generic whose results are `narrowType`'s elements: the functions of `input` read
  /// through `read`.
  SmallVector<Value> apply(OpBuilder &b, Location loc, Value input,
                           RankedTensorType narrowType, AffineMap read) {
    SmallVector<Value> inits;
    for (unsigned i = 0; i < numResults; ++i)
      inits.push_back(b.create<tensor::EmptyOp>(loc, narrowType.getShape(), narrow));
    SmallVector<AffineMap> maps(numResults + 1, b.getMultiDimIdentityMap(narrowType.getRank()));
    maps.front() = read;
    SmallVector<utils::IteratorType> parallel(narrowType.getRank(),
                                              utils::IteratorType::parallel);
    SmallVector<Type> types(numResults, narrowType);
    auto generic = b.create<linalg::GenericOp>(
        loc, types, input, inits, maps, parallel,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          nb.create<linalg::YieldOp>(nloc, fn(nb, nloc, args[0]));
        });
    return generic->getResults();
  }

  FloatType narrow;
  unsigned numResults;
  PointwiseFn fn;
  DenseMap<Value, SmallVector<Value>> rounded;
};

template <typename Contraction>
void roundFactors(Contraction op, Rounder &rounder) {
  SmallVector<Value> factors;
  for (Value input : op.getDpsInputs())
    factors.push_back(rounder.round(input).front());
  // The named op's body extends the narrow factors back to f32 before multiplying.
  OpBuilder b(op);
  auto rounded = b.create<Contraction>(op.getLoc(), op->getResultTypes(), factors,
                                       op.getDpsInits(), ArrayRef<NamedAttribute>{});
  op->replaceAllUsesWith(rounded);
  op->erase();
}

/// The TF32 value nearest to the f32 `x` (ties to even, as the emulator's cuBLAS rounds), as
/// an f32: the 13 low mantissa bits rounded away with integer arithmetic. Any rounding would
/// do for a split, whose high part is then exact in TF32. Magnitudes above 3.4e38, which
/// round past the largest float, become infinite.
Value roundToTf32(OpBuilder &b, Location loc, Value x) {
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 32); };
  Value bits = b.create<arith::BitcastOp>(loc, b.getI32Type(), x);
  Value lastKept = b.create<arith::AndIOp>(
      loc, b.create<arith::ShRUIOp>(loc, bits, constant(13)), constant(1));
  Value bias = b.create<arith::AddIOp>(loc, lastKept, constant(0xFFF));
  Value kept = b.create<arith::AndIOp>(loc, b.create<arith::AddIOp>(loc, bits, bias),
                                       constant(~int64_t(0x1FFF)));
  return b.create<arith::BitcastOp>(loc, b.getF32Type(), kept);
}

/// `pieces` (of one type) concatenated along `dim`: an insert_slice chain into an empty
/// tensor, whose pieces msdd-concatenate-in-place later computes into their slices.
Value concatenate(OpBuilder &b, Location loc, ArrayRef<Value> pieces, int64_t dim) {
  auto type = cast<RankedTensorType>(pieces.front().getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] *= static_cast<int64_t>(pieces.size());
  Value result = b.create<tensor::EmptyOp>(loc, shape, type.getElementType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = getAsIndexOpFoldResult(b.getContext(), type.getShape());
  for (auto [i, piece] : llvm::enumerate(pieces)) {
    offsets[dim] = b.getIndexAttr(static_cast<int64_t>(i) * type.getDimSize(dim));
    result = b.create<tensor::InsertSliceOp>(loc, piece, result, offsets, sizes, strides);
  }
  return result;
}

/// 3xTF32: A B = (Ah + Al)(Bh + Bl) ~ Al Bh + Ah Bl + Ah Bh, products on TF32 tensor cores
/// whose factors lose nothing (Ah, Bh) or only bits below f32's (Al, Bl); Al Bl, of relative
/// size 2^-22, is dropped. The small terms come first. A result larger than its factors
/// (attention's scores) is written once, by one product over a reduction three times as
/// long, [Al Ah Ah] [Bh Bl Bh]: three accumulating products would read and write it twice
/// more. Otherwise (a linear layer, the probabilities times the values) the factors are the
/// larger part, and three products into one accumulator read them without the copies of Ah
/// and Bh that the concatenation takes.
template <typename Contraction>
void splitFactors(Contraction op, Rounder &splitter) {
  OpOperand &a = op->getOpOperand(0), &b = op->getOpOperand(1);
  SmallVector<Value> aSplits = splitter.round(a.get()), bSplits = splitter.round(b.get());
  Value aHigh = aSplits[0], aLow = aSplits[1], bHigh = bSplits[0], bLow = bSplits[1];
  OpBuilder builder(op);
  Location loc = op.getLoc();
  auto product = [&](Value x, Value y, Value accumulator) {
    return builder
        .create<Contraction>(loc, op->getResultTypes(), ValueRange{x, y}, accumulator,
                             ArrayRef<NamedAttribute>{})
        ->getResult(0);
  };
  auto elements = [](Value v) { return cast<RankedTensorType>(v.getType()).getNumElements(); };
  Value result;
  if (elements(op->getResult(0)) > elements(a.get()) + elements(b.get())) {
    SmallVector<unsigned> reductions;
    op.getReductionDims(reductions);
    assert(reductions.size() == 1 && "a matrix product has one reduction dimension");
    AffineExpr k = getAffineDimExpr(reductions.front(), op.getContext());
    auto reductionDim = [&](OpOperand &operand) {
      return static_cast<int64_t>(*op.getMatchingIndexingMap(&operand).getResultPosition(k));
    };
    Value aSplit = concatenate(builder, loc, {aLow, aHigh, aHigh}, reductionDim(a));
    Value bSplit = concatenate(builder, loc, {bHigh, bLow, bHigh}, reductionDim(b));
    result = product(aSplit, bSplit, op.getDpsInits()[0]);
  } else {
    result = product(aLow, bHigh, op.getDpsInits()[0]);
    result = product(aHigh, bLow, result);
    result = product(aHigh, bHigh, result);
  }
  op->getResult(0).replaceAllUsesWith(result);
  op->erase();
}

/// The f32 value that `value` rounds, when `value` is an elementwise generic doing nothing
/// else (as msdd-lower-to-linalg builds next to a flash attention); null otherwise.
Value roundedValue(Value value) {
  auto generic = value.getDefiningOp<linalg::GenericOp>();
  if (!generic || !msdd::isPointwiseTruncation(generic))
    return nullptr;
  Value input = generic.getDpsInputs()[0];
  auto type = dyn_cast<RankedTensorType>(input.getType());
  return type && type.hasStaticShape() && type.getElementType().isF32() ? input : nullptr;
}

bool hasStaticF32Operands(linalg::LinalgOp op) {
  return op.hasPureTensorSemantics() && llvm::all_of(op->getOperandTypes(), [](Type t) {
           auto type = dyn_cast<RankedTensorType>(t);
           return type && type.hasStaticShape() && type.getElementType().isF32();
         });
}

struct RoundContractionOperandsPass
    : msdd::impl::RoundContractionOperandsBase<RoundContractionOperandsPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    FloatType narrow;
    if (elementType == "bf16")
      narrow = FloatType::getBF16(ctx);
    else if (elementType == "f16")
      narrow = FloatType::getF16(ctx);
    else {
      getOperation().emitError("msdd-round-contraction-operands: unknown element type '")
          << elementType << "' (bf16 or f16)";
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> contractions;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp,
              linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
              linalg::BatchMatmulTransposeBOp>(op.getOperation()) &&
          hasStaticF32Operands(op))
        contractions.push_back(op);
    });
    Rounder rounder(narrow);
    for (linalg::LinalgOp op : contractions)
      llvm::TypeSwitch<Operation *>(op.getOperation())
          .Case<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp,
                linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
                linalg::BatchMatmulTransposeBOp>([&](auto named) { roundFactors(named, rounder); });

    // Flash attention's f16 factors are rounded next to it, from the concatenation of the
    // joint attention's streams: rounded in their producers instead, each stream's kernel
    // writes its f16 slice of the concatenation, and neither the f32 concatenation nor the
    // separate rounding pass over it remain.
    Rounder toF16(FloatType::getF16(ctx));
    bool replaced = false;
    getOperation().walk([&](msdd::FlashAttentionOp op) {
      for (OpOperand &operand : op->getOpOperands().take_front(3)) {
        Value wide = roundedValue(operand.get());
        if (!wide || !cast<ShapedType>(operand.get().getType()).getElementType().isF16())
          continue;
        operand.set(toF16.round(wide).front());
        replaced = true;
      }
    });
    // The f32 concatenations that fed those roundings (users before their operands).
    if (replaced)
      for (Block &block : getOperation().getBody())
        for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
          if (isOpTriviallyDead(&op))
            op.erase();
  }
};

struct SplitContractionOperandsPass
    : msdd::impl::SplitContractionOperandsBase<SplitContractionOperandsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> contractions;
    WalkResult walk = getOperation().walk([&](linalg::LinalgOp op) {
      if (!isa<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp,
               linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
               linalg::BatchMatmulTransposeBOp>(op.getOperation()) ||
          !op.hasPureTensorSemantics() ||
          !llvm::all_of(op->getOperandTypes(),
                        [](Type t) { return getElementTypeOrSelf(t).isF32(); }))
        return WalkResult::advance();
      // Left whole, the product would run in plain TF32 under the TF32 math mode.
      if (!hasStaticF32Operands(op)) {
        op.emitError("msdd-split-contraction-operands: cannot split a product of dynamic shape");
        return WalkResult::interrupt();
      }
      contractions.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    // Each value's TF32 part and remainder, from one generic.
    Rounder splitter(FloatType::getF32(&getContext()), 2,
                     [](OpBuilder &b, Location loc, Value x) {
                       Value high = roundToTf32(b, loc, x);
                       return SmallVector<Value>{high, b.create<arith::SubFOp>(loc, x, high)};
                     });
    for (linalg::LinalgOp op : contractions)
      llvm::TypeSwitch<Operation *>(op.getOperation())
          .Case<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp,
                linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
                linalg::BatchMatmulTransposeBOp>(
              [&](auto named) { splitFactors(named, splitter); });
  }
};

} // namespace
