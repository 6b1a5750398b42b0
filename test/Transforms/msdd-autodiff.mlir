// RUN: msdd-opt %s --split-input-file --msdd-autodiff="function=loss" --verify-diagnostics | FileCheck %s

// Fan-out: %x feeds two ops, so its adjoint is the sum of both contributions. The forward
// values (%e) are reused by the backward ops, not recomputed.
// CHECK-LABEL: func.func @loss_grad
// CHECK-SAME: -> (tensor<f32>, tensor<4xf32> {msdd.name = "grad.x"})
// CHECK: %[[E:.+]] = msdd.exp %arg0
// CHECK: %[[S:.+]] = msdd.mul %[[E]], %arg0
// CHECK: %[[L:.+]] = msdd.reduce_sum %[[S]]
// CHECK: %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[G:.+]] = msdd.broadcast
// CHECK: %[[GE:.+]] = msdd.mul %[[G]], %arg0
// CHECK: %[[GX1:.+]] = msdd.mul %[[G]], %[[E]]
// CHECK: %[[GX2:.+]] = msdd.mul %[[GE]], %[[E]]
// CHECK: %[[SUM:.+]] = msdd.add %[[GX1]], %[[GX2]]
// CHECK: return %[[L]], %[[SUM]]
func.func @loss(%x: tensor<4xf32> {msdd.name = "x"}) -> tensor<f32> {
  %e = msdd.exp %x : tensor<4xf32>
  %s = msdd.mul %e, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %l = msdd.reduce_sum %s {axes = array<i64: 0>} : (tensor<4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A broadcast operand's gradient is summed back to its shape; calls are inlined first.
// CHECK-LABEL: func.func @loss_grad
// CHECK-NOT: call
// CHECK: msdd.reduce_sum %{{.+}} {axes = array<i64: 0>} : (tensor<3x5xf32>) -> tensor<5xf32>
// CHECK: return
func.func private @bias_add(%x: tensor<3x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  %0 = msdd.add %x, %b : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}
func.func @loss(%x: tensor<3x5xf32>, %b: tensor<5xf32>, %t: tensor<3x5xf32>) -> tensor<f32> {
  %y = call @bias_add(%x, %b) : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  %l = msdd.mse %y, %t : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Noise drawn from integer seeds needs no gradient rule: nothing differentiated flows in.
// CHECK-LABEL: func.func @loss_grad
// CHECK: msdd.random_normal
// CHECK: return
func.func @loss(%x: tensor<4xf32>, %seed: i64) -> tensor<f32> {
  %n = msdd.random_normal %seed, %seed : tensor<4xf32>
  %y = msdd.add %x, %n : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %l = msdd.mse %y, %n : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// expected-error @+1 {{msdd-autodiff: result 0 is not a scalar float tensor loss}}
func.func @loss(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

func.func @loss(%x: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'tensor.extract_slice' op is on the path to the loss but has no gradient rule}}
  %s = tensor.extract_slice %x[0] [2] [1] : tensor<4xf32> to tensor<2xf32>
  %l = msdd.reduce_sum %s {axes = array<i64: 0>} : (tensor<2xf32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A conv's input gradient is the transposed conv with the same attributes; its weight
// gradient a conv of the transposed input (last input row cropped: no output reads it) by
// the transposed output gradient, strides and dilations swapped.
// CHECK-LABEL: func.func @loss_grad
// CHECK: %[[Y:.+]] = msdd.conv %arg0, %arg1
// CHECK: %[[G:.+]] = msdd.broadcast
// CHECK: %[[GX:.+]] = msdd.conv_transpose %[[G]], %arg1 {dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 1>, strides = array<i64: 2, 1>} : (tensor<2x4x3x6xf32>, tensor<4x3x1x3xf32>) -> tensor<2x3x6x6xf32>
// CHECK: %[[XC:.+]] = msdd.slice %arg0 {axis = 2 : i64, start = 0 : i64} : (tensor<2x3x6x6xf32>) -> tensor<2x3x5x6xf32>
// CHECK: %[[XT:.+]] = msdd.transpose %[[XC]] {permutation = array<i64: 1, 0, 2, 3>} : (tensor<2x3x5x6xf32>) -> tensor<3x2x5x6xf32>
// CHECK: %[[GT:.+]] = msdd.transpose %[[G]] {permutation = array<i64: 1, 0, 2, 3>} : (tensor<2x4x3x6xf32>) -> tensor<4x2x3x6xf32>
// CHECK: %[[DW:.+]] = msdd.conv %[[XT]], %[[GT]] {dilations = array<i64: 2, 1>, pads_begin = array<i64: 0, 1>, pads_end = array<i64: 0, 1>, strides = array<i64: 1, 1>} : (tensor<3x2x5x6xf32>, tensor<4x2x3x6xf32>) -> tensor<3x4x1x3xf32>
// CHECK: %[[GW:.+]] = msdd.transpose %[[DW]] {permutation = array<i64: 1, 0, 2, 3>} : (tensor<3x4x1x3xf32>) -> tensor<4x3x1x3xf32>
// CHECK: return %{{.+}}, %[[GX]], %[[GW]]
func.func @loss(%x: tensor<2x3x6x6xf32> {msdd.name = "x"}, %w: tensor<4x3x1x3xf32> {msdd.name = "w"}) -> tensor<f32> {
  %y = msdd.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 1>, pads_end = array<i64: 0, 1>} : (tensor<2x3x6x6xf32>, tensor<4x3x1x3xf32>) -> tensor<2x4x3x6xf32>
  %l = msdd.reduce_sum %y {axes = array<i64: 0, 1, 2, 3>} : (tensor<2x4x3x6xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
