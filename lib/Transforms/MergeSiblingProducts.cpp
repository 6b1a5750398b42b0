//===- MergeSiblingProducts.cpp - One product for linear layers sharing an input ------===//
//
// A transformer block's query, key and value projections read the same normalized input,
// and so do its MLP's gate and up projections. As separate products each reads that input
// again and each is a library call of its own; with their weights stacked they are one
// product, whose result the readers take slices of.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_MERGESIBLINGPRODUCTS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// Whether the stack of `weight` costs nothing per call: a weight computed by a linalg op
/// (in bf16 mode, its rounding) writes its rows of the stack in place; an argument of a
/// private function (a sampler's denoiser) is stacked where msdd-hoist-call-invariant-code
/// moves it, once for all the calls. A public function's argument would be copied into the
/// stack at every call, which costs more than the merged product saves (3% on the CPU's
/// tiny reconstruct, before that hoisting).
bool isStackedOnce(Value weight) {
  if (weight.getDefiningOp<linalg::LinalgOp>())
    return true;
  auto argument = dyn_cast<BlockArgument>(weight);
  if (!argument)
    return false;
  auto function = dyn_cast<func::FuncOp>(argument.getOwner()->getParentOp());
  return function && function.isPrivate() && argument.getOwner()->isEntryBlock();
}

/// A linear layer's product A B^T on static tensors that starts from zeros (its bias, if
/// any, sunk into its consumer): what can be stacked without changing any value.
bool isMergeable(linalg::MatmulTransposeBOp op) {
  if (!op.hasPureTensorSemantics() || !isStackedOnce(op.getDpsInputs()[1]))
    return false;
  for (Type type : op->getOperandTypes())
    if (!cast<RankedTensorType>(type).hasStaticShape())
      return false;
  auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) &&
         fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>();
}

struct MergeSiblingProductsPass
    : msdd::impl::MergeSiblingProductsBase<MergeSiblingProductsPass> {
  void runOnOperation() override {
    // Siblings: same first factor, same factor and result types, same block.
    // Each linear layer collapses its input to 2-D itself: equal collapses are one input.
    llvm::MapVector<std::tuple<Value, Attribute, Type, Type, Type, Block *>,
                    SmallVector<linalg::MatmulTransposeBOp>>
        groups;
    getOperation().walk([&](linalg::MatmulTransposeBOp op) {
      if (!isMergeable(op))
        return;
      Value a = op.getDpsInputs()[0];
      Attribute reassociation;
      if (auto collapse = a.getDefiningOp<tensor::CollapseShapeOp>()) {
        reassociation = collapse.getReassociationAttr();
        a = collapse.getSrc();
      }
      groups[std::make_tuple(a, reassociation, op.getDpsInputs()[0].getType(),
                             getElementTypeOrSelf(op->getOperand(1)),
                             getElementTypeOrSelf(op->getResult(0)), op->getBlock())]
          .push_back(op);
    });
    DominanceInfo dominance(getOperation());
    for (auto &[key, products] : groups) {
      if (products.size() < 2)
        continue;
      // The first one in the block becomes the merged product; the others' weights must
      // already exist there.
      llvm::sort(products, [](auto a, auto b) { return a->isBeforeInBlock(b); });
      Operation *first = products.front();
      SmallVector<linalg::MatmulTransposeBOp> merged;
      for (linalg::MatmulTransposeBOp op : products)
        if (op == first || dominance.properlyDominates(op.getDpsInputs()[1], first))
          merged.push_back(op);
      if (merged.size() >= 2)
        merge(merged);
    }
  }

  static void merge(MutableArrayRef<linalg::MatmulTransposeBOp> products) {
    linalg::MatmulTransposeBOp first = products.front();
    Location loc = first.getLoc();
    OpBuilder b(first);
    // Weights are stacked in the order they are computed (their roundings, in bf16 mode):
    // msdd-concatenate-in-place can then have each write its rows directly.
    auto computedEarlier = [](linalg::MatmulTransposeBOp x, linalg::MatmulTransposeBOp y) {
      Operation *dx = x.getDpsInputs()[1].getDefiningOp();
      Operation *dy = y.getDpsInputs()[1].getDefiningOp();
      if (!dx || !dy || dx->getBlock() != dy->getBlock())
        return !dx && dy;
      return dx->isBeforeInBlock(dy);
    };
    std::stable_sort(products.begin(), products.end(), computedEarlier);
    Value a = first.getDpsInputs()[0];
    auto bType = cast<RankedTensorType>(first.getDpsInputs()[1].getType());
    auto cType = cast<RankedTensorType>(first->getResult(0).getType());
    int64_t m = cType.getDimSize(0), k = bType.getDimSize(1), n = 0;
    for (linalg::MatmulTransposeBOp op : products)
      n += cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(1);

    // The weights stacked by rows (msdd-concatenate-in-place lets their producers write
    // their rows directly).
    Value stacked =
        b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{n, k}, bType.getElementType());
    int64_t offset = 0;
    SmallVector<int64_t> offsets;
    for (linalg::MatmulTransposeBOp op : products) {
      Value weight = op.getDpsInputs()[1];
      int64_t rows = cast<RankedTensorType>(weight.getType()).getDimSize(0);
      stacked = b.create<tensor::InsertSliceOp>(
          loc, weight, stacked, ArrayRef<OpFoldResult>{b.getIndexAttr(offset), b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(k)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
      offsets.push_back(offset);
      offset += rows;
    }
    auto fill = first.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
    Value empty = b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{m, n}, cType.getElementType());
    Value zeros = b.create<linalg::FillOp>(loc, fill.getInputs()[0], empty).getResult(0);
    SmallVector<Value> factors = {a, stacked}, inits = {zeros};
    SmallVector<Type> resultTypes = {zeros.getType()};
    Value product = b.create<linalg::MatmulTransposeBOp>(loc, resultTypes, factors, inits,
                                                         ArrayRef<NamedAttribute>{})
                        ->getResult(0);
    // All slices first: the insertion point is `first`, which is erased below.
    b.setInsertionPointAfterValue(product);
    SmallVector<Value> slices;
    for (auto [op, column] : llvm::zip(products, offsets)) {
      int64_t cols = cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(1);
      slices.push_back(b.create<tensor::ExtractSliceOp>(
          loc, product, ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(column)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(m), b.getIndexAttr(cols)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)}));
    }
    for (auto [op, slice] : llvm::zip(products, slices)) {
      Operation *oldFill = op.getDpsInits()[0].getDefiningOp();
      op->getResult(0).replaceAllUsesWith(slice);
      op->erase();
      if (oldFill->use_empty())
        oldFill->erase();
    }
  }
};

} // namespace
