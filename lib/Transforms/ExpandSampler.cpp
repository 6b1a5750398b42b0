//===- ExpandSampler.cpp - multiscale_sample to per-scale Euler loops ------===//
#include "msdd/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_EXPANDSAMPLER
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;
using namespace mlir::msdd;

namespace {

/// Noise streams of the sampler (the counter's fourth word), so that the initial noise and
/// every transition draw independent numbers from one seed.
constexpr int32_t kInitialNoiseStream = 0;
constexpr int32_t kTransitionNoiseStream = 1;

struct Expander {
  OpBuilder &b;
  Location loc;
  MultiscaleSampleOp op;

  RankedTensorType imageType(int64_t r) {
    auto y = op.getResult().getType();
    return RankedTensorType::get({y.getDimSize(0), y.getDimSize(1), r, r}, y.getElementType());
  }
  Value i64(int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 64); }
  Value noise(int64_t r, int64_t step, int32_t stream) {
    return b.create<RandomNormalOp>(loc, imageType(r), op.getSeed(), i64(step),
                                    b.getI32IntegerAttr(stream));
  }

  /// tau as a [B] tensor, from a scalar of the element type.
  Value tauTensor(Value scalar) {
    auto y = op.getResult().getType();
    Value empty = b.create<tensor::EmptyOp>(loc, ArrayRef<int64_t>{y.getDimSize(0)},
                                            y.getElementType());
    return b.create<linalg::FillOp>(loc, scalar, empty).getResult(0);
  }

  /// One Euler step of scale `s` at global time `tau` (a scalar).
  Value step(size_t s, Value x, Value tau, double dt) {
    auto fn = cast<FlatSymbolRefAttr>(op.getDenoisers()[s]);
    Value tauB = tauTensor(tau);
    auto call = [&](Value latent) {
      SmallVector<Value> args{x, tauB, latent};
      llvm::append_range(args, op.getParams());
      return b.create<func::CallOp>(loc, fn, TypeRange{x.getType()}, args).getResult(0);
    };
    double w = op.getGuidanceScale().convertToDouble();
    Value v;
    if (std::optional<ArrayAttr> pairs = op.getCfgDenoisers(); pairs && w != 1.0) {
      // Both branches in one call of batch 2B: conditional first.
      auto pairFn = cast<FlatSymbolRefAttr>((*pairs)[s]);
      auto xType = cast<RankedTensorType>(x.getType());
      int64_t batch = xType.getDimSize(0);
      auto doubled = [&](Value a, Value b2) {
        auto type = cast<RankedTensorType>(a.getType());
        SmallVector<int64_t> shape(type.getShape());
        shape[0] *= 2;
        return b.create<ConcatOp>(loc, RankedTensorType::get(shape, type.getElementType()),
                                  ValueRange{a, b2}, b.getI64IntegerAttr(0))
            .getResult();
      };
      SmallVector<Value> args{doubled(x, x), doubled(tauB, tauB),
                              doubled(op.getLatent(), op.getNullLatent())};
      llvm::append_range(args, op.getParams());
      Value both = b.create<func::CallOp>(loc, pairFn, TypeRange{args[0].getType()}, args)
                       .getResult(0);
      auto half = [&](int64_t start) {
        return b.create<SliceOp>(loc, xType, both, b.getI64IntegerAttr(0),
                                 b.getI64IntegerAttr(start))
            .getResult();
      };
      v = b.create<CfgCombineOp>(loc, x.getType(), half(batch), half(0), b.getF64FloatAttr(w));
    } else {
      v = call(op.getLatent());
      if (w != 1.0)
        v = b.create<CfgCombineOp>(loc, x.getType(), call(op.getNullLatent()), v,
                                   b.getF64FloatAttr(w));
    }
    return b.create<EulerStepOp>(loc, x.getType(), x, v, b.getF64FloatAttr(0.0),
                                 b.getF64FloatAttr(dt));
  }

  Value expand() {
    Type elementType = op.getResult().getType().getElementType();
    auto scalar = [&](double v) -> Value {
      return b.create<arith::ConstantOp>(loc, b.getFloatAttr(elementType, v));
    };
    ArrayRef<int64_t> res = op.getResolutions();
    Value x = noise(res[0], 0, kInitialNoiseStream);
    for (size_t s = 0; s < res.size(); ++s) {
      if (s > 0) {
        Value up = b.create<UpsampleNearestOp>(loc, imageType(res[s]), x, b.getI64IntegerAttr(2));
        Value n = b.create<BlockNoiseOp>(loc, imageType(res[s]), noise(res[s], s, kTransitionNoiseStream),
                                         op.getGammaAttr(), b.getStringAttr("pyramidal"));
        x = b.create<NoiseMixOp>(loc, imageType(res[s]), up, n, b.getF64FloatAttr(op.getAlpha()[s - 1]),
                                 b.getF64FloatAttr(op.getBeta()[s - 1]));
      }
      int64_t n = op.getSteps()[s];
      double dt = (op.getWindowEnd()[s] - op.getWindowStart()[s]) / n;
      double tau0 = op.getTauStart()[s], dtau = (op.getTauEnd()[s] - op.getTauStart()[s]) / n;
      if (n == 1) { // distilled: one step, no loop
        x = step(s, x, scalar(tau0), dt);
        continue;
      }
      Value lb = b.create<arith::ConstantIndexOp>(loc, 0), ub = b.create<arith::ConstantIndexOp>(loc, n),
            one = b.create<arith::ConstantIndexOp>(loc, 1);
      auto loop = b.create<scf::ForOp>(
          loc, lb, ub, one, ValueRange{x}, [&](OpBuilder &nb, Location l, Value k, ValueRange iter) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            Value kf = b.create<arith::SIToFPOp>(
                l, elementType, b.create<arith::IndexCastOp>(l, b.getI64Type(), k));
            Value tau = b.create<arith::AddFOp>(l, scalar(tau0),
                                                b.create<arith::MulFOp>(l, kf, scalar(dtau)));
            b.create<scf::YieldOp>(l, step(s, iter[0], tau, dt));
          });
      x = loop.getResult(0);
    }
    return x;
  }
};

struct ExpandSamplerPass : msdd::impl::ExpandSamplerBase<ExpandSamplerPass> {
  void runOnOperation() override {
    SmallVector<MultiscaleSampleOp> samplers;
    getOperation().walk([&](MultiscaleSampleOp op) { samplers.push_back(op); });
    for (MultiscaleSampleOp op : samplers) {
      OpBuilder b(op);
      Expander expander{b, op.getLoc(), op};
      op.getResult().replaceAllUsesWith(expander.expand());
      op.erase();
    }
  }
};

} // namespace
