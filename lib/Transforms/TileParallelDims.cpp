//===- TileParallelDims.cpp - Distribute linalg ops over tiles -------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_TILEPARALLELDIMS
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// Below this many loop iterations a dispatch costs more than it saves.
constexpr int64_t kMinParallelIterations = 4096;

/// Whether tiling keeps `expr` correct: a sum of loop dimensions with non-negative
/// coefficients, or the constant 0. Tiling offsets an operand's slice by the expression at
/// the tile's start (every loop starts at 0, untiled ones too) but leaves the indexing map
/// as it is, so a constant term would be applied twice, and mod, floordiv or a negative
/// coefficient would index outside the slice.
bool isTileInvariant(AffineExpr expr) {
  switch (expr.getKind()) {
  case AffineExprKind::DimId:
    return true;
  case AffineExprKind::Constant:
    return cast<AffineConstantExpr>(expr).getValue() == 0;
  case AffineExprKind::Add: {
    auto sum = cast<AffineBinaryOpExpr>(expr);
    return isTileInvariant(sum.getLHS()) && isTileInvariant(sum.getRHS());
  }
  case AffineExprKind::Mul: {
    auto product = cast<AffineBinaryOpExpr>(expr);
    auto factor = dyn_cast<AffineConstantExpr>(product.getRHS());
    return factor && factor.getValue() >= 0 && isTileInvariant(product.getLHS());
  }
  default:
    return false;
  }
}

bool isTileable(linalg::LinalgOp op) {
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return llvm::all_of(map.getResults(), isTileInvariant);
  });
}

/// The innermost loop runs along contiguous memory: tiles of it stay at least this wide (a
/// 16-float vector, a cache line), or a column sum over [4608, 128] became 64 tiles of 2
/// columns whose 2-iteration inner loops could not be vectorized.
constexpr int64_t kMinInnermostTile = 16;

/// Tile sizes that cut the outermost parallel loops into about `minTiles` tiles: whole loops
/// of size-1 tiles while they fit, then one loop cut into the remaining factor (the innermost
/// loop into tiles no narrower than kMinInnermostTile).
SmallVector<int64_t> chooseTileSizes(linalg::LinalgOp op, int64_t minTiles) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> sizes(ranges.size(), 0);
  int64_t tiles = 1;
  for (auto [d, range] : llvm::enumerate(ranges)) {
    if (iterators[d] != utils::IteratorType::parallel || range <= 1)
      continue;
    if (tiles * range <= minTiles) {
      sizes[d] = 1;
      tiles *= range;
      if (tiles == minTiles)
        break;
      continue;
    }
    int64_t wanted = llvm::divideCeil(minTiles, tiles);
    sizes[d] = llvm::divideCeil(range, wanted);
    break;
  }
  if (!ranges.empty() && sizes.back() != 0)
    sizes.back() = std::max(sizes.back(), std::min(ranges.back(), kMinInnermostTile));
  return sizes;
}

/// A linalg.fill whose every use is the accumulator of a matrix product.
bool initializesProductsOnly(linalg::LinalgOp op) {
  if (!isa<linalg::FillOp>(op.getOperation()) || op->use_empty())
    return false;
  return llvm::all_of(op->getUses(), [](OpOperand &use) {
    auto product = dyn_cast<linalg::LinalgOp>(use.getOwner());
    return product && isa<linalg::ContractionOpInterface>(use.getOwner()) &&
           product.isDpsInit(&use);
  });
}

struct TileParallelDimsPass : msdd::impl::TileParallelDimsBase<TileParallelDimsPass> {
  using TileParallelDimsBase::TileParallelDimsBase;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation().walk([&](linalg::LinalgOp op) {
      // Contractions go whole to a library call; ops already inside a tile stay put. Zero
      // fills of products' accumulators stay whole too: the library call can then overwrite
      // its result instead of accumulating (msdd-linalg-to-runtime-calls drops the fill).
      if (!op.hasPureTensorSemantics() || isa<linalg::ContractionOpInterface>(op.getOperation()) ||
          op->getParentOfType<scf::ForallOp>() || !isTileable(op) || initializesProductsOnly(op))
        return;
      if (!op.hasDynamicShape() && op.getStaticLoopRanges().size() > 0) {
        int64_t iterations = 1;
        for (int64_t r : op.getStaticLoopRanges())
          iterations *= r;
        if (iterations >= kMinParallelIterations)
          candidates.push_back(op);
      }
    });

    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      SmallVector<int64_t> sizes = chooseTileSizes(op, minTiles);
      if (llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
        continue;
      scf::SCFTilingOptions options;
      options.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled =
          scf::tileUsingSCF(rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled)) {
        op->emitOpError("could not be tiled");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};

} // namespace
