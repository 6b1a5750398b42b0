//===- AllocateDeviceMemory.cpp - Buffers of CUDA artifacts on the device --===//
//
// A CUDA artifact's host code only sequences kernels: every tensor lives in device memory,
// so host allocations, constants and copies are rewritten to their device forms here.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_ALLOCATEDEVICEMEMORY
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// The buffer deallocation pipeline's generic helper: it reads and writes its (host)
/// bookkeeping arrays, so those arrays must stay host memory.
bool isDeallocHelper(func::CallOp call) { return call.getCallee().starts_with("dealloc_helper"); }

/// True for allocations that only the host touches: the pointer and ownership arrays the
/// deallocation pipeline builds for its helper.
bool isHostBookkeeping(memref::AllocOp alloc) {
  SmallVector<Value> worklist{alloc.getResult()};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (isa<memref::LoadOp, memref::StoreOp, memref::DeallocOp>(user))
        continue;
      if (auto cast = dyn_cast<memref::CastOp>(user)) {
        worklist.push_back(cast.getResult());
        continue;
      }
      if (auto call = dyn_cast<func::CallOp>(user); call && isDeallocHelper(call))
        continue;
      return false;
    }
  }
  return true;
}

struct AllocateDeviceMemoryPass
    : msdd::impl::AllocateDeviceMemoryBase<AllocateDeviceMemoryPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || func.getName().starts_with("dealloc_helper"))
        continue;
      if (failed(rewriteFunction(rewriter, func)))
        return signalPassFailure();
    }
  }

  LogicalResult rewriteFunction(IRRewriter &rewriter, func::FuncOp func) {
    DenseSet<Value> hostBuffers;
    SmallVector<memref::AllocOp> allocs;
    SmallVector<memref::DeallocOp> deallocs;
    SmallVector<memref::CopyOp> copies;
    SmallVector<memref::GetGlobalOp> globals;
    WalkResult walk = func.walk([&](Operation *op) {
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        if (isHostBookkeeping(alloc))
          hostBuffers.insert(alloc.getResult());
        else
          allocs.push_back(alloc);
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        deallocs.push_back(dealloc);
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        copies.push_back(copy);
      } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
        globals.push_back(global);
      } else if (isa<memref::AllocaOp>(op)) {
        op->emitOpError("is not supported in CUDA host code (stack buffers live on the host)");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    for (memref::AllocOp alloc : allocs) {
      if (!alloc.getDynamicSizes().empty() || !alloc.getSymbolOperands().empty())
        return alloc.emitOpError("has dynamic sizes; CUDA artifacts need static shapes");
      rewriter.setInsertionPoint(alloc);
      rewriter.replaceOpWithNewOp<gpu::AllocOp>(alloc, alloc.getType(), /*asyncToken=*/Type(),
                                                ValueRange(), ValueRange(), ValueRange());
    }
    // Everything the host does not keep for itself is device memory, including buffers
    // that reach a dealloc through casts, views or loop-carried values.
    for (memref::DeallocOp dealloc : deallocs) {
      if (hostBuffers.contains(dealloc.getMemref()))
        continue;
      rewriter.setInsertionPoint(dealloc);
      rewriter.replaceOpWithNewOp<gpu::DeallocOp>(dealloc, /*asyncToken=*/Type(), ValueRange(),
                                                  dealloc.getMemref());
    }
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(), copy.getTarget());
    }

    // One device copy of each constant per call, made at entry, freed at every return.
    DenseMap<StringRef, Value> deviceCopies;
    Block &entry = func.getBody().front();
    for (memref::GetGlobalOp global : globals) {
      Value &copy = deviceCopies[global.getName()];
      if (!copy) {
        rewriter.setInsertionPointToStart(&entry);
        Location loc = global.getLoc();
        auto hostValue = rewriter.create<memref::GetGlobalOp>(loc, global.getType(), global.getName());
        copy = rewriter.create<gpu::AllocOp>(loc, global.getType(), Type(), ValueRange(),
                                             ValueRange(), ValueRange())
                   .getMemref();
        rewriter.create<gpu::MemcpyOp>(loc, /*asyncToken=*/Type(), ValueRange(), copy, hostValue);
        func.walk([&](func::ReturnOp ret) {
          rewriter.setInsertionPoint(ret);
          rewriter.create<gpu::DeallocOp>(loc, Type(), ValueRange(), copy);
        });
      }
      rewriter.replaceOp(global, copy);
    }
    return success();
  }
};

} // namespace
