//===- Passes.h - MSDD artifact emission ------------------------*- C++ -*-===//
#ifndef MSDD_TARGET_PASSES_H
#define MSDD_TARGET_PASSES_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::msdd {
#define GEN_PASS_DECL
#include "msdd/Target/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "msdd/Target/Passes.h.inc"
} // namespace mlir::msdd

#endif // MSDD_TARGET_PASSES_H
