//===- LowerReductionsToLoops.cpp - Reductions with register accumulators --===//
//
// A linalg op whose innermost loops are reductions becomes loops whose reduction part carries
// the outputs' values in iter_args, so that LLVM sees a reduction it can keep in registers and
// vectorize, instead of a load and a store of the output in every iteration.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_LOWERREDUCTIONSTOLOOPS
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// The number of trailing reduction loops of `op` that its outputs do not index, or 0 when the
/// op is not one this pass lowers.
unsigned trailingReductionLoops(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op->getNumRegions() != 1)
    return 0;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned count = 0;
  while (count < iterators.size() &&
         iterators[iterators.size() - 1 - count] == utils::IteratorType::reduction)
    ++count;
  unsigned first = iterators.size() - count;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    // An output that is also read as an input would be read stale from memory.
    if (llvm::is_contained(op.getDpsInputs(), init.get()))
      return 0;
    AffineMap map = op.getMatchingIndexingMap(&init);
    for (unsigned dim = first; dim < iterators.size(); ++dim)
      if (map.isFunctionOfDim(dim))
        return 0;
  }
  return count;
}

/// The element of `operand` that the loop point `ivs` reads or writes.
Value loadElement(OpBuilder &b, Location loc, linalg::LinalgOp op, OpOperand &operand,
                  ValueRange ivs) {
  if (op.isScalar(&operand))
    return operand.get();
  SmallVector<OpFoldResult> indices = affine::makeComposedFoldedMultiResultAffineApply(
      b, loc, op.getMatchingIndexingMap(&operand), getAsOpFoldResult(ivs));
  return b.create<memref::LoadOp>(loc, operand.get(),
                                  getValueOrCreateConstantIndexOp(b, loc, indices));
}

/// Marks the addition or multiplication that folds into `accumulator` as reassociable.
void allowReassociation(Value combined, Value accumulator) {
  Operation *op = combined.getDefiningOp();
  if (!op || !isa<arith::AddFOp, arith::MulFOp>(op) || !llvm::is_contained(op->getOperands(),
                                                                          accumulator))
    return;
  auto fastMath = cast<arith::ArithFastMathInterface>(op);
  arith::FastMathFlags flags = fastMath.getFastMathFlagsAttr().getValue();
  op->setAttr(fastMath.getFastMathAttrName(),
              arith::FastMathFlagsAttr::get(op->getContext(),
                                            flags | arith::FastMathFlags::reassoc));
}

void lowerToLoops(IRRewriter &rewriter, linalg::LinalgOp op, unsigned reductionLoops,
                  bool reassociate) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<Range> ranges = op.createLoopRanges(rewriter, loc);
  SmallVector<Value> lbs, ubs, steps;
  for (const Range &range : ranges) {
    lbs.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, range.offset));
    ubs.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, range.size));
    steps.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, range.stride));
  }
  unsigned outer = ranges.size() - reductionLoops;
  Block *body = op.getBlock();

  scf::buildLoopNest(
      rewriter, loc, ArrayRef(lbs).take_front(outer), ArrayRef(ubs).take_front(outer),
      ArrayRef(steps).take_front(outer), [&](OpBuilder &b, Location loc, ValueRange outerIvs) {
        // The outputs do not index the reduction loops: any value stands in for them.
        Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
        SmallVector<Value> outputIvs(outerIvs);
        outputIvs.append(reductionLoops, zero);
        SmallVector<Value> initial;
        for (OpOperand &init : op.getDpsInitsMutable())
          initial.push_back(loadElement(b, loc, op, init, outputIvs));

        scf::LoopNest inner = scf::buildLoopNest(
            b, loc, ArrayRef(lbs).drop_front(outer), ArrayRef(ubs).drop_front(outer),
            ArrayRef(steps).drop_front(outer), initial,
            [&](OpBuilder &b, Location loc, ValueRange innerIvs,
                ValueRange accumulators) -> scf::ValueVector {
              SmallVector<Value> ivs(outerIvs);
              llvm::append_range(ivs, innerIvs);
              IRMapping mapping;
              for (OpOperand *input : op.getDpsInputOperands())
                mapping.map(op.getMatchingBlockArgument(input),
                            loadElement(b, loc, op, *input, ivs));
              for (auto [init, accumulator] :
                   llvm::zip_equal(op.getDpsInitsMutable(), accumulators))
                mapping.map(op.getMatchingBlockArgument(&init), accumulator);
              for (Operation &bodyOp : body->without_terminator()) {
                if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
                  mapping.map(index.getResult(), ivs[index.getDim()]);
                  continue;
                }
                b.clone(bodyOp, mapping);
              }
              scf::ValueVector results;
              for (auto [yielded, accumulator] :
                   llvm::zip_equal(body->getTerminator()->getOperands(), accumulators)) {
                results.push_back(mapping.lookupOrDefault(yielded));
                if (reassociate)
                  allowReassociation(results.back(), accumulator);
              }
              return results;
            });

        for (auto [init, result] : llvm::zip_equal(op.getDpsInitsMutable(), inner.results)) {
          SmallVector<OpFoldResult> indices = affine::makeComposedFoldedMultiResultAffineApply(
              b, loc, op.getMatchingIndexingMap(&init), getAsOpFoldResult(outputIvs));
          b.create<memref::StoreOp>(loc, result, init.get(),
                                    getValueOrCreateConstantIndexOp(b, loc, indices));
        }
      });
  rewriter.eraseOp(op);
}

struct LowerReductionsToLoopsPass
    : msdd::impl::LowerReductionsToLoopsBase<LowerReductionsToLoopsPass> {
  using LowerReductionsToLoopsBase::LowerReductionsToLoopsBase;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, unsigned>> reductions;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (unsigned loops = trailingReductionLoops(op))
        reductions.emplace_back(op, loops);
    });
    IRRewriter rewriter(&getContext());
    for (auto [op, loops] : reductions)
      lowerToLoops(rewriter, op, loops, reassociate);
  }
};

} // namespace
