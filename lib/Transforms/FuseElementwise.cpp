//===- FuseElementwise.cpp - Elementwise fusion that keeps contractions ----===//
#include "msdd/Transforms/Passes.h"
#include "msdd/Transforms/Rounding.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// A generic that reads one tensor of its own size, through a permutation that keeps the
/// innermost dimension innermost, plus vectors broadcast along it, and does at most one
/// cheap arithmetic op per point (a transpose, a bias addition; no math functions). Each consumer can redo it while
/// reading: that costs one read of the input, where storing the result costs a write and
/// then a read per consumer.
bool isCheapToRedo(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)).isIdentity())
    return false;
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() > 2)
    return false;
  if (body.getOperations().size() == 2) {
    Operation &arithmetic = body.front();
    if (!isa<arith::ArithDialect>(arithmetic.getDialect()) ||
        isa<arith::DivFOp, arith::RemFOp>(arithmetic))
      return false;
  }
  unsigned loops = generic.getNumLoops(), fullSize = 0;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(input);
    if (!map.isProjectedPermutation())
      return false;
    if (map.getNumResults() < loops)
      continue;
    ++fullSize;
    if (loops > 0 && map.getResults().back() != getAffineDimExpr(loops - 1, op->getContext()))
      return false;
  }
  return fullSize == 1;
}

struct FuseElementwisePass : msdd::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    // Transposes as generics: they fuse with the elementwise ops next to them (a
    // transposed read or write) instead of moving the data in a pass of their own.
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](linalg::TransposeOp transpose) {
      if (transpose.hasPureTensorSemantics()) {
        rewriter.setInsertionPoint(transpose);
        (void)linalg::generalizeNamedOp(rewriter, transpose);
      }
    });
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      // A product's rounded result (msdd-round-contraction-results) is what gets stored.
      if (producer && msdd::isTruncation(producer) &&
          isa_and_nonnull<linalg::MatmulOp, linalg::MatmulTransposeBOp>(
              producer->getOperand(0).getDefiningOp()))
        return false;
      // Into a rounding, also a shared producer: it then writes both precisions at once,
      // which costs less than reading its f32 result back.
      return producer && (producer->hasOneUse() || msdd::isTruncation(fused->getOwner()) ||
                          isCheapToRedo(producer));
    });
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
