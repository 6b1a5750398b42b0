//===- BuildTrainStep.cpp - One compiled training step ---------------------===//
//
// The whole step, gradients through the optimizer update, is one function of elementwise
// msdd ops after the gradient call, so fusion turns each parameter's clip + moments + update
// (+ EMA) into a single pass over memory.
//
//===----------------------------------------------------------------------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

#include <cmath>
#include <numeric>

namespace mlir::msdd {
#define GEN_PASS_DEF_BUILDTRAINSTEP
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using namespace mlir::msdd;

namespace {

/// Scalar and elementwise msdd arithmetic with numpy broadcasting of rank-0 tensors.
struct Ops {
  OpBuilder &b;
  Location loc;

  RankedTensorType type(Value v) { return cast<RankedTensorType>(v.getType()); }
  Value scalar(double v) {
    auto t = RankedTensorType::get({}, b.getF32Type());
    return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(t, b.getF32FloatAttr(v)));
  }
  /// The result type of a binary op: the higher-rank operand's (scalars broadcast).
  Type bigger(Value x, Value y) { return type(x).getRank() >= type(y).getRank() ? x.getType() : y.getType(); }
  Value add(Value x, Value y) { return b.create<AddOp>(loc, bigger(x, y), x, y); }
  Value sub(Value x, Value y) { return b.create<SubOp>(loc, bigger(x, y), x, y); }
  Value mul(Value x, Value y) { return b.create<MulOp>(loc, bigger(x, y), x, y); }
  Value div(Value x, Value y) { return b.create<DivOp>(loc, bigger(x, y), x, y); }
  Value min(Value x, Value y) { return b.create<MinimumOp>(loc, bigger(x, y), x, y); }
  Value max(Value x, Value y) { return b.create<MaximumOp>(loc, bigger(x, y), x, y); }
  Value affine(Value x, double factor, double bias = 0.0) {
    return b.create<ScaleOp>(loc, x.getType(), x, b.getF64FloatAttr(factor), b.getF64FloatAttr(bias));
  }
  template <typename OpT> Value unary(Value x) { return b.create<OpT>(loc, x.getType(), x); }
  /// sum(x * x) over every element, as a scalar.
  Value sumOfSquares(Value x) {
    SmallVector<int64_t> axes(type(x).getRank());
    std::iota(axes.begin(), axes.end(), 0);
    Value sq = mul(x, x);
    if (axes.empty())
      return sq;
    return b.create<ReduceSumOp>(loc, RankedTensorType::get({}, type(x).getElementType()), sq,
                                 axes, false);
  }
};

struct BuildTrainStepPass : msdd::impl::BuildTrainStepBase<BuildTrainStepPass> {
  using BuildTrainStepBase::BuildTrainStepBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTable symbols(module);
    auto loss = symbols.lookup<func::FuncOp>(lossFunction);
    auto grad = symbols.lookup<func::FuncOp>(lossFunction + "_grad");
    if (!loss || !grad) {
      module.emitError() << "msdd-build-train-step: needs @" << lossFunction << " and @"
                         << lossFunction << "_grad (run msdd-autodiff first)";
      return signalPassFailure();
    }
    if (optimizer != "adamw" && optimizer != "adam" && optimizer != "sgd") {
      module.emitError() << "msdd-build-train-step: unknown optimizer '" << optimizer
                         << "' (adamw, adam, sgd)";
      return signalPassFailure();
    }
    if (schedule != "constant" && schedule != "cosine" && schedule != "wsd") {
      module.emitError() << "msdd-build-train-step: unknown schedule '" << schedule
                         << "' (constant, cosine, wsd)";
      return signalPassFailure();
    }
    if (schedule == "cosine" && totalSteps <= warmupSteps) {
      module.emitError("msdd-build-train-step: the cosine schedule needs total-steps > warmup-steps");
      return signalPassFailure();
    }
    if (schedule == "wsd" && (decaySteps <= 0 || totalSteps < warmupSteps + decaySteps)) {
      module.emitError("msdd-build-train-step: the wsd schedule needs decay-steps > 0 and "
                       "total-steps >= warmup-steps + decay-steps");
      return signalPassFailure();
    }

    SmallVector<unsigned> params, batch;
    auto name = [&](unsigned i) -> std::string {
      if (auto n = loss.getArgAttrOfType<StringAttr>(i, "msdd.name"))
        return n.str();
      return "arg" + std::to_string(i);
    };
    for (unsigned i = 0; i < loss.getNumArguments(); ++i)
      (loss.getArgAttr(i, "msdd.param") ? params : batch).push_back(i);
    if (params.empty()) {
      loss.emitError("msdd-build-train-step: no argument is marked msdd.param");
      return signalPassFailure();
    }
    unsigned numLossResults = loss.getNumResults();
    if (grad.getNumResults() != numLossResults + params.size()) {
      grad.emitError("msdd-build-train-step: expected one gradient per msdd.param argument");
      return signalPassFailure();
    }

    // Signature: params, optimizer state, EMA, step, batch.
    SmallVector<std::string> stateKinds;
    if (optimizer != "sgd")
      stateKinds = {"adam_m", "adam_v"};
    else if (momentum != 0.0)
      stateKinds = {"momentum"};
    if (emaDecay != 0.0)
      stateKinds.push_back("ema");

    SmallVector<Type> argTypes;
    SmallVector<std::string> argNames;
    for (unsigned p : params) {
      argTypes.push_back(loss.getArgumentTypes()[p]);
      argNames.push_back(name(p));
    }
    for (const std::string &kind : stateKinds)
      for (unsigned p : params) {
        argTypes.push_back(loss.getArgumentTypes()[p]);
        argNames.push_back(kind + "." + name(p));
      }
    auto scalarType = RankedTensorType::get({}, Float32Type::get(ctx));
    argTypes.push_back(scalarType);
    argNames.push_back("step");
    for (unsigned i : batch) {
      argTypes.push_back(loss.getArgumentTypes()[i]);
      argNames.push_back(name(i));
    }

    OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
    auto step = mb.create<func::FuncOp>(loss.getLoc(), "train_step",
                                        FunctionType::get(ctx, argTypes, {}));
    if (symbols.insert(step).getValue() != "train_step") {
      module.emitError("msdd-build-train-step: a function named train_step already exists");
      return signalPassFailure();
    }
    Block *body = step.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(body);
    Ops o{b, loss.getLoc()};
    size_t numParams = params.size();
    auto paramArg = [&](size_t k) { return body->getArgument(k); };
    auto stateArg = [&](size_t kind, size_t k) { return body->getArgument(numParams * (1 + kind) + k); };
    Value stepArg = body->getArgument(numParams * (1 + stateKinds.size()));

    // Gradients from the differentiated loss, called with its arguments in order.
    SmallVector<Value> lossArgs(loss.getNumArguments());
    for (auto [k, p] : llvm::enumerate(params))
      lossArgs[p] = paramArg(k);
    for (auto [k, i] : llvm::enumerate(batch))
      lossArgs[i] = body->getArgument(numParams * (1 + stateKinds.size()) + 1 + k);
    auto call = b.create<func::CallOp>(o.loc, grad, lossArgs);
    SmallVector<Value> grads(call.getResults().drop_front(numLossResults));

    // Global norm and clipping.
    Value normSq;
    for (Value g : grads) {
      Value s = o.sumOfSquares(g);
      normSq = normSq ? o.add(normSq, s) : s;
    }
    Value gradNorm = o.unary<SqrtOp>(normSq);
    if (clipNorm > 0) {
      Value factor = o.min(o.scalar(1.0), o.div(o.scalar(clipNorm), o.affine(gradNorm, 1.0, 1e-6)));
      for (Value &g : grads)
        g = o.mul(g, factor);
    }

    // Learning rate at `step` (1-based): linear warm-up, then constant, cosine decay, or
    // constant until a linear decay over the last decay-steps (wsd: a run of unknown length
    // trains at the constant rate and branches its decay from any checkpoint).
    Value rate = o.scalar(lr.getValue());
    if (warmupSteps > 0)
      rate = o.mul(rate, o.min(o.scalar(1.0), o.affine(stepArg, 1.0 / warmupSteps)));
    if (schedule == "cosine") {
      double span = double(totalSteps - warmupSteps);
      Value progress = o.min(o.scalar(1.0), o.max(o.scalar(0.0),
                                                  o.affine(stepArg, 1.0 / span, -warmupSteps / span)));
      rate = o.mul(rate, o.affine(o.unary<CosOp>(o.affine(progress, M_PI)), 0.5, 0.5));
    } else if (schedule == "wsd") {
      double decay = double(decaySteps);
      Value remaining = o.affine(stepArg, -1.0 / decay, double(totalSteps) / decay);
      rate = o.mul(rate, o.min(o.scalar(1.0), o.max(o.scalar(0.0), remaining)));
    }

    SmallVector<Value> newParams, newState[3];
    // Adam's bias corrections 1 - beta^step, as exp(step ln beta).
    Value correction1, correction2;
    if (optimizer != "sgd") {
      correction1 = o.affine(o.unary<ExpOp>(o.affine(stepArg, std::log(beta1.getValue()))), -1.0, 1.0);
      correction2 = o.affine(o.unary<ExpOp>(o.affine(stepArg, std::log(beta2.getValue()))), -1.0, 1.0);
    }
    for (size_t k = 0; k < numParams; ++k) {
      Value p = paramArg(k), g = grads[k], update;
      if (optimizer != "adamw" && weightDecay != 0.0)
        g = o.add(g, o.affine(p, weightDecay)); // L2 through the gradient
      if (optimizer == "sgd") {
        if (momentum != 0.0) {
          Value buf = o.add(o.affine(stateArg(0, k), momentum), g);
          newState[0].push_back(buf);
          g = buf;
        }
        update = g;
      } else {
        Value m = o.add(o.affine(stateArg(0, k), beta1), o.affine(g, 1.0 - beta1));
        Value v = o.add(o.affine(stateArg(1, k), beta2), o.affine(o.mul(g, g), 1.0 - beta2));
        newState[0].push_back(m);
        newState[1].push_back(v);
        Value mhat = o.div(m, correction1), vhat = o.div(v, correction2);
        update = o.div(mhat, o.affine(o.unary<SqrtOp>(vhat), 1.0, eps));
        if (optimizer == "adamw" && weightDecay != 0.0)
          update = o.add(update, o.affine(p, weightDecay)); // decoupled
      }
      Value updated = o.sub(p, o.mul(update, rate));
      newParams.push_back(updated);
      if (emaDecay != 0.0)
        newState[stateKinds.size() - 1].push_back(
            o.add(o.affine(stateArg(stateKinds.size() - 1, k), emaDecay),
                  o.affine(updated, 1.0 - emaDecay)));
    }

    // Results: params, state, loss, grad_norm, lr, metrics.
    SmallVector<Value> results(newParams);
    SmallVector<std::string> resultNames(argNames.begin(), argNames.begin() + numParams);
    SmallVector<bool> updates(numParams, true);
    for (size_t kind = 0; kind < stateKinds.size(); ++kind) {
      results.append(newState[kind].begin(), newState[kind].end());
      for (size_t k = 0; k < numParams; ++k) {
        resultNames.push_back(argNames[numParams * (1 + kind) + k]);
        updates.push_back(true);
      }
    }
    results.push_back(call.getResult(0));
    resultNames.push_back("loss");
    results.push_back(gradNorm);
    resultNames.push_back("grad_norm");
    results.push_back(rate);
    resultNames.push_back("lr");
    for (unsigned r = 1; r < numLossResults; ++r) {
      results.push_back(call.getResult(r));
      auto n = loss.getResultAttrOfType<StringAttr>(r, "msdd.name");
      resultNames.push_back(n ? n.str() : "metric" + std::to_string(r));
    }
    updates.resize(results.size(), false);
    b.create<func::ReturnOp>(o.loc, results);
    step.setType(FunctionType::get(ctx, argTypes, ValueRange(results).getTypes()));

    auto named = [&](const std::string &n, bool update) {
      SmallVector<NamedAttribute> attrs{b.getNamedAttr("msdd.name", b.getStringAttr(n))};
      if (update)
        attrs.push_back(b.getNamedAttr("msdd.updates", b.getStringAttr(n)));
      return DictionaryAttr::get(ctx, attrs);
    };
    for (auto [i, n] : llvm::enumerate(argNames))
      step.setArgAttrs(i, named(n, false));
    for (auto [i, n] : llvm::enumerate(resultNames))
      step.setResultAttrs(i, named(n, updates[i]));
    // Only the step (and the loss, for evaluation) stay entry points.
    grad.setPrivate();
  }
};

} // namespace
