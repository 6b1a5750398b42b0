//===- MsddDialect.cpp - MSDD dialect registration -------------------------===//
#include "msdd/MsddDialect.h"

using namespace mlir;
using namespace mlir::msdd;

#include "msdd/MsddDialect.cpp.inc"

void MsddDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "msdd/MsddOps.cpp.inc"
      >();
}
