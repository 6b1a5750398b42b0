//===- Rounding.h - Recognizing the roundings the bf16 passes insert -*- C++ -*-===//
//
// msdd-round-contraction-operands and msdd-round-contraction-results insert generics that
// only narrow their input, msdd-split-contraction-operands generics that split off its TF32
// part; elementwise fusion and the library-call lowering recognize them.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_TRANSFORMS_ROUNDING_H
#define MSDD_TRANSFORMS_ROUNDING_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::msdd {

/// A linalg.generic with one input and one init whose body only converts the input to a
/// narrower float type (`arith.truncf`), through any indexing maps.
inline bool isTruncation(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1)
    return false;
  Block &body = generic.getRegion().front();
  return body.getOperations().size() == 2 && isa<arith::TruncFOp>(body.front()) &&
         body.front().getOperand(0) == body.getArgument(0);
}

/// isTruncation, reading and writing every point at the same indices.
inline bool isPointwiseTruncation(Operation *op) {
  return isTruncation(op) &&
         llvm::all_of(cast<linalg::GenericOp>(op).getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// A linalg.generic with one input that computes its TF32 part and the remainder with
/// integer arithmetic on its bits (msdd-split-contraction-operands).
inline bool isTf32Split(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1)
    return false;
  Block &body = generic.getRegion().front();
  auto bits = dyn_cast<arith::BitcastOp>(body.front());
  return bits && bits.getIn() == body.getArgument(0) &&
         llvm::all_of(body.without_terminator(), [](Operation &o) {
           return isa<arith::BitcastOp, arith::ShRUIOp, arith::AndIOp, arith::AddIOp,
                      arith::ConstantOp, arith::SubFOp>(o);
         });
}

} // namespace mlir::msdd

#endif // MSDD_TRANSFORMS_ROUNDING_H
