// RUN: msdd-opt %s --split-input-file --msdd-merge-sibling-products | FileCheck %s

// Three linear layers reading the same input (through equal collapses, as each layer
// collapses its input itself), zero-filled, their weights rounded to bf16 in the function:
// one product with the weights stacked in the order they are computed, each result a slice
// of the stacked one.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.+]]: tensor<2x4x16xbf16>
// CHECK-DAG: %[[RQ:.+]] = linalg.generic {{.+}} ins(%arg1 : tensor<4x16xf32>)
// CHECK-DAG: %[[RK:.+]] = linalg.generic {{.+}} ins(%arg2 : tensor<4x16xf32>)
// CHECK-DAG: %[[RV:.+]] = linalg.generic {{.+}} ins(%arg3 : tensor<6x16xf32>)
// CHECK: %[[A:.+]] = tensor.collapse_shape %[[X]]
// CHECK: %[[S0:.+]] = tensor.empty() : tensor<14x16xbf16>
// CHECK: %[[S1:.+]] = tensor.insert_slice %[[RQ]] into %[[S0]][0, 0] [4, 16] [1, 1]
// CHECK: %[[S2:.+]] = tensor.insert_slice %[[RK]] into %[[S1]][4, 0] [4, 16] [1, 1]
// CHECK: %[[S3:.+]] = tensor.insert_slice %[[RV]] into %[[S2]][8, 0] [6, 16] [1, 1]
// CHECK: %[[Z:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<8x14xf32>)
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b ins(%[[A]], %[[S3]] : tensor<8x16xbf16>, tensor<14x16xbf16>) outs(%[[Z]] : tensor<8x14xf32>)
// CHECK: %[[Q:.+]] = tensor.extract_slice %[[P]][0, 0] [8, 4] [1, 1]
// CHECK: %[[K:.+]] = tensor.extract_slice %[[P]][0, 4] [8, 4] [1, 1]
// CHECK: %[[V:.+]] = tensor.extract_slice %[[P]][0, 8] [8, 6] [1, 1]
// CHECK-NOT: linalg.matmul_transpose_b
// CHECK: return %[[Q]], %[[K]], %[[V]]
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @qkv(%x: tensor<2x4x16xbf16>, %wq: tensor<4x16xf32>, %wk: tensor<4x16xf32>, %wv: tensor<6x16xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %e4 = tensor.empty() : tensor<4x16xbf16>
  %e6b = tensor.empty() : tensor<6x16xbf16>
  %rq = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%wq : tensor<4x16xf32>) outs(%e4 : tensor<4x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x16xbf16>
  %rk = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%wk : tensor<4x16xf32>) outs(%e4 : tensor<4x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x16xbf16>
  %rv = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%wv : tensor<6x16xf32>) outs(%e6b : tensor<6x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<6x16xbf16>
  %a0 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<2x4x16xbf16> into tensor<8x16xbf16>
  %e = tensor.empty() : tensor<8x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %q = linalg.matmul_transpose_b ins(%a0, %rq : tensor<8x16xbf16>, tensor<4x16xbf16>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %a1 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<2x4x16xbf16> into tensor<8x16xbf16>
  %k = linalg.matmul_transpose_b ins(%a1, %rk : tensor<8x16xbf16>, tensor<4x16xbf16>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %e6 = tensor.empty() : tensor<8x6xf32>
  %acc6 = linalg.fill ins(%zero : f32) outs(%e6 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v = linalg.matmul_transpose_b ins(%a0, %rv : tensor<8x16xbf16>, tensor<6x16xbf16>) outs(%acc6 : tensor<8x6xf32>) -> tensor<8x6xf32>
  return %q, %k, %v : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x6xf32>
}

// -----

// Weights computed in the function (their bf16 roundings) are stacked in the order they are
// computed, not the order of the products: the second weight here is computed first.
// CHECK-LABEL: func.func @stacked_in_computation_order
// CHECK: %[[RU:.+]] = linalg.generic {{.+}} ins(%arg2 : tensor<4x16xf32>)
// CHECK: %[[RG:.+]] = linalg.generic {{.+}} ins(%arg1 : tensor<4x16xf32>)
// CHECK: %[[S1:.+]] = tensor.insert_slice %[[RU]] into %{{.+}}[0, 0] [4, 16] [1, 1]
// CHECK: %[[S2:.+]] = tensor.insert_slice %[[RG]] into %[[S1]][4, 0] [4, 16] [1, 1]
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b ins(%arg0, %[[S2]] : tensor<8x16xbf16>, tensor<8x16xbf16>)
// CHECK-DAG: %[[G:.+]] = tensor.extract_slice %[[P]][0, 4] [8, 4] [1, 1]
// CHECK-DAG: %[[U:.+]] = tensor.extract_slice %[[P]][0, 0] [8, 4] [1, 1]
// CHECK: return %[[G]], %[[U]]
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @stacked_in_computation_order(%a: tensor<8x16xbf16>, %wg: tensor<4x16xf32>, %wu: tensor<4x16xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %eb = tensor.empty() : tensor<4x16xbf16>
  %ru = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%wu : tensor<4x16xf32>) outs(%eb : tensor<4x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x16xbf16>
  %rg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%wg : tensor<4x16xf32>) outs(%eb : tensor<4x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x16xbf16>
  %e = tensor.empty() : tensor<8x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %g = linalg.matmul_transpose_b ins(%a, %rg : tensor<8x16xbf16>, tensor<4x16xbf16>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %u = linalg.matmul_transpose_b ins(%a, %ru : tensor<8x16xbf16>, tensor<4x16xbf16>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %g, %u : tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

// Left alone: a product that accumulates into its bias (not zeros), products of different
// inputs, and a sibling whose weight is computed after the first product. (%r0 and %r1 are
// computed weights, and %p1 / %p2 would otherwise merge with one of them.)
// CHECK-LABEL: func.func @kept
// CHECK-NOT: tensor.insert_slice
// CHECK-COUNT-4: linalg.matmul_transpose_b
// CHECK-NOT: tensor.insert_slice
// CHECK: return
#id3 = affine_map<(d0, d1) -> (d0, d1)>
func.func @kept(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>, %w0: tensor<4x16xf32>, %w1: tensor<4x16xf32>, %bias: tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %ew = tensor.empty() : tensor<4x16xf32>
  %r0 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]} ins(%w0 : tensor<4x16xf32>) outs(%ew : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4x16xf32>
  %r1 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]} ins(%w1 : tensor<4x16xf32>) outs(%ew : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4x16xf32>
  %e = tensor.empty() : tensor<8x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p0 = linalg.matmul_transpose_b ins(%a, %r0 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%bias : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p1 = linalg.matmul_transpose_b ins(%a, %r1 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p2 = linalg.matmul_transpose_b ins(%b, %r0 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %r2 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]} ins(%w1 : tensor<4x16xf32>) outs(%ew : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<4x16xf32>
  %p3 = linalg.matmul_transpose_b ins(%b, %r2 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %p0, %p1, %p2, %p3 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

// Weights passed in as they are to a public function: stacking them would copy them on
// every call.
// CHECK-LABEL: func.func @argument_weights
// CHECK-NOT: tensor.insert_slice
// CHECK-COUNT-2: linalg.matmul_transpose_b
func.func @argument_weights(%a: tensor<8x16xf32>, %w0: tensor<4x16xf32>, %w1: tensor<4x16xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p0 = linalg.matmul_transpose_b ins(%a, %w0 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p1 = linalg.matmul_transpose_b ins(%a, %w1 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %p0, %p1 : tensor<8x4xf32>, tensor<8x4xf32>
}

// -----

// The same in a private function (a sampler's denoiser): msdd-hoist-call-invariant-code
// moves the stacking of its arguments to its caller, once for all the calls.
// CHECK-LABEL: func.func private @denoiser_argument_weights
// CHECK: %[[S0:.+]] = tensor.empty() : tensor<8x16xf32>
// CHECK: %[[S1:.+]] = tensor.insert_slice %arg1 into %[[S0]][0, 0] [4, 16] [1, 1]
// CHECK: %[[S2:.+]] = tensor.insert_slice %arg2 into %[[S1]][4, 0] [4, 16] [1, 1]
// CHECK: linalg.matmul_transpose_b ins(%arg0, %[[S2]] : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK-NOT: linalg.matmul_transpose_b
func.func private @denoiser_argument_weights(%a: tensor<8x16xf32>, %w0: tensor<4x16xf32>, %w1: tensor<4x16xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p0 = linalg.matmul_transpose_b ins(%a, %w0 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  %p1 = linalg.matmul_transpose_b ins(%a, %w1 : tensor<8x16xf32>, tensor<4x16xf32>) outs(%acc : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %p0, %p1 : tensor<8x4xf32>, tensor<8x4xf32>
}
