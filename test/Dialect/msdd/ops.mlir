// Parse/print round trip of every msdd op, in the custom form (printed and parsed twice) and
// through the generic form. Default-valued attributes are elided when printed.
//
// RUN: msdd-opt %s --split-input-file | msdd-opt --split-input-file | FileCheck %s
// RUN: msdd-opt %s --split-input-file --mlir-print-op-generic | msdd-opt --split-input-file | FileCheck %s

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// Numpy broadcasting: trailing dimensions, size-1 stretching, rank-0 operands.
// CHECK-LABEL: func.func @binary
// CHECK-SAME: (%[[A:[^:]*]]: tensor<4x8xf32>, %[[B:[^:]*]]: tensor<8xf32>, %[[C:[^:]*]]: tensor<4x1xf32>, %[[D:[^:]*]]: tensor<1x8xf32>, %[[S:[^:]*]]: tensor<f32>)
// CHECK: msdd.add %[[A]], %[[B]] : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.sub %[[A]], %[[A]] : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.mul %[[C]], %[[D]] : (tensor<4x1xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.div %[[A]], %[[S]] : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
// CHECK: msdd.maximum %[[S]], %[[A]] : (tensor<f32>, tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.minimum %[[B]], %[[C]] : (tensor<8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
// CHECK: msdd.pow %[[S]], %[[S]] : (tensor<f32>, tensor<f32>) -> tensor<f32>
func.func @binary(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %c: tensor<4x1xf32>,
                  %d: tensor<1x8xf32>, %s: tensor<f32>) -> tensor<4x8xf32> {
  %0 = msdd.add %a, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %1 = msdd.sub %a, %a : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %2 = msdd.mul %c, %d : (tensor<4x1xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  %3 = msdd.div %a, %s : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %4 = msdd.maximum %s, %a : (tensor<f32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %5 = msdd.minimum %b, %c : (tensor<8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %6 = msdd.pow %s, %s : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @unary
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK: msdd.neg %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.exp %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.log %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.sqrt %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.rsqrt %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.abs %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.tanh %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.erf %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.sin %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.cos %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.sigmoid %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.relu %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.silu %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.sign %[[X]] : tensor<2x3x4xf32>
// CHECK: msdd.step %[[X]] : tensor<2x3x4xf32>
func.func @unary(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = msdd.neg %x : tensor<2x3x4xf32>
  %1 = msdd.exp %x : tensor<2x3x4xf32>
  %2 = msdd.log %x : tensor<2x3x4xf32>
  %3 = msdd.sqrt %x : tensor<2x3x4xf32>
  %4 = msdd.rsqrt %x : tensor<2x3x4xf32>
  %5 = msdd.abs %x : tensor<2x3x4xf32>
  %6 = msdd.tanh %x : tensor<2x3x4xf32>
  %7 = msdd.erf %x : tensor<2x3x4xf32>
  %8 = msdd.sin %x : tensor<2x3x4xf32>
  %9 = msdd.cos %x : tensor<2x3x4xf32>
  %10 = msdd.sigmoid %x : tensor<2x3x4xf32>
  %11 = msdd.relu %x : tensor<2x3x4xf32>
  %12 = msdd.silu %x : tensor<2x3x4xf32>
  %13 = msdd.sign %x : tensor<2x3x4xf32>
  %14 = msdd.step %x : tensor<2x3x4xf32>
  return %14 : tensor<2x3x4xf32>
}

// -----

// `approximate = false` is the default and is elided.
// CHECK-LABEL: func.func @gelu
// CHECK-SAME: (%[[X:[^:]*]]: tensor<8x64xf32>)
// CHECK: msdd.gelu %[[X]] : tensor<8x64xf32>
// CHECK: msdd.gelu %[[X]] : tensor<8x64xf32>
// CHECK: msdd.gelu %[[X]] {approximate = true} : tensor<8x64xf32>
func.func @gelu(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = msdd.gelu %x : tensor<8x64xf32>
  %1 = msdd.gelu %x {approximate = false} : tensor<8x64xf32>
  %2 = msdd.gelu %x {approximate = true} : tensor<8x64xf32>
  return %2 : tensor<8x64xf32>
}

// -----

// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[X:[^:]*]]: tensor<4x8xf32>)
// CHECK: msdd.scale %[[X]] {factor = 5.000000e-01 : f64} : tensor<4x8xf32>
// CHECK: msdd.scale %[[X]] {bias = 1.000000e+00 : f64, factor = -2.000000e+00 : f64} : tensor<4x8xf32>
func.func @scale(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = msdd.scale %x {factor = 0.5 : f64} : tensor<4x8xf32>
  %1 = msdd.scale %x {factor = -2.0 : f64, bias = 1.0 : f64} : tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Reductions and layout
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @reduce
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x4xf32>)
// CHECK: msdd.reduce_sum %[[X]] {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
// CHECK: msdd.reduce_mean %[[X]] {axes = array<i64: 1, 2>, keep_dims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32>
// CHECK: msdd.reduce_max %[[X]] {axes = array<i64: 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3xf32>
// CHECK: msdd.reduce_sum %[[X]] {axes = array<i64: 0, 1, 2>} : (tensor<2x3x4xf32>) -> tensor<f32>
func.func @reduce(%x: tensor<2x3x4xf32>) -> tensor<f32> {
  %0 = msdd.reduce_sum %x {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  %1 = msdd.reduce_mean %x {axes = array<i64: 1, 2>, keep_dims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32>
  %2 = msdd.reduce_max %x {axes = array<i64: 2, 0>, keep_dims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
  %3 = msdd.reduce_sum %x {axes = array<i64: 0, 1, 2>} : (tensor<2x3x4xf32>) -> tensor<f32>
  return %3 : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @reshape
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x16x32xf32>)
// CHECK: msdd.reshape %[[X]] : (tensor<2x16x32xf32>) -> tensor<2x16x2x16xf32>
// CHECK: msdd.reshape %[[X]] : (tensor<2x16x32xf32>) -> tensor<1024xf32>
func.func @reshape(%x: tensor<2x16x32xf32>) -> tensor<1024xf32> {
  %0 = msdd.reshape %x : (tensor<2x16x32xf32>) -> tensor<2x16x2x16xf32>
  %1 = msdd.reshape %x : (tensor<2x16x32xf32>) -> tensor<1024xf32>
  return %1 : tensor<1024xf32>
}

// -----

// CHECK-LABEL: func.func @transpose
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x16x4x8xf32>)
// CHECK: msdd.transpose %[[X]] {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x8xf32>) -> tensor<2x4x16x8xf32>
func.func @transpose(%x: tensor<2x16x4x8xf32>) -> tensor<2x4x16x8xf32> {
  %0 = msdd.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

// CHECK-LABEL: func.func @broadcast
// CHECK-SAME: (%[[V:[^:]*]]: tensor<8xf32>, %[[C:[^:]*]]: tensor<4x1xf32>, %[[S:[^:]*]]: tensor<f32>)
// CHECK: msdd.broadcast %[[V]] : (tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.broadcast %[[C]] : (tensor<4x1xf32>) -> tensor<2x4x8xf32>
// CHECK: msdd.broadcast %[[S]] : (tensor<f32>) -> tensor<3x3xf32>
// CHECK: msdd.broadcast %[[V]] : (tensor<8xf32>) -> tensor<8xf32>
func.func @broadcast(%v: tensor<8xf32>, %c: tensor<4x1xf32>, %s: tensor<f32>) -> tensor<2x4x8xf32> {
  %0 = msdd.broadcast %v : (tensor<8xf32>) -> tensor<4x8xf32>
  %1 = msdd.broadcast %c : (tensor<4x1xf32>) -> tensor<2x4x8xf32>
  %2 = msdd.broadcast %s : (tensor<f32>) -> tensor<3x3xf32>
  %3 = msdd.broadcast %v : (tensor<8xf32>) -> tensor<8xf32>
  return %1 : tensor<2x4x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Neural-network ops
//===----------------------------------------------------------------------===//

// With and without the optional bias; any number of leading dimensions.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x16x32xf32>, %[[W:[^:]*]]: tensor<48x32xf32>, %[[B:[^:]*]]: tensor<48xf32>, %[[V:[^:]*]]: tensor<32xf32>)
// CHECK: msdd.linear %[[X]], %[[W]], %[[B]] : (tensor<2x16x32xf32>, tensor<48x32xf32>, tensor<48xf32>) -> tensor<2x16x48xf32>
// CHECK: msdd.linear %[[X]], %[[W]] : (tensor<2x16x32xf32>, tensor<48x32xf32>) -> tensor<2x16x48xf32>
// CHECK: msdd.linear %[[V]], %[[W]] : (tensor<32xf32>, tensor<48x32xf32>) -> tensor<48xf32>
func.func @linear(%x: tensor<2x16x32xf32>, %w: tensor<48x32xf32>, %b: tensor<48xf32>,
                  %v: tensor<32xf32>) -> tensor<2x16x48xf32> {
  %0 = msdd.linear %x, %w, %b : (tensor<2x16x32xf32>, tensor<48x32xf32>, tensor<48xf32>) -> tensor<2x16x48xf32>
  %1 = msdd.linear %x, %w : (tensor<2x16x32xf32>, tensor<48x32xf32>) -> tensor<2x16x48xf32>
  %2 = msdd.linear %v, %w : (tensor<32xf32>, tensor<48x32xf32>) -> tensor<48xf32>
  return %0 : tensor<2x16x48xf32>
}

// -----

// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[A:[^:]*]]: tensor<8x16xf32>, %[[B:[^:]*]]: tensor<16x4xf32>, %[[BT:[^:]*]]: tensor<4x16xf32>, %[[Q:[^:]*]]: tensor<2x3x8x16xf32>, %[[K:[^:]*]]: tensor<2x3x5x16xf32>)
// CHECK: msdd.matmul %[[A]], %[[B]] : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
// CHECK: msdd.matmul %[[A]], %[[BT]] {transpose_rhs = true} : (tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<8x4xf32>
// CHECK: msdd.matmul %[[Q]], %[[K]] {transpose_rhs = true} : (tensor<2x3x8x16xf32>, tensor<2x3x5x16xf32>) -> tensor<2x3x8x5xf32>
func.func @matmul(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>, %bt: tensor<4x16xf32>,
                  %q: tensor<2x3x8x16xf32>, %k: tensor<2x3x5x16xf32>) -> tensor<8x4xf32> {
  %0 = msdd.matmul %a, %b {transpose_rhs = false} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  %1 = msdd.matmul %a, %bt {transpose_rhs = true} : (tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<8x4xf32>
  %2 = msdd.matmul %q, %k {transpose_rhs = true} : (tensor<2x3x8x16xf32>, tensor<2x3x5x16xf32>) -> tensor<2x3x8x5xf32>
  return %1 : tensor<8x4xf32>
}

// -----

// CHECK-LABEL: func.func @patchify
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x16x8xf32>)
// CHECK: %[[T:.+]] = msdd.patchify %[[X]] {patch_size = 4 : i64} : (tensor<2x3x16x8xf32>) -> tensor<2x8x48xf32>
// CHECK: msdd.unpatchify %[[T]] {patch_size = 4 : i64} : (tensor<2x8x48xf32>) -> tensor<2x3x16x8xf32>
func.func @patchify(%x: tensor<2x3x16x8xf32>) -> tensor<2x3x16x8xf32> {
  %0 = msdd.patchify %x {patch_size = 4 : i64} : (tensor<2x3x16x8xf32>) -> tensor<2x8x48xf32>
  %1 = msdd.unpatchify %0 {patch_size = 4 : i64} : (tensor<2x8x48xf32>) -> tensor<2x3x16x8xf32>
  return %1 : tensor<2x3x16x8xf32>
}

// -----

// The affine parameters are both present or both absent.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x16x32xf32>, %[[W:[^:]*]]: tensor<32xf32>, %[[B:[^:]*]]: tensor<32xf32>)
// CHECK: msdd.layer_norm %[[X]] : (tensor<2x16x32xf32>) -> tensor<2x16x32xf32>
// CHECK: msdd.layer_norm %[[X]], %[[W]], %[[B]] : (tensor<2x16x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
// CHECK: msdd.layer_norm %[[X]], %[[W]], %[[B]] {epsilon = 1.000000e-05 : f64} : (tensor<2x16x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
// CHECK: msdd.layer_norm %[[X]] {epsilon = 1.000000e-03 : f64} : (tensor<2x16x32xf32>) -> tensor<2x16x32xf32>
func.func @layer_norm(%x: tensor<2x16x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<2x16x32xf32> {
  %0 = msdd.layer_norm %x : (tensor<2x16x32xf32>) -> tensor<2x16x32xf32>
  %1 = msdd.layer_norm %x, %w, %b : (tensor<2x16x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
  %2 = msdd.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f64} : (tensor<2x16x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
  %3 = msdd.layer_norm %x {epsilon = 1.0e-3 : f64} : (tensor<2x16x32xf32>) -> tensor<2x16x32xf32>
  return %2 : tensor<2x16x32xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x2x16x16xf32>, %[[W:[^:]*]]: tensor<16xf32>)
// CHECK: msdd.rms_norm %[[X]], %[[W]] : (tensor<2x2x16x16xf32>, tensor<16xf32>) -> tensor<2x2x16x16xf32>
// CHECK: msdd.rms_norm %[[X]] {epsilon = 1.000000e-05 : f64} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
func.func @rms_norm(%x: tensor<2x2x16x16xf32>, %w: tensor<16xf32>) -> tensor<2x2x16x16xf32> {
  %0 = msdd.rms_norm %x, %w : (tensor<2x2x16x16xf32>, tensor<16xf32>) -> tensor<2x2x16x16xf32>
  %1 = msdd.rms_norm %x {epsilon = 1.0e-5 : f64} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  return %0 : tensor<2x2x16x16xf32>
}

// -----

// `axis = -1` is the default and is elided.
// CHECK-LABEL: func.func @softmax
// CHECK-SAME: (%[[X:[^:]*]]: tensor<4x8xf32>)
// CHECK: msdd.softmax %[[X]] : (tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK: msdd.softmax %[[X]] {axis = 0 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = msdd.softmax %x {axis = -1 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %1 = msdd.softmax %x {axis = 0 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// -----

// Cross-attention shapes (Lq = 16, Lk = 8, Dv = 4), without a mask or scale.
// CHECK-LABEL: func.func @attention
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x16x32xf32>, %[[K:[^:]*]]: tensor<2x4x8x32xf32>, %[[V:[^:]*]]: tensor<2x4x8x4xf32>)
// CHECK: msdd.attention %[[Q]], %[[K]], %[[V]] : (tensor<2x4x16x32xf32>, tensor<2x4x8x32xf32>, tensor<2x4x8x4xf32>) -> tensor<2x4x16x4xf32>
func.func @attention(%q: tensor<2x4x16x32xf32>, %k: tensor<2x4x8x32xf32>, %v: tensor<2x4x8x4xf32>) -> tensor<2x4x16x4xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<2x4x16x32xf32>, tensor<2x4x8x32xf32>, tensor<2x4x8x4xf32>) -> tensor<2x4x16x4xf32>
  return %0 : tensor<2x4x16x4xf32>
}

// -----

// A scale without a mask, a [Lq, Lk] mask, a [B, H, Lq, Lk] mask with a scale.
// CHECK-LABEL: func.func @attention_mask_scale
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x16x32xf32>, %[[M2:[^:]*]]: tensor<16x16xf32>, %[[M4:[^:]*]]: tensor<2x4x16x16xf32>)
// CHECK: msdd.attention %[[Q]], %[[Q]], %[[Q]] {scale = 1.250000e-01 : f64} : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>) -> tensor<2x4x16x32xf32>
// CHECK: msdd.attention %[[Q]], %[[Q]], %[[Q]], %[[M2]] : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<16x16xf32>) -> tensor<2x4x16x32xf32>
// CHECK: msdd.attention %[[Q]], %[[Q]], %[[Q]], %[[M4]] {scale = 2.500000e-01 : f64} : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x32xf32>
func.func @attention_mask_scale(%q: tensor<2x4x16x32xf32>, %m2: tensor<16x16xf32>,
                                %m4: tensor<2x4x16x16xf32>) -> tensor<2x4x16x32xf32> {
  %0 = msdd.attention %q, %q, %q {scale = 0.125 : f64} : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>) -> tensor<2x4x16x32xf32>
  %1 = msdd.attention %q, %q, %q, %m2 : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<16x16xf32>) -> tensor<2x4x16x32xf32>
  %2 = msdd.attention %q, %q, %q, %m4 {scale = 0.25 : f64} : (tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x32xf32>
  return %2 : tensor<2x4x16x32xf32>
}

// -----

// CHECK-LABEL: func.func @rope_2d
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x2x12x16xf32>)
// CHECK: msdd.rope_2d %[[X]] {grid_height = 3 : i64, grid_width = 4 : i64} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
// CHECK: msdd.rope_2d %[[X]] {grid_height = 4 : i64, grid_width = 3 : i64, inverse = true, theta = 1.000000e+02 : f64} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
// CHECK: msdd.rope_2d %[[X]] {col_offset = 5.000000e-01 : f64, col_step = 2.000000e+00 : f64, grid_height = 3 : i64, grid_width = 4 : i64, row_offset = -2.500000e-01 : f64, row_step = 5.000000e-01 : f64} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
func.func @rope_2d(%x: tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32> {
  %0 = msdd.rope_2d %x {grid_height = 3 : i64, grid_width = 4 : i64, theta = 10000.0 : f64, inverse = false} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
  %1 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 3 : i64, theta = 100.0 : f64, inverse = true} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
  %2 = msdd.rope_2d %x {grid_height = 3 : i64, grid_width = 4 : i64, row_step = 0.5 : f64, row_offset = -0.25 : f64, col_step = 2.0 : f64, col_offset = 0.5 : f64} : (tensor<2x2x12x16xf32>) -> tensor<2x2x12x16xf32>
  return %1 : tensor<2x2x12x16xf32>
}

// -----

// CHECK-LABEL: func.func @swiglu
// CHECK-SAME: (%[[G:[^:]*]]: tensor<2x16x64xf32>, %[[U:[^:]*]]: tensor<2x16x64xf32>)
// CHECK: msdd.swiglu %[[G]], %[[U]] : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
func.func @swiglu(%g: tensor<2x16x64xf32>, %u: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %0 = msdd.swiglu %g, %u : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// -----

// CHECK-LABEL: func.func @modulate
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x16x32xf32>, %[[SH:[^:]*]]: tensor<2x32xf32>, %[[SC:[^:]*]]: tensor<2x32xf32>)
// CHECK: msdd.modulate %[[X]], %[[SH]], %[[SC]] : (tensor<2x16x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x16x32xf32>
func.func @modulate(%x: tensor<2x16x32xf32>, %shift: tensor<2x32xf32>, %scale: tensor<2x32xf32>) -> tensor<2x16x32xf32> {
  %0 = msdd.modulate %x, %shift, %scale : (tensor<2x16x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}

// -----

// CHECK-LABEL: func.func @timestep_embedding
// CHECK-SAME: (%[[T:[^:]*]]: tensor<2xf32>)
// CHECK: msdd.timestep_embedding %[[T]] : (tensor<2xf32>) -> tensor<2x64xf32>
// CHECK: msdd.timestep_embedding %[[T]] {max_period = 1.000000e+02 : f64, scale = 1.000000e+00 : f64} : (tensor<2xf32>) -> tensor<2x8xf32>
func.func @timestep_embedding(%t: tensor<2xf32>) -> tensor<2x64xf32> {
  %0 = msdd.timestep_embedding %t {max_period = 10000.0 : f64, scale = 1000.0 : f64} : (tensor<2xf32>) -> tensor<2x64xf32>
  %1 = msdd.timestep_embedding %t {max_period = 100.0 : f64, scale = 1.0 : f64} : (tensor<2xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x64xf32>
}

// -----

// `factor = 2` is the default and is elided.
// CHECK-LABEL: func.func @resample
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x8x12xf32>)
// CHECK: msdd.upsample_nearest %[[X]] : (tensor<2x3x8x12xf32>) -> tensor<2x3x16x24xf32>
// CHECK: msdd.upsample_nearest %[[X]] {factor = 3 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x24x36xf32>
// CHECK: msdd.downsample %[[X]] : (tensor<2x3x8x12xf32>) -> tensor<2x3x4x6xf32>
// CHECK: msdd.downsample %[[X]] {factor = 4 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x2x3xf32>
// CHECK: msdd.downsample %[[X]] {factor = 1 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x8x12xf32>
func.func @resample(%x: tensor<2x3x8x12xf32>) -> tensor<2x3x16x24xf32> {
  %0 = msdd.upsample_nearest %x {factor = 2 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x16x24xf32>
  %1 = msdd.upsample_nearest %x {factor = 3 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x24x36xf32>
  %2 = msdd.downsample %x : (tensor<2x3x8x12xf32>) -> tensor<2x3x4x6xf32>
  %3 = msdd.downsample %x {factor = 4 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x2x3xf32>
  %4 = msdd.downsample %x {factor = 1 : i64} : (tensor<2x3x8x12xf32>) -> tensor<2x3x8x12xf32>
  return %0 : tensor<2x3x16x24xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Diffusion ops
//===----------------------------------------------------------------------===//

// `stream = 0` is the default and is elided.
// CHECK-LABEL: func.func @random_normal
// CHECK-SAME: (%[[SEED:[^:]*]]: i64, %[[STEP:[^:]*]]: i64)
// CHECK: msdd.random_normal %[[SEED]], %[[STEP]] : tensor<2x3x16x16xf32>
// CHECK: msdd.random_normal %[[SEED]], %[[STEP]] {stream = 7 : i32} : tensor<4x8xf32>
func.func @random_normal(%seed: i64, %step: i64) -> tensor<2x3x16x16xf32> {
  %0 = msdd.random_normal %seed, %step {stream = 0 : i32} : tensor<2x3x16x16xf32>
  %1 = msdd.random_normal %seed, %step {stream = 7 : i32} : tensor<4x8xf32>
  return %0 : tensor<2x3x16x16xf32>
}

// -----

// `covariance = "pyramidal"` is the default and is elided.
// CHECK-LABEL: func.func @block_noise
// CHECK-SAME: (%[[N:[^:]*]]: tensor<2x3x16x16xf32>)
// CHECK: msdd.block_noise %[[N]] {gamma = 2.500000e-01 : f64} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
// CHECK: msdd.block_noise %[[N]] {gamma = 0.33333333333333331 : f64} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
// CHECK: msdd.block_noise %[[N]] {covariance = "paper_code", gamma = 7.500000e-01 : f64} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
// CHECK: msdd.block_noise %[[N]] {covariance = "paper_code", gamma = 1.000000e+00 : f64} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
func.func @block_noise(%n: tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32> {
  %0 = msdd.block_noise %n {gamma = 0.25 : f64} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %1 = msdd.block_noise %n {gamma = 0.33333333333333331 : f64, covariance = "pyramidal"} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %2 = msdd.block_noise %n {gamma = 0.75 : f64, covariance = "paper_code"} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  %3 = msdd.block_noise %n {gamma = 1.0 : f64, covariance = "paper_code"} : (tensor<2x3x16x16xf32>) -> tensor<2x3x16x16xf32>
  return %2 : tensor<2x3x16x16xf32>
}

// -----

// The fused scale transition; the default stream and covariance are elided when printed.
// CHECK-LABEL: func.func @scale_transition
// CHECK: msdd.scale_transition %arg0, %arg1, %arg2 {alpha = 8.000000e-01 : f64, beta = 6.000000e-01 : f64, gamma = 2.500000e-01 : f64} : (tensor<2x3x4x4xf32>) -> tensor<2x3x8x8xf32>
func.func @scale_transition(%x: tensor<2x3x4x4xf32>, %seed: i64, %step: i64) -> tensor<2x3x8x8xf32> {
  %0 = msdd.scale_transition %x, %seed, %step {alpha = 0.8 : f64, beta = 0.6 : f64, gamma = 0.25 : f64, stream = 0 : i32, covariance = "pyramidal"} : (tensor<2x3x4x4xf32>) -> tensor<2x3x8x8xf32>
  return %0 : tensor<2x3x8x8xf32>
}

// -----

// CHECK-LABEL: func.func @flow
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x3x8x8xf32>, %[[N:[^:]*]]: tensor<2x3x8x8xf32>, %[[VU:[^:]*]]: tensor<2x3x8x8xf32>, %[[VC:[^:]*]]: tensor<2x3x8x8xf32>)
// CHECK: msdd.noise_mix %[[X]], %[[N]] {alpha = 8.000000e-01 : f64, beta = 6.000000e-01 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
// CHECK: %[[V:.+]] = msdd.cfg_combine %[[VU]], %[[VC]] {guidance_scale = 4.500000e+00 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
// CHECK: msdd.euler_step %[[X]], %[[V]] {t_from = 1.000000e+00 : f64, t_to = 7.500000e-01 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
func.func @flow(%x: tensor<2x3x8x8xf32>, %n: tensor<2x3x8x8xf32>, %vu: tensor<2x3x8x8xf32>,
                %vc: tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32> {
  %0 = msdd.noise_mix %x, %n {alpha = 0.8 : f64, beta = 0.6 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  %1 = msdd.cfg_combine %vu, %vc {guidance_scale = 4.5 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  %2 = msdd.euler_step %x, %1 {t_from = 1.0 : f64, t_to = 0.75 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  return %2 : tensor<2x3x8x8xf32>
}

// -----

// A three-scale sampler (8 -> 16 -> 32): one denoiser per scale, sharing a weight.
// CHECK-LABEL: func.func @denoiser32
// CHECK-LABEL: func.func @sample
// CHECK-SAME: (%[[L:[^:]*]]: tensor<2x16x8xf32>, %[[NL:[^:]*]]: tensor<2x16x8xf32>, %[[SEED:[^:]*]]: i64, %[[W:[^:]*]]: tensor<4xf32>)
// CHECK: msdd.multiscale_sample [@denoiser8, @denoiser16, @denoiser32](%[[L]], %[[NL]], %[[SEED]]) params(%[[W]] : tensor<4xf32>) {alpha = array<f64: 5.000000e-01, 6.000000e-01>, beta = array<f64: 8.000000e-01, 7.500000e-01>, gamma = 2.500000e-01 : f64, guidance_scale = 3.000000e+00 : f64, resolutions = array<i64: 8, 16, 32>, steps = array<i64: 4, 2, 1>, tau_end = array<f64: 0.000000e+00, 0.000000e+00, 0.000000e+00>, tau_start = array<f64: 1.000000e+00, 1.000000e+00, 1.000000e+00>, window_end = array<f64: 6.000000e-01, 3.000000e-01, 0.000000e+00>, window_start = array<f64: 1.000000e+00, 6.000000e-01, 3.000000e-01>} : (tensor<2x16x8xf32>, tensor<2x16x8xf32>) -> tensor<2x3x32x32xf32>
func.func private @denoiser8(tensor<2x3x8x8xf32>, tensor<2xf32>, tensor<2x16x8xf32>, tensor<4xf32>) -> tensor<2x3x8x8xf32>
func.func private @denoiser16(tensor<2x3x16x16xf32>, tensor<2xf32>, tensor<2x16x8xf32>, tensor<4xf32>) -> tensor<2x3x16x16xf32>
func.func @denoiser32(%x: tensor<2x3x32x32xf32>, %tau: tensor<2xf32>, %latent: tensor<2x16x8xf32>, %w: tensor<4xf32>) -> tensor<2x3x32x32xf32> {
  return %x : tensor<2x3x32x32xf32>
}
func.func @sample(%latent: tensor<2x16x8xf32>, %null: tensor<2x16x8xf32>, %seed: i64, %w: tensor<4xf32>) -> tensor<2x3x32x32xf32> {
  %0 = msdd.multiscale_sample [@denoiser8, @denoiser16, @denoiser32](%latent, %null, %seed) params(%w : tensor<4xf32>) {
      resolutions = array<i64: 8, 16, 32>, steps = array<i64: 4, 2, 1>,
      window_start = array<f64: 1.0, 0.6, 0.3>, window_end = array<f64: 0.6, 0.3, 0.0>,
      tau_start = array<f64: 1.0, 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0, 0.0>,
      alpha = array<f64: 0.5, 0.6>, beta = array<f64: 0.8, 0.75>,
      guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<2x16x8xf32>, tensor<2x16x8xf32>) -> tensor<2x3x32x32xf32>
  return %0 : tensor<2x3x32x32xf32>
}

// -----

// A single scale: no transitions, so alpha and beta are empty.
// CHECK-LABEL: func.func @sample_one_scale
// CHECK: msdd.multiscale_sample [@denoiser](%{{.+}}, %{{.+}}, %{{.+}}) {alpha = array<f64>, beta = array<f64>, gamma = 0.000000e+00 : f64, guidance_scale = 1.000000e+00 : f64, resolutions = array<i64: 16>, steps = array<i64: 10>, tau_end = array<f64: 0.000000e+00>, tau_start = array<f64: 1.000000e+00>, window_end = array<f64: 0.000000e+00>, window_start = array<f64: 1.000000e+00>} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x4x16x16xf32>
func.func @sample_one_scale(%latent: tensor<1x8xf32>, %null: tensor<1x8xf32>, %seed: i64) -> tensor<1x4x16x16xf32> {
  %0 = msdd.multiscale_sample [@denoiser](%latent, %null, %seed) {
      resolutions = array<i64: 16>, steps = array<i64: 10>,
      window_start = array<f64: 1.0>, window_end = array<f64: 0.0>,
      tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>,
      alpha = array<f64>, beta = array<f64>, guidance_scale = 1.0 : f64, gamma = 0.0 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x4x16x16xf32>
  return %0 : tensor<1x4x16x16xf32>
}
// CHECK-LABEL: func.func private @denoiser
func.func private @denoiser(tensor<1x4x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x4x16x16xf32>

// -----

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @losses
// CHECK-SAME: (%[[P:[^:]*]]: tensor<4x3x8x8xf32>, %[[T:[^:]*]]: tensor<4x3x8x8xf32>, %[[W:[^:]*]]: tensor<4xf32>)
// CHECK: msdd.mse %[[P]], %[[T]] : (tensor<4x3x8x8xf32>, tensor<4x3x8x8xf32>) -> tensor<f32>
// CHECK: msdd.weighted_mse %[[P]], %[[T]], %[[W]] : (tensor<4x3x8x8xf32>, tensor<4x3x8x8xf32>, tensor<4xf32>) -> tensor<f32>
func.func @losses(%p: tensor<4x3x8x8xf32>, %t: tensor<4x3x8x8xf32>, %w: tensor<4xf32>) -> tensor<f32> {
  %0 = msdd.mse %p, %t : (tensor<4x3x8x8xf32>, tensor<4x3x8x8xf32>) -> tensor<f32>
  %1 = msdd.weighted_mse %p, %t, %w : (tensor<4x3x8x8xf32>, tensor<4x3x8x8xf32>, tensor<4xf32>) -> tensor<f32>
  return %1 : tensor<f32>
}

// -----

//===----------------------------------------------------------------------===//
// f64 (gradient checks and references)
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @f64
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x4x8xf64>, %[[W:[^:]*]]: tensor<16x8xf64>, %[[B:[^:]*]]: tensor<16xf64>, %[[SEED:[^:]*]]: i64)
// CHECK: %[[H:.+]] = msdd.linear %[[X]], %[[W]], %[[B]] : (tensor<2x4x8xf64>, tensor<16x8xf64>, tensor<16xf64>) -> tensor<2x4x16xf64>
// CHECK: %[[G:.+]] = msdd.gelu %[[H]] {approximate = true} : tensor<2x4x16xf64>
// CHECK: %[[N:.+]] = msdd.random_normal %[[SEED]], %[[SEED]] : tensor<2x4x16xf64>
// CHECK: %[[S:.+]] = msdd.add %[[G]], %[[N]] : (tensor<2x4x16xf64>, tensor<2x4x16xf64>) -> tensor<2x4x16xf64>
// CHECK: msdd.mse %[[S]], %[[G]] : (tensor<2x4x16xf64>, tensor<2x4x16xf64>) -> tensor<f64>
func.func @f64(%x: tensor<2x4x8xf64>, %w: tensor<16x8xf64>, %b: tensor<16xf64>, %seed: i64) -> tensor<f64> {
  %h = msdd.linear %x, %w, %b : (tensor<2x4x8xf64>, tensor<16x8xf64>, tensor<16xf64>) -> tensor<2x4x16xf64>
  %g = msdd.gelu %h {approximate = true} : tensor<2x4x16xf64>
  %n = msdd.random_normal %seed, %seed : tensor<2x4x16xf64>
  %s = msdd.add %g, %n : (tensor<2x4x16xf64>, tensor<2x4x16xf64>) -> tensor<2x4x16xf64>
  %l = msdd.mse %s, %g : (tensor<2x4x16xf64>, tensor<2x4x16xf64>) -> tensor<f64>
  return %l : tensor<f64>
}

// -----

// CHECK-LABEL: func.func @concat_slice
// CHECK: %[[C:.+]] = msdd.concat %{{.+}}, %{{.+}} {axis = 1 : i64} : (tensor<2x3x8xf32>, tensor<2x5x8xf32>) -> tensor<2x8x8xf32>
// CHECK: msdd.slice %[[C]] {axis = 2 : i64, start = 2 : i64} : (tensor<2x8x8xf32>) -> tensor<2x8x4xf32>
func.func @concat_slice(%a: tensor<2x3x8xf32>, %b: tensor<2x5x8xf32>) -> tensor<2x8x4xf32> {
  %c = msdd.concat %a, %b {axis = 1 : i64} : (tensor<2x3x8xf32>, tensor<2x5x8xf32>) -> tensor<2x8x8xf32>
  %s = msdd.slice %c {axis = 2 : i64, start = 2 : i64} : (tensor<2x8x8xf32>) -> tensor<2x8x4xf32>
  return %s : tensor<2x8x4xf32>
}

// CHECK-LABEL: func.func @conv
// CHECK: %[[Y:.+]] = msdd.conv %{{.+}}, %{{.+}} {dilations = array<i64: 1, 2>, groups = 2 : i64, pads_begin = array<i64: 1, 0>, pads_end = array<i64: 1, 2>, strides = array<i64: 2, 1>} : (tensor<1x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x5x7xf32>
// CHECK: msdd.conv_transpose %[[Y]], %{{.+}} {dilations = array<i64: 1, 2>, groups = 2 : i64, pads_begin = array<i64: 1, 0>, strides = array<i64: 2, 1>} : (tensor<1x6x5x7xf32>, tensor<6x2x3x3xf32>) -> tensor<1x4x9x9xf32>
func.func @conv(%x: tensor<1x4x9x9xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x4x9x9xf32> {
  %y = msdd.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pads_begin = array<i64: 1, 0>, pads_end = array<i64: 1, 2>, groups = 2 : i64} : (tensor<1x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x5x7xf32>
  %g = msdd.conv_transpose %y, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pads_begin = array<i64: 1, 0>, groups = 2 : i64} : (tensor<1x6x5x7xf32>, tensor<6x2x3x3xf32>) -> tensor<1x4x9x9xf32>
  return %g : tensor<1x4x9x9xf32>
}

// Destination style: on tensors the op returns the updated init, on memrefs nothing.
// CHECK-LABEL: func.func @flash_attention
// CHECK: %[[O:.+]] = msdd.flash_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}} {scale = 2.500000e-01 : f64} : tensor<2x3x10x16xf16>, tensor<2x3x12x16xf16>, tensor<2x3x12x8xf16> into tensor<2x3x10x8xf32> -> tensor<2x3x10x8xf32>
// CHECK: msdd.flash_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}} {scale = 2.500000e-01 : f64} : memref<2x3x10x16xf16>, memref<2x3x12x16xf16>, memref<2x3x12x8xf16> into memref<2x3x10x8xf32>{{$}}
func.func @flash_attention(%q: tensor<2x3x10x16xf16>, %k: tensor<2x3x12x16xf16>, %v: tensor<2x3x12x8xf16>, %o: tensor<2x3x10x8xf32>,
                           %qm: memref<2x3x10x16xf16>, %km: memref<2x3x12x16xf16>, %vm: memref<2x3x12x8xf16>, %om: memref<2x3x10x8xf32>) -> tensor<2x3x10x8xf32> {
  %r = msdd.flash_attention %q, %k, %v into %o {scale = 0.25 : f64} : tensor<2x3x10x16xf16>, tensor<2x3x12x16xf16>, tensor<2x3x12x8xf16> into tensor<2x3x10x8xf32> -> tensor<2x3x10x8xf32>
  msdd.flash_attention %qm, %km, %vm into %om {scale = 0.25 : f64} : memref<2x3x10x16xf16>, memref<2x3x12x16xf16>, memref<2x3x12x8xf16> into memref<2x3x10x8xf32>
  return %r : tensor<2x3x10x8xf32>
}

// f32 factors (the kernel rounds them to TF32), with a head dimension of 8.
// CHECK-LABEL: func.func @flash_attention_tf32
// CHECK: msdd.flash_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}} {scale = 5.000000e-01 : f64} : tensor<1x2x10x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x16xf32> into tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
func.func @flash_attention_tf32(%q: tensor<1x2x10x8xf32>, %k: tensor<1x2x12x8xf32>, %v: tensor<1x2x12x16xf32>, %o: tensor<1x2x10x16xf32>) -> tensor<1x2x10x16xf32> {
  %r = msdd.flash_attention %q, %k, %v into %o {scale = 0.5 : f64} : tensor<1x2x10x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x16xf32> into tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
  return %r : tensor<1x2x10x16xf32>
}

// f32 factors split for three TF32 products each (3xTF32).
// CHECK-LABEL: func.func @flash_attention_split
// CHECK: msdd.flash_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}} {scale = 5.000000e-01 : f64, split_factors} : tensor<1x2x10x8xf32>
func.func @flash_attention_split(%q: tensor<1x2x10x8xf32>, %k: tensor<1x2x12x8xf32>, %v: tensor<1x2x12x16xf32>, %o: tensor<1x2x10x16xf32>) -> tensor<1x2x10x16xf32> {
  %r = msdd.flash_attention %q, %k, %v into %o {scale = 0.5 : f64, split_factors} : tensor<1x2x10x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x16xf32> into tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
  return %r : tensor<1x2x10x16xf32>
}
