//===- DeallocAfterLastUse.cpp - Free temporaries as soon as possible -----===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_DEALLOCAFTERLASTUSE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// The last op of `block` that uses `alloc` or a view of it, or nullptr if the buffer
/// escapes: it is yielded or returned, its address is taken, or an op other than a view
/// makes a memref out of it.
Operation *lastUseInBlock(memref::AllocOp alloc, memref::DeallocOp dealloc, Block *block) {
  Operation *last = alloc;
  SmallVector<Value> worklist{alloc.getResult()};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (user == dealloc)
        continue;
      if (user->hasTrait<OpTrait::IsTerminator>() ||
          isa<memref::ExtractAlignedPointerAsIndexOp, memref::ExtractStridedMetadataOp>(user))
        return nullptr;
      if (isa<ViewLikeOpInterface, memref::CastOp>(user)) {
        for (Value result : user->getResults())
          worklist.push_back(result);
      } else if (llvm::any_of(user->getResultTypes(), llvm::IsaPred<BaseMemRefType>)) {
        return nullptr;
      }
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor)
        return nullptr; // used outside the allocating block
      if (last->isBeforeInBlock(ancestor))
        last = ancestor;
    }
  }
  return last;
}

struct DeallocAfterLastUsePass : msdd::impl::DeallocAfterLastUseBase<DeallocAfterLastUsePass> {
  void runOnOperation() override {
    SmallVector<memref::DeallocOp> deallocs;
    getOperation().walk([&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
    for (memref::DeallocOp dealloc : deallocs) {
      auto alloc = dealloc.getMemref().getDefiningOp<memref::AllocOp>();
      Block *block = dealloc->getBlock();
      if (!alloc || alloc->getBlock() != block)
        continue;
      if (Operation *last = lastUseInBlock(alloc, dealloc, block))
        if (last->getNextNode() != dealloc)
          dealloc->moveAfter(last);
    }
  }
};

} // namespace
