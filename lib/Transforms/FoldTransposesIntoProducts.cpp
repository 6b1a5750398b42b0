//===- FoldTransposesIntoProducts.cpp - Transposed factors read in place ---===//
//
// A matrix product reads each factor either as stored or transposed, so a linalg.transpose
// of the two matrix dimensions feeding a factor is a copy the product does not need.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_FOLDTRANSPOSESINTOPRODUCTS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// A product by the layouts of its factors: which are read transposed.
struct ProductKind {
  bool batched, transposeA, transposeB;
};

std::optional<ProductKind> kindOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<ProductKind>>(op)
      .Case([](linalg::MatmulOp) { return ProductKind{false, false, false}; })
      .Case([](linalg::MatmulTransposeAOp) { return ProductKind{false, true, false}; })
      .Case([](linalg::MatmulTransposeBOp) { return ProductKind{false, false, true}; })
      .Case([](linalg::BatchMatmulOp) { return ProductKind{true, false, false}; })
      .Case([](linalg::BatchMatmulTransposeAOp) { return ProductKind{true, true, false}; })
      .Case([](linalg::BatchMatmulTransposeBOp) { return ProductKind{true, false, true}; })
      .Default([](Operation *) { return std::nullopt; });
}

/// Builds the named product of `kind` (not both factors transposed: no named op).
Value buildProduct(OpBuilder &b, Location loc, ProductKind kind, Value lhs, Value rhs,
                              Value init) {
  Type type = init.getType();
  SmallVector<Value, 2> inputs{lhs, rhs};
  assert(!(kind.transposeA && kind.transposeB) && "no named op reads both factors transposed");
  if (kind.batched) {
    if (kind.transposeA)
      return b.create<linalg::BatchMatmulTransposeAOp>(loc, type, inputs, init).getResult(0);
    if (kind.transposeB)
      return b.create<linalg::BatchMatmulTransposeBOp>(loc, type, inputs, init).getResult(0);
    return b.create<linalg::BatchMatmulOp>(loc, type, inputs, init).getResult(0);
  }
  if (kind.transposeA)
    return b.create<linalg::MatmulTransposeAOp>(loc, type, inputs, init).getResult(0);
  if (kind.transposeB)
    return b.create<linalg::MatmulTransposeBOp>(loc, type, inputs, init).getResult(0);
  return b.create<linalg::MatmulOp>(loc, type, inputs, init).getResult(0);
}

/// Whether `perm` keeps the leading dimensions and swaps the last two.
bool swapsLastTwo(ArrayRef<int64_t> perm) {
  int64_t rank = perm.size();
  if (rank < 2 || perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
    return false;
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (perm[i] != i)
      return false;
  return true;
}

/// How a factor is a transpose of its matrix dimensions: a linalg.transpose of the last two
/// dimensions, possibly (attention's P^T) under a tensor.collapse_shape that merges only the
/// batch dimensions.
struct TransposedFactor {
  linalg::TransposeOp transpose;
  tensor::CollapseShapeOp collapse; // or null

  /// The factor without the transpose (the same collapse of the transpose's input).
  Value untransposed(OpBuilder &b) {
    if (!collapse)
      return transpose.getInput();
    return b.create<tensor::CollapseShapeOp>(collapse.getLoc(), transpose.getInput(),
                                             collapse.getReassociationIndices());
  }
};

std::optional<TransposedFactor> matchTransposedFactor(Value factor, int64_t rank) {
  auto transposed = [](Value v) -> linalg::TransposeOp {
    auto t = v.getDefiningOp<linalg::TransposeOp>();
    return t && t.hasPureTensorSemantics() && swapsLastTwo(t.getPermutation()) ? t : nullptr;
  };
  if (linalg::TransposeOp t = transposed(factor)) {
    if (t.getPermutation().size() != size_t(rank))
      return std::nullopt;
    return TransposedFactor{t, nullptr};
  }
  auto collapse = factor.getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse || rank != 3)
    return std::nullopt;
  linalg::TransposeOp t = transposed(collapse.getSrc());
  SmallVector<ReassociationIndices> groups = collapse.getReassociationIndices();
  if (!t || groups.size() != 3 || groups[1].size() != 1 || groups[2].size() != 1)
    return std::nullopt;
  return TransposedFactor{t, collapse};
}

struct FoldTransposedFactor : RewritePattern {
  FoldTransposedFactor(MLIRContext *ctx) : RewritePattern(MatchAnyOpTypeTag(), 1, ctx) {}

  LogicalResult matchAndRewrite(Operation *op, PatternRewriter &rewriter) const override {
    std::optional<ProductKind> kind = kindOf(op);
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!kind || !linalgOp || !linalgOp.hasPureTensorSemantics())
      return failure();
    // One element type throughout, so the product's cast attribute does not matter; other
    // attributes would be lost (linalg memoizes the indexing maps of named ops in one).
    Type elementType = getElementTypeOrSelf(op->getOperand(0));
    if (llvm::any_of(op->getDiscardableAttrs(),
                     [](NamedAttribute a) { return a.getName() != "linalg.memoized_indexing_maps"; }) ||
        llvm::any_of(op->getOperandTypes(),
                     [&](Type t) { return getElementTypeOrSelf(t) != elementType; }))
      return failure();
    int64_t rank = kind->batched ? 3 : 2;
    Value lhs = op->getOperand(0), rhs = op->getOperand(1), init = op->getOperand(2);
    for (int which = 0; which < 2; ++which) {
      std::optional<TransposedFactor> match = matchTransposedFactor(which == 0 ? lhs : rhs, rank);
      if (!match)
        continue;
      ProductKind folded = *kind;
      bool &flag = which == 0 ? folded.transposeA : folded.transposeB;
      flag = !flag;
      if (folded.transposeA && folded.transposeB)
        continue; // no named op reads both factors transposed
      rewriter.setInsertionPoint(op);
      Value source = match->untransposed(rewriter);
      Value newLhs = which == 0 ? source : lhs, newRhs = which == 0 ? rhs : source;
      rewriter.replaceOp(op, buildProduct(rewriter, op->getLoc(), folded, newLhs, newRhs, init));
      return success();
    }
    return failure();
  }
};

struct FoldTransposesIntoProductsPass
    : msdd::impl::FoldTransposesIntoProductsBase<FoldTransposesIntoProductsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldTransposedFactor>(&getContext());
    // Transposes left without users are erased by the driver (they have no side effects).
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
