//===- CloneFillsPerUse.cpp - One fill per destination --------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_CLONEFILLSPERUSE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

struct CloneFillsPerUsePass : msdd::impl::CloneFillsPerUseBase<CloneFillsPerUsePass> {
  void runOnOperation() override {
    SmallVector<linalg::FillOp> fills;
    getOperation().walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->getResult(0).hasOneUse())
        fills.push_back(fill);
    });
    for (linalg::FillOp fill : fills) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : fill->getResult(0).getUses())
        uses.push_back(&use);
      // The first use in program order keeps the original.
      Block *block = uses.front()->getOwner()->getBlock();
      if (llvm::all_of(uses, [&](OpOperand *u) { return u->getOwner()->getBlock() == block; }))
        llvm::stable_sort(uses, [](OpOperand *a, OpOperand *b) {
          return a->getOwner() != b->getOwner() && a->getOwner()->isBeforeInBlock(b->getOwner());
        });
      for (OpOperand *use : llvm::drop_begin(uses)) {
        OpBuilder b(use->getOwner());
        IRMapping mapping;
        Value init = fill.getDpsInitOperand(0)->get();
        if (auto empty = init.getDefiningOp<tensor::EmptyOp>())
          mapping.map(init, b.clone(*empty)->getResult(0));
        use->set(b.clone(*fill, mapping)->getResult(0));
      }
    }
  }
};

} // namespace
