//===- ONNX.h - ONNX model import -------------------------------*- C++ -*-===//
//
// Imports an ONNX model (opsets 13 to 17 of the default domain) into one public
// `func.func` on statically shaped tensors, named after the graph. Its arguments are the
// graph inputs, then (unless weights are inlined) the float initializers that hold more
// than one element, each named `{msdd.name = "<onnx name>"}`; its results carry the graph
// output names. Other initializers (integer tensors, scalars) and every value the importer
// can compute (shape subgraphs: Shape, Gather, Concat, Range, ConstantOfShape, ...) become
// constants. Ops map onto msdd ops where one exists (elementwise math, matmul, softmax,
// layer_norm, reductions, transpose, reshape; the Erf form of GELU becomes msdd.gelu and
// softmax(q k^T * s [+ mask]) v becomes msdd.attention), otherwise onto upstream
// tensor/linalg/arith ops. Conformance: docs/onnx-conformance.md.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_FRONTEND_ONNX_H
#define MSDD_FRONTEND_ONNX_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mlir::msdd {

/// The newest and oldest default-domain opsets the importer accepts.
constexpr int64_t kOnnxMaxOpset = 17;
constexpr int64_t kOnnxMinOpset = 1;

struct OnnxImportOptions {
  /// Embed every initializer as a constant instead of making the large float ones
  /// function parameters.
  bool inlineWeights = false;
  /// Static shapes for graph inputs whose ONNX shape has symbolic or unknown dimensions.
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// The static shape of every graph input `inputShapes` does not name (a feature network's
  /// image input, whatever its name); empty: the model's own shapes.
  std::vector<int64_t> otherInputsShape;
};
using ImportOptions = OnnxImportOptions;

/// An initializer that became a function parameter: its bytes (little-endian, row-major).
struct OnnxWeight {
  std::string name;
  std::string dtype; ///< "f32" or "f64"
  std::vector<int64_t> shape;
  std::vector<char> data;
};

/// Imports the model at `path`. On failure returns failure() and sets `error` to one line
/// naming the problem (and the node, for problems with a node), without the path.
FailureOr<OwningOpRef<ModuleOp>> importOnnx(MLIRContext &context, llvm::StringRef path,
                                            const ImportOptions &options, std::string &error);
/// As above; the parameters' data go to `weights`, in argument order.
FailureOr<OwningOpRef<ModuleOp>> importOnnx(MLIRContext &context, llvm::StringRef path,
                                            const ImportOptions &options,
                                            std::vector<OnnxWeight> &weights,
                                            std::string &error);
/// Imports a serialized ModelProto held in memory. `baseDir` resolves external data
/// (empty: external data is an error).
FailureOr<OwningOpRef<ModuleOp>> importOnnxBuffer(MLIRContext &context, llvm::StringRef bytes,
                                                  llvm::StringRef baseDir,
                                                  const ImportOptions &options,
                                                  std::vector<OnnxWeight> &weights,
                                                  std::string &error);

/// The op types of the default domain the importer handles, sorted.
std::vector<std::string> supportedOnnxOps();

/// Registers the dialects the importer emits (func, arith, tensor, linalg, math, msdd).
void registerOnnxImportDialects(DialectRegistry &registry);

} // namespace mlir::msdd

#endif // MSDD_FRONTEND_ONNX_H
