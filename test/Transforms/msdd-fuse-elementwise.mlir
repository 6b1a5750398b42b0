// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg --msdd-fuse-elementwise | FileCheck %s

// A chain of elementwise ops becomes one generic.
// CHECK-LABEL: func.func @chain
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @chain(%x: tensor<8x16xf32>, %y: tensor<16xf32>) -> tensor<8x16xf32> {
  %0 = msdd.add %x, %y : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %1 = msdd.silu %0 : tensor<8x16xf32>
  %2 = msdd.scale %1 {factor = 2.0 : f64} : tensor<8x16xf32>
  return %2 : tensor<8x16xf32>
}

// -----

// The contraction stays a named op (a library call later); only its consumer chain fuses.
// CHECK-LABEL: func.func @keeps_contraction
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.generic
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @keeps_contraction(%x: tensor<8x16xf32>, %w: tensor<4x16xf32>) -> tensor<8x4xf32> {
  %0 = msdd.linear %x, %w : (tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<8x4xf32>
  %1 = msdd.euler_step %0, %0 {t_from = 1.0 : f64, t_to = 0.5 : f64} : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return %1 : tensor<8x4xf32>
}

// -----

// A producer with two users is not duplicated into both.
// CHECK-LABEL: func.func @shared_producer
// CHECK-COUNT-3: linalg.generic
func.func @shared_producer(%x: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %0 = msdd.exp %x : tensor<8x16xf32>
  %1 = msdd.neg %0 : tensor<8x16xf32>
  %2 = msdd.abs %0 : tensor<8x16xf32>
  return %1, %2 : tensor<8x16xf32>, tensor<8x16xf32>
}
