//===- onnx_import_fuzzer.cpp - libFuzzer target for the ONNX importer -----===//
//
// Feeds arbitrary bytes to mlir::msdd::importOnnxBuffer: any result is fine (a module, or
// failure with a one-line error); a crash, a hang or an unbounded allocation is a bug.
// Build and run: test/fuzz/README.md.
//
//===----------------------------------------------------------------------===//
#include "msdd/Frontend/ONNX.h"

#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: attributes are uniqued per context and would otherwise
  // accumulate over millions of inputs.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  std::vector<mlir::msdd::OnnxWeight> weights;
  std::string error;
  mlir::msdd::ImportOptions options;
  auto module = mlir::msdd::importOnnxBuffer(
      context, llvm::StringRef(reinterpret_cast<const char *>(data), size), /*baseDir=*/"",
      options, weights, error);
  if (mlir::failed(module) && error.empty())
    __builtin_trap(); // every failure must say why
  return 0;
}
