//===- FuseElementwise.cpp - Elementwise fusion that keeps contractions ----===//
#include "msdd/Transforms/Passes.h"
#include "msdd/Transforms/Rounding.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// A generic that reads one tensor of its own size, through a permutation that keeps the
/// innermost dimension innermost, plus vectors broadcast along it, and does at most one
/// cheap arithmetic op per point (a transpose, a bias addition; no math functions). Each consumer can redo it while
/// reading: that costs one read of the input, where storing the result costs a write and
/// then a read per consumer.
bool isCheapToRedo(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)).isIdentity())
    return false;
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() > 2)
    return false;
  if (body.getOperations().size() == 2) {
    Operation &arithmetic = body.front();
    if (!isa<arith::ArithDialect>(arithmetic.getDialect()) ||
        isa<arith::DivFOp, arith::RemFOp>(arithmetic))
      return false;
  }
  unsigned loops = generic.getNumLoops(), fullSize = 0;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(input);
    if (!map.isProjectedPermutation())
      return false;
    if (map.getNumResults() < loops)
      continue;
    ++fullSize;
    if (loops > 0 && map.getResults().back() != getAffineDimExpr(loops - 1, op->getContext()))
      return false;
  }
  return fullSize == 1;
}

/// The map from the indices of `expand`'s result to those of its source (row-major).
AffineMap linearizingMap(tensor::ExpandShapeOp expand) {
  MLIRContext *ctx = expand.getContext();
  ArrayRef<int64_t> shape = expand.getResultType().getShape();
  SmallVector<AffineExpr> results;
  for (ReassociationIndices group : expand.getReassociationIndices()) {
    AffineExpr linear = getAffineConstantExpr(0, ctx);
    for (int64_t dim : group)
      linear = linear * shape[dim] + getAffineDimExpr(dim, ctx);
    results.push_back(linear);
  }
  return AffineMap::get(shape.size(), 0, results, ctx);
}

/// Whether the value `fused` reads is otherwise only returned (an optimizer's new moments,
/// which the parameter update reads): fused, the consumer's kernel also writes it, and
/// neither a launch of its own nor a read back is needed.
bool isAlsoReturned(OpOperand *fused) {
  auto producer = fused->get().getDefiningOp<linalg::GenericOp>();
  if (!producer || producer.getNumParallelLoops() != producer.getNumLoops())
    return false;
  auto returns = [](OpOperand &use) { return isa<func::ReturnOp>(use.getOwner()); };
  return llvm::any_of(fused->get().getUses(), returns) &&
         llvm::all_of(fused->get().getUses(), [&](OpOperand &use) {
           return use.getOwner() == fused->getOwner() || returns(use);
         });
}

/// After the greedy fusion: fuses each producer that isAlsoReturned into its consumer, the
/// fused op writing both results (upstream fusion keeps a producer's result that is used
/// elsewhere). Done last, on the chains fusion has settled, so that it only merges
/// finished kernels.
void fuseReturnedProducers(func::FuncOp func) {
  IRRewriter rewriter(func.getContext());
  SmallVector<Operation *> fusedOps;
  for (bool changed = true; changed;) {
    changed = false;
    SmallVector<linalg::GenericOp> consumers;
    func.walk([&](linalg::GenericOp op) { consumers.push_back(op); });
    for (linalg::GenericOp consumer : consumers) {
      for (OpOperand *operand : consumer.getDpsInputOperands()) {
        auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
        if (!producer || !consumer.hasPureTensorSemantics() || !isAlsoReturned(operand) ||
            !linalg::areElementwiseOpsFusable(operand))
          continue;
        rewriter.setInsertionPoint(consumer);
        FailureOr<linalg::ElementwiseOpFusionResult> fused =
            linalg::fuseElementwiseOps(rewriter, operand);
        if (failed(fused))
          continue;
        for (auto [original, replacement] : fused->replacements)
          rewriter.replaceAllUsesWith(original, replacement);
        llvm::erase(fusedOps, consumer.getOperation());
        llvm::erase(fusedOps, producer.getOperation());
        rewriter.eraseOp(consumer);
        if (producer->use_empty())
          rewriter.eraseOp(producer);
        fusedOps.push_back(fused->fusedOp);
        changed = true;
        break;
      }
      if (changed)
        break; // the list holds the erased consumer: walk again
    }
  }
  // Both ops read the gradient: one operand for it.
  RewritePatternSet patterns(func.getContext());
  linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
  (void)applyOpPatternsAndFold(fusedOps, std::move(patterns));
}

/// Fuses an elementwise producer into a consumer that reads it through maps that are not
/// permutations (a rotary embedding reads both members of each pair through constant
/// indices), which upstream fusion cannot: the consumer recomputes the producer at each
/// point it reads, from the producer's inputs read through the composed maps. That costs
/// the producer's arithmetic once per read, where storing its result costs a write and a
/// read back of a tensor as large as the consumer's. At most two reads per consumer point.
struct FuseByRecomputation : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    if (!consumer.hasPureTensorSemantics())
      return failure();
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      Value read = operand->get();
      auto expand = read.getDefiningOp<tensor::ExpandShapeOp>();
      Value produced = expand ? expand.getSrc() : read;
      auto producer = produced.getDefiningOp<linalg::GenericOp>();
      if (!producer || consumer.getMatchingIndexingMap(operand).isPermutation() ||
          !isRecomputable(producer) || !produced.hasOneUse() ||
          (expand && !expand.getResultType().hasStaticShape()))
        continue;
      // Every reader of the producer's result is this consumer; each of its reads redoes it.
      SmallVector<OpOperand *> reads;
      for (OpOperand &use : read.getUses())
        if (use.getOwner() == consumer && consumer.isDpsInput(&use))
          reads.push_back(&use);
      if (reads.size() != static_cast<size_t>(llvm::range_size(read.getUses())) ||
          reads.size() > 2)
        continue;
      replaceConsumer(rewriter, consumer, producer, reads,
                      expand ? linearizingMap(expand) : AffineMap());
      return success();
    }
    return failure();
  }

  /// One result, computed pointwise from its inputs (no indices, no reads of the output).
  static bool isRecomputable(linalg::GenericOp op) {
    if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops() ||
        !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity() ||
        !op.getRegionOutputArgs().front().use_empty())
      return false;
    return llvm::none_of(op.getRegion().front().without_terminator(), [](Operation &bodyOp) {
      return isa<linalg::IndexOp>(bodyOp) || !isPure(&bodyOp);
    });
  }

  static void replaceConsumer(PatternRewriter &rewriter, linalg::GenericOp consumer,
                              linalg::GenericOp producer, ArrayRef<OpOperand *> reads,
                              AffineMap linearize) {
    // The consumer keeps its operands (canonicalization drops the ones it no longer reads)
    // and reads the producer's inputs once per fused read, through composed maps.
    SmallVector<Value> inputs(consumer.getDpsInputs());
    SmallVector<AffineMap> maps;
    for (OpOperand *input : consumer.getDpsInputOperands())
      maps.push_back(consumer.getMatchingIndexingMap(input));
    for (OpOperand *read : reads) {
      AffineMap toProducer = consumer.getMatchingIndexingMap(read);
      if (linearize)
        toProducer = linearize.compose(toProducer);
      for (OpOperand *input : producer.getDpsInputOperands()) {
        inputs.push_back(input->get());
        maps.push_back(simplifyAffineMap(
            producer.getMatchingIndexingMap(input).compose(toProducer)));
      }
    }
    for (OpOperand &init : consumer.getDpsInitsMutable())
      maps.push_back(consumer.getMatchingIndexingMap(&init));

    auto fused = rewriter.create<linalg::GenericOp>(
        consumer.getLoc(), consumer.getResultTypes(), inputs, consumer.getDpsInits(), maps,
        consumer.getIteratorTypesArray());
    fused->setDiscardableAttrs(consumer->getDiscardableAttrDictionary());
    Block &oldBody = consumer.getRegion().front();
    Block *body = rewriter.createBlock(&fused.getRegion());
    Location loc = consumer.getLoc();
    for (Value input : inputs)
      body->addArgument(getElementTypeOrSelf(input.getType()), loc);
    for (Value init : consumer.getDpsInits())
      body->addArgument(getElementTypeOrSelf(init.getType()), loc);

    unsigned numInputs = consumer.getNumDpsInputs();
    IRMapping mapping;
    for (unsigned i = 0; i < numInputs; ++i)
      mapping.map(oldBody.getArgument(i), body->getArgument(i));
    for (unsigned i = 0, e = consumer.getNumDpsInits(); i < e; ++i)
      mapping.map(oldBody.getArgument(numInputs + i), body->getArgument(inputs.size() + i));
    Block &producerBody = producer.getRegion().front();
    unsigned next = numInputs;
    rewriter.setInsertionPointToStart(body);
    for (OpOperand *read : reads) {
      IRMapping redo;
      for (unsigned i = 0, e = producer.getNumDpsInputs(); i < e; ++i)
        redo.map(producerBody.getArgument(i), body->getArgument(next++));
      for (Operation &op : producerBody.without_terminator())
        rewriter.clone(op, redo);
      mapping.map(oldBody.getArgument(read->getOperandNumber()),
                  redo.lookupOrDefault(producerBody.getTerminator()->getOperand(0)));
    }
    for (Operation &op : oldBody)
      rewriter.clone(op, mapping);
    rewriter.replaceOp(consumer, fused->getResults());
  }
};

struct FuseElementwisePass : msdd::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    // Transposes as generics: they fuse with the elementwise ops next to them (a
    // transposed read or write) instead of moving the data in a pass of their own.
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](linalg::TransposeOp transpose) {
      if (transpose.hasPureTensorSemantics()) {
        rewriter.setInsertionPoint(transpose);
        (void)linalg::generalizeNamedOp(rewriter, transpose);
      }
    });
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      // A product's rounded result (msdd-round-contraction-results) is what gets stored.
      if (producer && msdd::isTruncation(producer) &&
          isa_and_nonnull<linalg::MatmulOp, linalg::MatmulTransposeBOp>(
              producer->getOperand(0).getDefiningOp()))
        return false;
      // Into a rounding or a TF32 split, also a shared producer: it then writes both
      // precisions (or the value and both parts) at once, which costs less than reading its
      // f32 result back.
      return producer && (producer->hasOneUse() || msdd::isTruncation(fused->getOwner()) ||
                          msdd::isTf32Split(fused->getOwner()) || isCheapToRedo(producer));
    });
    patterns.add<FuseByRecomputation>(&getContext());
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    fuseReturnedProducers(getOperation());
  }
};

} // namespace
