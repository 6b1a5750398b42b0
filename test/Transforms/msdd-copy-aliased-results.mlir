// RUN: msdd-opt %s --split-input-file --msdd-copy-aliased-results | FileCheck %s

// An argument returned as a result, and a value returned twice, get copies of their own.
// CHECK-LABEL: func.func @aliased
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK: %[[Y:.+]] = msdd.exp %[[X]]
// CHECK: %[[XC:.+]] = bufferization.alloc_tensor() copy(%[[X]])
// CHECK: %[[YC:.+]] = bufferization.alloc_tensor() copy(%[[Y]])
// CHECK: return %[[XC]], %[[Y]], %[[YC]]
func.func @aliased(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %y = msdd.exp %x : tensor<4xf32>
  return %x, %y, %y : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Distinct computed results are left alone.
// CHECK-LABEL: func.func @distinct
// CHECK-NOT: bufferization.alloc_tensor
// CHECK: return
func.func @distinct(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %y = msdd.exp %x : tensor<4xf32>
  %z = msdd.tanh %x : tensor<4xf32>
  return %y, %z : tensor<4xf32>, tensor<4xf32>
}
