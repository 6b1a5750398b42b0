//===- CopyAliasedResults.cpp - One tensor per function result -------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_COPYALIASEDRESULTS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

struct CopyAliasedResultsPass : msdd::impl::CopyAliasedResultsBase<CopyAliasedResultsPass> {
  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp ret) {
      OpBuilder b(ret);
      DenseSet<Value> returned;
      for (OpOperand &operand : ret->getOpOperands()) {
        Value v = operand.get();
        auto type = dyn_cast<RankedTensorType>(v.getType());
        if (!type)
          continue;
        if (isa<BlockArgument>(v) || !returned.insert(v).second)
          operand.set(b.create<bufferization::AllocTensorOp>(ret.getLoc(), type,
                                                             ValueRange{}, v));
      }
    });
  }
};

} // namespace
