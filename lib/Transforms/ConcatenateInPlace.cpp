//===- ConcatenateInPlace.cpp - Pieces of concatenations computed in place ------===//
//
// The joint attention concatenates the image and latent streams' queries, keys and values
// (and the CFG pair its two halves) with tensor.insert_slice chains. Bufferized as they are,
// each piece is computed into a buffer of its own and then copied into the concatenation;
// here the producer's init becomes the piece's slice, so that it writes there directly.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_CONCATENATEINPLACE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// A piece's producer: a linalg op with one init, a tensor.empty it overwrites without
/// reading, and the collapse (if any) between its result and the insertion.
struct Piece {
  linalg::LinalgOp producer;
  OpOperand *init = nullptr;
  tensor::CollapseShapeOp collapse; // may be null
};

std::optional<Piece> pieceOf(tensor::InsertSliceOp insert) {
  Piece piece;
  Value value = insert.getSource();
  if (auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>();
      collapse && collapse->hasOneUse()) {
    piece.collapse = collapse;
    value = collapse.getSrc();
  }
  auto producer = value.getDefiningOp<linalg::LinalgOp>();
  if (!producer || !value.hasOneUse() || !producer.hasPureTensorSemantics() ||
      producer->getNumResults() != 1 || producer.getNumDpsInits() != 1 ||
      producer->getBlock() != insert->getBlock())
    return std::nullopt;
  OpOperand *init = producer.getDpsInitOperand(0);
  if (!init->get().getDefiningOp<tensor::EmptyOp>() || producer.payloadUsesValueFromOperand(init))
    return std::nullopt;
  piece.producer = producer;
  piece.init = init;
  return piece;
}

/// Moves the ops that compute `value` (an empty tensor, insertions into it) before `point`
/// where they come after it; false if something else would have to move.
bool hoistBefore(Value value, Operation *point, DominanceInfo &dominance) {
  Operation *def = value.getDefiningOp();
  if (!def || dominance.properlyDominates(value, point))
    return true;
  if (def->getBlock() != point->getBlock())
    return false;
  if (!isa<tensor::EmptyOp, bufferization::AllocTensorOp, tensor::InsertSliceOp>(def))
    return false;
  for (Value operand : def->getOperands())
    if (!hoistBefore(operand, point, dominance))
      return false;
  def->moveBefore(point);
  return true;
}

struct ConcatenateInPlacePass : msdd::impl::ConcatenateInPlaceBase<ConcatenateInPlacePass> {
  void runOnOperation() override {
    SmallVector<tensor::InsertSliceOp> inserts;
    getOperation().walk([&](tensor::InsertSliceOp insert) {
      if (insert.getSourceType().hasStaticShape() && insert.hasUnitStride())
        inserts.push_back(insert);
    });
    for (tensor::InsertSliceOp insert : inserts) {
      std::optional<Piece> piece = pieceOf(insert);
      if (!piece)
        continue;
      // The chain must start at a fresh tensor of its own: the insertions then only write
      // into it, and no other chain shares it.
      tensor::InsertSliceOp first = insert;
      while (auto previous = first.getDest().getDefiningOp<tensor::InsertSliceOp>())
        first = previous;
      if (auto empty = first.getDest().getDefiningOp<tensor::EmptyOp>()) {
        OpBuilder b(empty);
        first.getDestMutable().assign(b.create<bufferization::AllocTensorOp>(
            empty.getLoc(), empty.getType(), empty.getDynamicSizes()));
      } else if (!first.getDest().getDefiningOp<bufferization::AllocTensorOp>()) {
        continue;
      }
      DominanceInfo dominance(getOperation());
      Operation *producer = piece->producer;
      if (!hoistBefore(insert.getDest(), producer, dominance))
        continue;
      OpBuilder b(producer);
      Location loc = insert.getLoc();
      Value slice = b.create<tensor::ExtractSliceOp>(
          loc, insert.getSourceType(), insert.getDest(), insert.getMixedOffsets(),
          insert.getMixedSizes(), insert.getMixedStrides());
      if (piece->collapse)
        slice = b.create<tensor::ExpandShapeOp>(loc, piece->collapse.getSrcType(), slice,
                                                piece->collapse.getReassociationIndices());
      piece->init->set(slice);
    }
  }
};

} // namespace
