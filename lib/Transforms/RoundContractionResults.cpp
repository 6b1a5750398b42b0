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
#include "mlir/IR/IRMapping.h"
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
      if (isa<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp>(
              op.getOperation()) &&
          op.hasPureTensorSemantics() && qualifies(op))
        products.push_back(op);
    });
    for (linalg::LinalgOp product : products)
      round(product);
  }

  /// bf16 factors, a static f32 result that starts from zeros (the library call writes it
  /// with beta = 0), and only elementwise readers.
  static bool qualifies(linalg::LinalgOp op) {
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32() ||
        !getElementTypeOrSelf(op->getOperand(0)).isBF16() ||
        !getElementTypeOrSelf(op->getOperand(1)).isBF16())
      return false;
    auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
    return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) &&
           onlyElementwiseReaders(op->getResult(0));
  }

  /// Ops that view their operand in another shape or part: the readers behind them count.
  static bool isView(Operation *op) {
    return isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::ExtractSliceOp>(op);
  }

  /// Every reader of `value` is elementwise, directly or through views (a slice of a
  /// stacked product, msdd-merge-sibling-products, then a reshape).
  static bool onlyElementwiseReaders(Value value, int depth = 0) {
    if (value.use_empty() || depth > 2)
      return false;
    return llvm::all_of(value.getUses(), [&](OpOperand &use) {
      return isElementwiseRead(use) ||
             (isView(use.getOwner()) && onlyElementwiseReaders(use.getOwner()->getResult(0), depth + 1));
    });
  }

  static void round(linalg::LinalgOp product) {
    OpBuilder b(product->getContext());
    b.setInsertionPointAfter(product);
    Value result = product->getResult(0);
    Value rounded =
        convertElements<arith::TruncFOp>(b, product.getLoc(), result, b.getBF16Type());
    widenReaders(result, rounded, rounded.getDefiningOp());
  }

  /// Gives the readers of `wide` what they read from `narrow`, its bf16 copy: views are
  /// redone on `narrow`, and each reader gets a widening in its own shape, which elementwise
  /// fusion merges into it.
  static void widenReaders(Value wide, Value narrow, Operation *rounding) {
    OpBuilder b(wide.getContext());
    for (OpOperand &use : llvm::make_early_inc_range(wide.getUses())) {
      Operation *user = use.getOwner();
      if (user == rounding)
        continue;
      b.setInsertionPoint(user);
      Location loc = user->getLoc();
      if (isView(user)) {
        IRMapping mapping;
        mapping.map(wide, narrow);
        Operation *view = b.clone(*user, mapping);
        view->getResult(0).setType(
            cast<RankedTensorType>(user->getResult(0).getType()).clone(b.getBF16Type()));
        widenReaders(user->getResult(0), view->getResult(0), nullptr);
        user->erase();
      } else {
        use.set(convertElements<arith::ExtFOp>(b, loc, narrow, b.getF32Type()));
      }
    }
  }
};

} // namespace
