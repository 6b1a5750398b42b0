// RUN: msdd-opt %s --split-input-file --verify-diagnostics --msdd-split-contraction-operands | FileCheck %s
// RUN: msdd-opt %s --split-input-file --verify-diagnostics --msdd-split-contraction-operands --msdd-fuse-elementwise | FileCheck %s --check-prefix=FUSED

// Each factor is split by one generic into its TF32 part (the 13 low mantissa bits rounded
// away, ties to even) and the f32 remainder. A result no larger than its factors becomes
// three products into one accumulator, the small terms first.
// CHECK-LABEL: func.func @matmul
// CHECK: %[[B:.+]]:2 = linalg.generic {{.*}} ins(%arg1 : tensor<8x2xf32>) outs(%{{.+}}, %{{.+}} : tensor<8x2xf32>, tensor<8x2xf32>)
// CHECK: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32, %{{.+}}: f32):
// CHECK-NEXT: %[[BITS:.+]] = arith.bitcast %[[IN]] : f32 to i32
// CHECK: %[[SHIFTED:.+]] = arith.shrui %[[BITS]], %c13_i32
// CHECK-NEXT: %[[LAST:.+]] = arith.andi %[[SHIFTED]], %c1_i32
// CHECK: %[[BIAS:.+]] = arith.addi %[[LAST]], %c4095_i32
// CHECK: %[[BIASED:.+]] = arith.addi %[[BITS]], %[[BIAS]]
// CHECK-NEXT: %[[KEPT:.+]] = arith.andi %[[BIASED]], %c-8192_i32
// CHECK-NEXT: %[[HIGH:.+]] = arith.bitcast %[[KEPT]] : i32 to f32
// CHECK-NEXT: %[[LOW:.+]] = arith.subf %[[IN]], %[[HIGH]] : f32
// CHECK-NEXT: linalg.yield %[[HIGH]], %[[LOW]] : f32, f32
// CHECK: %[[A:.+]]:2 = linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>) outs(%{{.+}}, %{{.+}} : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: %[[P1:.+]] = linalg.matmul ins(%[[A]]#1, %[[B]]#0 : tensor<4x8xf32>, tensor<8x2xf32>) outs(%arg2 : tensor<4x2xf32>)
// CHECK-NEXT: %[[P2:.+]] = linalg.matmul ins(%[[A]]#0, %[[B]]#1 : tensor<4x8xf32>, tensor<8x2xf32>) outs(%[[P1]] : tensor<4x2xf32>)
// CHECK-NEXT: %[[P3:.+]] = linalg.matmul ins(%[[A]]#0, %[[B]]#0 : tensor<4x8xf32>, tensor<8x2xf32>) outs(%[[P2]] : tensor<4x2xf32>)
// CHECK-NEXT: return %[[P3]]
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// A result larger than its factors (attention's scores) is written once: one product over
// the factors' parts concatenated along the reduction dimension, [Ql Qh Qh] [Kh Kl Kh].
// CHECK-LABEL: func.func @scores
// CHECK: %[[K:.+]]:2 = linalg.generic {{.*}} ins(%arg1 : tensor<2x8x2xf32>)
// CHECK: %[[Q:.+]]:2 = linalg.generic {{.*}} ins(%arg0 : tensor<2x8x2xf32>)
// CHECK: %[[QE:.+]] = tensor.empty() : tensor<2x8x6xf32>
// CHECK-NEXT: %[[Q0:.+]] = tensor.insert_slice %[[Q]]#1 into %[[QE]][0, 0, 0] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[Q1:.+]] = tensor.insert_slice %[[Q]]#0 into %[[Q0]][0, 0, 2] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[Q2:.+]] = tensor.insert_slice %[[Q]]#0 into %[[Q1]][0, 0, 4] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[KE:.+]] = tensor.empty() : tensor<2x8x6xf32>
// CHECK-NEXT: %[[K0:.+]] = tensor.insert_slice %[[K]]#0 into %[[KE]][0, 0, 0] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[K1:.+]] = tensor.insert_slice %[[K]]#1 into %[[K0]][0, 0, 2] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[K2:.+]] = tensor.insert_slice %[[K]]#0 into %[[K1]][0, 0, 4] [2, 8, 2] [1, 1, 1]
// CHECK-NEXT: %[[S:.+]] = linalg.batch_matmul_transpose_b ins(%[[Q2]], %[[K2]] : tensor<2x8x6xf32>, tensor<2x8x6xf32>) outs(%arg2 : tensor<2x8x8xf32>)
// CHECK-NEXT: return %[[S]]
func.func @scores(%q: tensor<2x8x2xf32>, %k: tensor<2x8x2xf32>, %c: tensor<2x8x8xf32>) -> tensor<2x8x8xf32> {
  %0 = linalg.batch_matmul_transpose_b ins(%q, %k : tensor<2x8x2xf32>, tensor<2x8x2xf32>) outs(%c : tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  return %0 : tensor<2x8x8xf32>
}

// -----

// A value that feeds several products (here both factors of one) is split once; f64
// products are left alone. An elementwise op whose result is split fuses into the split:
// one kernel computes the value and writes both parts.
// CHECK-LABEL: func.func @shared_factor
// CHECK-COUNT-1: arith.bitcast %{{.+}} : f32 to i32
// CHECK-NOT: arith.bitcast %{{.+}} : f32 to i32
// CHECK: linalg.batch_matmul_transpose_b ins(%[[X:.+]]#1, %[[X]]#0 : tensor<2x4x8xf32>, tensor<2x4x8xf32>)
// CHECK-NEXT: linalg.batch_matmul_transpose_b ins(%[[X]]#0, %[[X]]#1 : tensor<2x4x8xf32>, tensor<2x4x8xf32>)
// CHECK-NEXT: linalg.batch_matmul_transpose_b ins(%[[X]]#0, %[[X]]#0 : tensor<2x4x8xf32>, tensor<2x4x8xf32>)
// CHECK: linalg.matmul ins(%arg2, %arg2 : tensor<4x4xf64>, tensor<4x4xf64>)
// FUSED-LABEL: func.func @shared_factor
// FUSED: linalg.generic {{.*}} ins(%arg0 : tensor<2x4x8xf32>) outs(%{{.+}}, %{{.+}} : tensor<2x4x8xf32>, tensor<2x4x8xf32>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: math.exp
// FUSED-NOT: linalg.generic
// FUSED: linalg.batch_matmul_transpose_b
func.func @shared_factor(%x: tensor<2x4x8xf32>, %c: tensor<2x4x4xf32>, %d: tensor<4x4xf64>) -> (tensor<2x4x4xf32>, tensor<4x4xf64>) {
  %e = tensor.empty() : tensor<2x4x8xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x8xf32>) outs(%e : tensor<2x4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x8xf32>
  %1 = linalg.batch_matmul_transpose_b ins(%0, %0 : tensor<2x4x8xf32>, tensor<2x4x8xf32>) outs(%c : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %2 = linalg.matmul ins(%d, %d : tensor<4x4xf64>, tensor<4x4xf64>) outs(%d : tensor<4x4xf64>) -> tensor<4x4xf64>
  return %1, %2 : tensor<2x4x4xf32>, tensor<4x4xf64>
}

// -----

// Left whole, a product of dynamic shape would run in plain TF32.
func.func @dynamic(%y: tensor<?x4xf32>, %w: tensor<4x4xf32>, %e: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{msdd-split-contraction-operands: cannot split a product of dynamic shape}}
  %0 = linalg.matmul ins(%y, %w : tensor<?x4xf32>, tensor<4x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}
