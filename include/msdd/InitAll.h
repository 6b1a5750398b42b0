//===- InitAll.h - Register every msdd dialect and pass ---------*- C++ -*-===//
#ifndef MSDD_INITALL_H
#define MSDD_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::msdd {
void registerAllDialects(DialectRegistry &registry);
void registerAllPasses();
} // namespace mlir::msdd

#endif // MSDD_INITALL_H
