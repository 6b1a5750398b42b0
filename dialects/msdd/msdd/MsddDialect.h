//===- MsddDialect.h - MSDD dialect -----------------------------*- C++ -*-===//
#ifndef MSDD_DIALECT_MSDDDIALECT_H
#define MSDD_DIALECT_MSDDDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "msdd/MsddDialect.h.inc"
#include "msdd/MsddInterfaces.h.inc"

#define GET_OP_CLASSES
#include "msdd/MsddOps.h.inc"

namespace mlir::msdd {
/// The numpy broadcast of two shapes, or failure if they do not broadcast.
FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs);

/// Registers the bufferization of msdd's destination-style ops (msdd.flash_attention).
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace mlir::msdd

#endif // MSDD_DIALECT_MSDDDIALECT_H
