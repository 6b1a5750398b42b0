//===- FuseScaleTransitions.cpp - One op per scale transition -------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_FUSESCALETRANSITIONS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using namespace mlir::msdd;

namespace {

/// The op defining `value` if it is a T used only there.
template <typename T> T soleProducer(Value value) {
  auto op = value.getDefiningOp<T>();
  return op && op->hasOneUse() ? op : T();
}

struct FuseTransition : OpRewritePattern<NoiseMixOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(NoiseMixOp mix, PatternRewriter &rewriter) const override {
    auto up = soleProducer<UpsampleNearestOp>(mix.getInput());
    auto block = soleProducer<BlockNoiseOp>(mix.getNoise());
    auto normal = block ? soleProducer<RandomNormalOp>(block.getInput()) : RandomNormalOp();
    if (!up || up.getFactor() != 2 || !block || !normal)
      return rewriter.notifyMatchFailure(mix, "not upsample x2 + block noise of fresh normals");
    rewriter.replaceOpWithNewOp<ScaleTransitionOp>(
        mix, mix.getType(), up.getInput(), normal.getSeed(), normal.getStep(),
        normal.getStreamAttr(), block.getGammaAttr(), block.getCovarianceAttr(),
        mix.getAlphaAttr(), mix.getBetaAttr());
    rewriter.eraseOp(up);
    rewriter.eraseOp(block);
    rewriter.eraseOp(normal);
    return success();
  }
};

struct FuseScaleTransitionsPass
    : msdd::impl::FuseScaleTransitionsBase<FuseScaleTransitionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseTransition>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
