//===- LinalgToRuntimeCalls.cpp - Matrix products to BLAS calls ------------===//
//
// Generated loops do not reach BLAS speed on matrix products; the runtime's kernels do. After
// bufferization each named contraction becomes a call with strided memref operands, so views
// (slices, transposed factors) reach the BLAS without copies.
//
//===----------------------------------------------------------------------===//
#include "msdd/Conversion/Passes.h"
#include "msdd/Conversion/Buffers.h"
#include "msdd/Transforms/Rounding.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSwitch.h"

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

func::FuncOp getOrDeclare(ModuleOp module, StringRef name, TypeRange inputs) {
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto fn = b.create<func::FuncOp>(module.getLoc(), name, FunctionType::get(ctx, inputs, {}));
  fn.setPrivate();
  fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  return fn;
}

/// A dense bf16 copy of `view` (rounded to nearest even) for cuBLAS's bf16 tensor cores,
/// or null if its shape is not static.
Value roundToBf16(OpBuilder &b, Location loc, Value view) {
  auto type = cast<MemRefType>(view.getType());
  if (!type.hasStaticShape())
    return nullptr;
  auto dense = MemRefType::get(type.getShape(), b.getBF16Type());
  Value copy = b.create<memref::AllocOp>(loc, dense);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(), utils::IteratorType::parallel);
  b.create<linalg::GenericOp>(loc, view, copy, ArrayRef<AffineMap>{identity, identity}, parallel,
                              [](OpBuilder &nb, Location nloc, ValueRange args) {
                                nb.create<linalg::YieldOp>(
                                    nloc, nb.create<arith::TruncFOp>(nloc, nb.getBF16Type(), args[0])
                                              .getResult());
                              });
  return copy;
}

/// The linalg.fill of zero that initializes `op`'s accumulator, if nothing between the two
/// touches that buffer: the product can then overwrite instead of accumulate.
linalg::FillOp zeroFillOfAccumulator(linalg::LinalgOp op) {
  Value c = op.getDpsInits()[0];
  Value root = msdd::rootBuffer(c);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    auto fill = dyn_cast<linalg::FillOp>(prev);
    if (fill && fill.hasPureBufferSemantics() && fill.getOutputs()[0] == c)
      return matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) ? fill : nullptr;
    if (msdd::touchesBuffer(prev, root))
      return nullptr;
  }
  return nullptr;
}

/// bf16 factors and an f32 accumulator (msdd-round-contraction-operands): the CPU's kernels
/// widen them, cuBLAS runs them on bf16 tensor cores.
bool hasRoundedFactors(linalg::LinalgOp op) {
  return getElementTypeOrSelf(op->getOperand(0)).isBF16() &&
         getElementTypeOrSelf(op->getOperand(1)).isBF16() &&
         getElementTypeOrSelf(op->getOperand(2)).isF32();
}

/// The generic that only rounds the f32 result `c` of a 2-D product with bf16 factors into a
/// bf16 buffer of its shape (msdd-round-contraction-results), when `c` is a buffer of its own
/// that nothing else reads and the bf16 buffer exists before the product: the library call
/// can then write the rounded result itself. Null otherwise.
linalg::GenericOp resultRounding(linalg::LinalgOp product) {
  if (!hasRoundedFactors(product) || product.getNumLoops() != 3)
    return nullptr;
  Value c = product.getDpsInits()[0];
  if (!c.getDefiningOp<memref::AllocOp>())
    return nullptr;
  linalg::GenericOp rounding;
  for (Operation *user : c.getUsers()) {
    if (user == product.getOperation() || isa<memref::DeallocOp, linalg::FillOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (rounding || !generic || !msdd::isPointwiseTruncation(generic) ||
        generic.getDpsInputs()[0] != c ||
        !getElementTypeOrSelf(generic.getDpsInits()[0]).isBF16())
      return nullptr;
    rounding = generic;
  }
  if (!rounding || product->getBlock() != rounding->getBlock() ||
      !product->isBeforeInBlock(rounding))
    return nullptr;
  Value r = rounding.getDpsInits()[0];
  Operation *def = r.getDefiningOp();
  if (!def || (def->getBlock() == product->getBlock() && def->isBeforeInBlock(product))) {
    // The call writes r at the product: nothing from there to the rounding may use r's
    // buffer. Bufferization reuses a dead factor's buffer for the rounding, and a product
    // written over its own factor is a race on the GPU (other tiles still read it).
    Value root = msdd::rootBuffer(r);
    for (Operation *op = product; op != rounding.getOperation(); op = op->getNextNode())
      if (msdd::touchesBuffer(op, root))
        return nullptr;
    return rounding;
  }
  // Bufferization allocates the bf16 buffer just before the rounding: an allocation of a
  // static shape can move up to the product.
  auto alloc = dyn_cast<memref::AllocOp>(def);
  if (!alloc || alloc->getNumOperands() != 0 || alloc->getBlock() != product->getBlock())
    return nullptr;
  alloc->moveBefore(product);
  return rounding;
}

struct ConvertLinalgToRuntimeCallsPass
    : msdd::impl::ConvertLinalgToRuntimeCallsBase<ConvertLinalgToRuntimeCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (device != "cpu" && device != "cuda") {
      module.emitError("msdd-linalg-to-runtime-calls: unknown device '") << device << "'";
      return signalPassFailure();
    }
    bool cuda = device == "cuda";
    int64_t mode = llvm::StringSwitch<int64_t>(mathMode).Case("f32", 0).Case("tf32", 1).Case("bf16", 2).Default(-1);
    if (mode < 0) {
      module.emitError("msdd-linalg-to-runtime-calls: unknown math mode '") << mathMode << "'";
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> contractions;
    module.walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics() &&
          isa<linalg::MatmulOp, linalg::MatmulTransposeAOp, linalg::MatmulTransposeBOp,
              linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
              linalg::BatchMatmulTransposeBOp>(op.getOperation()) &&
          (llvm::all_of(op->getOperandTypes(), [&](Type t) {
             Type e = cast<MemRefType>(t).getElementType();
             return (e.isF32() || e.isF64()) && e == getElementTypeOrSelf(op->getOperand(0));
           }) ||
           hasRoundedFactors(op)))
        contractions.push_back(op);
    });
    for (linalg::LinalgOp op : contractions) {
      bool batched = isa<linalg::BatchMatmulOp, linalg::BatchMatmulTransposeAOp,
                         linalg::BatchMatmulTransposeBOp>(op.getOperation());
      bool transposeA =
          isa<linalg::MatmulTransposeAOp, linalg::BatchMatmulTransposeAOp>(op.getOperation());
      bool transposeB =
          isa<linalg::MatmulTransposeBOp, linalg::BatchMatmulTransposeBOp>(op.getOperation());
      int64_t rank = batched ? 3 : 2;
      Type elementType = getElementTypeOrSelf(op->getOperand(0));
      // Looked for before this product's own casts and roundings are inserted.
      linalg::FillOp zeroFill = zeroFillOfAccumulator(op);
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<Value> operands(op->getOperands());
      // The kernels take A as any strided view: a stored A^T is read through a transposed one.
      if (transposeA) {
        SmallVector<unsigned> perm = llvm::to_vector(llvm::seq<unsigned>(0, rank));
        std::swap(perm[rank - 2], perm[rank - 1]);
        operands[0] = b.create<memref::TransposeOp>(
            loc, operands[0], AffineMapAttr::get(AffineMap::getPermutationMap(perm, b.getContext())));
      }
      // bf16 mode: A and B rounded into bf16 buffers (cuBLAS's "fast 16BF" f32 mode may
      // run TF32 instead); the f32 accumulator stays.
      std::string suffix = elementType.isF64() ? "f64" : "f32";
      bool prerounded = hasRoundedFactors(op);
      if (prerounded)
        suffix = "bf16";
      // A result rounded right after the product is written rounded by the call (beta = 0).
      linalg::GenericOp rounding = zeroFill ? resultRounding(op) : nullptr;
      if (rounding) {
        operands[2] = rounding.getDpsInits()[0];
        suffix = "bf16_to_bf16";
      }
      bool bf16 = cuda && mode == 2 && elementType.isF32();
      SmallVector<Value> rounded;
      if (bf16) {
        for (int i = 0; i < 2; ++i)
          if (Value copy = roundToBf16(b, loc, operands[i]))
            rounded.push_back(copy);
        if (rounded.size() == 2) {
          operands[0] = rounded[0];
          operands[1] = rounded[1];
          suffix = "bf16";
        } else {
          bf16 = false;
        }
      }
      std::string name = std::string(cuda ? "msdd_rt_cuda_" : "msdd_rt_") +
                         (batched ? "batch_matmul_" : "matmul_") + suffix;
      SmallVector<Value> args;
      for (Value operand : operands)
        args.push_back(b.create<memref::CastOp>(
            loc, fullyDynamicStrided(getElementTypeOrSelf(operand), rank), operand));
      args.push_back(b.create<arith::ConstantIntOp>(loc, transposeB ? 1 : 0, 64));
      args.push_back(b.create<arith::ConstantIntOp>(loc, zeroFill ? 0 : 1, 64));
      if (zeroFill)
        zeroFill->erase();
      if (cuda && !bf16 && !prerounded)
        args.push_back(b.create<arith::ConstantIntOp>(loc, mode, 64));
      b.create<func::CallOp>(loc, getOrDeclare(module, name, ValueRange(args).getTypes()), args);
      for (Value copy : rounded)
        b.create<memref::DeallocOp>(loc, copy);
      if (rounding)
        rounding->erase();
      op->erase();
    }
  }
};

} // namespace
