//===- Inlining.h - Inlining calls between msdd functions ------*- C++ -*-===//
#ifndef MSDD_TRANSFORMS_INLINING_H
#define MSDD_TRANSFORMS_INLINING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::msdd {

/// The attribute that keeps a function out of line: calls to it stay calls (a denoiser the
/// sampler calls at every step is compiled once, not once per call site).
constexpr llvm::StringLiteral kOutlineAttr = "msdd.outline";

/// Inlines the calls in `fn` (repeatedly, for calls inside inlined bodies) whose callee
/// `shouldInline` accepts. Fails, with a diagnostic, on a call it must inline but cannot.
LogicalResult inlineCalls(func::FuncOp fn, SymbolTable &symbols,
                          llvm::function_ref<bool(func::FuncOp)> shouldInline);

} // namespace mlir::msdd

#endif // MSDD_TRANSFORMS_INLINING_H
