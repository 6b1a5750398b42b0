//===- msdd-opt.cpp - MSDD optimizer driver --------------------------------===//
//
// mlir-opt with the msdd dialect and passes registered next to every upstream dialect and
// pass, so that msdd IR can be tested pass by pass with lit.
//
//===----------------------------------------------------------------------===//
#include "msdd/InitAll.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::msdd::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR (and PTX) inside the pass pipeline.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::msdd::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "MSDD optimizer driver\n", registry));
}
