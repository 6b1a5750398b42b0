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

// The contraction stays whole, and so does the zero fill of its accumulator (the library
// call overwrites instead, msdd-linalg-to-runtime-calls); small ops are left alone.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: scf.forall
// CHECK: linalg.fill
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<128x128xf32>, tensor<128x128xf32>)
// CHECK-NOT: scf.forall
// CHECK: math.exp
func.func @untouched(%a: tensor<128x128xf32>, %b: tensor<128x128xf32>, %s: tensor<4x4xf32>) -> (tensor<128x128xf32>, tensor<4x4xf32>) {
  %0 = msdd.matmul %a, %b : (tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<128x128xf32>
  %1 = msdd.exp %s : tensor<4x4xf32>
  return %0, %1 : tensor<128x128xf32>, tensor<4x4xf32>
}

// -----

// A constant offset in an indexing map (x[i, j + 1]) would be applied twice by tiling (to
// the slice and again inside it): the op stays whole.
// CHECK-LABEL: func.func @shifted_read
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
#shift = affine_map<(d0, d1) -> (d0, d1 + 1)>
#identity = affine_map<(d0, d1) -> (d0, d1)>
func.func @shifted_read(%x: tensor<4x4097xf32>) -> tensor<4x4096xf32> {
  %e = tensor.empty() : tensor<4x4096xf32>
  %0 = linalg.generic {indexing_maps = [#shift, #identity], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4097xf32>) outs(%e : tensor<4x4096xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<4x4096xf32>
  return %0 : tensor<4x4096xf32>
}

// -----

// So would `mod` (and floordiv, negative coefficients).
// CHECK-LABEL: func.func @modular_read
// CHECK-NOT: scf.forall
// CHECK: linalg.generic
#modular = affine_map<(d0, d1) -> (d0, d1 mod 64)>
#identity = affine_map<(d0, d1) -> (d0, d1)>
func.func @modular_read(%x: tensor<4x64xf32>) -> tensor<4x4096xf32> {
  %e = tensor.empty() : tensor<4x4096xf32>
  %0 = linalg.generic {indexing_maps = [#modular, #identity], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x64xf32>) outs(%e : tensor<4x4096xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<4x4096xf32>
  return %0 : tensor<4x4096xf32>
}

// -----

// Strided windows (x[i, 2j + k], as in a strided convolution) tile correctly: slices start
// at 2 * the tile's offset and the map inside stays right.
// CHECK-LABEL: func.func @strided_window
// CHECK: scf.forall
// CHECK:   linalg.generic
#window = affine_map<(d0, d1, d2) -> (d0, 2 * d1 + d2)>
#tap = affine_map<(d0, d1, d2) -> (d2)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @strided_window(%x: tensor<8x4098xf32>, %k: tensor<3xf32>, %acc: tensor<8x2048xf32>) -> tensor<8x2048xf32> {
  %0 = linalg.generic {indexing_maps = [#window, #tap, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %k : tensor<8x4098xf32>, tensor<3xf32>) outs(%acc : tensor<8x2048xf32>) {
  ^bb0(%in: f32, %w: f32, %o: f32):
    %m = arith.mulf %in, %w : f32
    %s = arith.addf %m, %o : f32
    linalg.yield %s : f32
  } -> tensor<8x2048xf32>
  return %0 : tensor<8x2048xf32>
}

// -----

// A fill that something else also reads is tiled like any other op.
// CHECK-LABEL: func.func @shared_fill
// CHECK: scf.forall (%{{.+}}) = (0) to (128) step (16)
// CHECK:   linalg.fill
// CHECK: linalg.matmul
func.func @shared_fill(%a: tensor<128x128xf32>, %b: tensor<128x128xf32>) -> (tensor<128x128xf32>, tensor<128x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<128x128xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<128x128xf32>) -> tensor<128x128xf32>
  %p = linalg.matmul ins(%a, %b : tensor<128x128xf32>, tensor<128x128xf32>) outs(%z : tensor<128x128xf32>) -> tensor<128x128xf32>
  %s = linalg.add ins(%z, %a : tensor<128x128xf32>, tensor<128x128xf32>) outs(%e : tensor<128x128xf32>) -> tensor<128x128xf32>
  return %p, %s : tensor<128x128xf32>, tensor<128x128xf32>
}

// -----

// A column sum's only parallel loop is the innermost, contiguous one: its tiles stay 16
// wide (2 tiles here, not the 8 of 4 columns that min-tiles=8 alone would make), so that each
// tile's loop over a row vectorizes.
// CHECK-LABEL: func.func @column_sum
// CHECK: scf.forall (%{{.+}}) = (0) to (32) step (16)
// CHECK:   linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]
func.func @column_sum(%x: tensor<512x32xf32>) -> tensor<32xf32> {
  %0 = msdd.reduce_sum %x {axes = array<i64: 0>} : (tensor<512x32xf32>) -> tensor<32xf32>
  return %0 : tensor<32xf32>
}
