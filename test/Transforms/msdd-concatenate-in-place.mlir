// RUN: msdd-opt %s --split-input-file --msdd-concatenate-in-place | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-concatenate-in-place --one-shot-bufferize="bufferize-function-boundaries" --canonicalize --cse --canonicalize | FileCheck %s --check-prefix=BUF

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// Both pieces are computed into their slices of the concatenation, which starts as an
// alloc_tensor that moves (with the first insertion) above the second piece's producer.
// After bufferization nothing is copied.
// CHECK-LABEL: func.func @two_pieces
// CHECK: %[[CAT:.+]] = bufferization.alloc_tensor() : tensor<2x6x16xf32>
// CHECK: %[[S0:.+]] = tensor.extract_slice %[[CAT]][0, 0, 0] [2, 4, 16] [1, 1, 1]
// CHECK: %[[A:.+]] = linalg.generic {{.*}} ins(%arg0 : tensor<2x4x16xf32>) outs(%[[S0]] : tensor<2x4x16xf32>)
// CHECK: %[[C0:.+]] = tensor.insert_slice %[[A]] into %[[CAT]][0, 0, 0] [2, 4, 16]
// CHECK: %[[S1:.+]] = tensor.extract_slice %[[C0]][0, 4, 0] [2, 2, 16] [1, 1, 1]
// CHECK: %[[B:.+]] = linalg.generic {{.*}} ins(%arg1 : tensor<2x2x16xf32>) outs(%[[S1]] : tensor<2x2x16xf32>)
// CHECK: tensor.insert_slice %[[B]] into %[[C0]][0, 4, 0] [2, 2, 16]
// BUF-LABEL: func.func @two_pieces
// BUF-NOT: memref.copy
// BUF: return
func.func @two_pieces(%x: tensor<2x4x16xf32>, %y: tensor<2x2x16xf32>) -> tensor<2x6x16xf32> {
  %e0 = tensor.empty() : tensor<2x4x16xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x16xf32>) outs(%e0 : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x16xf32>
  %e1 = tensor.empty() : tensor<2x2x16xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%y : tensor<2x2x16xf32>) outs(%e1 : tensor<2x2x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.sqrt %in : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16xf32>
  %cat = tensor.empty() : tensor<2x6x16xf32>
  %c0 = tensor.insert_slice %a into %cat[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x6x16xf32>
  %c1 = tensor.insert_slice %b into %c0[0, 4, 0] [2, 2, 16] [1, 1, 1] : tensor<2x2x16xf32> into tensor<2x6x16xf32>
  return %c1 : tensor<2x6x16xf32>
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// A piece reshaped on its way (RoPE's pairs collapsed into the head dimension): the
// producer writes into the slice expanded back to its shape.
// CHECK-LABEL: func.func @collapsed_piece
// CHECK: %[[CAT:.+]] = bufferization.alloc_tensor() : tensor<2x6x16xf32>
// CHECK: %[[C0:.+]] = tensor.insert_slice %arg1 into %[[CAT]][0, 0, 0]
// CHECK: %[[S:.+]] = tensor.extract_slice %[[C0]][0, 2, 0] [2, 4, 16] [1, 1, 1]
// CHECK: %[[X:.+]] = tensor.expand_shape %[[S]] {{\[}}[0], [1], [2, 3]] output_shape [2, 4, 8, 2]
// CHECK: linalg.generic {{.*}} outs(%[[X]] : tensor<2x4x8x2xf32>)
// BUF-LABEL: func.func @collapsed_piece
// BUF: memref.copy %arg1,
// BUF-NOT: memref.copy
// BUF: return
func.func @collapsed_piece(%x: tensor<2x4x8x2xf32>, %y: tensor<2x2x16xf32>) -> tensor<2x6x16xf32> {
  %e = tensor.empty() : tensor<2x4x8x2xf32>
  %a = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x8x2xf32>) outs(%e : tensor<2x4x8x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x8x2xf32>
  %c = tensor.collapse_shape %a [[0], [1], [2, 3]] : tensor<2x4x8x2xf32> into tensor<2x4x16xf32>
  %cat = tensor.empty() : tensor<2x6x16xf32>
  %c0 = tensor.insert_slice %y into %cat[0, 0, 0] [2, 2, 16] [1, 1, 1] : tensor<2x2x16xf32> into tensor<2x6x16xf32>
  %c1 = tensor.insert_slice %c into %c0[0, 2, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x6x16xf32>
  return %c1 : tensor<2x6x16xf32>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// Two concatenations that start from the same (CSE'd) empty tensor get one buffer each.
// CHECK-LABEL: func.func @two_chains
// CHECK-COUNT-2: bufferization.alloc_tensor() : tensor<2x8x16xf32>
// CHECK-NOT: bufferization.alloc_tensor
// BUF-LABEL: func.func @two_chains
// BUF-COUNT-2: memref.copy %arg0,
// BUF-NOT: memref.copy
// BUF: return
func.func @two_chains(%x: tensor<2x4x16xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
  %e = tensor.empty() : tensor<2x4x16xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x16xf32>) outs(%e : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x16xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x16xf32>) outs(%e : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.sqrt %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x16xf32>
  %cat = tensor.empty() : tensor<2x8x16xf32>
  %p0 = tensor.insert_slice %a into %cat[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  %q0 = tensor.insert_slice %b into %cat[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  %p1 = tensor.insert_slice %x into %p0[0, 4, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  %q1 = tensor.insert_slice %x into %q0[0, 4, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  return %p1, %q1 : tensor<2x8x16xf32>, tensor<2x8x16xf32>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>

// Left alone: a producer that reads its init (a reduction into a fill), a piece used twice,
// a piece that no op computes (an argument), and an insertion into a tensor that is not
// fresh (an argument: its other elements are live data).
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: bufferization.alloc_tensor
// CHECK-NOT: tensor.extract_slice
// CHECK: return
func.func @left_alone(%x: tensor<2x4x16xf32>, %d: tensor<2x8xf32>, %d3: tensor<2x8x16xf32>) -> (tensor<2x8xf32>, tensor<2x8x16xf32>, tensor<2x4x16xf32>, tensor<2x8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %s = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x4x16xf32>) outs(%f : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x4xf32>
  %cat = tensor.empty() : tensor<2x8xf32>
  %c0 = tensor.insert_slice %s into %cat[0, 0] [2, 4] [1, 1] : tensor<2x4xf32> into tensor<2x8xf32>
  %e3 = tensor.empty() : tensor<2x4x16xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x16xf32>) outs(%e3 : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x16xf32>
  %cat3 = tensor.empty() : tensor<2x8x16xf32>
  %t0 = tensor.insert_slice %a into %cat3[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  %t1 = tensor.insert_slice %x into %t0[0, 4, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<2x4x16xf32>) outs(%e3 : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.sqrt %in : f32
    linalg.yield %r : f32
  } -> tensor<2x4x16xf32>
  %u = tensor.insert_slice %b into %d3[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x8x16xf32>
  return %c0, %t1, %a, %u : tensor<2x8xf32>, tensor<2x8x16xf32>, tensor<2x4x16xf32>, tensor<2x8x16xf32>
}
