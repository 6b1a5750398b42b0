//===- HoistCallInvariantCode.cpp - Callee work on invariant arguments moves up -===//
//
// The sampler calls a scale's denoiser at every step with the same weights and latent; in
// bf16 mode each call rounds and stacks all the weights again. Computed in the caller,
// above the loop, that work runs once per call of the caller, and CSE merges the copies
// that different callees (every scale's denoiser) compute from the same values.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/BitVector.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_HOISTCALLINVARIANTCODE
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// Pure ops move; so do linalg ops on tensors, which MLIR 19 does not mark speculatable
/// (they cannot trap: their bodies are arithmetic on values that exist).
bool isMovable(Operation *op) {
  if (op->hasTrait<OpTrait::IsTerminator>() || !isMemoryEffectFree(op))
    return false;
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return linalgOp.hasPureTensorSemantics();
  return isSpeculatable(op);
}

/// Ops that compute nothing worth moving on their own: scalars, constants, empty tensors
/// and reshapes or slices (views once bufferized). They move only to feed the others.
bool isCheap(Operation *op) {
  if (op->hasTrait<OpTrait::ConstantLike>() ||
      isa<tensor::EmptyOp, tensor::ExtractSliceOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
          tensor::CastOp>(op))
    return true;
  return llvm::none_of(op->getResultTypes(), [](Type t) { return isa<TensorType>(t); });
}

/// The loops between `call` and `caller`'s body, innermost first; nullopt when something
/// other than a loop (a branch) is in between.
std::optional<SmallVector<LoopLikeOpInterface>> enclosingLoops(func::CallOp call,
                                                               func::FuncOp caller) {
  SmallVector<LoopLikeOpInterface> loops;
  for (Operation *parent = call->getParentOp(); parent != caller.getOperation();
       parent = parent->getParentOp()) {
    auto loop = dyn_cast<LoopLikeOpInterface>(parent);
    if (!loop)
      return std::nullopt;
    loops.push_back(loop);
  }
  return loops;
}

/// Whether `value`, passed by `call`, is the same at every execution of the call for one
/// execution of `caller`, and worth computing from once: defined at the caller's top level,
/// and the call repeats (it is in a loop) or the value is passed to other calls too.
bool isInvariantOperand(Value value, func::CallOp call, func::FuncOp caller) {
  Block &top = caller.getBody().front();
  bool topLevel = isa<BlockArgument>(value) ? value.getParentBlock() == &top
                                            : value.getDefiningOp()->getBlock() == &top;
  if (!topLevel)
    return false;
  std::optional<SmallVector<LoopLikeOpInterface>> loops = enclosingLoops(call, caller);
  if (!loops)
    return false;
  if (!loops->empty())
    return true;
  return llvm::count_if(value.getUsers(), [](Operation *user) { return isa<func::CallOp>(user); }) >
         1;
}

struct HoistCallInvariantCodePass
    : msdd::impl::HoistCallInvariantCodeBase<HoistCallInvariantCodePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    hoistLoopInvariantsAroundCalls(module);
    // Each round moves callees' work one level up (a private caller may pass it further up
    // in the next). Which parameters are invariant is decided for every callee before any
    // call changes: moving one callee's work changes what its caller passes, and so how
    // many calls share a value.
    for (int round = 0; round < 8; ++round) {
      SmallVector<std::pair<func::FuncOp, llvm::BitVector>> plans;
      for (auto callee : module.getOps<func::FuncOp>())
        if (std::optional<llvm::BitVector> params = invariantParams(module, callee))
          plans.push_back({callee, *params});
      bool changed = false;
      for (auto &[callee, params] : plans)
        changed |= hoistFromCallee(module, callee, params);
      if (!changed)
        break;
    }
  }

  /// Loop-invariant pure ops that compute a private callee's operands leave the loops
  /// around the call, so that what the loop computes once per iteration and passes to its
  /// callee (the CFG pair's stacked latent) becomes a top-level value. Nothing else moves.
  void hoistLoopInvariantsAroundCalls(ModuleOp module) {
    SymbolTable symbols(module);
    SetVector<Operation *> loops;
    module.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (!callee || callee.isPublic() || callee.isDeclaration())
        return;
      for (Operation *p = call->getParentOp(); p && !isa<func::FuncOp>(p); p = p->getParentOp())
        if (isa<LoopLikeOpInterface>(p))
          loops.insert(p);
    });
    // Inner loops come first, so that what leaves an inner loop can leave the outer one.
    for (Operation *op : loops) {
      auto loop = cast<LoopLikeOpInterface>(op);
      DenseSet<Operation *> feeding;
      SmallVector<Value> worklist;
      op->walk([&](func::CallOp call) {
        auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
        if (callee && !callee.isPublic() && !callee.isDeclaration())
          worklist.append(call.operand_begin(), call.operand_end());
      });
      while (!worklist.empty()) {
        Operation *producer = worklist.pop_back_val().getDefiningOp();
        if (producer && op->isProperAncestor(producer) && feeding.insert(producer).second)
          worklist.append(producer->operand_begin(), producer->operand_end());
      }
      moveLoopInvariantCode(
          loop.getLoopRegions(),
          [&](Value value, Region *) { return loop.isDefinedOutsideOfLoop(value); },
          [&](Operation *candidate, Region *) {
            return feeding.contains(candidate) && isMovable(candidate);
          },
          [&](Operation *candidate, Region *) { loop.moveOutOfLoop(candidate); });
    }
  }

  /// The call sites of a private callee, or nullopt if it is used otherwise.
  static std::optional<SmallVector<std::pair<func::CallOp, func::FuncOp>>>
  callSites(ModuleOp module, func::FuncOp callee) {
    if (callee.isPublic() || callee.isDeclaration() || !callee.getBody().hasOneBlock())
      return std::nullopt;
    std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(callee, module);
    if (!uses || uses->empty())
      return std::nullopt;
    SmallVector<std::pair<func::CallOp, func::FuncOp>> calls;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      auto caller = call ? call->getParentOfType<func::FuncOp>() : func::FuncOp();
      if (!call || !caller || caller == callee)
        return std::nullopt;
      calls.push_back({call, caller});
    }
    return calls;
  }

  static std::optional<llvm::BitVector> invariantParams(ModuleOp module, func::FuncOp callee) {
    auto calls = callSites(module, callee);
    if (!calls)
      return std::nullopt;
    unsigned numParams = callee.getNumArguments();
    llvm::BitVector invariantParam(numParams, true);
    for (auto [call, caller] : *calls)
      for (unsigned i = 0; i < numParams; ++i)
        if (!isInvariantOperand(call.getOperand(i), call, caller))
          invariantParam.reset(i);
    if (invariantParam.none())
      return std::nullopt;
    return invariantParam;
  }

  bool hoistFromCallee(ModuleOp module, func::FuncOp callee,
                       const llvm::BitVector &invariantParam) {
    auto calls = *callSites(module, callee);

    Block &body = callee.getBody().front();
    // The ops computed from invariant parameters alone (constants aside: what depends on
    // constants only, an accumulator's zero fill, stays with its reader). An op whose
    // result a non-moving op overwrites (its init) stays too, and what depends on it.
    DenseSet<Operation *> invariantOps, pinned;
    for (bool stable = false; !stable;) {
      DenseSet<Value> invariant, fromParams;
      for (unsigned i : invariantParam.set_bits()) {
        invariant.insert(body.getArgument(i));
        fromParams.insert(body.getArgument(i));
      }
      invariantOps.clear();
      for (Operation &op : body.without_terminator()) {
        if (pinned.contains(&op) || !isMovable(&op))
          continue;
        SetVector<Value> captured;
        getUsedValuesDefinedAbove(op.getRegions(), captured);
        auto isInvariant = [&](Value v) { return invariant.contains(v); };
        if (!llvm::all_of(op.getOperands(), isInvariant) || !llvm::all_of(captured, isInvariant))
          continue;
        bool derived =
            llvm::any_of(op.getOperands(), [&](Value v) { return fromParams.contains(v); }) ||
            llvm::any_of(captured, [&](Value v) { return fromParams.contains(v); });
        if (!derived && !isCheap(&op))
          continue;
        invariantOps.insert(&op);
        invariant.insert(op.getResults().begin(), op.getResults().end());
        if (derived)
          fromParams.insert(op.getResults().begin(), op.getResults().end());
      }
      stable = true;
      for (Operation &op : body)
        if (auto dps = dyn_cast<DestinationStyleOpInterface>(&op);
            dps && !invariantOps.contains(&op))
          for (OpOperand &init : dps.getDpsInitsMutable())
            if (Operation *producer = init.get().getDefiningOp();
                producer && invariantOps.contains(producer) && !isCheap(producer) &&
                pinned.insert(producer).second)
              stable = false;
    }

    // `hoisted`: the invariant ops that compute tensors, and what they need; `staying`:
    // everything else, with the cheap ops the remaining code still reads.
    auto userAncestor = [&](OpOperand &use) { return body.findAncestorOpInBlock(*use.getOwner()); };
    DenseSet<Operation *> hoisted, staying;
    for (Operation &op : llvm::reverse(body)) {
      bool feedsHoisted = llvm::any_of(
          op.getUses(), [&](OpOperand &use) { return hoisted.contains(userAncestor(use)); });
      if (invariantOps.contains(&op) && (!isCheap(&op) || feedsHoisted))
        hoisted.insert(&op);
      bool feedsStaying = llvm::any_of(
          op.getUses(), [&](OpOperand &use) { return staying.contains(userAncestor(use)); });
      if (!hoisted.contains(&op) || (isCheap(&op) && feedsStaying))
        staying.insert(&op);
    }
    // The values that cross the call: results of moved ops that staying code reads.
    SmallVector<Value> crossing;
    for (Operation &op : body)
      if (hoisted.contains(&op) && !staying.contains(&op))
        for (Value result : op.getResults())
          if (llvm::any_of(result.getUses(),
                           [&](OpOperand &use) { return staying.contains(userAncestor(use)); }))
            crossing.push_back(result);
    if (crossing.empty())
      return false;

    // Each call site computes the crossing values before the top-level op that holds it.
    for (auto [call, caller] : calls) {
      Block &top = caller.getBody().front();
      OpBuilder builder(top.findAncestorOpInBlock(*call));
      IRMapping mapping;
      for (unsigned i : invariantParam.set_bits())
        mapping.map(body.getArgument(i), call.getOperand(i));
      for (Operation &op : body)
        if (hoisted.contains(&op))
          builder.clone(op, mapping);
      SmallVector<Value> operands(call.getOperands());
      for (Value value : crossing)
        operands.push_back(mapping.lookup(value));
      builder.setInsertionPoint(call);
      auto newCall = builder.create<func::CallOp>(call.getLoc(), call.getCalleeAttr(),
                                                  call.getResultTypes(), operands);
      newCall->setDiscardableAttrs(call->getDiscardableAttrDictionary());
      call.replaceAllUsesWith(newCall.getResults());
      call.erase();
    }

    // The callee takes them as arguments, named after the first parameter they come from.
    for (Value value : crossing) {
      unsigned index = callee.getNumArguments();
      callee.insertArgument(
          index, value.getType(),
          DictionaryAttr::get(
              &getContext(),
              {NamedAttribute(StringAttr::get(&getContext(), "msdd.name"),
                              StringAttr::get(&getContext(), nameOf(callee, value)))}),
          value.getLoc());
      value.replaceUsesWithIf(body.getArgument(index),
                              [&](OpOperand &use) { return staying.contains(userAncestor(use)); });
    }
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
      if (!staying.contains(&op)) {
        assert(op.use_empty() && "a moved op still has readers in the callee");
        op.erase();
      }

    // Parameters nothing reads any more are dropped.
    llvm::BitVector unused(callee.getNumArguments());
    for (unsigned i : invariantParam.set_bits())
      if (body.getArgument(i).use_empty())
        unused.set(i);
    if (unused.any()) {
      std::optional<SymbolTable::UseRange> remaining = SymbolTable::getSymbolUses(callee, module);
      for (const SymbolTable::SymbolUse &use : *remaining)
        use.getUser()->eraseOperands(unused);
      callee.eraseArguments(unused);
    }
    return true;
  }

  /// "<first parameter it is computed from>.hoisted", for readable IR.
  static std::string nameOf(func::FuncOp callee, Value value) {
    SmallVector<Value> stack{value};
    DenseSet<Value> seen;
    Block &body = callee.getBody().front();
    std::optional<unsigned> first;
    while (!stack.empty()) {
      Value v = stack.pop_back_val();
      if (!seen.insert(v).second)
        continue;
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        if (arg.getOwner() == &body && (!first || arg.getArgNumber() < *first))
          first = arg.getArgNumber();
        continue;
      }
      for (Value operand : v.getDefiningOp()->getOperands())
        stack.push_back(operand);
    }
    if (first)
      if (auto name = callee.getArgAttrOfType<StringAttr>(*first, "msdd.name"))
        return (name.getValue() + ".hoisted").str();
    return "hoisted";
  }
};

} // namespace
