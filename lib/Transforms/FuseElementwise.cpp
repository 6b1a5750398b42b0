//===- FuseElementwise.cpp - Elementwise fusion that keeps contractions ----===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// A generic that only converts its one input to another float type (the bf16 copy of a
/// matrix product's factor, msdd-round-contraction-operands).
bool isRounding(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1)
    return false;
  Block &body = generic.getRegion().front();
  return body.getOperations().size() == 2 && isa<arith::TruncFOp>(body.front()) &&
         body.front().getOperand(0) == body.getArgument(0);
}

struct FuseElementwisePass : msdd::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      // Into a rounding, also a shared producer: it then writes both precisions at once,
      // which costs less than reading its f32 result back.
      return producer && (producer->hasOneUse() || isRounding(fused->getOwner()));
    });
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
