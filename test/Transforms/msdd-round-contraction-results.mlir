// RUN: msdd-opt %s --split-input-file --msdd-round-contraction-results | FileCheck %s

// A linear layer's product (bf16 factors, zero-filled f32 accumulator) read only by the
// elementwise op that adds its bias, through the reshape to the layer's leading
// dimensions: rounded to bf16 right after the product, reshaped as bf16, widened for the
// reader.
// CHECK-LABEL: func.func @linear_then_elementwise
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b ins(%{{.+}}, %{{.+}} : tensor<8x16xbf16>, tensor<32x16xbf16>) outs(%{{.+}} : tensor<8x32xf32>)
// CHECK: %[[R:.+]] = linalg.generic {{.+}} ins(%[[P]] : tensor<8x32xf32>) outs(%{{.+}} : tensor<8x32xbf16>)
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %{{.+}}: bf16):
// CHECK-NEXT: %[[T:.+]] = arith.truncf %[[IN]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[T]] : bf16
// CHECK: %[[E:.+]] = tensor.expand_shape %[[R]] {{\[\[}}0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xbf16> into tensor<2x4x32xbf16>
// CHECK: %[[W:.+]] = linalg.generic {{.+}} ins(%[[E]] : tensor<2x4x32xbf16>) outs(%{{.+}} : tensor<2x4x32xf32>)
// CHECK: arith.extf %{{.+}} : bf16 to f32
// CHECK: linalg.generic {{.+}} ins(%[[W]], %{{.+}} : tensor<2x4x32xf32>, tensor<32xf32>)
// CHECK-NOT: tensor.expand_shape %[[P]]
func.func @linear_then_elementwise(%a: tensor<8x16xbf16>, %w: tensor<32x16xbf16>, %bias: tensor<32xf32>) -> tensor<2x4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul_transpose_b ins(%a, %w : tensor<8x16xbf16>, tensor<32x16xbf16>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  %x = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %o = tensor.empty() : tensor<2x4x32xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %bias : tensor<2x4x32xf32>, tensor<32xf32>) outs(%o : tensor<2x4x32xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

// A product that reads its first factor transposed (a weight gradient, dY^T X) is rounded
// alike.
// CHECK-LABEL: func.func @transposed_first_factor
// CHECK: %[[P:.+]] = linalg.matmul_transpose_a ins(%{{.+}}, %{{.+}} : tensor<16x8xbf16>, tensor<16x32xbf16>) outs(%{{.+}} : tensor<8x32xf32>)
// CHECK: linalg.generic {{.+}} ins(%[[P]] : tensor<8x32xf32>) outs(%{{.+}} : tensor<8x32xbf16>)
// CHECK: arith.truncf
func.func @transposed_first_factor(%dy: tensor<16x8xbf16>, %x: tensor<16x32xbf16>) -> tensor<8x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul_transpose_a ins(%dy, %x : tensor<16x8xbf16>, tensor<16x32xbf16>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  %o = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p : tensor<8x32xf32>) outs(%o : tensor<8x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.mulf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

// Direct elementwise readers and transposes each get their own widening.
// CHECK-LABEL: func.func @two_readers
// CHECK: %[[P:.+]] = linalg.matmul
// CHECK: %[[R:.+]] = linalg.generic {{.+}} ins(%[[P]] : tensor<4x8xf32>) outs(%{{.+}} : tensor<4x8xbf16>)
// CHECK: %[[W1:.+]] = linalg.generic {{.+}} ins(%[[R]] : tensor<4x8xbf16>) outs(%{{.+}} : tensor<4x8xf32>)
// CHECK: linalg.generic {{.+}} ins(%[[W1]] : tensor<4x8xf32>)
// CHECK: %[[W2:.+]] = linalg.generic {{.+}} ins(%[[R]] : tensor<4x8xbf16>) outs(%{{.+}} : tensor<4x8xf32>)
// CHECK: linalg.transpose ins(%[[W2]] : tensor<4x8xf32>)
func.func @two_readers(%a: tensor<4x2xbf16>, %b: tensor<2x8xbf16>) -> (tensor<4x8xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %o = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p : tensor<4x8xf32>) outs(%o : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = math.exp %in : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %t = tensor.empty() : tensor<8x4xf32>
  %z = linalg.transpose ins(%p : tensor<4x8xf32>) outs(%t : tensor<8x4xf32>) permutation = [1, 0]
  return %y, %z : tensor<4x8xf32>, tensor<8x4xf32>
}

// -----

// Kept in f32: a product that accumulates into something other than zeros (cuBLAS would
// read C), one with f32 factors, one read by a reduction, one returned, one read by another
// product.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: arith.truncf
// CHECK-NOT: arith.extf
// CHECK: return
func.func @kept(%a: tensor<4x2xbf16>, %b: tensor<2x8xbf16>, %c: tensor<4x8xf32>, %af: tensor<4x2xf32>, %bf: tensor<2x8xf32>, %d: tensor<8x3xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p0 = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%c : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p1 = linalg.matmul ins(%af, %bf : tensor<4x2xf32>, tensor<2x8xf32>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p2 = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %r0 = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%p2 : tensor<4x8xf32>) outs(%r0 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %p3 = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p4 = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %e3 = tensor.empty() : tensor<4x3xf32>
  %q = linalg.matmul ins(%p4, %d : tensor<4x8xf32>, tensor<8x3xf32>) outs(%e3 : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %p0, %p1, %r, %p3, %q : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4x8xf32>, tensor<4x3xf32>
}

// -----

// A stacked product (msdd-merge-sibling-products) whose slices only elementwise ops read:
// the whole result is rounded, the slices are taken of the bf16 copy.
// CHECK-LABEL: func.func @slices
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b
// CHECK: %[[R:.+]] = linalg.generic {{.+}} ins(%[[P]] : tensor<4x8xf32>) outs(%{{.+}} : tensor<4x8xbf16>)
// CHECK: %[[S0:.+]] = tensor.extract_slice %[[R]][0, 0] [4, 4] [1, 1] : tensor<4x8xbf16> to tensor<4x4xbf16>
// CHECK: %[[S1:.+]] = tensor.extract_slice %[[R]][0, 4] [4, 4] [1, 1] : tensor<4x8xbf16> to tensor<4x4xbf16>
// CHECK-DAG: %[[W0:.+]] = linalg.generic {{.+}} ins(%[[S0]] : tensor<4x4xbf16>) outs(%{{.+}} : tensor<4x4xf32>)
// CHECK-DAG: %[[W1:.+]] = linalg.generic {{.+}} ins(%[[S1]] : tensor<4x4xbf16>) outs(%{{.+}} : tensor<4x4xf32>)
// CHECK: linalg.generic {{.+}} ins(%[[W0]], %[[W1]] : tensor<4x4xf32>, tensor<4x4xf32>)
func.func @slices(%a: tensor<4x2xbf16>, %w: tensor<8x2xbf16>) -> tensor<4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul_transpose_b ins(%a, %w : tensor<4x2xbf16>, tensor<8x2xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %g = tensor.extract_slice %p[0, 0] [4, 4] [1, 1] : tensor<4x8xf32> to tensor<4x4xf32>
  %u = tensor.extract_slice %p[0, 4] [4, 4] [1, 1] : tensor<4x8xf32> to tensor<4x4xf32>
  %o = tensor.empty() : tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%g, %u : tensor<4x4xf32>, tensor<4x4xf32>) outs(%o : tensor<4x4xf32>) {
  ^bb0(%x: f32, %z: f32, %out: f32):
    %m = arith.mulf %x, %z : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}
