//===- Fingerprint.h - Outlined functions compared by their text -*- C++ -*-===//
//
// Outlining makes one function per loop or kernel, and a model repeats the same loop at the
// same shapes in every layer (and again in its backward pass). The passes that outline keep
// one function per distinct body: its text with the name left out.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_CONVERSION_FINGERPRINT_H
#define MSDD_CONVERSION_FINGERPRINT_H

#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::msdd {

/// The text of `symbol` (a function) printed under a fixed name: equal texts are
/// interchangeable functions (same signature, attributes and body).
inline std::string fingerprint(SymbolOpInterface symbol) {
  std::string text;
  llvm::raw_string_ostream os(text);
  StringAttr name = symbol.getNameAttr();
  symbol.setName("f");
  symbol->print(os, OpPrintingFlags().useLocalScope().enableDebugInfo(false));
  symbol.setName(name);
  return text;
}

} // namespace mlir::msdd

#endif // MSDD_CONVERSION_FINGERPRINT_H
