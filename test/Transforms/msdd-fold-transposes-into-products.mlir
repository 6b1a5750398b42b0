// RUN: msdd-opt %s --split-input-file --msdd-fold-transposes-into-products | FileCheck %s

// A weight gradient dY^T X: the product reads dY transposed; the copy is gone.
// CHECK-LABEL: func.func @transposed_lhs
// CHECK-SAME: (%[[DY:.+]]: tensor<8x4xf32>, %[[X:.+]]: tensor<8x3xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[F:.+]] = linalg.fill
// CHECK: linalg.matmul_transpose_a ins(%[[DY]], %[[X]] : tensor<8x4xf32>, tensor<8x3xf32>) outs(%[[F]] : tensor<4x3xf32>)
func.func @transposed_lhs(%dy: tensor<8x4xf32>, %x: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %t = linalg.transpose ins(%dy : tensor<8x4xf32>) outs(%e : tensor<4x8xf32>) permutation = [1, 0]
  %z = arith.constant 0.0 : f32
  %a = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%z : f32) outs(%a : tensor<4x3xf32>) -> tensor<4x3xf32>
  %m = linalg.matmul ins(%t, %x : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}

// -----

// CHECK-LABEL: func.func @transposed_rhs
// CHECK-SAME: (%[[A:.+]]: tensor<4x8xf32>, %[[Y:.+]]: tensor<3x8xf32>, %[[C:.+]]: tensor<4x3xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul_transpose_b ins(%[[A]], %[[Y]] : tensor<4x8xf32>, tensor<3x8xf32>) outs(%[[C]] : tensor<4x3xf32>)
func.func @transposed_rhs(%a: tensor<4x8xf32>, %y: tensor<3x8xf32>, %c: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %e = tensor.empty() : tensor<8x3xf32>
  %t = linalg.transpose ins(%y : tensor<3x8xf32>) outs(%e : tensor<8x3xf32>) permutation = [1, 0]
  %m = linalg.matmul ins(%a, %t : tensor<4x8xf32>, tensor<8x3xf32>) outs(%c : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}

// -----

// Two transposes cancel: matmul_transpose_b of a transposed factor is a plain product.
// CHECK-LABEL: func.func @double_transpose
// CHECK-SAME: (%[[A:.+]]: tensor<4x8xf32>, %[[Y:.+]]: tensor<8x3xf32>, %[[C:.+]]: tensor<4x3xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: linalg.matmul ins(%[[A]], %[[Y]] : tensor<4x8xf32>, tensor<8x3xf32>)
func.func @double_transpose(%a: tensor<4x8xf32>, %y: tensor<8x3xf32>, %c: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %e = tensor.empty() : tensor<3x8xf32>
  %t = linalg.transpose ins(%y : tensor<8x3xf32>) outs(%e : tensor<3x8xf32>) permutation = [1, 0]
  %m = linalg.matmul_transpose_b ins(%a, %t : tensor<4x8xf32>, tensor<3x8xf32>) outs(%c : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}

// -----

// Batched: the permutation must swap the two matrix dimensions and keep the batch first.
// CHECK-LABEL: func.func @batched
// CHECK-SAME: (%[[X:.+]]: tensor<2x8x4xf32>, %[[B:.+]]: tensor<2x8x3xf32>, %[[C:.+]]: tensor<2x4x3xf32>, %[[P:.+]]: tensor<8x2x4xf32>)
// CHECK: %[[M:.+]] = linalg.batch_matmul_transpose_a ins(%[[X]], %[[B]] : tensor<2x8x4xf32>, tensor<2x8x3xf32>)
// CHECK: %[[KEPT:.+]] = linalg.transpose ins(%[[P]] : tensor<8x2x4xf32>) {{.+}} permutation = [1, 2, 0]
// CHECK: linalg.batch_matmul ins(%[[KEPT]], %[[B]]
func.func @batched(%x: tensor<2x8x4xf32>, %b: tensor<2x8x3xf32>, %c: tensor<2x4x3xf32>, %p: tensor<8x2x4xf32>) -> (tensor<2x4x3xf32>, tensor<2x4x3xf32>) {
  %e = tensor.empty() : tensor<2x4x8xf32>
  %t = linalg.transpose ins(%x : tensor<2x8x4xf32>) outs(%e : tensor<2x4x8xf32>) permutation = [0, 2, 1]
  %m = linalg.batch_matmul ins(%t, %b : tensor<2x4x8xf32>, tensor<2x8x3xf32>) outs(%c : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  %e2 = tensor.empty() : tensor<2x4x8xf32>
  %t2 = linalg.transpose ins(%p : tensor<8x2x4xf32>) outs(%e2 : tensor<2x4x8xf32>) permutation = [1, 2, 0]
  %m2 = linalg.batch_matmul ins(%t2, %b : tensor<2x4x8xf32>, tensor<2x8x3xf32>) outs(%c : tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  return %m, %m2 : tensor<2x4x3xf32>, tensor<2x4x3xf32>
}

// -----

// A transpose that something else reads stays for that reader; the product still reads
// the stored factor.
// CHECK-LABEL: func.func @shared_transpose
// CHECK-SAME: (%[[DY:.+]]: tensor<8x4xf32>, %[[X:.+]]: tensor<8x3xf32>, %[[C:.+]]: tensor<4x3xf32>)
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[DY]]
// CHECK: %[[M:.+]] = linalg.matmul_transpose_a ins(%[[DY]], %[[X]]
// CHECK: return %[[M]], %[[T]]
func.func @shared_transpose(%dy: tensor<8x4xf32>, %x: tensor<8x3xf32>, %c: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %t = linalg.transpose ins(%dy : tensor<8x4xf32>) outs(%e : tensor<4x8xf32>) permutation = [1, 0]
  %m = linalg.matmul ins(%t, %x : tensor<4x8xf32>, tensor<8x3xf32>) outs(%c : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m, %t : tensor<4x3xf32>, tensor<4x8xf32>
}

// -----

// Both factors transposed: linalg has no named op that reads both transposed, so one
// transpose stays.
// CHECK-LABEL: func.func @both_transposed
// CHECK-SAME: (%[[X:.+]]: tensor<8x4xf32>, %[[Y:.+]]: tensor<3x8xf32>, %[[C:.+]]: tensor<4x3xf32>)
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[Y]]
// CHECK: linalg.matmul_transpose_a ins(%[[X]], %[[T]]
func.func @both_transposed(%x: tensor<8x4xf32>, %y: tensor<3x8xf32>, %c: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %t = linalg.transpose ins(%x : tensor<8x4xf32>) outs(%e : tensor<4x8xf32>) permutation = [1, 0]
  %e2 = tensor.empty() : tensor<8x3xf32>
  %t2 = linalg.transpose ins(%y : tensor<3x8xf32>) outs(%e2 : tensor<8x3xf32>) permutation = [1, 0]
  %m = linalg.matmul ins(%t, %t2 : tensor<4x8xf32>, tensor<8x3xf32>) outs(%c : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}

// -----

// Mixed element types (bf16 factors, f32 accumulator) are left to the cast semantics of
// the op as written.
// CHECK-LABEL: func.func @mixed_types
// CHECK: linalg.transpose
// CHECK: linalg.matmul ins
func.func @mixed_types(%x: tensor<8x4xbf16>, %b: tensor<8x3xbf16>, %c: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %e = tensor.empty() : tensor<4x8xbf16>
  %t = linalg.transpose ins(%x : tensor<8x4xbf16>) outs(%e : tensor<4x8xbf16>) permutation = [1, 0]
  %m = linalg.matmul ins(%t, %b : tensor<4x8xbf16>, tensor<8x3xbf16>) outs(%c : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %m : tensor<4x3xf32>
}

// -----

// Attention's dV = P^T dO: the scores' transpose has the heads as a second batch dimension,
// merged by a collapse before the product. The collapse moves to the stored scores.
// CHECK-LABEL: func.func @collapsed_batch
// CHECK-SAME: (%[[P:.+]]: tensor<2x3x5x4xf32>, %[[DO:.+]]: tensor<6x5x8xf32>, %[[C:.+]]: tensor<6x4x8xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[FLAT:.+]] = tensor.collapse_shape %[[P]] {{\[}}[0, 1], [2], [3]] : tensor<2x3x5x4xf32> into tensor<6x5x4xf32>
// CHECK: linalg.batch_matmul_transpose_a ins(%[[FLAT]], %[[DO]] : tensor<6x5x4xf32>, tensor<6x5x8xf32>)
func.func @collapsed_batch(%p: tensor<2x3x5x4xf32>, %do: tensor<6x5x8xf32>, %c: tensor<6x4x8xf32>) -> tensor<6x4x8xf32> {
  %e = tensor.empty() : tensor<2x3x4x5xf32>
  %t = linalg.transpose ins(%p : tensor<2x3x5x4xf32>) outs(%e : tensor<2x3x4x5xf32>) permutation = [0, 1, 3, 2]
  %f = tensor.collapse_shape %t [[0, 1], [2], [3]] : tensor<2x3x4x5xf32> into tensor<6x4x5xf32>
  %m = linalg.batch_matmul ins(%f, %do : tensor<6x4x5xf32>, tensor<6x5x8xf32>) outs(%c : tensor<6x4x8xf32>) -> tensor<6x4x8xf32>
  return %m : tensor<6x4x8xf32>
}

// -----

// A collapse that merges a matrix dimension is not a batch merge: left alone.
// CHECK-LABEL: func.func @collapsed_matrix_dim
// CHECK: linalg.transpose
// CHECK: linalg.matmul ins
func.func @collapsed_matrix_dim(%p: tensor<2x5x4xf32>, %b: tensor<5x3xf32>, %c: tensor<8x3xf32>) -> tensor<8x3xf32> {
  %e = tensor.empty() : tensor<2x4x5xf32>
  %t = linalg.transpose ins(%p : tensor<2x5x4xf32>) outs(%e : tensor<2x4x5xf32>) permutation = [0, 2, 1]
  %f = tensor.collapse_shape %t [[0, 1], [2]] : tensor<2x4x5xf32> into tensor<8x5xf32>
  %m = linalg.matmul ins(%f, %b : tensor<8x5xf32>, tensor<5x3xf32>) outs(%c : tensor<8x3xf32>) -> tensor<8x3xf32>
  return %m : tensor<8x3xf32>
}
