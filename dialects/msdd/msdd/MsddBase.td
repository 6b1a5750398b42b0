//===- MsddBase.td - MSDD dialect definition ---------------*- tablegen -*-===//
#ifndef MSDD_BASE_TD
#define MSDD_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/AttrTypeBase.td"

def Msdd_Dialect : Dialect {
  let name = "msdd";
  let cppNamespace = "::mlir::msdd";
  let summary = "Multi-scale diffusion decoder tokenizers: nn, diffusion and loss ops";
  let description = [{
    The `msdd` dialect represents the training graphs and the scale-wise sampling graph of a
    diffusion-decoder image tokenizer. Its ops work on statically shaped, ranked `f32` (or `f64`) tensors, all operands
    of an op of one element type,
    and lower to `linalg`, `tensor`, `arith`, `math` and `scf`. Images are `[B, C, H, W]`;
    token sequences are `[B, L, D]`; attention operands are per head, `[B, H, L, D]`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

class Msdd_Op<string mnemonic, list<Trait> traits = []>
    : Op<Msdd_Dialect, mnemonic, traits>;

// Every msdd tensor is ranked, statically shaped f32 (models) or f64 (gradient checks and
// references); the shape checks live in verifiers so that their diagnostics can say which
// dimension is wrong.
def Msdd_Tensor : Type<
    And<[RankedTensorOf<[F32, F64]>.predicate, HasStaticShapePred]>,
    "statically shaped f32 or f64 tensor", "::mlir::RankedTensorType">;

#endif // MSDD_BASE_TD
