// RUN: msdd-opt %s --split-input-file --msdd-round-contraction-operands | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-round-contraction-operands --msdd-fuse-elementwise | FileCheck %s --check-prefix=FUSED
// RUN: not msdd-opt %s --split-input-file --msdd-round-contraction-operands=element-type=f8 2>&1 | FileCheck %s --check-prefix=BADTYPE
// BADTYPE: msdd-round-contraction-operands: unknown element type 'f8' (bf16 or f16)

// Both factors are rounded by elementwise generics; the product keeps its f32 accumulator.
// CHECK-LABEL: func.func @matmul
// CHECK-DAG: %[[B:.+]] = linalg.generic {{.*}} ins(%arg1 : tensor<8x2xf32>) outs(%{{.+}} : tensor<8x2xbf16>)
// CHECK-DAG: %[[A:.+]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>) outs(%{{.+}} : tensor<4x8xbf16>)
// CHECK: ^bb0(%[[IN:.+]]: f32, %{{.+}}: bf16):
// CHECK-NEXT: %[[R:.+]] = arith.truncf %[[IN]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[R]] : bf16
// CHECK: linalg.matmul ins(%[[A]], %[[B]] : tensor<4x8xbf16>, tensor<8x2xbf16>) outs(%arg2 : tensor<4x2xf32>) -> tensor<4x2xf32>
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// Products that read a factor transposed (msdd-fold-transposes-into-products runs first):
// the factor is rounded as it is stored.
// CHECK-LABEL: func.func @transposed_factors
// CHECK-DAG: %[[A:.+]] = linalg.generic {{.*}} ins(%arg0 : tensor<8x4xf32>) outs(%{{.+}} : tensor<8x4xbf16>)
// CHECK-DAG: %[[BA:.+]] = linalg.generic {{.*}} ins(%arg3 : tensor<3x8x4xf32>) outs(%{{.+}} : tensor<3x8x4xbf16>)
// CHECK: linalg.matmul_transpose_a ins(%[[A]], %{{.+}} : tensor<8x4xbf16>, tensor<8x2xbf16>) outs(%arg2 : tensor<4x2xf32>)
// CHECK: linalg.batch_matmul_transpose_a ins(%[[BA]], %{{.+}} : tensor<3x8x4xbf16>, tensor<3x8x2xbf16>) outs(%arg5 : tensor<3x4x2xf32>)
func.func @transposed_factors(%a: tensor<8x4xf32>, %b: tensor<8x2xf32>, %c: tensor<4x2xf32>, %ba: tensor<3x8x4xf32>, %bb: tensor<3x8x2xf32>, %bc: tensor<3x4x2xf32>) -> (tensor<4x2xf32>, tensor<3x4x2xf32>) {
  %0 = linalg.matmul_transpose_a ins(%a, %b : tensor<8x4xf32>, tensor<8x2xf32>) outs(%c : tensor<4x2xf32>) -> tensor<4x2xf32>
  %1 = linalg.batch_matmul_transpose_a ins(%ba, %bb : tensor<3x8x4xf32>, tensor<3x8x2xf32>) outs(%bc : tensor<3x4x2xf32>) -> tensor<3x4x2xf32>
  return %0, %1 : tensor<4x2xf32>, tensor<3x4x2xf32>
}

// -----

// A value that feeds several products is rounded once; f64 and dynamic products are left.
// CHECK-LABEL: func.func @shared_factor
// CHECK-COUNT-1: arith.truncf
// CHECK-NOT: arith.truncf
// CHECK: linalg.matmul_transpose_b ins(%[[X:.+]], %[[X]] : tensor<4x8xbf16>, tensor<4x8xbf16>)
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<4x4xf64>, tensor<4x4xf64>)
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<4x4xf32>)
func.func @shared_factor(%x: tensor<4x8xf32>, %c: tensor<4x4xf32>, %d: tensor<4x4xf64>, %y: tensor<?x4xf32>, %e: tensor<?x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf64>, tensor<?x4xf32>) {
  %0 = linalg.matmul_transpose_b ins(%x, %x : tensor<4x8xf32>, tensor<4x8xf32>) outs(%c : tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = linalg.matmul ins(%d, %d : tensor<4x4xf64>, tensor<4x4xf64>) outs(%d : tensor<4x4xf64>) -> tensor<4x4xf64>
  %2 = linalg.matmul ins(%y, %c : tensor<?x4xf32>, tensor<4x4xf32>) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %0, %1, %2 : tensor<4x4xf32>, tensor<4x4xf64>, tensor<?x4xf32>
}

// -----

// The rounding looks through the head split (expand_shape, transpose, collapse_shape) to the
// op that computed the values and fuses into it: the producer writes bf16 itself and the
// transpose moves bf16.
// CHECK-LABEL: func.func @through_head_split
// CHECK: %[[R:.+]] = linalg.generic {{.*}} ins(%{{.+}} : tensor<8x24xf32>) outs(%{{.+}} : tensor<8x24xbf16>)
// CHECK: %[[X:.+]] = tensor.expand_shape %[[R]] {{.*}} into tensor<2x4x3x8xbf16>
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[X]] : tensor<2x4x3x8xbf16>) outs(%{{.+}} : tensor<2x3x4x8xbf16>) permutation = [0, 2, 1, 3]
// CHECK: %[[C:.+]] = tensor.collapse_shape %[[T]] {{.*}} : tensor<2x3x4x8xbf16> into tensor<6x4x8xbf16>
// CHECK: linalg.batch_matmul_transpose_b ins(%[[C]], %[[C]] : tensor<6x4x8xbf16>, tensor<6x4x8xbf16>)
// FUSED-LABEL: func.func @through_head_split
// FUSED: linalg.generic {{.*}} ins(%arg0 : tensor<8x24xf32>) outs(%{{.+}} : tensor<8x24xbf16>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: math.exp
// FUSED-NEXT: arith.truncf
// FUSED-NOT: linalg.generic
// FUSED: linalg.generic {{.*}} ins(%{{.+}} : tensor<2x4x3x8xbf16>) outs(%{{.+}} : tensor<2x3x4x8xbf16>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: linalg.yield
// FUSED-NOT: linalg.generic
// FUSED: linalg.batch_matmul_transpose_b
func.func @through_head_split(%x: tensor<8x24xf32>, %c: tensor<6x4x4xf32>) -> tensor<6x4x4xf32> {
  %e = tensor.empty() : tensor<8x24xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x24xf32>) outs(%e : tensor<8x24xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<8x24xf32>
  %1 = tensor.expand_shape %0 [[0, 1], [2, 3]] output_shape [2, 4, 3, 8] : tensor<8x24xf32> into tensor<2x4x3x8xf32>
  %t = tensor.empty() : tensor<2x3x4x8xf32>
  %2 = linalg.transpose ins(%1 : tensor<2x4x3x8xf32>) outs(%t : tensor<2x3x4x8xf32>) permutation = [0, 2, 1, 3]
  %3 = tensor.collapse_shape %2 [[0, 1], [2], [3]] : tensor<2x3x4x8xf32> into tensor<6x4x8xf32>
  %4 = linalg.batch_matmul_transpose_b ins(%3, %3 : tensor<6x4x8xf32>, tensor<6x4x8xf32>) outs(%c : tensor<6x4x4xf32>) -> tensor<6x4x4xf32>
  return %4 : tensor<6x4x4xf32>
}

// -----

// A transpose of data that no elementwise op computed (an argument, a product) becomes one
// generic that reads it transposed and writes it rounded.
// CHECK: #[[$PERM:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
// CHECK-LABEL: func.func @transposed_argument
// CHECK: linalg.generic {indexing_maps = [#[[$PERM]], #{{.+}}], {{.*}} ins(%arg0 : tensor<2x4x3x8xf32>) outs(%{{.+}} : tensor<2x3x4x8xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: linalg.batch_matmul_transpose_b
func.func @transposed_argument(%x: tensor<2x4x3x8xf32>, %c: tensor<6x4x4xf32>) -> tensor<6x4x4xf32> {
  %t = tensor.empty() : tensor<2x3x4x8xf32>
  %0 = linalg.transpose ins(%x : tensor<2x4x3x8xf32>) outs(%t : tensor<2x3x4x8xf32>) permutation = [0, 2, 1, 3]
  %1 = tensor.collapse_shape %0 [[0, 1], [2], [3]] : tensor<2x3x4x8xf32> into tensor<6x4x8xf32>
  %2 = linalg.batch_matmul_transpose_b ins(%1, %1 : tensor<6x4x8xf32>, tensor<6x4x8xf32>) outs(%c : tensor<6x4x4xf32>) -> tensor<6x4x4xf32>
  return %2 : tensor<6x4x4xf32>
}

// -----

// A concatenation (joint attention's image and latent tokens) is rebuilt from rounded parts.
// CHECK-LABEL: func.func @concatenation
// CHECK-DAG: %[[A:.+]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>)
// CHECK-DAG: %[[B:.+]] = linalg.generic {{.*}} ins(%arg1 : tensor<2x8xf32>)
// CHECK-DAG: %[[E:.+]] = tensor.empty() : tensor<6x8xbf16>
// CHECK: %[[I0:.+]] = tensor.insert_slice %[[A]] into %[[E]][0, 0] [4, 8] [1, 1] : tensor<4x8xbf16> into tensor<6x8xbf16>
// CHECK: %[[I1:.+]] = tensor.insert_slice %[[B]] into %[[I0]][4, 0] [2, 8] [1, 1] : tensor<2x8xbf16> into tensor<6x8xbf16>
// CHECK: linalg.matmul_transpose_b ins(%[[I1]], %[[I1]] : tensor<6x8xbf16>, tensor<6x8xbf16>)
func.func @concatenation(%a: tensor<4x8xf32>, %b: tensor<2x8xf32>, %c: tensor<6x6xf32>) -> tensor<6x6xf32> {
  %e = tensor.empty() : tensor<6x8xf32>
  %0 = tensor.insert_slice %a into %e[0, 0] [4, 8] [1, 1] : tensor<4x8xf32> into tensor<6x8xf32>
  %1 = tensor.insert_slice %b into %0[4, 0] [2, 8] [1, 1] : tensor<2x8xf32> into tensor<6x8xf32>
  %2 = linalg.matmul_transpose_b ins(%1, %1 : tensor<6x8xf32>, tensor<6x8xf32>) outs(%c : tensor<6x6xf32>) -> tensor<6x6xf32>
  return %2 : tensor<6x6xf32>
}

// -----

// Attention's exponentials feed the row sums and the product: with the rounding, fusion
// computes them twice (once in the sum, once written as bf16) instead of writing and reading
// back an f32 copy of the scores.
// FUSED-LABEL: func.func @shared_producer
// FUSED: %[[P:.+]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x4xf32>) outs(%{{.+}} : tensor<4x4xbf16>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: math.exp
// FUSED-NEXT: arith.truncf
// FUSED: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<4x4xf32>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: math.exp
// FUSED-NEXT: arith.addf
// FUSED: linalg.matmul ins(%[[P]], %{{.+}} : tensor<4x4xbf16>, tensor<4x8xbf16>)
func.func @shared_producer(%s: tensor<4x4xf32>, %v: tensor<4x8xf32>, %c: tensor<4x8xf32>, %z: tensor<4xf32>) -> (tensor<4x8xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4x4xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%s : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%0 : tensor<4x4xf32>) outs(%z : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %out, %in : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %2 = linalg.matmul ins(%0, %v : tensor<4x4xf32>, tensor<4x8xf32>) outs(%c : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %2, %1 : tensor<4x8xf32>, tensor<4xf32>
}

// -----

// Flash attention's f16 factors: the roundings next to it move through the concatenation of
// the two streams into the ops that produced each stream, which then write f16 themselves
// (FUSED); the f32 concatenation and the rounding passes over it are gone.
// CHECK-LABEL: func.func @flash_attention_factors
// CHECK-NOT: into tensor<2x1x6x16xf32>
// CHECK-DAG: %[[E:.+]] = tensor.empty() : tensor<2x1x6x16xf16>
// CHECK-DAG: %[[A16:.+]] = linalg.generic {{.*}} ins(%[[A:.+]] : tensor<2x1x4x16xf32>) outs(%{{.+}} : tensor<2x1x4x16xf16>)
// CHECK-DAG: %[[B16:.+]] = linalg.generic {{.*}} ins(%arg1 : tensor<2x1x2x16xf32>) outs(%{{.+}} : tensor<2x1x2x16xf16>)
// CHECK: %[[C0:.+]] = tensor.insert_slice %[[A16]] into %[[E]][0, 0, 0, 0] [2, 1, 4, 16]
// CHECK: %[[C1:.+]] = tensor.insert_slice %[[B16]] into %[[C0]][0, 0, 4, 0] [2, 1, 2, 16]
// CHECK: msdd.flash_attention %[[C1]], %[[C1]], %[[C1]] into
// FUSED-LABEL: func.func @flash_attention_factors
// FUSED: linalg.generic {{.*}} ins(%arg0 : tensor<2x1x4x16xf32>) outs(%{{.+}} : tensor<2x1x4x16xf16>)
// FUSED-NEXT: ^bb0
// FUSED-NEXT: math.exp
// FUSED-NEXT: arith.truncf
// FUSED-NOT: into tensor<2x1x6x16xf32>
// FUSED-NOT: arith.truncf
// FUSED: msdd.flash_attention
func.func @flash_attention_factors(%x: tensor<2x1x4x16xf32>, %y: tensor<2x1x2x16xf32>) -> tensor<2x1x6x16xf32> {
  %e = tensor.empty() : tensor<2x1x4x16xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x1x4x16xf32>) outs(%e : tensor<2x1x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<2x1x4x16xf32>
  %cat = tensor.empty() : tensor<2x1x6x16xf32>
  %c0 = tensor.insert_slice %a into %cat[0, 0, 0, 0] [2, 1, 4, 16] [1, 1, 1, 1] : tensor<2x1x4x16xf32> into tensor<2x1x6x16xf32>
  %c1 = tensor.insert_slice %y into %c0[0, 0, 4, 0] [2, 1, 2, 16] [1, 1, 1, 1] : tensor<2x1x2x16xf32> into tensor<2x1x6x16xf32>
  %e16 = tensor.empty() : tensor<2x1x6x16xf16>
  %q = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c1 : tensor<2x1x6x16xf32>) outs(%e16 : tensor<2x1x6x16xf16>) {
  ^bb0(%in: f32, %out: f16):
    %r = arith.truncf %in : f32 to f16
    linalg.yield %r : f16
  } -> tensor<2x1x6x16xf16>
  %o = msdd.flash_attention %q, %q, %q into %cat {scale = 0.25 : f64} : tensor<2x1x6x16xf16>, tensor<2x1x6x16xf16>, tensor<2x1x6x16xf16> into tensor<2x1x6x16xf32> -> tensor<2x1x6x16xf32>
  return %o : tensor<2x1x6x16xf32>
}
