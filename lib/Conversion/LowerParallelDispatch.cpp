//===- LowerParallelDispatch.cpp - Calls of outlined loops to the pool -----===//
//
// After conversion to LLVM every argument of an outlined loop body is a scalar or a pointer
// (memref descriptors are expanded), so the arguments pack into one literal struct that the
// thread pool hands to a trampoline.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_LOWERPARALLELDISPATCH
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

constexpr StringLiteral kBodyPrefix = "__msdd_par_";
constexpr StringLiteral kDispatch = "msdd_rt_parallel_for";

struct LowerParallelDispatchPass
    : msdd::impl::LowerParallelDispatchBase<LowerParallelDispatchPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto voidTy = LLVM::LLVMVoidType::get(ctx);

    SmallVector<LLVM::CallOp> calls;
    module.walk([&](LLVM::CallOp call) {
      if (call.getCallee() && call.getCallee()->starts_with(kBodyPrefix))
        calls.push_back(call);
    });
    if (calls.empty())
      return;

    OpBuilder top = OpBuilder::atBlockEnd(module.getBody());
    if (!module.lookupSymbol<LLVM::LLVMFuncOp>(kDispatch))
      top.create<LLVM::LLVMFuncOp>(module.getLoc(), kDispatch,
                                   LLVM::LLVMFunctionType::get(voidTy, {ptr, ptr, i64}));

    DenseMap<Operation *, LLVM::LLVMFuncOp> trampolines;
    for (LLVM::CallOp call : calls) {
      auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(*call.getCallee());
      body.setLinkage(LLVM::Linkage::Internal);
      Location loc = call.getLoc();
      // Arguments 0 and 1 are the chunk [begin, end); the rest is the captured state.
      SmallVector<Type> fieldTypes(body.getFunctionType().getParams().drop_front(2));
      auto ctxType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);

      // Trampoline: void (ptr ctx, i64 begin, i64 end), one per body (a body outlined from
      // identical loops has several calls).
      LLVM::LLVMFuncOp &tramp = trampolines[body];
      if (!tramp) {
        tramp = top.create<LLVM::LLVMFuncOp>(
            loc, (body.getSymName() + "_trampoline").str(),
            LLVM::LLVMFunctionType::get(voidTy, {ptr, i64, i64}), LLVM::Linkage::Internal);
        Block *entry = tramp.addEntryBlock(top);
        OpBuilder tb = OpBuilder::atBlockBegin(entry);
        SmallVector<Value> args{entry->getArgument(1), entry->getArgument(2)};
        for (auto [i, type] : llvm::enumerate(fieldTypes)) {
          Value addr = tb.create<LLVM::GEPOp>(loc, ptr, ctxType, entry->getArgument(0),
                                              ArrayRef<LLVM::GEPArg>{0, (int32_t)i});
          args.push_back(tb.create<LLVM::LoadOp>(loc, type, addr));
        }
        tb.create<LLVM::CallOp>(loc, body, args);
        tb.create<LLVM::ReturnOp>(loc, ValueRange{});
      }

      // Call site: the state lives in an entry-block alloca (no stack growth inside loops).
      auto parent = call->getParentOfType<LLVM::LLVMFuncOp>();
      OpBuilder entryBuilder = OpBuilder::atBlockBegin(&parent.getBody().front());
      Value one = entryBuilder.create<LLVM::ConstantOp>(loc, i64, entryBuilder.getI64IntegerAttr(1));
      Value state = entryBuilder.create<LLVM::AllocaOp>(loc, ptr, ctxType, one);
      OpBuilder b(call);
      for (auto [i, value] : llvm::enumerate(call.getArgOperands().drop_front(2))) {
        Value addr = b.create<LLVM::GEPOp>(loc, ptr, ctxType, state,
                                           ArrayRef<LLVM::GEPArg>{0, (int32_t)i});
        b.create<LLVM::StoreOp>(loc, value, addr);
      }
      Value fnPtr = b.create<LLVM::AddressOfOp>(loc, ptr, tramp.getSymName());
      // Outlined calls always start at 0, so `end` is the iteration count.
      Value count = call.getArgOperands()[1];
      b.create<LLVM::CallOp>(loc, TypeRange{}, kDispatch, ValueRange{fnPtr, state, count});
      call->erase();
    }
  }
};

} // namespace
