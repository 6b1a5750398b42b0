// The CPU pipeline reads transposed factors of products in place
// (msdd-fold-transposes-into-products): a linear layer's weight gradient dY^T X is a
// matmul_transpose_a of the stored dY, and the runtime call gets a transposed view of it.
//
// RUN: msdd-compile %s --train --emit=linalg -o - | FileCheck %s --check-prefix=LINALG
// RUN: msdd-compile %s --train --emit=loops -o - | FileCheck %s --check-prefix=LOOPS

// LINALG-LABEL: func.func @train_step
// LINALG-NOT: linalg.transpose
// LINALG: linalg.matmul_transpose_a ins(%{{.+}}, %{{.+}} : tensor<6x4xf32>, tensor<6x5xf32>) outs(%{{.+}} : tensor<4x5xf32>)
// LINALG-NOT: linalg.transpose

// LOOPS-LABEL: func.func @train_step
// LOOPS: %[[DYT:.+]] = memref.transpose %{{.+}} (d0, d1) -> (d1, d0) : memref<6x4xf32{{.*}}> to memref<4x6xf32, strided<[1, 4]{{.*}}>>
// LOOPS: %[[A:.+]] = memref.cast %[[DYT]]
// LOOPS: call @msdd_rt_matmul_f32(%[[A]],

func.func @loss(%w: tensor<4x5xf32> {msdd.name = "w", msdd.param},
                %b: tensor<4xf32> {msdd.name = "b", msdd.param},
                %x: tensor<6x5xf32> {msdd.name = "x"},
                %t: tensor<6x4xf32> {msdd.name = "t"}) -> tensor<f32> {
  %y = msdd.linear %x, %w, %b : (tensor<6x5xf32>, tensor<4x5xf32>, tensor<4xf32>) -> tensor<6x4xf32>
  %l = msdd.mse %y, %t : (tensor<6x4xf32>, tensor<6x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
