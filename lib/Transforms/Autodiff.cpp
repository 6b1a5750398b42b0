//===- Autodiff.cpp - Reverse-mode differentiation of msdd functions -------===//
#include "msdd/Transforms/Inlining.h"
#include "msdd/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/InliningUtils.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_AUTODIFF
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using namespace mlir::msdd;

namespace {

bool isFloatTensor(Type t) {
  auto tensor = dyn_cast<RankedTensorType>(t);
  return tensor && isa<FloatType>(tensor.getElementType());
}

Value constantTensor(OpBuilder &b, Location loc, Type type, double value) {
  auto tensor = cast<RankedTensorType>(type);
  auto attr = DenseElementsAttr::get(tensor, b.getFloatAttr(tensor.getElementType(), value));
  return b.create<arith::ConstantOp>(loc, attr);
}

std::string argName(func::FuncOp fn, unsigned i) {
  if (auto name = fn.getArgAttrOfType<StringAttr>(i, "msdd.name"))
    return name.str();
  return "arg" + std::to_string(i);
}

/// Values that depend on the differentiated arguments: only ops that read one need a rule
/// (noise from integer seeds, constants, timestep embeddings of inputs need none).
DenseSet<Value> variedValues(Block &body, ArrayRef<int64_t> wrtArgs) {
  DenseSet<Value> varied;
  for (int64_t a : wrtArgs)
    varied.insert(body.getArgument(a));
  for (Operation &op : body.without_terminator())
    if (llvm::any_of(op.getOperands(), [&](Value v) { return varied.contains(v); }))
      varied.insert(op.result_begin(), op.result_end());
  return varied;
}

/// One reverse sweep from `loss`: the adjoint of every varied value the loss depends on.
FailureOr<DenseMap<Value, Value>> reverseSweep(Block &body, Value loss,
                                               const DenseSet<Value> &varied, OpBuilder &b) {
  DenseMap<Value, Value> adjoint;
  adjoint[loss] = constantTensor(b, loss.getLoc(), loss.getType(), 1.0);
  auto accumulate = [&](Value v, Value grad) {
    auto [it, inserted] = adjoint.try_emplace(v, grad);
    if (!inserted)
      it->second = b.create<AddOp>(grad.getLoc(), v.getType(), it->second, grad);
  };
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);
  for (Operation *op : llvm::reverse(forward)) {
    if (llvm::none_of(op->getResults(), [&](Value r) { return adjoint.count(r); }))
      continue; // the loss does not depend on it
    if (llvm::none_of(op->getOperands(), [&](Value v) { return varied.contains(v); }))
      continue; // nothing differentiated flows through it
    auto differentiable = dyn_cast<DifferentiableOpInterface>(op);
    if (!differentiable || op->getNumResults() != 1)
      return op->emitOpError("is on the path to the loss but has no gradient rule"),
             failure();
    SmallVector<Value> grads(op->getNumOperands());
    if (failed(differentiable.buildVjp(b, adjoint.lookup(op->getResult(0)), grads)))
      return op->emitOpError("gradient rule failed"), failure();
    for (auto [operand, grad] : llvm::zip(op->getOperands(), grads))
      if (grad && varied.contains(operand))
        accumulate(operand, grad);
  }
  return adjoint;
}

/// Elementwise msdd ops whose results are cheap to recompute from their operands.
bool isCheapElementwise(Operation *op) {
  return op->getNumResults() == 1 && op->hasTrait<OpTrait::SameOperandsAndResultType>() &&
         op->getDialect() && isa<MsddDialect>(op->getDialect());
}

/// Clones cheap elementwise forward ops next to their first backward use, so their results
/// need not stay alive from the forward pass to the backward one.
void rematerializeElementwise(Block &body, Operation *lastForward) {
  if (!lastForward)
    return;
  SmallVector<Operation *> forward;
  for (Operation &op : body) {
    forward.push_back(&op);
    if (&op == lastForward)
      break;
  }
  for (Operation *op : llvm::reverse(forward)) {
    if (!isCheapElementwise(op))
      continue;
    SmallVector<OpOperand *> backwardUses;
    for (OpOperand &use : op->getResult(0).getUses())
      if (lastForward->isBeforeInBlock(use.getOwner()) && !isa<func::ReturnOp>(use.getOwner()))
        backwardUses.push_back(&use);
    if (backwardUses.empty())
      continue;
    Operation *first = backwardUses.front()->getOwner();
    for (OpOperand *use : backwardUses)
      if (use->getOwner()->isBeforeInBlock(first))
        first = use->getOwner();
    OpBuilder b(first);
    Operation *copy = b.clone(*op);
    for (OpOperand *use : backwardUses)
      use->set(copy->getResult(0));
  }
}

struct AutodiffPass : msdd::impl::AutodiffBase<AutodiffPass> {
  using AutodiffBase::AutodiffBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto fn = symbols.lookup<func::FuncOp>(functionName);
    if (!fn) {
      module.emitError() << "msdd-autodiff: no function named '" << functionName << "'";
      return signalPassFailure();
    }
    if (!fn.getBody().hasOneBlock()) {
      fn.emitError("msdd-autodiff: only straight-line functions (one block) are supported");
      return signalPassFailure();
    }

    SmallVector<int64_t> wrtArgs(wrt.begin(), wrt.end());
    if (wrtArgs.empty())
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        if (fn.getArgAttr(i, "msdd.param"))
          wrtArgs.push_back(i);
    if (wrtArgs.empty())
      for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes()))
        if (isFloatTensor(t))
          wrtArgs.push_back(i);
    SmallVector<int64_t> losses(of.begin(), of.end());
    if (losses.empty())
      losses.push_back(0);
    for (int64_t a : wrtArgs)
      if (a < 0 || a >= (int64_t)fn.getNumArguments() || !isFloatTensor(fn.getArgumentTypes()[a])) {
        fn.emitError() << "msdd-autodiff: argument " << a << " is not a float tensor argument";
        return signalPassFailure();
      }
    for (int64_t r : losses) {
      auto type = r >= 0 && r < (int64_t)fn.getNumResults()
                      ? dyn_cast<RankedTensorType>(fn.getResultTypes()[r])
                      : RankedTensorType();
      if (!type || type.getRank() != 0 || !isa<FloatType>(type.getElementType())) {
        fn.emitError() << "msdd-autodiff: result " << r << " is not a scalar float tensor loss";
        return signalPassFailure();
      }
    }

    // The gradient function starts as a copy of the forward one, placed right after it.
    OpBuilder moduleBuilder(module.getContext());
    moduleBuilder.setInsertionPointAfter(fn);
    auto grad = cast<func::FuncOp>(moduleBuilder.clone(*fn));
    grad.setSymName((fn.getSymName() + "_grad").str());
    if (symbols.lookup(grad.getSymName())) {
      fn.emitError() << "msdd-autodiff: '" << grad.getSymName() << "' already exists";
      grad.erase();
      return signalPassFailure();
    }
    symbols.insert(grad);
    if (failed(msdd::inlineCalls(grad, symbols, [](func::FuncOp) { return true; })))
      return signalPassFailure();

    Block &body = grad.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    // Everything before the return is forward; what the sweeps add is backward.
    Operation *lastForward = ret->getPrevNode();
    OpBuilder b(ret);
    SmallVector<Value> results(ret.getOperands());
    SmallVector<Type> resultTypes(grad.getResultTypes());
    SmallVector<std::string> gradNames;
    DenseSet<Value> varied = variedValues(body, wrtArgs);
    for (int64_t r : losses) {
      FailureOr<DenseMap<Value, Value>> adjoint =
          reverseSweep(body, ret.getOperand(r), varied, b);
      if (failed(adjoint))
        return signalPassFailure();
      for (int64_t a : wrtArgs) {
        Value arg = body.getArgument(a);
        Value g = adjoint->lookup(arg);
        if (!g) // the loss does not depend on it
          g = constantTensor(b, arg.getLoc(), arg.getType(), 0.0);
        results.push_back(g);
        resultTypes.push_back(arg.getType());
        gradNames.push_back((losses.size() == 1 ? "grad." : "grad" + std::to_string(r) + ".") +
                            argName(fn, a));
      }
    }
    b.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    if (rematerialize)
      rematerializeElementwise(body, lastForward);
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned i = 0, e = grad.getNumResults(); i < e; ++i)
      resultAttrs.push_back(grad.getResultAttrDict(i));
    for (const std::string &name : gradNames)
      resultAttrs.push_back(DictionaryAttr::get(
          &getContext(), {NamedAttribute(StringAttr::get(&getContext(), "msdd.name"),
                                         StringAttr::get(&getContext(), name))}));
    grad.setType(FunctionType::get(&getContext(), grad.getArgumentTypes(), resultTypes));
    grad.setAllResultAttrs(resultAttrs);
  }
};

} // namespace
