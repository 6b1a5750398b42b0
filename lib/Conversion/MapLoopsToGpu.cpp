//===- MapLoopsToGpu.cpp - linalg ops on device buffers to gpu.launch ------===//
//
// One thread per point of an op's parallel iteration space: simple, always legal (linalg's
// parallel dimensions carry no dependences), and coalesced when the last dimension is the
// fastest-varying one, as it is for row-major outputs. Matrix products do not come here
// when they go to cuBLAS (msdd-linalg-to-runtime-calls).
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"
#include "msdd/Conversion/Buffers.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::msdd {
#define GEN_PASS_DEF_MAPLOOPSTOGPU
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using msdd::rootBuffer;

namespace {

gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, int64_t blocks, int64_t threads) {
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value gridX = b.create<arith::ConstantIndexOp>(loc, blocks);
  Value blockX = b.create<arith::ConstantIndexOp>(loc, threads);
  auto launch = b.create<gpu::LaunchOp>(loc, gridX, one, one, blockX, one, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.create<gpu::TerminatorOp>(loc);
  return launch;
}

/// Moves the ops [begin, end) of one block to the start of a single-thread launch.
void wrapInSingleThread(OpBuilder &b, Operation *begin, Operation *end) {
  b.setInsertionPoint(begin);
  gpu::LaunchOp launch = createLaunch(b, begin->getLoc(), 1, 1);
  Block &body = launch.getBody().front();
  body.getOperations().splice(body.begin(), begin->getBlock()->getOperations(),
                              begin->getIterator(), end->getIterator());
}

/// The position of `linear` in a row-major space of `counts`, last dimension fastest. Index
/// is 64-bit on the GPU, where 64-bit division (even by a constant) is emulated: spaces of
/// fewer than 2^31 points are split on 32 bits.
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear, ArrayRef<int64_t> counts) {
  int64_t total = 1;
  for (int64_t count : counts)
    total *= count;
  bool narrow = total <= std::numeric_limits<int32_t>::max();
  auto constant = [&](int64_t v) -> Value {
    return narrow ? b.create<arith::ConstantIntOp>(loc, v, 32).getResult()
                  : b.create<arith::ConstantIndexOp>(loc, v).getResult();
  };
  Value rest = narrow ? b.create<arith::IndexCastUIOp>(loc, b.getI32Type(), linear).getResult()
                      : linear;
  SmallVector<Value> indices(counts.size());
  for (int64_t d = static_cast<int64_t>(counts.size()) - 1; d >= 0; --d) {
    Value index = d == 0 ? rest : b.create<arith::RemUIOp>(loc, rest, constant(counts[d])).getResult();
    if (d > 0)
      rest = b.create<arith::DivUIOp>(loc, rest, constant(counts[d]));
    indices[d] = narrow ? b.create<arith::IndexCastUIOp>(loc, b.getIndexType(), index).getResult()
                        : index;
  }
  return indices;
}

/// Large elementwise ops give each thread kCoarsening points: with one point per thread,
/// the loads in flight (one per resident thread) cannot cover the memory latency.
constexpr int64_t kCoarsening = 4, kCoarsenMinPoints = int64_t(1) << 20;

/// A loop body of loads, side-effect-free ops and stores, every store after every load, so
/// that the bodies of several points can be interleaved.
bool isStraightLine(Block &body) {
  bool stored = false;
  for (Operation &op : body.without_terminator()) {
    if (op.getNumRegions())
      return false;
    if (isa<memref::StoreOp>(op)) {
      stored = true;
    } else if (isa<memref::LoadOp>(op)) {
      if (stored)
        return false;
    } else if (!isMemoryEffectFree(&op)) {
      return false;
    }
  }
  return true;
}

/// Replaces `loop` (constant bounds, no reductions) by a launch of one thread per point, or
/// per kCoarsening points for large straight-line bodies.
LogicalResult mapParallelLoop(OpBuilder &b, scf::ParallelOp loop, int64_t blockSize) {
  SmallVector<int64_t> lower, counts, steps;
  int64_t total = 1;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> l = getConstantIntValue(lb), u = getConstantIntValue(ub),
                           s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return loop.emitOpError("has non-constant bounds; CUDA artifacts need static shapes");
    lower.push_back(*l);
    steps.push_back(*s);
    counts.push_back(std::max<int64_t>(0, (*u - *l + *s - 1) / *s));
    total *= counts.back();
  }
  if (loop.getNumResults())
    return loop.emitOpError("with reductions is not mapped to the GPU");
  if (total == 0) {
    loop.erase();
    return success();
  }
  int64_t factor = total >= kCoarsenMinPoints && isStraightLine(*loop.getBody()) ? kCoarsening : 1;
  int64_t threads = std::min(total, blockSize);
  int64_t perBlock = threads * factor;
  int64_t blocks = (total + perBlock - 1) / perBlock;
  bool tail = blocks * perBlock != total;
  Location loc = loop.getLoc();
  b.setInsertionPoint(loop);
  gpu::LaunchOp launch = createLaunch(b, loc, blocks, threads);
  b.setInsertionPointToStart(&launch.getBody().front());
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  Value base = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, launch.getBlockIds().x, constant(perBlock)),
      launch.getThreadIds().x);
  // The thread's points: base, base + threads, ... (each step coalesced across a warp).
  SmallVector<Value> ids;
  for (int64_t j = 0; j < factor; ++j)
    ids.push_back(j == 0 ? base : b.create<arith::AddIOp>(loc, base, constant(j * threads)));
  auto inRange = [&](Value id) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, id, constant(total));
  };
  if (factor == 1 && tail) {
    auto guard = b.create<scf::IfOp>(loc, inRange(base), /*withElseRegion=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
  }
  SmallVector<IRMapping> mappings(factor);
  for (int64_t j = 0; j < factor; ++j) {
    // Out-of-range points of a coarsened thread compute the last point again; only their
    // stores are skipped.
    Value id = factor > 1 && tail
                   ? b.create<arith::MinUIOp>(loc, ids[j], constant(total - 1)).getResult()
                   : ids[j];
    for (auto [d, index] : llvm::enumerate(delinearize(b, loc, id, counts))) {
      Value iv = b.create<arith::AddIOp>(loc, constant(lower[d]),
                                         b.create<arith::MulIOp>(loc, index, constant(steps[d])));
      mappings[j].map(loop.getInductionVars()[d], iv);
    }
  }
  // All points' loads and arithmetic first, then their stores: the loads are in flight
  // together (scf.parallel's points are independent, so the order is free).
  for (int64_t j = 0; j < factor; ++j)
    for (Operation &op : loop.getBody()->without_terminator())
      if (!isa<memref::StoreOp>(op))
        b.clone(op, mappings[j]);
  for (int64_t j = 0; j < factor; ++j) {
    OpBuilder::InsertionGuard guard(b);
    if (factor > 1 && tail) {
      auto ifOp = b.create<scf::IfOp>(loc, inRange(ids[j]), /*withElseRegion=*/false);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    }
    for (Operation &op : loop.getBody()->without_terminator())
      if (isa<memref::StoreOp>(op))
        b.clone(op, mappings[j]);
  }
  loop.erase();
  return success();
}


/// A reduction `out = combine(partial(inputs), out)` over the last loop dimension with an
/// associative, commutative combiner that a warp can split.
struct Reduction {
  Operation *combiner;
  Value partial;
  double identity;
};

std::optional<Reduction> matchLastDimReduction(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumResults() != 0 || op.getNumLoops() == 0)
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned last = iterators.size() - 1;
  if (iterators[last] != utils::IteratorType::reduction ||
      llvm::count(iterators, utils::IteratorType::reduction) != 1)
    return std::nullopt;
  if (op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isFunctionOfDim(last))
    return std::nullopt;
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArgument(op.getNumDpsInputs());
  if (!out.getType().isF32() || !out.hasOneUse())
    return std::nullopt;
  Operation *combiner = body.getTerminator()->getOperand(0).getDefiningOp();
  if (!combiner || combiner->getBlock() != &body || out.getUses().begin()->getOwner() != combiner ||
      combiner->getNumOperands() != 2 || combiner->getOperand(0) == combiner->getOperand(1))
    return std::nullopt;
  double inf = std::numeric_limits<double>::infinity();
  std::optional<double> identity =
      llvm::TypeSwitch<Operation *, std::optional<double>>(combiner)
          .Case<arith::AddFOp>([](auto) { return 0.0; })
          .Case<arith::MulFOp>([](auto) { return 1.0; })
          .Case<arith::MaximumFOp, arith::MaxNumFOp>([&](auto) { return -inf; })
          .Case<arith::MinimumFOp, arith::MinNumFOp>([&](auto) { return inf; })
          .Default([](auto) { return std::nullopt; });
  if (!identity)
    return std::nullopt;
  Value partial = combiner->getOperand(0) == out ? combiner->getOperand(1) : combiner->getOperand(0);
  return Reduction{combiner, partial, *identity};
}

/// The indices `map` selects from the loop indices `ivs`.
SmallVector<Value> applyIndexingMap(OpBuilder &b, Location loc, AffineMap map, ValueRange ivs) {
  SmallVector<Value> indices;
  for (AffineExpr expr : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      indices.push_back(ivs[dim.getPosition()]);
    else
      indices.push_back(b.create<affine::AffineApplyOp>(
          loc, AffineMap::get(map.getNumDims(), 0, expr), ivs));
  }
  return indices;
}

constexpr int64_t kWarp = 32, kWarpsPerBlock = 8;

/// The lanes that reduce one of `rows` rows of `reduced` elements together: a whole warp,
/// or for rows shorter than a warp the largest power of two not above `reduced` (at least
/// 4), so that a warp reads several whole rows in one coalesced access instead of idling
/// most lanes. A warp holds whole rows or none (the tail's guard drops whole warps), so
/// `rows` must be a multiple of the rows per warp. 0 where a thread per row is as good:
/// rows of fewer than 4 elements, or short rows that do not fill whole warps.
int64_t lanesPerRow(int64_t reduced, int64_t rows) {
  if (reduced < 4)
    return 0;
  int64_t lanes = std::min<int64_t>(kWarp, llvm::bit_floor(uint64_t(reduced)));
  return rows % (kWarp / lanes) == 0 ? lanes : 0;
}

/// Points per iteration of a lane's loop (createLaneLoop), where they divide its points.
constexpr int64_t kLaneUnroll = 4;

/// The loop of a lane over the points lane, lane + lanes, ... below `count`, carrying
/// `iterArgs`; returns it and the indices of the points of one iteration, and leaves `b` in
/// its body after them. Where every lane has the same number of points, the loop counts
/// them from 0 and an iteration takes up to kLaneUnroll of them: the caller clones their
/// bodies one after the other, stores last, so that the loads of several points are in
/// flight at once. (A loop from `lane` waits for each point's loads before the next
/// point's; the GPU compiler cannot move a load above an earlier point's store, as it
/// does not know that the buffers do not alias.)
std::pair<scf::ForOp, SmallVector<Value>> createLaneLoop(OpBuilder &b, Location loc, Value lane,
                                                         int64_t lanes, int64_t count,
                                                         ValueRange iterArgs) {
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  if (count % lanes != 0) {
    auto loop = b.create<scf::ForOp>(loc, lane, constant(count), constant(lanes), iterArgs);
    b.setInsertionPointToStart(loop.getBody());
    return {loop, {loop.getInductionVar()}};
  }
  int64_t trips = count / lanes, unroll = kLaneUnroll;
  while (trips % unroll != 0)
    unroll /= 2;
  auto loop = b.create<scf::ForOp>(loc, constant(0), constant(trips / unroll), constant(1), iterArgs);
  b.setInsertionPointToStart(loop.getBody());
  Value first = b.create<arith::MulIOp>(loc, loop.getInductionVar(), constant(unroll * lanes));
  SmallVector<Value> indices;
  for (int64_t j = 0; j < unroll; ++j) {
    Value point = j ? b.create<arith::AddIOp>(loc, first, constant(j * lanes)) : first;
    indices.push_back(b.create<arith::AddIOp>(loc, point, lane));
  }
  return {loop, indices};
}

/// `reduction`'s combiner applied to `accumulated` and `partial`.
Value combine(OpBuilder &b, linalg::GenericOp op, const Reduction &reduction, Value accumulated,
              Value partial) {
  IRMapping operands;
  operands.map(op.getRegion().front().getArgument(op.getNumDpsInputs()), accumulated);
  operands.map(reduction.partial, partial);
  return b.clone(*reduction.combiner, operands)->getResult(0);
}

/// Clones the body of `op` (but its terminator and the ops in `skip`) at the loop point
/// `ivs`, reading each input from memory unless `registers` holds its value: the buffers
/// that an earlier op of the same kernel reduced, read at the same row.
void cloneBodyAt(OpBuilder &b, Location loc, linalg::GenericOp op, ArrayRef<Value> ivs,
                 const DenseMap<Value, Value> &registers, IRMapping &mapping,
                 Operation *skip = nullptr) {
  Block &body = op.getRegion().front();
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    // The accumulator of a reduction is read by its combiner only (`skip`).
    if (arg.use_empty() || (op.isDpsInit(&operand) &&
                            llvm::all_of(arg.getUsers(), [&](Operation *u) { return u == skip; })))
      continue;
    if (auto it = registers.find(operand.get()); it != registers.end())
      mapping.map(arg, it->second);
    else
      mapping.map(arg, b.create<memref::LoadOp>(
                           loc, operand.get(),
                           applyIndexingMap(b, loc, op.getMatchingIndexingMap(&operand), ivs)));
  }
  for (Operation &bodyOp : body.without_terminator()) {
    if (&bodyOp == skip)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp))
      mapping.map(index.getResult(), ivs[index.getDim()]);
    else
      b.clone(bodyOp, mapping);
  }
}

/// The reduction of one output point of `op` by the `lanes` lanes of its row (a warp or an
/// aligned part of one): they stride over the last loop (coalesced, where it is the
/// innermost in memory), then combine their partial results with butterfly shuffles that
/// stay inside the row's lanes, so that every one holds the total (without the output's
/// old value). `ivs` are the other loops' indices.
Value reduceInWarp(OpBuilder &b, Location loc, linalg::GenericOp op, const Reduction &reduction,
                   ArrayRef<Value> ivs, Value lane, int64_t lanes,
                   const DenseMap<Value, Value> &registers) {
  Value identity =
      b.create<arith::ConstantOp>(loc, b.getFloatAttr(b.getF32Type(), reduction.identity));
  scf::ForOp loop;
  {
    OpBuilder::InsertionGuard inLoop(b);
    auto [laneLoop, indices] =
        createLaneLoop(b, loc, lane, lanes, op.getStaticLoopRanges().back(), identity);
    loop = laneLoop;
    // Every point's partial first, then the combines in the points' order (the same
    // order, so the same result, as one point per iteration).
    SmallVector<Value> partials;
    for (Value index : indices) {
      SmallVector<Value> point(ivs);
      point.push_back(index);
      IRMapping mapping;
      cloneBodyAt(b, loc, op, point, registers, mapping, reduction.combiner);
      partials.push_back(mapping.lookupOrDefault(reduction.partial));
    }
    Value accumulated = loop.getRegionIterArg(0);
    for (Value partial : partials)
      accumulated = combine(b, op, reduction, accumulated, partial);
    b.create<scf::YieldOp>(loc, accumulated);
  }
  Value accumulated = loop.getResult(0);
  // The whole warp takes part in every shuffle; XOR with offsets below `lanes` keeps each
  // exchange inside an aligned group of `lanes` lanes.
  Value width = b.create<arith::ConstantIntOp>(loc, kWarp, 32);
  for (int64_t offset = lanes / 2; offset >= 1; offset /= 2) {
    Value shifted = b.create<gpu::ShuffleOp>(loc, accumulated,
                                             b.create<arith::ConstantIntOp>(loc, offset, 32), width,
                                             gpu::ShuffleMode::XOR)
                        .getShuffleResult();
    accumulated = combine(b, op, reduction, accumulated, shifted);
  }
  return accumulated;
}

/// The number of points of `rows`.
int64_t pointCount(ArrayRef<int64_t> rows) {
  int64_t points = 1;
  for (int64_t r : rows)
    points *= r;
  return points;
}

/// The launch of `lanes` lanes per point of `rows` (lanesPerRow; 8 warps a block); returns
/// the point's indices and the lane within the point's lanes, and leaves `b` inside the
/// launch, past the tail's guard.
std::pair<SmallVector<Value>, Value> createWarpPerRowLaunch(OpBuilder &b, Location loc,
                                                            ArrayRef<int64_t> rows, int64_t lanes) {
  int64_t points = pointCount(rows), rowsPerWarp = kWarp / lanes;
  assert(points % rowsPerWarp == 0 && "a warp holds whole rows only");
  int64_t warps = std::min(points / rowsPerWarp, kWarpsPerBlock);
  int64_t rowsPerBlock = warps * rowsPerWarp;
  int64_t blocks = (points + rowsPerBlock - 1) / rowsPerBlock;
  gpu::LaunchOp launch = createLaunch(b, loc, blocks, warps * kWarp);
  b.setInsertionPointToStart(&launch.getBody().front());
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  Value tid = launch.getThreadIds().x;
  Value row = b.create<arith::DivUIOp>(loc, tid, constant(lanes));
  Value lane = b.create<arith::RemUIOp>(loc, tid, constant(lanes));
  Value point = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, launch.getBlockIds().x, constant(rowsPerBlock)), row);
  if (blocks * rowsPerBlock != points) {
    // Whole warps drop out, so the shuffles of the others keep all their lanes.
    auto guard = b.create<scf::IfOp>(
        loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, point, constant(points)),
        /*withElseRegion=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
  }
  return {delinearize(b, loc, point, rows), lane};
}

/// Stores into `op`'s output at the row `ivs`, from lane 0 only, the value that `compute`
/// builds there.
void storeFromFirstLane(OpBuilder &b, Location loc, linalg::GenericOp op, ArrayRef<Value> ivs,
                        Value lane, function_ref<Value(OpBuilder &)> compute) {
  OpBuilder::InsertionGuard guard(b);
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  auto first = b.create<scf::IfOp>(
      loc, b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lane, zero),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(&first.getThenRegion().front());
  OpOperand *init = op.getDpsInitOperand(0);
  b.create<memref::StoreOp>(loc, compute(b), init->get(),
                            applyIndexingMap(b, loc, op.getMatchingIndexingMap(init), ivs));
}

/// Replaces a last-dimension reduction by a launch of a warp, or part of one, per output
/// point (see reduceInWarp). One thread per output would read rows `K` elements apart in
/// every load of a warp: for K = 32, 8x the sectors a warp's load needs.
LogicalResult mapWarpReduction(OpBuilder &b, linalg::GenericOp op, const Reduction &reduction,
                               Value start) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, [](int64_t r) { return r <= 0 || ShapedType::isDynamic(r); }))
    return failure();
  int64_t lanes = lanesPerRow(ranges.back(), pointCount(ArrayRef(ranges).drop_back()));
  if (!lanes)
    return failure(); // a thread per output is as good
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  auto [ivs, lane] = createWarpPerRowLaunch(b, loc, ArrayRef(ranges).drop_back(), lanes);
  Value total = reduceInWarp(b, loc, op, reduction, ivs, lane, lanes, DenseMap<Value, Value>());
  SmallVector<Value> point(ivs);
  point.push_back(b.create<arith::ConstantIndexOp>(loc, 0)); // the output ignores it
  storeFromFirstLane(b, loc, op, point, lane, [&](OpBuilder &b) {
    OpOperand *init = op.getDpsInitOperand(0);
    Value old = start ? b.clone(*start.getDefiningOp())->getResult(0)
                      : b.create<memref::LoadOp>(loc, init->get(),
                                                 applyIndexingMap(b, loc, op.getMatchingIndexingMap(init), point))
                            .getResult();
    return combine(b, op, reduction, old, total);
  });
  return success();
}

/// "generic_subf_exp_8x16x64": the op, the arithmetic of its body, its iteration space.
std::string describe(linalg::LinalgOp op) {
  std::string name = op->getName().stripDialect().str();
  SmallVector<StringRef> seen;
  for (Operation &bodyOp : op->getRegion(0).front().without_terminator()) {
    StringRef kind = bodyOp.getName().stripDialect();
    if (isa<linalg::IndexOp, arith::ConstantOp>(bodyOp) || llvm::is_contained(seen, kind))
      continue;
    if (seen.size() == 4)
      break;
    seen.push_back(kind);
    name += "_" + kind.str();
  }
  std::string shape;
  for (int64_t range : op.getStaticLoopRanges())
    shape += (shape.empty() ? "" : "x") +
             (ShapedType::isDynamic(range) ? std::string("d") : std::to_string(range));
  if (!shape.empty())
    name += "_" + shape;
  for (char &c : name)
    if (!llvm::isAlnum(c))
      c = '_';
  return name;
}

/// The buffers (roots) an op between the members of a row group reads and writes; nullopt
/// for an op whose accesses are not known here (a launch, a loop).
struct Accesses {
  SmallVector<Value> reads, writes;
};
std::optional<Accesses> accessesOf(Operation *op) {
  Accesses accesses;
  auto roots = [](ValueRange values, SmallVector<Value> &into) {
    for (Value v : values)
      if (isa<MemRefType>(v.getType()))
        into.push_back(rootBuffer(v));
  };
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
    roots(linalgOp.getDpsInputs(), accesses.reads);
    roots(linalgOp.getDpsInits(), accesses.reads);
    roots(linalgOp.getDpsInits(), accesses.writes);
  } else if (isa<func::CallOp>(op)) {
    roots(op->getOperands(), accesses.reads);
    roots(op->getOperands(), accesses.writes);
  } else if (isa<memref::DeallocOp, gpu::DeallocOp>(op)) {
    roots(op->getOperands(), accesses.writes);
  } else if (!isa<memref::AllocOp, gpu::AllocOp>(op) &&
             (op->getNumRegions() || !isMemoryEffectFree(op))) {
    return std::nullopt;
  }
  return accesses;
}

/// `map` selects exactly the first `rows` loops, in order: the op reads or writes the
/// element of its own row.
bool isRowMap(AffineMap map, unsigned rows) {
  if (map.getNumResults() != rows)
    return false;
  for (unsigned i = 0; i < rows; ++i)
    if (map.getResult(i) != getAffineDimExpr(i, map.getContext()))
      return false;
  return true;
}

/// Reductions over the last loop of the same rows, then a parallel op over those rows that
/// reads their results (a LayerNorm's mean and variance, then its normalization): one
/// kernel of a warp per row computes them all, the reductions' results stay in registers,
/// and the rows are read from memory once (the later passes over a row hit the cache).
struct RowGroup {
  unsigned rows;
  SmallVector<int64_t> rowRanges;
  /// The lanes that share a row (lanesPerRow of the first reduction).
  int64_t lanes;
  /// A pointwise op whose result the first reduction reduces (a residual update before a
  /// norm), or null. Every member reads that result at the point the op writes it, so each
  /// lane reads back only what it wrote itself.
  linalg::GenericOp leading;
  SmallVector<std::pair<linalg::GenericOp, Reduction>> reductions;
  linalg::GenericOp last;
  /// Deallocations of what the moved members read, which move after the kernel.
  SmallVector<Operation *> sunkDeallocs;
};

/// The static loop ranges of `op`, or an empty vector when one is dynamic or empty.
SmallVector<int64_t> staticRanges(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, [](int64_t r) { return r <= 0 || ShapedType::isDynamic(r); }))
    return {};
  return ranges;
}

/// Whether ops that read the buffers `reads` and write `writes` may move down past
/// `between`: it neither writes what they read or write nor reads what they write. The
/// deallocation of a buffer they only read moves down with them (into `sunk`).
bool canMovePast(Operation *between, ArrayRef<Value> reads, ArrayRef<Value> writes,
                 SmallVectorImpl<Operation *> &sunk) {
  std::optional<Accesses> accesses = accessesOf(between);
  if (!accesses)
    return false;
  if (isa<memref::DeallocOp, gpu::DeallocOp>(between) &&
      llvm::all_of(accesses->writes, [&](Value root) {
        return llvm::is_contained(reads, root) && !llvm::is_contained(writes, root);
      })) {
    sunk.push_back(between);
    return true;
  }
  for (Value written : accesses->writes)
    if (llvm::is_contained(reads, written) || llvm::is_contained(writes, written))
      return false;
  for (Value read : accesses->reads)
    if (llvm::is_contained(writes, read))
      return false;
  return true;
}

/// The reduction that first reads the result of `op`, when `op` can lead a row group: a
/// pointwise op with one result written in loop order, which the reduction reads in its own
/// loop order (the same loops: rows, then the reduced one).
linalg::GenericOp leadingReader(linalg::GenericOp op, SmallVectorImpl<Operation *> &sunk) {
  SmallVector<int64_t> ranges = staticRanges(op);
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 || ranges.size() < 2 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
    return nullptr;
  Value result = op.getDpsInits().front();
  SmallVector<Value> reads = llvm::map_to_vector(op.getDpsInputs(), rootBuffer);
  SmallVector<Value> writes{rootBuffer(result)};
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    auto reader = dyn_cast<linalg::GenericOp>(next);
    if (!reader || !llvm::is_contained(reader.getDpsInputs(), result)) {
      if (!canMovePast(next, reads, writes, sunk))
        return nullptr;
      continue;
    }
    if (!matchLastDimReduction(reader) || staticRanges(reader) != ranges)
      return nullptr;
    for (OpOperand *input : reader.getDpsInputOperands())
      if (input->get() == result && !reader.getMatchingIndexingMap(input).isIdentity())
        return nullptr;
    return reader;
  }
  return nullptr;
}

/// The row group that starts at `first`, or nullopt. The reductions move down to the last
/// op's place: the ops in between must not touch what they read or write.
std::optional<RowGroup> findRowGroup(linalg::GenericOp start) {
  RowGroup group;
  linalg::GenericOp first = start;
  if (!matchLastDimReduction(start)) {
    group.leading = start;
    first = leadingReader(start, group.sunkDeallocs);
    if (!first)
      return std::nullopt;
  }
  std::optional<Reduction> firstReduction = matchLastDimReduction(first);
  if (!firstReduction || first.getNumLoops() < 2 || !first.hasPureBufferSemantics())
    return std::nullopt;
  group.rows = first.getNumLoops() - 1;
  SmallVector<int64_t> ranges = first.getStaticLoopRanges();
  if (llvm::any_of(ranges, [](int64_t r) { return r <= 0 || ShapedType::isDynamic(r); }) ||
      !isRowMap(first.getMatchingIndexingMap(first.getDpsInitOperand(0)), group.rows))
    return std::nullopt;
  group.rowRanges.assign(ranges.begin(), ranges.end() - 1);
  group.lanes = lanesPerRow(ranges.back(), pointCount(group.rowRanges));
  if (!group.lanes)
    group.lanes = kWarp;
  group.reductions.emplace_back(first, *firstReduction);

  auto isRegister = [&](Value v) {
    return llvm::any_of(group.reductions,
                        [&](auto &r) { return r.first.getDpsInitOperand(0)->get() == v; });
  };
  // The roots that the members so far read, and those they write.
  SmallVector<Value> memberReads, memberWrites;
  auto addMember = [&](linalg::GenericOp op) {
    for (Value input : op.getDpsInputs())
      if (!isRegister(input))
        memberReads.push_back(rootBuffer(input));
    for (Value init : op.getDpsInits())
      memberWrites.push_back(rootBuffer(init));
  };
  if (group.leading)
    addMember(group.leading);
  addMember(first);
  // The members read the leading op's result where it wrote it: the same loops, in order.
  auto readsLeadingInOrder = [&](linalg::GenericOp op) {
    if (!group.leading)
      return true;
    Value result = group.leading.getDpsInits().front();
    for (OpOperand *input : op.getDpsInputOperands())
      if (rootBuffer(input->get()) == rootBuffer(result) &&
          (input->get() != result || !op.getMatchingIndexingMap(input).isIdentity() ||
           op.getNumLoops() != group.leading.getNumLoops()))
        return false;
    return true;
  };
  for (Operation *op = first->getNextNode(); op; op = op->getNextNode()) {
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (!generic || llvm::none_of(generic.getDpsInputs(), isRegister)) {
      if (!canMovePast(op, memberReads, memberWrites, group.sunkDeallocs))
        return std::nullopt;
      continue;
    }
    // A member: same rows, and reads the reductions' results at its own row.
    SmallVector<int64_t> memberRanges = generic.getStaticLoopRanges();
    if (!generic.hasPureBufferSemantics() || memberRanges.size() <= group.rows ||
        llvm::any_of(memberRanges, [](int64_t r) { return r <= 0 || ShapedType::isDynamic(r); }) ||
        ArrayRef(memberRanges).take_front(group.rows) != ArrayRef(group.rowRanges))
      return std::nullopt;
    SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
    if (llvm::any_of(ArrayRef(iterators).take_front(group.rows),
                     [](utils::IteratorType t) { return t != utils::IteratorType::parallel; }))
      return std::nullopt;
    for (OpOperand *input : generic.getDpsInputOperands())
      if (isRegister(input->get()) &&
          !isRowMap(generic.getMatchingIndexingMap(input), group.rows))
        return std::nullopt;
    if (!readsLeadingInOrder(generic))
      return std::nullopt;
    for (Value init : generic.getDpsInits())
      if (isRegister(init) || llvm::is_contained(memberReads, rootBuffer(init)))
        return std::nullopt;
    std::optional<Reduction> reduction = matchLastDimReduction(generic);
    if (reduction && memberRanges.size() == group.rows + 1 &&
        isRowMap(generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)), group.rows)) {
      group.reductions.emplace_back(generic, *reduction);
      addMember(generic);
      continue;
    }
    if (generic.getNumParallelLoops() != generic.getNumLoops())
      return std::nullopt;
    // Its writes must not feed the reads of the members (in flight in other warps).
    addMember(generic);
    for (Value init : generic.getDpsInits())
      if (llvm::is_contained(memberReads, rootBuffer(init)))
        return std::nullopt;
    group.last = generic;
    return group;
  }
  return std::nullopt;
}

/// The constant fill of `buffer` that `op` reduces onto: earlier in the block, and nothing
/// else uses the buffer in between. Its value is the reduction's starting value.
linalg::FillOp constantFillBefore(linalg::GenericOp op, Value buffer) {
  linalg::FillOp fill;
  for (Operation *user : buffer.getUsers())
    if (auto candidate = dyn_cast<linalg::FillOp>(user);
        candidate && candidate->getBlock() == op->getBlock() && candidate->isBeforeInBlock(op) &&
        (!fill || fill->isBeforeInBlock(candidate)))
      fill = candidate;
  if (!fill || fill.getDpsInits().front() != buffer ||
      !fill.getDpsInputs().front().getDefiningOp<arith::ConstantOp>())
    return nullptr;
  for (Operation *user : buffer.getUsers()) {
    Operation *inBlock = op->getBlock()->findAncestorOpInBlock(*user);
    if (user != fill && user != op &&
        (!inBlock || (fill->isBeforeInBlock(inBlock) && inBlock->isBeforeInBlock(op))))
      return nullptr;
  }
  return fill;
}

/// Whether each output point of `op` can be reduced by one thread with the accumulators in
/// registers: static loops, at least one reduction, every output indexed by exactly the
/// parallel loops, and no input reading an output's buffer (so that nothing else sees the
/// partial values).
bool reducesInRegisters(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumReductionLoops() == 0 || op.getNumResults() != 0 ||
      staticRanges(op).empty())
    return false;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/true))
      return false;
    SmallVector<bool> indexes(iterators.size(), false);
    for (AffineExpr result : map.getResults())
      if (auto dim = dyn_cast<AffineDimExpr>(result))
        indexes[dim.getPosition()] = true;
    for (auto [loop, iterator] : llvm::enumerate(iterators))
      if (indexes[loop] != (iterator == utils::IteratorType::parallel))
        return false;
    Value root = rootBuffer(init.get());
    for (Value input : op.getDpsInputs())
      if (isa<MemRefType>(input.getType()) && rootBuffer(input) == root)
        return false;
  }
  return true;
}

/// Replaces `op` (reducesInRegisters) by a thread per output point that loops over the
/// reductions with its accumulators in registers, starting from `starts` (constants a fill
/// would have written, or null: the output's value), and stores each once. Lowered to
/// loops, the op would load and store its output in every iteration.
LogicalResult mapSerialReduction(IRRewriter &b, linalg::GenericOp op, ArrayRef<Value> starts,
                                 int64_t blockSize) {
  Location loc = op.getLoc();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  b.setInsertionPoint(op);
  auto constant = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  SmallVector<Value> lower, upper, steps;
  SmallVector<unsigned> parallel, reduced;
  for (auto [loop, iterator] : llvm::enumerate(iterators)) {
    if (iterator != utils::IteratorType::parallel) {
      reduced.push_back(loop);
      continue;
    }
    parallel.push_back(loop);
    lower.push_back(constant(0));
    upper.push_back(constant(ranges[loop]));
    steps.push_back(constant(1));
  }
  auto points = b.create<scf::ParallelOp>(loc, lower, upper, steps);
  {
    OpBuilder::InsertionGuard inPoint(b);
    b.setInsertionPointToStart(points.getBody());
    // The outputs ignore the reduced loops: index 0 stands for them there.
    SmallVector<Value> ivs(ranges.size(), constant(0));
    for (auto [k, loop] : llvm::enumerate(parallel))
      ivs[loop] = points.getInductionVars()[k];
    SmallVector<SmallVector<Value>> outputIndices;
    SmallVector<Value> accumulators;
    for (auto [k, init] : llvm::enumerate(op.getDpsInitsMutable())) {
      outputIndices.push_back(applyIndexingMap(b, loc, op.getMatchingIndexingMap(&init), ivs));
      accumulators.push_back(starts[k] ? b.clone(*starts[k].getDefiningOp())->getResult(0)
                                       : b.create<memref::LoadOp>(loc, init.get(), outputIndices.back())
                                             .getResult());
    }
    // One loop per reduced dimension, the accumulators carried through all of them.
    std::function<SmallVector<Value>(unsigned, ValueRange)> nest = [&](unsigned depth,
                                                                      ValueRange carried) {
      auto loop = b.create<scf::ForOp>(loc, constant(0), constant(ranges[reduced[depth]]),
                                       constant(1), carried);
      OpBuilder::InsertionGuard inLoop(b);
      b.setInsertionPointToStart(loop.getBody());
      ivs[reduced[depth]] = loop.getInductionVar();
      SmallVector<Value> next;
      if (depth + 1 < reduced.size()) {
        next = nest(depth + 1, loop.getRegionIterArgs());
      } else {
        DenseMap<Value, Value> registers;
        for (auto [init, value] : llvm::zip_equal(op.getDpsInits(), loop.getRegionIterArgs()))
          registers[init] = value;
        IRMapping mapping;
        cloneBodyAt(b, loc, op, ivs, registers, mapping);
        for (Value yielded : op.getRegion().front().getTerminator()->getOperands())
          next.push_back(mapping.lookupOrDefault(yielded));
      }
      b.create<scf::YieldOp>(loc, next);
      return SmallVector<Value>(loop.getResults());
    };
    SmallVector<Value> totals = nest(0, accumulators);
    for (auto [k, init] : llvm::enumerate(op.getDpsInits()))
      b.create<memref::StoreOp>(loc, totals[k], init, outputIndices[k]);
  }
  b.eraseOp(op);
  return mapParallelLoop(b, points, blockSize);
}

/// The points of pointwise `op` in the row `rowIvs` (its first `rows` loops), the lanes
/// striding over them in row-major order.
void mapPointwiseInRow(OpBuilder &b, Location loc, linalg::GenericOp op, unsigned rows,
                       ArrayRef<Value> rowIvs, Value lane, int64_t lanes,
                       const DenseMap<Value, Value> &registers) {
  OpBuilder::InsertionGuard guard(b);
  SmallVector<int64_t> inner(ArrayRef(op.getStaticLoopRanges()).drop_front(rows));
  int64_t innerPoints = 1;
  for (int64_t r : inner)
    innerPoints *= r;
  SmallVector<Value> indices = createLaneLoop(b, loc, lane, lanes, innerPoints, ValueRange()).second;
  // The points' loads and arithmetic, then their stores (the points of a parallel op are
  // independent, so the order is free).
  SmallVector<SmallVector<Value>> points;
  SmallVector<IRMapping> mappings(indices.size());
  for (auto [index, mapping] : llvm::zip_equal(indices, mappings)) {
    SmallVector<Value> ivs(rowIvs);
    llvm::append_range(ivs, delinearize(b, loc, index, inner));
    cloneBodyAt(b, loc, op, ivs, registers, mapping);
    points.push_back(ivs);
  }
  for (auto [ivs, mapping] : llvm::zip_equal(points, mappings))
    for (auto [yielded, init] : llvm::zip_equal(op.getRegion().front().getTerminator()->getOperands(),
                                                op.getDpsInitsMutable()))
      b.create<memref::StoreOp>(loc, mapping.lookupOrDefault(yielded), init.get(),
                                applyIndexingMap(b, loc, op.getMatchingIndexingMap(&init), ivs));
}

/// Replaces `group` by one launch at its last op's place; returns the ops it erased.
SmallVector<Operation *> mapRowGroup(IRRewriter &b, RowGroup &group) {
  linalg::GenericOp last = group.last;
  Location loc = NameLoc::get(b.getStringAttr("rows_" + describe(last)), last.getLoc());
  SmallVector<Operation *> erased;
  // A reduction's result is stored when anything but the group reads it.
  SmallVector<bool> readElsewhere;
  for (auto &[op, reduction] : group.reductions)
    readElsewhere.push_back(llvm::any_of(op.getDpsInitOperand(0)->get().getUsers(),
                                         [&](Operation *user) {
      return !isa<linalg::FillOp, memref::DeallocOp, gpu::DeallocOp>(user) && user != last &&
             llvm::none_of(group.reductions, [&](auto &r) { return r.first == user; });
    }));
  b.setInsertionPoint(last);
  auto [rowIvs, lane] = createWarpPerRowLaunch(b, loc, group.rowRanges, group.lanes);
  DenseMap<Value, Value> registers;
  if (group.leading) {
    mapPointwiseInRow(b, loc, group.leading, group.rows, rowIvs, lane, group.lanes, registers);
    erased.push_back(group.leading);
  }
  for (auto [index, member] : llvm::enumerate(group.reductions)) {
    auto &[op, reduction] = member;
    Value buffer = op.getDpsInitOperand(0)->get();
    SmallVector<Value> point(rowIvs);
    point.push_back(b.create<arith::ConstantIndexOp>(loc, 0)); // the output ignores it
    Value total = reduceInWarp(b, loc, op, reduction, rowIvs, lane, group.lanes, registers);
    // Its starting value: the constant it was filled with, or what the buffer holds.
    Value start;
    linalg::FillOp fill = constantFillBefore(op, buffer);
    if (fill) {
      start = b.clone(*fill.getDpsInputs().front().getDefiningOp())->getResult(0);
      erased.push_back(fill);
    } else {
      start = b.create<memref::LoadOp>(
          loc, buffer,
          applyIndexingMap(b, loc, op.getMatchingIndexingMap(op.getDpsInitOperand(0)), point));
    }
    Value value = combine(b, op, reduction, start, total);
    registers[buffer] = value;
    if (readElsewhere[index] || !fill)
      storeFromFirstLane(b, loc, op, point, lane, [&](OpBuilder &) { return value; });
    erased.push_back(op);
  }

  mapPointwiseInRow(b, loc, last, group.rows, rowIvs, lane, group.lanes, registers);
  for (Operation *dealloc : llvm::reverse(group.sunkDeallocs))
    dealloc->moveAfter(last);
  erased.push_back(last);
  for (Operation *op : erased)
    b.eraseOp(op);
  return erased;
}

struct MapLoopsToGpuPass : msdd::impl::MapLoopsToGpuBase<MapLoopsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || func.getName().starts_with("dealloc_helper"))
        continue;
      if (failed(sinkScalarLoads(func)))
        return signalPassFailure();
      mapRowGroups(rewriter, func);
      SmallVector<linalg::LinalgOp> ops;
      func.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
      // A constant fill that a reduction then reduces onto becomes the reduction's starting
      // value in registers: one launch, and one pass over the output, fewer.
      DenseMap<Operation *, SmallVector<Value>> starts;
      DenseSet<Operation *> foldedFills;
      for (linalg::LinalgOp op : ops) {
        auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
        if (!generic || !reducesInRegisters(generic))
          continue;
        SmallVector<Value> constants;
        for (Value init : generic.getDpsInits()) {
          linalg::FillOp fill = constantFillBefore(generic, init);
          constants.push_back(fill ? fill.getDpsInputs().front() : Value());
          if (fill)
            foldedFills.insert(fill);
        }
        if (llvm::any_of(constants, [](Value v) { return bool(v); }))
          starts[generic] = constants;
      }
      for (linalg::LinalgOp op : ops)
        if (!foldedFills.contains(op) && failed(mapOp(rewriter, op, starts.lookup(op))))
          return signalPassFailure();
      for (Operation *fill : foldedFills)
        rewriter.eraseOp(fill);
      if (failed(checkHostAccesses(func)))
        return signalPassFailure();
    }
  }

  /// `starts`: for a reduction, the constant each output starts from (null: its value).
  LogicalResult mapOp(IRRewriter &rewriter, linalg::LinalgOp op, ArrayRef<Value> starts) {
    if (!op.hasPureBufferSemantics())
      return op.emitOpError("is not bufferized");
    // The generated code takes the op's location; its name becomes the kernel's name
    // (msdd-merge-gpu-modules), which profiles and PTX show.
    op->setLoc(NameLoc::get(rewriter.getStringAttr(describe(op)), op.getLoc()));
    if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation())) {
      if (std::optional<Reduction> reduction = matchLastDimReduction(generic))
        if (succeeded(mapWarpReduction(rewriter, generic, *reduction,
                                       starts.empty() ? Value() : starts.front()))) {
          rewriter.eraseOp(op);
          return success();
        }
      if (reducesInRegisters(generic)) {
        SmallVector<Value> fromOutputs(generic.getNumDpsInits(), Value());
        return mapSerialReduction(rewriter, generic, starts.empty() ? fromOutputs : starts,
                                  blockSize);
      }
    }
    assert(starts.empty() && "only reductions start from a folded fill");
    // The generated code replaces `op` between its neighbours; a marker op stands in for a
    // missing next neighbour.
    Block *block = op->getBlock();
    Operation *previous = op->getPrevNode();
    rewriter.setInsertionPointAfter(op);
    Operation *marker = rewriter.create<arith::ConstantIndexOp>(op.getLoc(), 0);
    rewriter.setInsertionPoint(op);
    if (failed(linalg::linalgOpToParallelLoops(rewriter, op)))
      return op.emitOpError("cannot be lowered to loops");
    rewriter.eraseOp(op);
    Operation *first = previous ? previous->getNextNode() : &block->front();
    // Constants for the loop bounds come first; they stay on the host.
    while (first != marker && first->hasTrait<OpTrait::ConstantLike>())
      first = first->getNextNode();
    LogicalResult result = success();
    if (first != marker) {
      auto loop = dyn_cast<scf::ParallelOp>(first);
      if (loop && loop->getNextNode() == marker)
        result = mapParallelLoop(rewriter, loop, blockSize);
      else
        wrapInSingleThread(rewriter, first, marker);
    }
    rewriter.eraseOp(marker);
    return result;
  }

  void mapRowGroups(IRRewriter &rewriter, func::FuncOp func) {
    SmallVector<linalg::GenericOp> candidates;
    func.walk([&](linalg::GenericOp op) { candidates.push_back(op); });
    DenseSet<Operation *> erased;
    for (linalg::GenericOp op : candidates) {
      if (erased.contains(op))
        continue;
      std::optional<RowGroup> group = findRowGroup(op);
      if (!group)
        continue;
      for (Operation *gone : mapRowGroup(rewriter, *group))
        erased.insert(gone);
    }
  }

  /// Loop-invariant code motion hoists reads of scalar inputs (a seed) out of linalg bodies;
  /// on the GPU they must be read where they are used, so each using op gets its own load.
  LogicalResult sinkScalarLoads(func::FuncOp func) {
    SmallVector<memref::LoadOp> loads;
    func.walk([&](memref::LoadOp load) {
      if (!load->getParentOfType<linalg::LinalgOp>() &&
          !isa_and_nonnull<memref::AllocOp>(rootBuffer(load.getMemref()).getDefiningOp()))
        loads.push_back(load);
    });
    for (memref::LoadOp load : loads) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : load->getUses())
        uses.push_back(&use);
      for (OpOperand *use : uses) {
        auto consumer = use->getOwner()->getParentOfType<linalg::LinalgOp>();
        if (!consumer)
          continue; // reported by checkHostAccesses
        Block &body = consumer->getRegion(0).front();
        OpBuilder b = OpBuilder::atBlockBegin(&body);
        Operation *copy = nullptr;
        // One load per consumer: reuse the copy made for an earlier use.
        for (Operation &op : body)
          if (auto existing = dyn_cast<memref::LoadOp>(op);
              existing && existing.getMemref() == load.getMemref() &&
              existing.getIndices() == load.getIndices())
            copy = existing;
        if (!copy)
          copy = b.clone(*load);
        use->set(copy->getResult(0));
      }
      if (load->use_empty())
        load.erase();
    }
    return success();
  }

  /// Host code may only touch its own bookkeeping (see msdd-allocate-device-memory).
  LogicalResult checkHostAccesses(func::FuncOp func) {
    WalkResult result = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      Value memref;
      if (auto load = dyn_cast<memref::LoadOp>(op))
        memref = load.getMemref();
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        memref = store.getMemref();
      else
        return WalkResult::advance();
      Value root = rootBuffer(memref);
      if (isa_and_nonnull<memref::AllocOp>(root.getDefiningOp()))
        return WalkResult::advance();
      op->emitOpError("in host code would access device memory");
      return WalkResult::interrupt();
    });
    return failure(result.wasInterrupted());
  }
};

} // namespace
