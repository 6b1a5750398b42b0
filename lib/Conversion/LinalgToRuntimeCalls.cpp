//===- LinalgToRuntimeCalls.cpp - Matrix products to BLAS calls ------------===//
//
// Generated loops do not reach BLAS speed on matrix products; the runtime's kernels do. After
// bufferization each named contraction becomes a call with strided memref operands, so views
// (slices, transposed weights) reach the BLAS without copies.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_CONVERTLINALGTORUNTIMECALLS
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

/// `memref<?x...xf32, strided<[?, ...], offset: ?>>`: accepts any view of the right rank.
MemRefType fullyDynamicStrided(Type elementType, int64_t rank) {
  SmallVector<int64_t> dyn(rank, ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(elementType.getContext(), ShapedType::kDynamic, dyn);
  return MemRefType::get(dyn, elementType, layout);
}

func::FuncOp getOrDeclare(ModuleOp module, StringRef name, Type elementType, int64_t rank) {
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Type view = fullyDynamicStrided(elementType, rank);
  auto type = FunctionType::get(ctx, {view, view, view, b.getI64Type()}, {});
  auto fn = b.create<func::FuncOp>(module.getLoc(), name, type);
  fn.setPrivate();
  fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  return fn;
}

struct ConvertLinalgToRuntimeCallsPass
    : msdd::impl::ConvertLinalgToRuntimeCallsBase<ConvertLinalgToRuntimeCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::LinalgOp> contractions;
    module.walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics() &&
          isa<linalg::MatmulOp, linalg::MatmulTransposeBOp, linalg::BatchMatmulOp,
              linalg::BatchMatmulTransposeBOp>(op.getOperation()) &&
          llvm::all_of(op->getOperandTypes(), [&](Type t) {
            Type e = cast<MemRefType>(t).getElementType();
            return (e.isF32() || e.isF64()) && e == getElementTypeOrSelf(op->getOperand(0));
          }))
        contractions.push_back(op);
    });
    for (linalg::LinalgOp op : contractions) {
      bool batched = isa<linalg::BatchMatmulOp, linalg::BatchMatmulTransposeBOp>(op.getOperation());
      bool transposeB =
          isa<linalg::MatmulTransposeBOp, linalg::BatchMatmulTransposeBOp>(op.getOperation());
      int64_t rank = batched ? 3 : 2;
      Type elementType = getElementTypeOrSelf(op->getOperand(0));
      std::string name = (batched ? "msdd_rt_batch_matmul_" : "msdd_rt_matmul_") +
                         std::string(elementType.isF32() ? "f32" : "f64");
      func::FuncOp callee = getOrDeclare(module, name, elementType, rank);
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<Value> args;
      for (Value operand : op->getOperands())
        args.push_back(
            b.create<memref::CastOp>(loc, fullyDynamicStrided(elementType, rank), operand));
      args.push_back(b.create<arith::ConstantIntOp>(loc, transposeB ? 1 : 0, 64));
      b.create<func::CallOp>(loc, callee, args);
      op->erase();
    }
  }
};

} // namespace
