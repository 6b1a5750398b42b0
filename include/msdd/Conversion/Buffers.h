//===- Buffers.h - Which buffer a memref value views -------------*- C++ -*-===//
//
// The passes that move or fuse ops on buffers decide whether two ops may touch the same
// memory by the buffers their operands view. Distinct allocations and function arguments
// are taken not to overlap, as the bufferized pipeline makes them.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_CONVERSION_BUFFERS_H
#define MSDD_CONVERSION_BUFFERS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::msdd {

/// The buffer `value` views, followed back through views (subviews, reshapes) and casts.
inline Value rootBuffer(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      value = view.getViewSource();
    else if (auto cast = dyn_cast<memref::CastOp>(def))
      value = cast.getSource();
    else
      break;
  }
  return value;
}

/// Whether `op` or an op nested in it has an operand that views `root`.
inline bool touchesBuffer(Operation *op, Value root) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (isa<MemRefType>(operand.getType()) && rootBuffer(operand) == root)
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

} // namespace mlir::msdd

#endif // MSDD_CONVERSION_BUFFERS_H
