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

// RUN: msdd-opt %s --split-input-file --msdd-autodiff="function=remat rematerialize=true" | FileCheck %s --check-prefix=REMAT
// The tanh is recomputed after the loss instead of being kept from the forward pass.
// REMAT-LABEL: func.func @remat_grad
// REMAT: %[[T:.+]] = msdd.tanh %arg0
// REMAT: msdd.reduce_sum %[[T]]
// REMAT: %[[AGAIN:.+]] = msdd.tanh %arg0
// REMAT: msdd.mul %[[AGAIN]], %[[AGAIN]]
func.func @remat(%x: tensor<3xf32>) -> tensor<f32> {
  %t = msdd.tanh %x : tensor<3xf32>
  %l = msdd.reduce_sum %t {axes = array<i64: 0>} : (tensor<3xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
