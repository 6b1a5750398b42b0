//===- MsddInterfaces.td - MSDD op interfaces --------------*- tablegen -*-===//
#ifndef MSDD_INTERFACES_TD
#define MSDD_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Msdd_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::msdd";
  let description = [{
    An op that knows its vector-Jacobian product. Reverse-mode differentiation
    (`msdd-autodiff`) calls `buildVjp` with the gradient of the op's single result and gets
    the gradient of each operand, built from msdd ops next to the forward op, so a new op
    brings its own gradient and the backward graph goes through the same pipeline as the
    forward one. Forward values (operands and the result) are used as they are: nothing is
    recomputed unless the rule says so.
  }];
  let methods = [
    InterfaceMethod<[{
        Sets `operandGrads[i]` to the gradient of operand `i` given `resultGrad`, the
        gradient of the result, or to a null value where operand `i` has no gradient
        (integer seeds, for example). `operandGrads` has one entry per operand on entry.
      }],
      "::llvm::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Value":$resultGrad,
           "::llvm::MutableArrayRef<::mlir::Value>":$operandGrads)>,
  ];
}

#endif // MSDD_INTERFACES_TD
