//===- Passes.h - MSDD transformation passes --------------------*- C++ -*-===//
#ifndef MSDD_TRANSFORMS_PASSES_H
#define MSDD_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"
#include "msdd/MsddDialect.h"

namespace mlir::msdd {
#define GEN_PASS_DECL
#include "msdd/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "msdd/Transforms/Passes.h.inc"
} // namespace mlir::msdd

#endif // MSDD_TRANSFORMS_PASSES_H
