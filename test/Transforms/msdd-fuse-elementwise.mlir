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

// -----

// A transpose of the heads ([B, L, H, D] -> [B, H, L, D]) is redone by each of its
// elementwise and reduction consumers as a transposed read: no pass of its own.
// CHECK: #[[$HEADS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
// CHECK-LABEL: func.func @transpose_into_consumers
// CHECK-NOT: linalg.transpose
// CHECK-COUNT-2: linalg.generic {indexing_maps = [#[[$HEADS]],
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @transpose_into_consumers(%x: tensor<2x3x4x8xf32>) -> (tensor<2x4x3x8xf32>, tensor<2x4x3xf32>) {
  %t = msdd.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x3x4x8xf32>) -> tensor<2x4x3x8xf32>
  %e = msdd.exp %t : tensor<2x4x3x8xf32>
  %s = msdd.reduce_sum %t {axes = array<i64: 3>} : (tensor<2x4x3x8xf32>) -> tensor<2x4x3xf32>
  return %e, %s : tensor<2x4x3x8xf32>, tensor<2x4x3xf32>
}

// -----

// A transpose that moves the innermost dimension stays one pass when it has two consumers:
// redone by each, both would read with a row's stride.
// CHECK-LABEL: func.func @inner_transpose_kept
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: linalg.generic
func.func @inner_transpose_kept(%x: tensor<8x16xf32>) -> (tensor<16x8xf32>, tensor<16x8xf32>) {
  %t = msdd.transpose %x {permutation = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
  %e = msdd.exp %t : tensor<16x8xf32>
  %n = msdd.neg %t : tensor<16x8xf32>
  return %e, %n : tensor<16x8xf32>, tensor<16x8xf32>
}

// -----

// A product's rounded result (msdd-round-contraction-results) stays a kernel of its own,
// however cheap: storing it narrow is its point. The widening fuses into the reader.
// CHECK-LABEL: func.func @rounded_product_result
// CHECK: %[[P:.+]] = linalg.matmul
// CHECK: %[[R:.+]] = linalg.generic {{.+}} ins(%[[P]] : tensor<4x8xf32>) outs(%{{.+}} : tensor<4x8xbf16>)
// CHECK: arith.truncf
// CHECK: linalg.generic {{.+}} ins(%[[R]] : tensor<4x8xbf16>) outs(%{{.+}} : tensor<4x8xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.extf
// CHECK-NEXT: math.exp
func.func @rounded_product_result(%a: tensor<4x2xbf16>, %b: tensor<2x8xbf16>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%a, %b : tensor<4x2xbf16>, tensor<2x8xbf16>) outs(%acc : tensor<4x8xf32>) -> tensor<4x8xf32>
  %eb = tensor.empty() : tensor<4x8xbf16>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%p : tensor<4x8xf32>) outs(%eb : tensor<4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x8xbf16>
  %ew = tensor.empty() : tensor<4x8xf32>
  %w = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%r : tensor<4x8xbf16>) outs(%ew : tensor<4x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<4x8xf32>
  %o = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<4x8xf32>) outs(%o : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = math.exp %in : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// A rotary embedding reads both members of each pair of its normalized input through
// constant indices: the normalization is redone for each of the two reads, from the
// statistics and the input read at 2j and 2j + 1, and the normalized tensor is never stored.
// CHECK-DAG: #[[$EVEN:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3 * 2)>
// CHECK-DAG: #[[$ODD:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3 * 2 + 1)>
// CHECK-LABEL: func.func @norm_into_rope
// CHECK-SAME: (%[[X:.+]]: tensor<2x2x16x8xf32>,
// CHECK-COUNT-2: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK-SAME: ins(%[[X]], {{.*}}, %[[X]],
// CHECK-COUNT-2: math.rsqrt
// CHECK: math.cos
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @norm_into_rope(%x: tensor<2x2x16x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x2x16x8xf32> {
  %0 = msdd.layer_norm %x, %w, %b : (tensor<2x2x16x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x2x16x8xf32>
  %1 = msdd.rope_2d %0 {grid_height = 4 : i64, grid_width = 4 : i64} : (tensor<2x2x16x8xf32>) -> tensor<2x2x16x8xf32>
  return %1 : tensor<2x2x16x8xf32>
}

// -----

// The normalized tensor is also a result: it is stored anyway, and the rotary embedding
// reads it instead of redoing it.
// CHECK-LABEL: func.func @norm_also_returned
// CHECK-COUNT-2: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: %[[NORM:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK: math.rsqrt
// CHECK: %[[PAIRS:.+]] = tensor.expand_shape %[[NORM]]
// CHECK: linalg.generic {{.*}} ins(%[[PAIRS]], %[[PAIRS]] :
// CHECK-NOT: math.rsqrt
// CHECK: return
func.func @norm_also_returned(%x: tensor<2x2x16x8xf32>) -> (tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>) {
  %0 = msdd.layer_norm %x : (tensor<2x2x16x8xf32>) -> tensor<2x2x16x8xf32>
  %1 = msdd.rope_2d %0 {grid_height = 4 : i64, grid_width = 4 : i64} : (tensor<2x2x16x8xf32>) -> tensor<2x2x16x8xf32>
  return %0, %1 : tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>
}

// -----

// An optimizer step: the new moments are returned and read by the parameter update. After
// the greedy fusion, each is fused into the update, which then writes all three: one
// kernel, where three would each write a result and the update read two of them back.
// CHECK-LABEL: func.func @moments_into_update
// The gradient, read by both moments, is one operand.
// CHECK: %[[STEP:.+]]:3 = linalg.generic
// CHECK-SAME: ins(%arg0, %arg2, %arg4, %arg1, %arg3, %arg5, %arg6 :
// CHECK-SAME: outs(%{{.+}}, %{{.+}}, %{{.+}} : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK: math.sqrt
// CHECK: linalg.yield
// CHECK-NOT: linalg.generic
// CHECK: return %[[STEP]]#{{[0-9]}}, %[[STEP]]#{{[0-9]}}, %[[STEP]]#{{[0-9]}}
func.func @moments_into_update(%p: tensor<16xf32>, %g: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<16xf32>, %b1: tensor<f32>, %b2: tensor<f32>, %lr: tensor<f32>) -> (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %m1 = msdd.mul %m, %b1 : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %m2 = msdd.add %m1, %g : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %gg = msdd.mul %g, %g : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %v1 = msdd.mul %v, %b2 : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %v2 = msdd.add %v1, %gg : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %r = msdd.sqrt %v2 : tensor<16xf32>
  %u = msdd.div %m2, %r : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  %s = msdd.mul %u, %lr : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
  %p2 = msdd.sub %p, %s : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  return %p2, %m2, %v2 : tensor<16xf32>, tensor<16xf32>, tensor<16xf32>
}
