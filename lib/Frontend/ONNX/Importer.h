//===- Importer.h - ONNX importer internals ---------------------*- C++ -*-===//
//
// The importer walks the graph in order. Every ONNX value becomes a Val: its element kind
// and static shape, its host data when known at import (initializers, Constant, folded
// shape subgraphs) and its MLIR value once materialized. Op handlers (OpsElementwise.cpp,
// OpsShape.cpp, OpsNN.cpp) compute result shapes on the host, fold what they can and emit
// msdd or upstream ops for the rest.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_FRONTEND_ONNX_IMPORTER_H
#define MSDD_FRONTEND_ONNX_IMPORTER_H

#include "msdd/Frontend/ONNX.h"
#include "msdd/MsddDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir::msdd::onnx_import {

/// Element kinds the importer handles (the artifact ABI's dtypes).
enum class EK { F32, F64, I32, I64, I1 };

inline bool isFloat(EK k) { return k == EK::F32 || k == EK::F64; }
const char *ekName(EK k);
/// ONNX TensorProto::DataType -> EK; false for types msdd does not support.
bool ekFromOnnx(int32_t onnxType, EK &kind);
const char *onnxTypeName(int32_t onnxType);

using Shape = SmallVector<int64_t, 4>;
/// The most elements the importer computes on the host for one value (folding, index
/// tables); larger results are emitted as IR or rejected.
constexpr int64_t kHostLimit = 1 << 24;
/// The largest dimension (and shape-like attribute or operand value) the importer accepts:
/// with every dimension below 2^31, products of two never overflow.
constexpr int64_t kMaxDim = int64_t(1) << 31;
/// double -> int64 without undefined behaviour (NaN -> 0, out of range -> the nearest end).
int64_t saturatingInt(double v);
/// Wrapping (two's complement) integer arithmetic for folding untrusted constants.
inline int64_t wrapAdd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
inline int64_t wrapSub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
inline int64_t wrapMul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
int64_t numel(ArrayRef<int64_t> shape);
std::string shapeStr(ArrayRef<int64_t> shape);
/// numpy broadcast; false if the shapes do not broadcast.
bool broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b, Shape &out);
/// Row-major strides.
Shape stridesOf(ArrayRef<int64_t> shape);

/// Data known at import time. Floats live in `f`, integers and booleans in `i`.
struct HostTensor {
  EK kind = EK::F32;
  Shape shape;
  std::vector<double> f;
  std::vector<int64_t> i;

  HostTensor() = default;
  HostTensor(EK kind, ArrayRef<int64_t> shape);
  int64_t size() const { return numel(shape); }
  double getF(int64_t k) const { return isFloat(kind) ? f[k] : (double)i[k]; }
  int64_t getI(int64_t k) const { return isFloat(kind) ? saturatingInt(f[k]) : i[k]; }
  /// Stores `v` converted to this tensor's kind (rounded to f32, truncated, != 0).
  void setF(int64_t k, double v);
  void setI(int64_t k, int64_t v);
  std::vector<int64_t> ints() const;
};
using HostRef = std::shared_ptr<const HostTensor>;

/// One ONNX value.
struct Val {
  EK kind = EK::F32;
  Shape shape;
  Value value;       ///< null until materialized
  HostRef host;      ///< data, when known at import
  int initializer = -1; ///< initializer index if it may become a function parameter
};

class Importer;
using Handler = std::function<LogicalResult(Importer &)>;
/// op type -> handler; filled by the register* functions of each op family.
std::map<std::string, Handler> &opHandlers();
void registerElementwiseOps();
void registerShapeOps();
void registerNNOps();
void registerMiscOps();

/// Patterns (Patterns.cpp), tried at the node that ends them; success() means the node's
/// output was set to the msdd op.
LogicalResult matchGelu(Importer &imp);      // at Mul: GELU (erf, tanh), SiLU
LogicalResult matchLayerNorm(Importer &imp); // at Div
LogicalResult matchAttention(Importer &imp); // at MatMul

/// `axis` in [-rank, rank) made non-negative; fails (naming the node) otherwise.
FailureOr<int64_t> normAxis(Importer &imp, int64_t axis, int64_t rank);
/// Fails with "unsupported: <Op> on <type> tensors" unless `v` is f32 or f64.
LogicalResult needFloat(Importer &imp, const Val &v);

using BodyFn = std::function<Value(OpBuilder &, Location, ValueRange)>;

class Importer {
public:
  Importer(MLIRContext &ctx, const onnx::ModelProto &model, std::string baseDir,
           const ImportOptions &options);
  /// Builds the module; on failure `error` says why.
  FailureOr<OwningOpRef<ModuleOp>> run(std::vector<OnnxWeight> &weights);

  std::string error;
  MLIRContext &ctx;
  OpBuilder b;
  Location loc;
  int64_t opset = 0;

  //===--- the node being imported ---------------------------------------===//
  const onnx::NodeProto *node = nullptr;
  /// "node 'name' (Op)".
  std::string nodeDesc() const;
  /// Sets `error` to "<problem> (node ...)" and returns failure.
  LogicalResult fail(const Twine &problem);
  LogicalResult unsupported(const Twine &what);
  /// Fails unless every value's magnitude is at most kMaxDim.
  LogicalResult checkDims(ArrayRef<int64_t> values, StringRef what);

  size_t numInputs() const { return node->input_size(); }
  size_t numOutputs() const { return node->output_size(); }
  /// Input `i`, or nullptr when absent (past the end or an empty name).
  Val *in(size_t i);
  bool hasIn(size_t i) { return in(i) != nullptr; }
  bool hasOut(size_t i) const { return i < (size_t)node->output_size() && !node->output(i).empty(); }
  /// Input `i` must be present; fails otherwise.
  FailureOr<Val *> need(size_t i);
  /// Host data of input `i`, which must be known at import time (a shape operand).
  FailureOr<HostRef> needConst(size_t i, StringRef what);

  void setOut(size_t i, Value v);
  void setOut(size_t i, HostTensor t);
  void setOut(size_t i, const Val &v);

  //===--- attributes ----------------------------------------------------===//
  const onnx::AttributeProto *attr(StringRef name) const;
  int64_t attrInt(StringRef name, int64_t dflt) const;
  double attrFloat(StringRef name, double dflt) const;
  std::string attrString(StringRef name, StringRef dflt) const;
  std::optional<std::vector<int64_t>> attrInts(StringRef name) const;
  std::optional<std::vector<double>> attrFloats(StringRef name) const;

  //===--- values and types ----------------------------------------------===//
  Type elemType(EK k);
  RankedTensorType tensorType(ArrayRef<int64_t> shape, EK k);
  EK kindOf(Value v);
  Shape shapeOf(Value v);
  /// The MLIR value of `v`, materializing constants and parameters.
  Value get(Val &v);
  Value constant(const HostTensor &t);
  /// A rank-0 tensor holding `x`.
  Value scalar(double x, EK k);
  /// Converts tensor-to-host data for FileCheck-able constants and folding.
  FailureOr<HostTensor> tensorFromProto(const onnx::TensorProto &t, StringRef what);

  //===--- builders -------------------------------------------------------===//
  /// Broadcasting elementwise linalg.generic: `body` gets one scalar per input.
  Value elementwise(ArrayRef<Value> ins, ArrayRef<int64_t> outShape, EK outKind, BodyFn body);
  /// A linalg.generic whose only input is read through `inMap` over the output's indices.
  Value mapCopy(Value input, AffineMap inMap, ArrayRef<int64_t> outShape);
  Value reshape(Value v, ArrayRef<int64_t> shape);
  Value transpose(Value v, ArrayRef<int64_t> perm);
  Value broadcastTo(Value v, ArrayRef<int64_t> shape);
  Value cast(Value v, EK to);
  Value fill(ArrayRef<int64_t> shape, EK k, double value);
  /// Copies a value (a function result must not be an argument or repeated).
  Value copy(Value v);
  Value extractSlice(Value v, ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes,
                     ArrayRef<int64_t> strides);
  Value insertSlice(Value src, Value dest, ArrayRef<int64_t> offsets, ArrayRef<int64_t> strides);
  /// out[i...] = src[index(i...)]: a linalg.generic with no inputs whose body reads `src`
  /// with tensor.extract. For index maps that are not monotonic (mod, reversal), which
  /// must not be indexing maps (tiling assumes monotonic ones).
  Value gatherGeneric(Value src, ArrayRef<int64_t> outShape,
                      const std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange)> &index);
  /// A scalar arith constant of kind `k`.
  Value scalarConst(OpBuilder &nb, Location l, double x, EK k);
  /// Reduction over `axes` (any kind): "sum", "max", "mean".
  Value reduce(Value v, ArrayRef<int64_t> axes, bool keepDims, StringRef kind);

  //===--- ONNX values by name (for pattern matching) ----------------------===//
  /// The node that produces `name`, or null for graph inputs and initializers.
  const onnx::NodeProto *producer(const std::string &name) const;
  Val *lookup(const std::string &name);
  /// The scalar value of a known single-element float or integer value.
  std::optional<double> scalarValue(const std::string &name);
  /// Number of nodes that use `name` as an input (plus 1 if it is a graph output).
  int useCount(const std::string &name) const;

private:
  LogicalResult importGraph();
  LogicalResult checkModel();
  LogicalResult addInputs();
  LogicalResult addInitializers();
  LogicalResult finish(std::vector<OnnxWeight> &weights);
  Value parameter(Val &v);

  const onnx::ModelProto &model;
  const onnx::GraphProto &graph;
  std::string baseDir;
  const ImportOptions &options;
  OwningOpRef<ModuleOp> module;
  func::FuncOp func;
  Block *entry = nullptr;
  std::map<std::string, Val> values;
  std::map<std::string, const onnx::NodeProto *> producers;
  std::map<std::string, int> uses;
  /// Initializers that became parameters: (initializer index, block argument).
  std::vector<std::pair<int, BlockArgument>> params;
  std::map<int, HostRef> paramData;
  /// The graph inputs' arguments and names.
  std::vector<std::pair<BlockArgument, std::string>> inputArgs;
  int nodeIndex = -1;
};

} // namespace mlir::msdd::onnx_import

#endif // MSDD_FRONTEND_ONNX_IMPORTER_H
