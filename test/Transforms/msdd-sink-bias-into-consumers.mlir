// RUN: msdd-opt %s --split-input-file --msdd-sink-bias-into-consumers | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-sink-bias-into-consumers --msdd-fuse-elementwise --canonicalize | FileCheck %s --check-prefix=FUSED

#bcast = affine_map<(d0, d1) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// A linear layer (x [2, 3, 4] -> [2, 3, 8]) whose output goes to an elementwise op: the
// product starts from zeros and the bias is added in the consumer's shape.
// CHECK-LABEL: func.func @linear_then_silu
// CHECK: %[[Z:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<6x8xf32>)
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b ins(%{{.+}}, %arg1 : tensor<6x4xf32>, tensor<8x4xf32>) outs(%[[Z]] : tensor<6x8xf32>)
// CHECK: %[[X:.+]] = tensor.expand_shape %[[P]]
// CHECK: %[[B:.+]] = linalg.generic {indexing_maps = [#[[$ID:.+]], #[[$LAST:.+]], #[[$ID]]], {{.*}} ins(%[[X]], %arg2 : tensor<2x3x8xf32>, tensor<8xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[B]] : tensor<2x3x8xf32>)
// FUSED-LABEL: func.func @linear_then_silu
// FUSED: linalg.matmul_transpose_b
// FUSED: %[[X:.+]] = tensor.expand_shape
// FUSED: linalg.generic {{.*}} ins(%[[X]], %arg2 : tensor<2x3x8xf32>, tensor<8xf32>)
// FUSED: arith.addf
// FUSED: math.exp
// FUSED-NOT: linalg.generic
// FUSED: return
func.func @linear_then_silu(%x: tensor<6x4xf32>, %w: tensor<8x4xf32>, %bias: tensor<8xf32>) -> tensor<2x3x8xf32> {
  %e = tensor.empty() : tensor<6x8xf32>
  %init = linalg.generic {indexing_maps = [#bcast, #id2], iterator_types = ["parallel", "parallel"]} ins(%bias : tensor<8xf32>) outs(%e : tensor<6x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<6x8xf32>
  %p = linalg.matmul_transpose_b ins(%x, %w : tensor<6x4xf32>, tensor<8x4xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  %y = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 3, 8] : tensor<6x8xf32> into tensor<2x3x8xf32>
  %e3 = tensor.empty() : tensor<2x3x8xf32>
  %s = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%y : tensor<2x3x8xf32>) outs(%e3 : tensor<2x3x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %x1 = math.exp %n : f32
    linalg.yield %x1 : f32
  } -> tensor<2x3x8xf32>
  return %s : tensor<2x3x8xf32>
}

// -----

#bcast = affine_map<(d0, d1) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// The output split into heads ([6, 8] -> [2, 3, 2, 4]): the bias splits the same way.
// CHECK: #[[$HEADS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func.func @split_into_heads
// CHECK: %[[X:.+]] = tensor.expand_shape %{{.+}} {{\[}}[0, 1], [2, 3]] output_shape [2, 3, 2, 4]
// CHECK: %[[VB:.+]] = tensor.expand_shape %arg2 {{\[}}[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$HEADS:.+]], #{{.+}}], {{.*}} ins(%[[X]], %[[VB]] : tensor<2x3x2x4xf32>, tensor<2x4xf32>)
func.func @split_into_heads(%x: tensor<6x4xf32>, %w: tensor<8x4xf32>, %bias: tensor<8xf32>) -> tensor<2x3x2x4xf32> {
  %e = tensor.empty() : tensor<6x8xf32>
  %init = linalg.generic {indexing_maps = [#bcast, #id2], iterator_types = ["parallel", "parallel"]} ins(%bias : tensor<8xf32>) outs(%e : tensor<6x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<6x8xf32>
  %p = linalg.matmul_transpose_b ins(%x, %w : tensor<6x4xf32>, tensor<8x4xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  %y = tensor.expand_shape %p [[0, 1], [2, 3]] output_shape [2, 3, 2, 4] : tensor<6x8xf32> into tensor<2x3x2x4xf32>
  %e4 = tensor.empty() : tensor<2x3x2x4xf32>
  %s = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%y : tensor<2x3x2x4xf32>) outs(%e4 : tensor<2x3x2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x3x2x4xf32>
  return %s : tensor<2x3x2x4xf32>
}

// -----

#bcast = affine_map<(d0, d1) -> (d1)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>

// Kept as the accumulator: a product consumed by another product, one consumed twice, and
// one returned (an addition would then be a pass of its own).
// CHECK-LABEL: func.func @kept
// CHECK-NOT: linalg.fill
// CHECK-NOT: arith.addf
// CHECK: return
func.func @kept(%x: tensor<6x8xf32>, %w: tensor<8x8xf32>, %bias: tensor<8xf32>) -> (tensor<6x8xf32>, tensor<6x8xf32>, tensor<6x8xf32>) {
  %e = tensor.empty() : tensor<6x8xf32>
  %init = linalg.generic {indexing_maps = [#bcast, #id2], iterator_types = ["parallel", "parallel"]} ins(%bias : tensor<8xf32>) outs(%e : tensor<6x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<6x8xf32>
  %p = linalg.matmul_transpose_b ins(%x, %w : tensor<6x8xf32>, tensor<8x8xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  %q = linalg.matmul_transpose_b ins(%p, %w : tensor<6x8xf32>, tensor<8x8xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  %r = linalg.matmul_transpose_b ins(%q, %w : tensor<6x8xf32>, tensor<8x8xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  %s = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%r, %r : tensor<6x8xf32>, tensor<6x8xf32>) outs(%e : tensor<6x8xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<6x8xf32>
  %t = linalg.matmul_transpose_b ins(%s, %w : tensor<6x8xf32>, tensor<8x8xf32>) outs(%init : tensor<6x8xf32>) -> tensor<6x8xf32>
  return %q, %s, %t : tensor<6x8xf32>, tensor<6x8xf32>, tensor<6x8xf32>
}
