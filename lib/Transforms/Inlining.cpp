//===- Inlining.cpp - Inlining calls between msdd functions ----------------===//
#include "msdd/Transforms/Inlining.h"
#include "msdd/Transforms/Passes.h"

#include "mlir/Transforms/InliningUtils.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_INLINECALLS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

LogicalResult msdd::inlineCalls(func::FuncOp fn, SymbolTable &symbols,
                                llvm::function_ref<bool(func::FuncOp)> shouldInline) {
  InlinerInterface inliner(fn.getContext());
  for (int depth = 0; depth < 64; ++depth) {
    SmallVector<std::pair<func::CallOp, func::FuncOp>> calls;
    WalkResult walk = fn.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && !shouldInline(callee))
        return WalkResult::advance();
      if (!callee || callee.isDeclaration()) {
        call.emitOpError("calls '") << call.getCallee() << "', which has no body to inline";
        return WalkResult::interrupt();
      }
      calls.push_back({call, callee});
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (calls.empty())
      return success();
    for (auto [call, callee] : calls) {
      if (failed(inlineCall(inliner, call, callee, &callee.getBody(), true)))
        return call.emitOpError("could not be inlined");
      call.erase();
    }
  }
  return fn.emitError("calls nest deeper than 64 levels (recursion?)");
}

namespace {

struct InlineCallsPass : msdd::impl::InlineCallsBase<InlineCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto inlinable = [](func::FuncOp callee) { return !callee->hasAttr(msdd::kOutlineAttr); };
    for (auto fn : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (!fn.isDeclaration() && failed(msdd::inlineCalls(fn, symbols, inlinable)))
        return signalPassFailure();
  }
};

} // namespace
