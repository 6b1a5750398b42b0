//===- compile_util.h - Compile msdd IR text to a loaded artifact in tests -===//
#ifndef MSDD_TEST_UNIT_COMPILE_UTIL_H
#define MSDD_TEST_UNIT_COMPILE_UTIL_H

#include "msdd/InitAll.h"
#include "msdd/Runtime/Artifact.h"
#include "msdd/Target/CPU.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <memory>
#include <string>

namespace msdd::test {

/// Parses `source`, runs `prologue` (pass-pipeline syntax, may be empty) and the CPU pipeline,
/// writes a temporary artifact and loads it. Returns null and sets `error` on failure.
inline std::unique_ptr<rt::Artifact> compileToArtifact(const std::string &source,
                                                       std::string &error,
                                                       const std::string &prologue = "") {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::msdd::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module) {
    error = "parse error";
    return nullptr;
  }
  mlir::msdd::CpuPipelineOptions options;
  options.prologue = prologue;
  mlir::PassManager pm(&context);
  mlir::msdd::buildCpuPipeline(pm, options);
  if (mlir::failed(pm.run(*module))) {
    error = "pipeline failed";
    return nullptr;
  }
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createTemporaryFile("msdd-test", "msdd", path)) {
    error = "no temporary file";
    return nullptr;
  }
  if (mlir::failed(mlir::msdd::writeCpuArtifact(*module, path, error)))
    return nullptr;
  auto artifact = rt::Artifact::open(path.str().str());
  llvm::sys::fs::remove(path);
  return artifact;
}

} // namespace msdd::test

#endif // MSDD_TEST_UNIT_COMPILE_UTIL_H
