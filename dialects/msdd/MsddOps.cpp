//===- MsddOps.cpp - MSDD op verifiers and folders -------------------------===//
//
// Verifiers reject bad shapes with a diagnostic that names the operand and dimension, so that
// a model built from a config or imported from ONNX fails at the op that is wrong.
//
//===----------------------------------------------------------------------===//
#include "msdd/MsddDialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace mlir::msdd;

namespace {
ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }
int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(shape, os, ", ");
  os << "]";
  return s;
}

/// Emits "<what> must have shape [..] but has [..]" unless the shapes match.
LogicalResult expectShape(Operation *op, StringRef what, Value v, ArrayRef<int64_t> expected) {
  if (shapeOf(v) == expected)
    return success();
  return op->emitOpError() << what << " must have shape " << shapeStr(expected) << " but has "
                           << shapeStr(shapeOf(v));
}

LogicalResult expectRank(Operation *op, StringRef what, Value v, int64_t rank) {
  if (rankOf(v) == rank)
    return success();
  return op->emitOpError() << what << " must have rank " << rank << " but has rank "
                           << rankOf(v);
}

LogicalResult expectImage(Operation *op, StringRef what, Value v) {
  std::string described = (what + " (an image [B, C, H, W])").str();
  return expectRank(op, described, v, 4);
}
} // namespace

FailureOr<SmallVector<int64_t>> mlir::msdd::broadcastShapes(ArrayRef<int64_t> lhs,
                                                            ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t l = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t r = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (l != r && l != 1 && r != 1)
      return failure();
    out[i] = l == 1 ? r : l;
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

static LogicalResult verifyBroadcast(Operation *op) {
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  auto shape = broadcastShapes(shapeOf(lhs), shapeOf(rhs));
  if (failed(shape))
    return op->emitOpError() << "operand shapes " << shapeStr(shapeOf(lhs)) << " and "
                             << shapeStr(shapeOf(rhs)) << " do not broadcast";
  return expectShape(op, "result", op->getResult(0), *shape);
}

LogicalResult AddOp::verify() { return verifyBroadcast(*this); }
LogicalResult SubOp::verify() { return verifyBroadcast(*this); }
LogicalResult MulOp::verify() { return verifyBroadcast(*this); }
LogicalResult DivOp::verify() { return verifyBroadcast(*this); }
LogicalResult MaximumOp::verify() { return verifyBroadcast(*this); }
LogicalResult MinimumOp::verify() { return verifyBroadcast(*this); }
LogicalResult PowOp::verify() { return verifyBroadcast(*this); }

//===----------------------------------------------------------------------===//
// Reductions and layout
//===----------------------------------------------------------------------===//

static LogicalResult verifyReduce(Operation *op, ArrayRef<int64_t> axes, bool keepDims) {
  Value input = op->getOperand(0);
  int64_t rank = rankOf(input);
  if (axes.empty())
    return op->emitOpError("needs at least one axis");
  llvm::SmallSet<int64_t, 4> seen;
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= rank)
      return op->emitOpError() << "axis " << axis << " is out of range for rank " << rank;
    if (!seen.insert(axis).second)
      return op->emitOpError() << "axis " << axis << " is repeated";
  }
  SmallVector<int64_t> expected;
  for (int64_t d = 0; d < rank; ++d) {
    if (!seen.contains(d))
      expected.push_back(shapeOf(input)[d]);
    else if (keepDims)
      expected.push_back(1);
  }
  return expectShape(op, "result", op->getResult(0), expected);
}

LogicalResult ReduceSumOp::verify() { return verifyReduce(*this, getAxes(), getKeepDims()); }
LogicalResult ReduceMeanOp::verify() { return verifyReduce(*this, getAxes(), getKeepDims()); }
LogicalResult ReduceMaxOp::verify() { return verifyReduce(*this, getAxes(), getKeepDims()); }

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType(), out = getResult().getType();
  if (in.getNumElements() != out.getNumElements())
    return emitOpError() << "cannot reshape " << shapeStr(in.getShape()) << " ("
                         << in.getNumElements() << " elements) to "
                         << shapeStr(out.getShape()) << " (" << out.getNumElements()
                         << " elements)";
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getInput().getType() == getResult().getType())
    return getInput();
  return {};
}

LogicalResult BroadcastOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  auto shape = broadcastShapes(in, out);
  if (in.size() > out.size() || failed(shape) || ArrayRef<int64_t>(*shape) != out)
    return emitOpError() << "cannot broadcast " << shapeStr(in) << " to " << shapeStr(out);
  return success();
}

LogicalResult TransposeOp::verify() {
  ArrayRef<int64_t> perm = getPermutation();
  int64_t rank = rankOf(getInput());
  if ((int64_t)perm.size() != rank)
    return emitOpError() << "permutation has " << perm.size() << " entries for rank " << rank;
  SmallVector<bool> used(rank, false);
  SmallVector<int64_t> expected;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || used[p])
      return emitOpError() << "permutation " << shapeStr(perm) << " is not a permutation of [0, "
                           << rank << ")";
    used[p] = true;
    expected.push_back(shapeOf(getInput())[p]);
  }
  return expectShape(*this, "result", getResult(), expected);
}

//===----------------------------------------------------------------------===//
// Neural-network ops
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one input");
  ArrayRef<int64_t> out = shapeOf(getResult());
  int64_t axis = getAxis();
  if (axis >= (int64_t)out.size())
    return emitOpError() << "axis " << axis << " is out of range for rank " << out.size();
  int64_t total = 0;
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    SmallVector<int64_t> expected(out);
    expected[axis] = shapeOf(input).size() == out.size() ? shapeOf(input)[axis] : -1;
    if (shapeOf(input) != ArrayRef<int64_t>(expected))
      return emitOpError() << "input " << i << " has shape " << shapeStr(shapeOf(input))
                           << ", which does not match the result " << shapeStr(out)
                           << " outside axis " << axis;
    total += expected[axis];
  }
  if (total != out[axis])
    return emitOpError() << "inputs sum to " << total << " along axis " << axis
                         << " but the result has " << out[axis];
  return success();
}

LogicalResult SliceOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  int64_t axis = getAxis();
  if (axis >= (int64_t)in.size())
    return emitOpError() << "axis " << axis << " is out of range for rank " << in.size();
  SmallVector<int64_t> expected(in);
  expected[axis] = out.size() == in.size() ? out[axis] : -1;
  if (out != ArrayRef<int64_t>(expected))
    return emitOpError() << "result " << shapeStr(out) << " must equal the input "
                         << shapeStr(in) << " outside axis " << axis;
  if (getStart() + out[axis] > in[axis])
    return emitOpError() << "elements " << getStart() << " to " << getStart() + out[axis] - 1
                         << " of axis " << axis << " are out of range for size " << in[axis];
  return success();
}

LogicalResult LinearOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), w = shapeOf(getWeight());
  if (x.empty())
    return emitOpError("input must have rank >= 1");
  if (failed(expectRank(*this, "weight", getWeight(), 2)))
    return failure();
  if (w[1] != x.back())
    return emitOpError() << "weight is " << shapeStr(w) << " ([N, K]) but the input's last "
                         << "dimension is " << x.back();
  if (getBias() && failed(expectShape(*this, "bias", getBias(), {w[0]})))
    return failure();
  SmallVector<int64_t> expected(x.drop_back());
  expected.push_back(w[0]);
  return expectShape(*this, "result", getResult(), expected);
}

LogicalResult MatmulOp::verify() {
  ArrayRef<int64_t> a = shapeOf(getLhs()), b = shapeOf(getRhs());
  if (a.size() < 2 || a.size() != b.size())
    return emitOpError() << "operands must have the same rank >= 2, got " << shapeStr(a)
                         << " and " << shapeStr(b);
  size_t r = a.size();
  if (a.take_front(r - 2) != b.take_front(r - 2))
    return emitOpError() << "batch dimensions differ: " << shapeStr(a) << " and " << shapeStr(b);
  int64_t k = a[r - 1];
  int64_t kb = getTransposeRhs() ? b[r - 1] : b[r - 2];
  int64_t n = getTransposeRhs() ? b[r - 2] : b[r - 1];
  if (k != kb)
    return emitOpError() << "contraction sizes differ: lhs has K = " << k << ", rhs has " << kb;
  SmallVector<int64_t> expected(a.take_front(r - 1));
  expected.push_back(n);
  return expectShape(*this, "result", getResult(), expected);
}

LogicalResult PatchifyOp::verify() {
  if (failed(expectImage(*this, "input", getInput())))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput());
  int64_t p = getPatchSize();
  if (x[2] % p || x[3] % p)
    return emitOpError() << "image size " << x[2] << "x" << x[3]
                         << " is not divisible by the patch size " << p;
  return expectShape(*this, "result", getResult(), {x[0], (x[2] / p) * (x[3] / p), p * p * x[1]});
}

LogicalResult UnpatchifyOp::verify() {
  if (failed(expectImage(*this, "result", getResult())))
    return failure();
  ArrayRef<int64_t> y = shapeOf(getResult());
  int64_t p = getPatchSize();
  if (y[2] % p || y[3] % p)
    return emitOpError() << "image size " << y[2] << "x" << y[3]
                         << " is not divisible by the patch size " << p;
  return expectShape(*this, "input", getInput(), {y[0], (y[2] / p) * (y[3] / p), p * p * y[1]});
}

static LogicalResult verifyNormParam(Operation *op, StringRef what, Value param, Value input) {
  if (!param)
    return success();
  return expectShape(op, what, param, {shapeOf(input).back()});
}

LogicalResult LayerNormOp::verify() {
  if (rankOf(getInput()) < 1)
    return emitOpError("input must have rank >= 1");
  if (!getWeight() != !getBias())
    return emitOpError("weight and bias must be given together");
  if (!(getEpsilon().convertToDouble() > 0))
    return emitOpError("epsilon must be positive");
  if (failed(verifyNormParam(*this, "weight", getWeight(), getInput())) ||
      failed(verifyNormParam(*this, "bias", getBias(), getInput())))
    return failure();
  return expectShape(*this, "result", getResult(), shapeOf(getInput()));
}

LogicalResult RmsNormOp::verify() {
  if (rankOf(getInput()) < 1)
    return emitOpError("input must have rank >= 1");
  if (!(getEpsilon().convertToDouble() > 0))
    return emitOpError("epsilon must be positive");
  if (failed(verifyNormParam(*this, "weight", getWeight(), getInput())))
    return failure();
  return expectShape(*this, "result", getResult(), shapeOf(getInput()));
}

LogicalResult SoftmaxOp::verify() {
  int64_t rank = rankOf(getInput());
  int64_t axis = getAxis();
  if (axis < -rank || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for rank " << rank;
  return expectShape(*this, "result", getResult(), shapeOf(getInput()));
}

LogicalResult AttentionOp::verify() {
  for (auto [name, v] : {std::pair<StringRef, Value>{"query", getQuery()},
                         {"key", getKey()}, {"value", getValue()}})
    if (failed(expectRank(*this, name, v, 4)))
      return failure();
  ArrayRef<int64_t> q = shapeOf(getQuery()), k = shapeOf(getKey()), v = shapeOf(getValue());
  if (k[0] != q[0] || k[1] != q[1] || k[3] != q[3])
    return emitOpError() << "key " << shapeStr(k) << " does not match query " << shapeStr(q)
                         << " in batch, heads or head dimension";
  if (v[0] != q[0] || v[1] != q[1] || v[2] != k[2])
    return emitOpError() << "value " << shapeStr(v) << " does not match key " << shapeStr(k)
                         << " in batch, heads or length";
  if (Value mask = getMask()) {
    ArrayRef<int64_t> m = shapeOf(mask);
    bool ok2 = m.size() == 2 && m[0] == q[2] && m[1] == k[2];
    bool ok4 = m.size() == 4 && m[0] == q[0] && m[1] == q[1] && m[2] == q[2] && m[3] == k[2];
    if (!ok2 && !ok4)
      return emitOpError() << "mask must be [" << q[2] << ", " << k[2] << "] or [" << q[0]
                           << ", " << q[1] << ", " << q[2] << ", " << k[2] << "] but is "
                           << shapeStr(m);
  }
  if (getScale() && !(getScale()->convertToDouble() > 0))
    return emitOpError("scale must be positive");
  return expectShape(*this, "result", getResult(), {q[0], q[1], q[2], v[3]});
}

//===----------------------------------------------------------------------===//
// FlashAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult FlashAttentionOp::verify() {
  auto shaped = [](Value v) { return cast<ShapedType>(v.getType()); };
  bool onTensors = isa<RankedTensorType>(getInit().getType());
  for (auto [name, v] : {std::pair<StringRef, Value>{"query", getQuery()}, {"key", getKey()},
                         {"value", getValue()}, {"init", getInit()}}) {
    ShapedType type = shaped(v);
    if (isa<RankedTensorType>(type) != onTensors || !type.hasRank())
      return emitOpError() << name << " must be a ranked " << (onTensors ? "tensor" : "memref")
                           << " like init";
    if (type.getRank() != 4 || !type.hasStaticShape())
      return emitOpError() << name << " must have a static shape of rank 4";
    Type element = type.getElementType();
    if (name == "init" ? !element.isF32() : !element.isF16() && !element.isF32())
      return emitOpError() << name << " must have " << (name == "init" ? "f32" : "f16 or f32")
                           << " elements";
  }
  Type factor = shaped(getQuery()).getElementType();
  if (shaped(getKey()).getElementType() != factor || shaped(getValue()).getElementType() != factor)
    return emitOpError("query, key and value must have the same element type");
  if (getSplitFactors() && !factor.isF32())
    return emitOpError("split_factors needs f32 factors (3xTF32), not ") << factor;
  ArrayRef<int64_t> q = shaped(getQuery()).getShape(), k = shaped(getKey()).getShape(),
                    v = shaped(getValue()).getShape(), o = shaped(getInit()).getShape();
  if (k[0] != q[0] || k[1] != q[1] || k[3] != q[3] || v[0] != q[0] || v[1] != q[1] ||
      v[2] != k[2])
    return emitOpError() << "query " << shapeStr(q) << ", key " << shapeStr(k) << " and value "
                         << shapeStr(v) << " do not fit [B, H, Lq, D], [B, H, Lk, D], [B, H, Lk, Dv]";
  if (o != ArrayRef<int64_t>{q[0], q[1], q[2], v[3]})
    return emitOpError() << "init must have shape " << shapeStr({q[0], q[1], q[2], v[3]})
                         << " but has " << shapeStr(o);
  // The k extent of one mma.sync: 16 for f16 factors, 8 for TF32.
  int64_t headMultiple = factor.isF16() ? 16 : 8;
  if (q[3] % headMultiple != 0 || v[3] % 8 != 0)
    return emitOpError() << "needs a head dimension that is a multiple of " << headMultiple
                         << " (has " << q[3]
                         << ") and a value dimension that is a multiple of 8 (has " << v[3] << ")";
  if (!(getScale().convertToDouble() > 0))
    return emitOpError("scale must be positive");
  if (onTensors ? getResult().size() != 1 || getResult()[0].getType() != getInit().getType()
                : !getResult().empty())
    return emitOpError(onTensors ? "on tensors must return one tensor of init's type"
                                 : "on memrefs must not return anything");
  return success();
}

void FlashAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    if (isDpsInit(&operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand, SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand, SideEffects::DefaultResource::get());
  }
}

LogicalResult Rope2dOp::verify() {
  if (failed(expectRank(*this, "input", getInput(), 4)))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (x[2] != getGridHeight() * getGridWidth())
    return emitOpError() << "sequence length " << x[2] << " is not grid_height * grid_width = "
                         << getGridHeight() * getGridWidth();
  if (x[3] % 4)
    return emitOpError() << "head dimension " << x[3] << " is not divisible by 4";
  if (!(getRowStep().convertToDouble() > 0) || !(getColStep().convertToDouble() > 0))
    return emitOpError("row_step and col_step must be positive");
  return expectShape(*this, "result", getResult(), x);
}

LogicalResult SwigluOp::verify() {
  if (failed(expectShape(*this, "up", getUp(), shapeOf(getGate()))))
    return failure();
  return expectShape(*this, "result", getResult(), shapeOf(getGate()));
}

LogicalResult ModulateOp::verify() {
  if (failed(expectRank(*this, "input ([B, L, D])", getInput(), 3)))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (failed(expectShape(*this, "shift", getShift(), {x[0], x[2]})) ||
      failed(expectShape(*this, "scale", getScale(), {x[0], x[2]})))
    return failure();
  return expectShape(*this, "result", getResult(), x);
}

LogicalResult TimestepEmbeddingOp::verify() {
  if (failed(expectRank(*this, "timesteps", getTimesteps(), 1)) ||
      failed(expectRank(*this, "result", getResult(), 2)))
    return failure();
  int64_t dim = shapeOf(getResult())[1];
  if (dim % 2)
    return emitOpError() << "embedding dimension " << dim << " must be even";
  if (!(getMaxPeriod().convertToDouble() > 1))
    return emitOpError("max_period must be > 1");
  return expectShape(*this, "result", getResult(), {shapeOf(getTimesteps())[0], dim});
}

/// The attributes shared by conv and conv_transpose; `pads` are those that must be >= 0.
static LogicalResult verifyConvCommon(Operation *op, Value input, Value weight, Value result,
                                      ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                                      ArrayRef<ArrayRef<int64_t>> pads, int64_t groups,
                                      bool transposed) {
  int64_t rank = rankOf(input);
  if (rank < 3)
    return op->emitOpError() << "input must have rank >= 3 ([N, C, spatial...]) but has rank "
                             << rank;
  if (failed(expectRank(op, "weight", weight, rank)) ||
      failed(expectRank(op, "result", result, rank)))
    return failure();
  size_t spatial = rank - 2;
  auto checkList = [&](StringRef name, ArrayRef<int64_t> v, int64_t min) -> LogicalResult {
    if (v.size() != spatial)
      return op->emitOpError() << name << " must have " << spatial << " entries but has "
                               << v.size();
    for (int64_t x : v)
      if (x < min)
        return op->emitOpError() << name << " must be >= " << min << ", got " << shapeStr(v);
    return success();
  };
  if (failed(checkList("strides", strides, 1)) || failed(checkList("dilations", dilations, 1)))
    return failure();
  for (ArrayRef<int64_t> p : pads)
    if (failed(checkList("pads", p, 0)))
      return failure();
  int64_t inChannels = shapeOf(input)[1];
  if (inChannels % groups)
    return op->emitOpError() << "input channels " << inChannels
                             << " are not divisible by groups " << groups;
  // conv: weight [M, C / groups, k...]; conv_transpose: weight [C, M / groups, k...].
  ArrayRef<int64_t> w = shapeOf(weight);
  if ((transposed ? w[0] : w[1] * groups) != inChannels)
    return op->emitOpError() << "weight " << shapeStr(w) << " does not match " << inChannels
                             << " input channels in " << groups << " groups";
  return success();
}

LogicalResult ConvOp::verify() {
  if (failed(verifyConvCommon(*this, getInput(), getWeight(), getResult(), getStrides(),
                              getDilations(), {getPadsBegin(), getPadsEnd()}, getGroups(),
                              /*transposed=*/false)))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput()), w = shapeOf(getWeight());
  if (w[0] % getGroups())
    return emitOpError() << "output channels " << w[0] << " are not divisible by groups "
                         << getGroups();
  SmallVector<int64_t> expected = {x[0], w[0]};
  for (size_t i = 0; i + 2 < x.size(); ++i) {
    int64_t keff = (w[2 + i] - 1) * getDilations()[i] + 1;
    int64_t span = x[2 + i] + getPadsBegin()[i] + getPadsEnd()[i] - keff;
    if (span < 0)
      return emitOpError() << "the kernel " << shapeStr(w.drop_front(2))
                           << " (dilated) is larger than the padded input "
                           << shapeStr(x.drop_front(2));
    expected.push_back(span / getStrides()[i] + 1);
  }
  return expectShape(*this, "result", getResult(), expected);
}

LogicalResult ConvTransposeOp::verify() {
  if (failed(verifyConvCommon(*this, getInput(), getWeight(), getResult(), getStrides(),
                              getDilations(), {}, getGroups(), /*transposed=*/true)))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput()), w = shapeOf(getWeight()), y = shapeOf(getResult());
  if (getPadsBegin().size() != x.size() - 2)
    return emitOpError() << "pads_begin must have " << x.size() - 2 << " entries but has "
                         << getPadsBegin().size();
  if (y[0] != x[0] || y[1] != w[1] * getGroups())
    return emitOpError() << "result must have batch " << x[0] << " and " << w[1] * getGroups()
                         << " channels but has shape " << shapeStr(y);
  return success();
}

static LogicalResult verifyResample(Operation *op, int64_t factor, bool up) {
  Value in = op->getOperand(0);
  if (failed(expectImage(op, "input", in)))
    return failure();
  if (factor < 1)
    return op->emitOpError() << "factor must be >= 1, got " << factor;
  ArrayRef<int64_t> x = shapeOf(in);
  if (!up && (x[2] % factor || x[3] % factor))
    return op->emitOpError() << "image size " << x[2] << "x" << x[3]
                             << " is not divisible by the factor " << factor;
  int64_t h = up ? x[2] * factor : x[2] / factor, w = up ? x[3] * factor : x[3] / factor;
  return expectShape(op, "result", op->getResult(0), {x[0], x[1], h, w});
}

LogicalResult UpsampleNearestOp::verify() { return verifyResample(*this, getFactor(), true); }
LogicalResult DownsampleOp::verify() { return verifyResample(*this, getFactor(), false); }

//===----------------------------------------------------------------------===//
// Diffusion ops
//===----------------------------------------------------------------------===//

/// The block noise's covariance (block_noise, scale_transition).
static LogicalResult verifyBlockCovariance(Operation *op, double gamma, StringRef cov) {
  if (cov != "pyramidal" && cov != "paper_code")
    return op->emitOpError() << "covariance must be \"pyramidal\" or \"paper_code\", got \""
                             << cov << "\"";
  // Checked on its own: a small negative gamma still gives a positive semi-definite covariance.
  if (!(gamma >= 0))
    return op->emitOpError() << "gamma " << gamma << " must be >= 0";
  // Both covariances must be positive semi-definite: eigenvalues a and a + 4b.
  if ((cov == "pyramidal" && gamma > 1.0 / 3.0 + 1e-12) || (cov == "paper_code" && gamma > 1.0))
    return op->emitOpError() << "gamma " << gamma << " gives a covariance that is not positive "
                             << "semi-definite for \"" << cov << "\"";
  return success();
}

LogicalResult BlockNoiseOp::verify() {
  if (failed(expectImage(*this, "input", getInput())))
    return failure();
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (x[2] % 2 || x[3] % 2)
    return emitOpError() << "image size " << x[2] << "x" << x[3] << " is not even";
  if (failed(verifyBlockCovariance(*this, getGamma().convertToDouble(), getCovariance())))
    return failure();
  return expectShape(*this, "result", getResult(), x);
}

LogicalResult ScaleTransitionOp::verify() {
  if (getInput().getType().getElementType() != getResult().getType().getElementType())
    return emitOpError("input and result must have the same element type");
  if (failed(verifyResample(*this, 2, /*up=*/true)))
    return failure();
  return verifyBlockCovariance(*this, getGamma().convertToDouble(), getCovariance());
}

static LogicalResult verifySameShapes(Operation *op) {
  for (Value v : op->getOperands())
    if (failed(expectShape(op, "every operand", v, shapeOf(op->getOperand(0)))))
      return failure();
  return expectShape(op, "result", op->getResult(0), shapeOf(op->getOperand(0)));
}

LogicalResult NoiseMixOp::verify() { return verifySameShapes(*this); }
LogicalResult EulerStepOp::verify() { return verifySameShapes(*this); }
LogicalResult CfgCombineOp::verify() { return verifySameShapes(*this); }

LogicalResult MultiscaleSampleOp::verify() {
  size_t scales = getResolutions().size();
  if (scales == 0)
    return emitOpError("needs at least one scale");
  auto sized = [&](StringRef name, size_t n, size_t expected) -> LogicalResult {
    if (n == expected)
      return success();
    return emitOpError() << name << " has " << n << " entries, expected " << expected;
  };
  if (failed(sized("steps", getSteps().size(), scales)) ||
      failed(sized("window_start", getWindowStart().size(), scales)) ||
      failed(sized("window_end", getWindowEnd().size(), scales)) ||
      failed(sized("tau_start", getTauStart().size(), scales)) ||
      failed(sized("tau_end", getTauEnd().size(), scales)) ||
      failed(sized("alpha", getAlpha().size(), scales - 1)) ||
      failed(sized("beta", getBeta().size(), scales - 1)))
    return failure();
  for (size_t s = 0; s < scales; ++s) {
    if (getSteps()[s] < 1)
      return emitOpError() << "scale " << s << " has " << getSteps()[s] << " steps";
    if (s > 0 && getResolutions()[s] != 2 * getResolutions()[s - 1])
      return emitOpError() << "resolution " << getResolutions()[s] << " of scale " << s
                           << " is not twice the previous " << getResolutions()[s - 1];
    if (!(getWindowStart()[s] > getWindowEnd()[s]))
      return emitOpError() << "window " << s << " runs from " << getWindowStart()[s] << " to "
                           << getWindowEnd()[s] << "; time must decrease";
  }
  if (failed(expectImage(*this, "result", getResult())))
    return failure();
  ArrayRef<int64_t> y = shapeOf(getResult());
  if (y[2] != getResolutions().back() || y[3] != getResolutions().back())
    return emitOpError() << "result is " << y[2] << "x" << y[3] << " but the last scale is "
                         << getResolutions().back();
  // Both go to the denoiser's latent argument, so the element types must match too.
  if (getLatent().getType() != getNullLatent().getType())
    return emitOpError() << "latent and null_latent must have the same type, got "
                         << getLatent().getType() << " and " << getNullLatent().getType();
  if (failed(sized("denoisers", getDenoisers().size(), scales)))
    return failure();
  if (std::optional<ArrayAttr> cfg = getCfgDenoisers()) {
    if (failed(sized("cfg_denoisers", cfg->size(), scales)))
      return failure();
    if (getGuidanceScale().convertToDouble() == 1.0)
      return emitOpError("has cfg_denoisers but guidance_scale 1 (no unconditional branch)");
  }
  return success();
}

LogicalResult MultiscaleSampleOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  ArrayRef<int64_t> y = shapeOf(getResult());
  auto elementType = getResult().getType().getElementType();
  // `batches` images per call: 1 for denoisers, 2 for the CFG pair's denoisers.
  auto check = [&](ArrayAttr functions, StringRef what, int64_t batches) -> LogicalResult {
    auto latentType = cast<RankedTensorType>(getLatent().getType());
    SmallVector<int64_t> latentShape(latentType.getShape());
    latentShape[0] *= batches;
    auto pairLatent = RankedTensorType::get(latentShape, latentType.getElementType());
    for (auto [scale, attr] : llvm::enumerate(functions)) {
      auto ref = cast<FlatSymbolRefAttr>(attr);
      StringRef name = ref.getValue();
      auto fn = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(*this, ref);
      if (!fn)
        return emitOpError() << what << " '" << name << "' is not a function in this module";
      size_t params = getParams().size();
      if (fn.getNumArguments() != 3 + params || fn.getNumResults() != 1)
        return emitOpError() << what << " '" << name << "' must take (x, tau, latent"
                             << (params ? ", params..." : "") << ") and return one velocity";
      if (fn.getArgumentTypes()[2] != pairLatent)
        return emitOpError() << what << " '" << name << "' takes a latent of type "
                             << fn.getArgumentTypes()[2] << ", expected " << pairLatent;
      int64_t r = getResolutions()[scale];
      auto xType = RankedTensorType::get({batches * y[0], y[1], r, r}, elementType);
      auto tauType = RankedTensorType::get({batches * y[0]}, elementType);
      if (fn.getArgumentTypes()[0] != xType || fn.getResultTypes()[0] != xType)
        return emitOpError() << what << " '" << name << "' of scale " << scale
                             << " must take and return x of type " << xType;
      if (fn.getArgumentTypes()[1] != tauType)
        return emitOpError() << what << " '" << name << "' must take tau of type " << tauType;
      for (size_t p = 0; p < params; ++p)
        if (fn.getArgumentTypes()[3 + p] != getParams()[p].getType())
          return emitOpError() << what << " '" << name << "' takes parameter " << p
                               << " of type " << fn.getArgumentTypes()[3 + p] << " but gets "
                               << getParams()[p].getType();
    }
    return success();
  };
  if (failed(check(getDenoisers(), "denoiser", 1)))
    return failure();
  if (std::optional<ArrayAttr> cfg = getCfgDenoisers())
    return check(*cfg, "cfg denoiser", 2);
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

LogicalResult MseOp::verify() {
  if (failed(expectShape(*this, "target", getTarget(), shapeOf(getPrediction()))))
    return failure();
  return expectShape(*this, "result", getResult(), {});
}

LogicalResult WeightedMseOp::verify() {
  if (failed(expectShape(*this, "target", getTarget(), shapeOf(getPrediction()))))
    return failure();
  if (rankOf(getPrediction()) < 1)
    return emitOpError("prediction must have a batch dimension");
  if (failed(expectShape(*this, "weight", getWeight(), {shapeOf(getPrediction())[0]})))
    return failure();
  return expectShape(*this, "result", getResult(), {});
}

#define GET_OP_CLASSES
#include "msdd/MsddOps.cpp.inc"
