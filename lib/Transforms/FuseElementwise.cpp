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

struct FuseElementwisePass : msdd::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      return producer && producer->hasOneUse();
    });
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
