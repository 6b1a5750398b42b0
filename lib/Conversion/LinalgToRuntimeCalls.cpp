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
MemRefType fullyDynamicStrided(MLIRContext *ctx, int64_t rank) {
  SmallVector<int64_t> dyn(rank, ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(ctx, ShapedType::kDynamic, dyn);
  return MemRefType::get(dyn, Float32Type::get(ctx), layout);
}

func::FuncOp getOrDeclare(ModuleOp module, StringRef name, int64_t rank) {
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Type view = fullyDynamicStrided(ctx, rank);
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
          llvm::all_of(op->getOperandTypes(), [](Type t) {
            return cast<MemRefType>(t).getElementType().isF32();
          }))
        contractions.push_back(op);
    });
    for (linalg::LinalgOp op : contractions) {
      bool batched = isa<linalg::BatchMatmulOp, linalg::BatchMatmulTransposeBOp>(op.getOperation());
      bool transposeB =
          isa<linalg::MatmulTransposeBOp, linalg::BatchMatmulTransposeBOp>(op.getOperation());
      int64_t rank = batched ? 3 : 2;
      func::FuncOp callee =
          getOrDeclare(module, batched ? "msdd_rt_batch_matmul_f32" : "msdd_rt_matmul_f32", rank);
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<Value> args;
      for (Value operand : op->getOperands())
        args.push_back(
            b.create<memref::CastOp>(loc, fullyDynamicStrided(b.getContext(), rank), operand));
      args.push_back(b.create<arith::ConstantIntOp>(loc, transposeB ? 1 : 0, 64));
      b.create<func::CallOp>(loc, callee, args);
      op->erase();
    }
  }
};

} // namespace
