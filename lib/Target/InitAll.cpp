//===- InitAll.cpp - Register every msdd dialect and pass ------------------===//
#include "msdd/InitAll.h"

#include "msdd/Conversion/Passes.h"
#include "msdd/MsddDialect.h"
#include "msdd/Target/CPU.h"
#include "msdd/Target/Passes.h"
#include "msdd/Transforms/Passes.h"

void mlir::msdd::registerAllDialects(DialectRegistry &registry) {
  registry.insert<MsddDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
}

void mlir::msdd::registerAllPasses() {
  registerConversionPasses();
  registerTransformsPasses();
  registerTargetPasses();
  registerCpuPipeline();
}
