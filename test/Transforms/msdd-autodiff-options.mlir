// RUN: msdd-opt %s --msdd-autodiff="function=two_losses wrt=1 of=0,1" | FileCheck %s
// RUN: not msdd-opt %s --msdd-autodiff="function=nope" 2>&1 | FileCheck %s --check-prefix=MISSING

// Two losses with respect to the same parameter in one graph.
// CHECK-LABEL: func.func @two_losses_grad
// CHECK-SAME: -> (tensor<f32>, tensor<f32>, tensor<3xf32> {msdd.name = "grad0.w"}, tensor<3xf32> {msdd.name = "grad1.w"})
// MISSING: error: msdd-autodiff: no function named 'nope'
func.func @two_losses(%x: tensor<3xf32>, %w: tensor<3xf32> {msdd.name = "w"}) -> (tensor<f32>, tensor<f32>) {
  %y = msdd.mul %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %a = msdd.mse %y, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  %b = msdd.reduce_max %y {axes = array<i64: 0>} : (tensor<3xf32>) -> tensor<f32>
  return %a, %b : tensor<f32>, tensor<f32>
}
