//===- MsddDialect.cpp - MSDD dialect registration -------------------------===//
#include "msdd/MsddDialect.h"

#include "mlir/Transforms/InliningUtils.h"

using namespace mlir;
using namespace mlir::msdd;

#include "msdd/MsddDialect.cpp.inc"
#include "msdd/MsddInterfaces.cpp.inc"

namespace {
/// msdd ops are pure functions of their operands: any of them may be inlined anywhere.
struct MsddInlinerInterface : DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final { return true; }
  bool isLegalToInline(Region *, Region *, bool, IRMapping &) const final { return true; }
};
} // namespace

void MsddDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "msdd/MsddOps.cpp.inc"
      >();
  addInterfaces<MsddInlinerInterface>();
}
