//===- RoundContractionResults.cpp - Products that write bf16 ----------------===//
//
// On the GPU most of a transformer's elementwise time is spent reading the f32 results of
// its products. Where only elementwise ops read a product, its result is rounded to bf16 as
// it is written (cuBLAS with a bf16 D, beta = 0) and the consumers widen what they read.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_ROUNDCONTRACTIONRESULTS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// An elementwise op that reads `use` as an input: a generic with only parallel loops, or a
/// transpose (msdd-fuse-elementwise makes it one).
bool isElementwiseRead(OpOperand &use) {
  auto op = dyn_cast<linalg::LinalgOp>(use.getOwner());
  if (!op || !op.hasPureTensorSemantics() || !op.isDpsInput(&use))
    return false;
  if (isa<linalg::TransposeOp>(op.getOperation()))
    return true;
  return isa<linalg::GenericOp>(op.getOperation()) &&
         op.getNumParallelLoops() == op.getNumLoops();
}

/// A generic applying `convert` (extf / truncf) to each element of `input`.
template <typename Convert>
Value convertElements(OpBuilder &b, Location loc, Value input, Type elementType) {
  auto type = cast<RankedTensorType>(input.getType());
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), elementType);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(), utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(
          loc, init.getType(), input, init, ArrayRef<AffineMap>{identity, identity}, parallel,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            nb.create<linalg::YieldOp>(
                nloc, nb.create<Convert>(nloc, elementType, args[0]).getResult());
          })
      .getResult(0);
}

struct RoundContractionResultsPass
    : msdd::impl::RoundContractionResultsBase<RoundContractionResultsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> products;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::MatmulTransposeBOp>(op.getOperation()) &&
          op.hasPureTensorSemantics() && qualifies(op))
        products.push_back(op);
    });
    for (linalg::LinalgOp product : products)
      round(product);
  }

  /// bf16 factors, a static f32 result that starts from zeros (the library call writes it
  /// with beta = 0), and only elementwise readers, directly or through one reshape.
  static bool qualifies(linalg::LinalgOp op) {
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32() ||
        !getElementTypeOrSelf(op->getOperand(0)).isBF16() ||
        !getElementTypeOrSelf(op->getOperand(1)).isBF16())
      return false;
    auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
    if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
      return false;
    Value result = op->getResult(0);
    if (result.use_empty())
      return false;
    for (OpOperand &use : result.getUses()) {
      if (isElementwiseRead(use))
        continue;
      Operation *reshape = use.getOwner();
      if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(reshape) ||
          reshape->getResult(0).use_empty() ||
          !llvm::all_of(reshape->getResult(0).getUses(), isElementwiseRead))
        return false;
    }
    return true;
  }

  static void round(linalg::LinalgOp product) {
    Location loc = product.getLoc();
    Value result = product->getResult(0);
    OpBuilder b(product->getContext());
    b.setInsertionPointAfter(product);
    Type bf16 = b.getBF16Type(), f32 = b.getF32Type();
    Value rounded = convertElements<arith::TruncFOp>(b, loc, result, bf16);
    Operation *rounding = rounded.getDefiningOp();
    // Each reader gets a widening in its own shape, which elementwise fusion merges into it.
    for (OpOperand &use : llvm::make_early_inc_range(result.getUses())) {
      Operation *user = use.getOwner();
      if (user == rounding)
        continue;
      b.setInsertionPoint(user);
      if (auto expand = dyn_cast<tensor::ExpandShapeOp>(user)) {
        Value narrow = b.create<tensor::ExpandShapeOp>(
            loc, expand.getResultType().clone(bf16), rounded, expand.getReassociationIndices());
        expand.getResult().replaceAllUsesWith(convertElements<arith::ExtFOp>(b, loc, narrow, f32));
        expand.erase();
      } else if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(user)) {
        Value narrow = b.create<tensor::CollapseShapeOp>(
            loc, collapse.getResultType().clone(bf16), rounded,
            collapse.getReassociationIndices());
        collapse.getResult().replaceAllUsesWith(
            convertElements<arith::ExtFOp>(b, loc, narrow, f32));
        collapse.erase();
      } else {
        use.set(convertElements<arith::ExtFOp>(b, loc, rounded, f32));
      }
    }
  }
};

} // namespace
