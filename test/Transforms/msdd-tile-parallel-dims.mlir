// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg --msdd-fuse-elementwise --msdd-tile-parallel-dims=min-tiles=8 | FileCheck %s

// 2 x 64 x 64: the batch loop is tiled by 1 and the next loop cut into 4 tiles of 16.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.forall (%[[B:.+]], %[[R:.+]]) = (0, 0) to (2, 64) step (1, 16)
// CHECK:   tensor.extract_slice %{{.+}}[%[[B]], %[[R]], 0] [1, 16, 64] [1, 1, 1]
// CHECK:   linalg.generic
// CHECK:   tensor.parallel_insert_slice
func.func @elementwise(%x: tensor<2x64x64xf32>) -> tensor<2x64x64xf32> {
  %0 = msdd.gelu %x : tensor<2x64x64xf32>
  return %0 : tensor<2x64x64xf32>
}

// -----

// Reduction loops are never tiled: the softmax row sums stay whole inside each tile.
// CHECK-LABEL: func.func @reduction
// CHECK: scf.forall (%{{.+}}) = (0) to (512) step (64)
// CHECK:   linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]
func.func @reduction(%x: tensor<512x64xf32>) -> tensor<512xf32> {
  %0 = msdd.reduce_max %x {axes = array<i64: 1>} : (tensor<512x64xf32>) -> tensor<512xf32>
  return %0 : tensor<512xf32>
}

// -----

// The contraction stays whole (its accumulator fill is tiled); small ops are left alone.
// CHECK-LABEL: func.func @untouched
// CHECK: scf.forall (%{{.+}}) = (0) to (128) step (16)
// CHECK:   linalg.fill
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<128x128xf32>, tensor<128x128xf32>)
// CHECK-NOT: scf.forall
// CHECK: math.exp
func.func @untouched(%a: tensor<128x128xf32>, %b: tensor<128x128xf32>, %s: tensor<4x4xf32>) -> (tensor<128x128xf32>, tensor<4x4xf32>) {
  %0 = msdd.matmul %a, %b : (tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<128x128xf32>
  %1 = msdd.exp %s : tensor<4x4xf32>
  return %0, %1 : tensor<128x128xf32>, tensor<4x4xf32>
}
