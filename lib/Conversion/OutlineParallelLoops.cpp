//===- OutlineParallelLoops.cpp - scf.parallel to thread-pool functions ----===//
//
// The CPU artifact must not depend on an OpenMP runtime, so parallel loops are outlined into
// plain functions over an iteration range, which the runtime's thread pool calls on chunks.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Fingerprint.h"
#include "msdd/Conversion/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_OUTLINEPARALLELLOOPS
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

struct OutlineParallelLoopsPass
    : msdd::impl::OutlineParallelLoopsBase<OutlineParallelLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    byText.clear();
    for (auto fn : llvm::to_vector(module.getOps<func::FuncOp>())) {
      SmallVector<scf::ParallelOp> loops;
      fn.walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
        loops.push_back(loop);
        return WalkResult::skip(); // only outermost loops
      });
      unsigned counter = 0;
      for (scf::ParallelOp loop : loops) {
        if (loop.getNumResults() != 0)
          continue; // reductions stay sequential
        outline(loop, fn, (fn.getSymName() + "_" + Twine(counter++)).str(), symbols);
      }
      // Serial loop nests at the top of a function become functions of their own too:
      // LLVM's loop passes (IndVarSimplify above all) grow superlinearly with the number of
      // loops in one function, and a whole train step is thousands of them.
      SmallVector<scf::ForOp> serial;
      for (Operation &op : fn.getBody().getOps())
        if (auto loop = dyn_cast<scf::ForOp>(op); loop && loop.getNumResults() == 0)
          serial.push_back(loop);
      counter = 0;
      for (scf::ForOp loop : serial)
        outlineSerial(loop, fn, (fn.getSymName() + "_" + Twine(counter++)).str(), symbols);
    }
  }

  /// Outlined bodies by their text: a model repeats the same loop at the same shapes in every
  /// layer and in its backward pass (the micro tokenizer's distillation step: 3569 outlined
  /// loops, 527 distinct), and LLVM's time grows with the functions it compiles.
  llvm::StringMap<func::FuncOp> byText;

  /// `fn`, or the earlier function with the same text (then `fn` is erased).
  func::FuncOp deduplicate(func::FuncOp fn, SymbolTable &symbols) {
    func::FuncOp &survivor = byText[msdd::fingerprint(fn)];
    if (!survivor) {
      survivor = fn;
      return fn;
    }
    symbols.erase(fn);
    return survivor;
  }

  /// Values from above the region: constants (to re-materialize) and the rest (arguments).
  static void capturedValues(Operation *op, SmallVector<Value> &captured,
                             SmallVector<Operation *> &constants) {
    llvm::SetVector<Value> above;
    for (Region &region : op->getRegions())
      getUsedValuesDefinedAbove(region, above);
    for (Value v : op->getOperands())
      above.insert(v);
    for (Value v : above) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        captured.push_back(v);
    }
  }

  /// A private function `name(leading..., captured...)` before `parent`, its entry block
  /// holding clones of `constants`, with `map` taking `captured` to its arguments.
  func::FuncOp createOutlined(StringRef name, func::FuncOp parent, TypeRange leading,
                              ArrayRef<Value> captured, ArrayRef<Operation *> constants,
                              SymbolTable &symbols, IRMapping &map, OpBuilder &b) {
    SmallVector<Type> argTypes(leading);
    for (Value v : captured)
      argTypes.push_back(v.getType());
    OpBuilder moduleBuilder(parent);
    auto fn = moduleBuilder.create<func::FuncOp>(parent.getLoc(), name,
                                                 FunctionType::get(&getContext(), argTypes, {}));
    fn.setPrivate();
    symbols.insert(fn);
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    for (Operation *c : constants)
      b.clone(*c, map);
    for (auto [i, v] : llvm::enumerate(captured))
      map.map(v, entry->getArgument(leading.size() + i));
    return fn;
  }

  void outlineSerial(scf::ForOp loop, func::FuncOp parent, const std::string &suffix,
                     SymbolTable &symbols) {
    MLIRContext *ctx = &getContext();
    Location loc = loop.getLoc();
    SmallVector<Value> captured;
    SmallVector<Operation *> constants;
    capturedValues(loop, captured, constants);
    IRMapping map;
    OpBuilder b(ctx);
    func::FuncOp body = createOutlined("__msdd_loop_" + suffix, parent, {}, captured, constants,
                                       symbols, map, b);
    // LLVM would inline a single-call static function straight back.
    body->setAttr("passthrough", ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline")}));
    b.clone(*loop, map);
    b.create<func::ReturnOp>(loc);
    body = deduplicate(body, symbols);
    OpBuilder call(loop);
    call.create<func::CallOp>(loc, body, captured);
    loop->erase();
  }

  void outline(scf::ParallelOp loop, func::FuncOp parent, const std::string &suffix,
               SymbolTable &symbols) {
    MLIRContext *ctx = &getContext();
    Location loc = loop.getLoc();
    // Values from above: constants are re-materialized, everything else becomes an argument.
    SmallVector<Value> captured;
    SmallVector<Operation *> constants;
    capturedValues(loop, captured, constants);
    IndexType index = IndexType::get(ctx);
    IRMapping map;
    OpBuilder b(ctx);
    func::FuncOp body = createOutlined("__msdd_par_" + suffix, parent, {index, index}, captured,
                                       constants, symbols, map, b);
    Block *entry = &body.front();
    Value lb0 = map.lookup(loop.getLowerBound()[0]), step0 = map.lookup(loop.getStep()[0]);
    Value one = b.create<arith::ConstantIndexOp>(loc, 1);
    auto chunk = b.create<scf::ForOp>(loc, entry->getArgument(0), entry->getArgument(1), one);
    b.setInsertionPointToStart(chunk.getBody());
    Value iv0 = b.create<arith::AddIOp>(
        loc, lb0, b.create<arith::MulIOp>(loc, chunk.getInductionVar(), step0));
    map.map(loop.getInductionVars()[0], iv0);
    auto cloneBody = [&](OpBuilder &nb) {
      for (Operation &op : loop.getBody()->without_terminator())
        nb.clone(op, map);
    };
    if (loop.getNumLoops() == 1) {
      cloneBody(b);
    } else {
      auto lookupAll = [&](ValueRange vs) {
        return llvm::to_vector(llvm::map_range(vs, [&](Value v) { return map.lookup(v); }));
      };
      b.create<scf::ParallelOp>(
          loc, lookupAll(ValueRange(loop.getLowerBound()).drop_front()),
          lookupAll(ValueRange(loop.getUpperBound()).drop_front()),
          lookupAll(ValueRange(loop.getStep()).drop_front()),
          [&](OpBuilder &nb, Location, ValueRange ivs) {
            for (auto [orig, iv] : llvm::zip(ValueRange(loop.getInductionVars()).drop_front(), ivs))
              map.map(orig, iv);
            cloneBody(nb);
          });
    }
    b.setInsertionPointToEnd(entry);
    b.create<func::ReturnOp>(loc);
    body = deduplicate(body, symbols);

    // The call covers the iterations [0, (ub - lb + step - 1) / step) of the first dimension
    // (steps are positive). Not arith.ceildivsi: the CPU pipeline has no arith-expand, which
    // would also turn arith.maximumf into compares LLVM cannot vectorize as a reduction.
    OpBuilder call(loop);
    Value lb = loop.getLowerBound()[0], ub = loop.getUpperBound()[0], step = loop.getStep()[0];
    Value callOne = call.create<arith::ConstantIndexOp>(loc, 1);
    Value span = call.create<arith::SubIOp>(loc, ub, lb);
    Value rounded =
        call.create<arith::AddIOp>(loc, span, call.create<arith::SubIOp>(loc, step, callOne));
    Value n = call.create<arith::DivSIOp>(loc, rounded, step);
    SmallVector<Value> args{call.create<arith::ConstantIndexOp>(loc, 0), n};
    args.append(captured.begin(), captured.end());
    call.create<func::CallOp>(loc, body, args);
    loop->erase();
  }
};

} // namespace
