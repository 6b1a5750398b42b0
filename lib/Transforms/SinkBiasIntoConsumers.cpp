//===- SinkBiasIntoConsumers.cpp - Biases added by the products' consumers ------===//
//
// A product accumulating into its broadcast bias costs a pass that writes the broadcast and
// a read of it by the library call. When an elementwise op consumes the product anyway, the
// bias is one more input of that op: the product starts from zeros.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <numeric>

namespace mlir::msdd {
#define GEN_PASS_DEF_SINKBIASINTOCONSUMERS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// The vector that `init` broadcasts along the rows of a [M, N] accumulator: a generic that
/// yields its one input, read through (d0, d1) -> (d1). Null otherwise.
Value broadcastBias(Value init) {
  auto generic = init.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() != 2 || generic.getNumParallelLoops() != 2)
    return nullptr;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (body.getOperations().size() != 1 || yield.getOperand(0) != body.getArgument(0))
    return nullptr;
  MLIRContext *ctx = init.getContext();
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (maps[0] != AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx) || !maps[1].isIdentity())
    return nullptr;
  return generic.getDpsInputs()[0];
}

struct SinkBiasIntoConsumersPass
    : msdd::impl::SinkBiasIntoConsumersBase<SinkBiasIntoConsumersPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> products;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (isa<linalg::MatmulOp, linalg::MatmulTransposeBOp>(op.getOperation()) &&
          op.hasPureTensorSemantics())
        products.push_back(op);
    });
    for (linalg::LinalgOp product : products)
      sink(product);
  }

  void sink(linalg::LinalgOp product) {
    OpOperand *init = product.getDpsInitOperand(0);
    Value bias = broadcastBias(init->get());
    auto type = dyn_cast<RankedTensorType>(product->getResult(0).getType());
    if (!bias || !type || !type.hasStaticShape() || !isa<FloatType>(type.getElementType()) ||
        !product->getResult(0).hasOneUse())
      return;
    // The product as its consumer sees it: [M, N], or expanded to [..., N-split].
    Value result = product->getResult(0);
    auto expand = dyn_cast<tensor::ExpandShapeOp>(*result.getUsers().begin());
    Value consumed = expand ? expand.getResult() : result;
    if (!consumed.hasOneUse())
      return;
    // A transpose counts: msdd-fuse-elementwise makes it a generic.
    auto consumer = dyn_cast<linalg::LinalgOp>(*consumed.getUsers().begin());
    if (!consumer || !isa<linalg::GenericOp, linalg::TransposeOp>(consumer.getOperation()) ||
        !consumer.isDpsInput(&*consumed.getUses().begin()))
      return;

    Location loc = product.getLoc();
    OpBuilder b(product);
    Type elementType = type.getElementType();
    Value zero = b.create<arith::ConstantOp>(loc, b.getZeroAttr(elementType));
    Value empty = b.create<tensor::EmptyOp>(loc, type.getShape(), elementType);
    Operation *broadcast = init->get().getDefiningOp();
    init->set(b.create<linalg::FillOp>(loc, zero, empty).getResult(0));
    if (broadcast->use_empty())
      broadcast->erase();

    // The bias in the consumer's shape: the dimensions that N splits into.
    auto consumedType = cast<RankedTensorType>(consumed.getType());
    int64_t rank = consumedType.getRank();
    SmallVector<int64_t> biasDims = {rank - 1};
    b.setInsertionPointAfterValue(consumed);
    if (expand) {
      ReassociationIndices last = expand.getReassociationIndices().back();
      biasDims.assign(last.begin(), last.end());
      if (last.size() > 1) {
        SmallVector<int64_t> shape;
        for (int64_t d : last)
          shape.push_back(consumedType.getDimSize(d));
        ReassociationIndices all(last.size());
        std::iota(all.begin(), all.end(), 0);
        bias = b.create<tensor::ExpandShapeOp>(
            loc, RankedTensorType::get(shape, elementType), bias,
            ArrayRef<ReassociationIndices>{all});
      }
    }
    MLIRContext *ctx = b.getContext();
    SmallVector<AffineExpr> biasExprs;
    for (int64_t d : biasDims)
      biasExprs.push_back(getAffineDimExpr(d, ctx));
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
    Value sumInit = b.create<tensor::EmptyOp>(loc, consumedType.getShape(), elementType);
    auto add = b.create<linalg::GenericOp>(
        loc, consumedType, ValueRange{consumed, bias}, sumInit,
        ArrayRef<AffineMap>{identity, AffineMap::get(rank, 0, biasExprs, ctx), identity},
        parallel, [](OpBuilder &nb, Location nloc, ValueRange args) {
          nb.create<linalg::YieldOp>(nloc,
                                     nb.create<arith::AddFOp>(nloc, args[0], args[1]).getResult());
        });
    consumed.replaceAllUsesExcept(add.getResult(0), add);
  }
};

} // namespace
