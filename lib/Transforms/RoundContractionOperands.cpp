//===- RoundContractionOperands.cpp - Narrow factors for tensor cores -----===//
//
// Rounding the factors at the tensor level, rather than next to the library call, lets
// elementwise fusion put the rounding into whatever op produced each factor.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"
#include "msdd/Transforms/Rounding.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_ROUNDCONTRACTIONOPERANDS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// Rounds the factors of products, each value once, in the op that computes it where it can:
/// reshapes, transposes and the slices of a concatenation are looked through and redone on
/// the narrow data, so that the rounding meets the elementwise op that produced the values
/// and fuses into it.
class Rounder {
public:
  explicit Rounder(FloatType narrow) : narrow(narrow) {}

  Value round(Value value) {
    if (Value done = rounded.lookup(value))
      return done;
    OpBuilder b(value.getContext());
    b.setInsertionPointAfterValue(value);
    Location loc = value.getLoc();
    auto type = cast<RankedTensorType>(value.getType());
    RankedTensorType narrowType = type.clone(narrow);
    Value result;
    if (auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>()) {
      Value source = round(collapse.getSrc());
      b.setInsertionPointAfterValue(source);
      result = b.create<tensor::CollapseShapeOp>(loc, narrowType, source,
                                                 collapse.getReassociationIndices());
    } else if (auto expand = value.getDefiningOp<tensor::ExpandShapeOp>()) {
      Value source = round(expand.getSrc());
      b.setInsertionPointAfterValue(source);
      result = b.create<tensor::ExpandShapeOp>(loc, narrowType, source,
                                               expand.getReassociationIndices());
    } else if (auto empty = value.getDefiningOp<tensor::EmptyOp>()) {
      result = b.create<tensor::EmptyOp>(loc, type.getShape(), narrow);
    } else if (auto insert = value.getDefiningOp<tensor::InsertSliceOp>();
               insert && insert.getSourceType().hasStaticShape()) {
      Value source = round(insert.getSource());
      Value dest = round(insert.getDest());
      b.setInsertionPoint(insert);
      result = b.create<tensor::InsertSliceOp>(loc, source, dest, insert.getMixedOffsets(),
                                               insert.getMixedSizes(), insert.getMixedStrides());
    } else if (auto transpose = value.getDefiningOp<linalg::TransposeOp>();
               transpose && transpose.hasPureTensorSemantics()) {
      if (isElementwiseBehindReshapes(transpose.getInput())) {
        // The rounding fuses into that producer; the transpose then moves half the bytes.
        Value input = round(transpose.getInput());
        b.setInsertionPoint(transpose);
        Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), narrow);
        result = b.create<linalg::TransposeOp>(loc, input, init, transpose.getPermutation())
                     ->getResult(0);
      } else {
        // One pass that reads the f32 data transposed and writes it rounded. Output
        // dimension i reads input dimension permutation[i].
        AffineMap read = AffineMap::getPermutationMap(
            invertPermutationVector(transpose.getPermutation()), b.getContext());
        result = truncate(b, loc, transpose.getInput(), narrowType, read);
      }
    } else {
      result = truncate(b, loc, value, narrowType,
                        b.getMultiDimIdentityMap(type.getRank()));
    }
    rounded[value] = result;
    return result;
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


  /// `narrowType`'s elements: `input` read through `read`, rounded to nearest even.
  Value truncate(OpBuilder &b, Location loc, Value input, RankedTensorType narrowType,
                 AffineMap read) {
    Value init = b.create<tensor::EmptyOp>(loc, narrowType.getShape(), narrow);
    AffineMap identity = b.getMultiDimIdentityMap(narrowType.getRank());
    SmallVector<utils::IteratorType> parallel(narrowType.getRank(),
                                              utils::IteratorType::parallel);
    return b
        .create<linalg::GenericOp>(
            loc, narrowType, input, init, ArrayRef<AffineMap>{read, identity}, parallel,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              nb.create<linalg::YieldOp>(
                  nloc, nb.create<arith::TruncFOp>(nloc, narrow, args[0]).getResult());
            })
        .getResult(0);
  }

  FloatType narrow;
  DenseMap<Value, Value> rounded;
};

template <typename Contraction>
void roundFactors(Contraction op, Rounder &rounder) {
  SmallVector<Value> factors;
  for (Value input : op.getDpsInputs())
    factors.push_back(rounder.round(input));
  // The named op's body extends the narrow factors back to f32 before multiplying.
  OpBuilder b(op);
  auto rounded = b.create<Contraction>(op.getLoc(), op->getResultTypes(), factors,
                                       op.getDpsInits(), ArrayRef<NamedAttribute>{});
  op->replaceAllUsesWith(rounded);
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
      if (isa<linalg::MatmulOp, linalg::MatmulTransposeBOp, linalg::BatchMatmulOp,
              linalg::BatchMatmulTransposeBOp>(op.getOperation()) &&
          hasStaticF32Operands(op))
        contractions.push_back(op);
    });
    Rounder rounder(narrow);
    for (linalg::LinalgOp op : contractions)
      llvm::TypeSwitch<Operation *>(op.getOperation())
          .Case<linalg::MatmulOp, linalg::MatmulTransposeBOp, linalg::BatchMatmulOp,
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
        operand.set(toF16.round(wide));
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

} // namespace
