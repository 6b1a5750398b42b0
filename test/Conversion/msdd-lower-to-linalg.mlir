// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg --verify-diagnostics | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg=flash-attention=true --verify-diagnostics | FileCheck %s --check-prefix=FLASH
// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg="flash-attention=true flash-attention-factors=tf32" --verify-diagnostics | FileCheck %s --check-prefix=TF32
// RUN: msdd-opt %s --split-input-file --msdd-lower-to-linalg="flash-attention=true flash-attention-factors=tf32x3" --verify-diagnostics | FileCheck %s --check-prefix=TF32X3
// RUN: not msdd-opt %s --split-input-file --msdd-lower-to-linalg="flash-attention=true flash-attention-factors=bf16" 2>&1 | FileCheck %s --check-prefix=BADOPT
// BADOPT: error: flash-attention-factors must be f16, tf32 or tf32x3, not 'bf16'

// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @add_broadcast
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK:   arith.addf
func.func @add_broadcast(%a: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = msdd.add %a, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// The bias is broadcast into the accumulator, the product is a named contraction.
// CHECK-LABEL: func.func @linear
// CHECK: %[[X:.+]] = tensor.collapse_shape %{{.+}} {{\[}}[0, 1], [2]] : tensor<2x16x32xf32> into tensor<32x32xf32>
// CHECK: %[[ACC:.+]] = linalg.generic
// CHECK: %[[Y:.+]] = linalg.matmul_transpose_b ins(%[[X]], %{{.+}} : tensor<32x32xf32>, tensor<48x32xf32>) outs(%[[ACC]] : tensor<32x48xf32>)
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [2, 16, 48]
func.func @linear(%x: tensor<2x16x32xf32>, %w: tensor<48x32xf32>, %b: tensor<48xf32>) -> tensor<2x16x48xf32> {
  %0 = msdd.linear %x, %w, %b : (tensor<2x16x32xf32>, tensor<48x32xf32>, tensor<48xf32>) -> tensor<2x16x48xf32>
  return %0 : tensor<2x16x48xf32>
}

// -----

// Rank-4 operands are flattened to one batch dimension.
// CHECK-LABEL: func.func @matmul_batched
// CHECK: linalg.fill
// CHECK: linalg.batch_matmul ins(%{{.+}}, %{{.+}} : tensor<6x8x16xf32>, tensor<6x16x4xf32>)
func.func @matmul_batched(%a: tensor<2x3x8x16xf32>, %b: tensor<2x3x16x4xf32>) -> tensor<2x3x8x4xf32> {
  %0 = msdd.matmul %a, %b : (tensor<2x3x8x16xf32>, tensor<2x3x16x4xf32>) -> tensor<2x3x8x4xf32>
  return %0 : tensor<2x3x8x4xf32>
}

// -----

// Max, exp-and-sum, normalize: three generics, two of them reductions.
// CHECK-LABEL: func.func @softmax
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]
// CHECK:   arith.maximumf
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK:   math.exp
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]
// CHECK:   arith.addf
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK:   arith.divf
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = msdd.softmax %x : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @patchify
// CHECK: tensor.expand_shape {{.+}} output_shape [2, 3, 4, 4, 4, 4] : tensor<2x3x16x16xf32> into tensor<2x3x4x4x4x4xf32>
// CHECK: linalg.transpose {{.+}} permutation = [0, 2, 4, 3, 5, 1]
// CHECK: tensor.collapse_shape {{.+}} : tensor<2x4x4x4x4x3xf32> into tensor<2x16x48xf32>
func.func @patchify(%x: tensor<2x3x16x16xf32>) -> tensor<2x16x48xf32> {
  %0 = msdd.patchify %x {patch_size = 4 : i64} : (tensor<2x3x16x16xf32>) -> tensor<2x16x48xf32>
  return %0 : tensor<2x16x48xf32>
}

// -----

// Attention: scaled scores, stable softmax, and two batched contractions.
// CHECK-LABEL: func.func @attention
// CHECK: arith.constant 2.500000e-01 : f32
// CHECK: linalg.batch_matmul_transpose_b
// CHECK: linalg.batch_matmul ins
// With flash-attention: f16 copies of q, k and v (the scale stays f32, in the kernel) and
// one msdd.flash_attention into an f32 init.
// FLASH-LABEL: func.func @attention
// FLASH: %[[Q:.+]] = linalg.generic {{.+}} ins(%arg0
// FLASH: arith.truncf %{{.+}} : f32 to f16
// FLASH: %[[K:.+]] = linalg.generic {{.+}} ins(%arg1
// FLASH: %[[V:.+]] = linalg.generic {{.+}} ins(%arg2
// FLASH: %[[INIT:.+]] = tensor.empty() : tensor<1x2x8x16xf32>
// FLASH: %[[O:.+]] = msdd.flash_attention %[[Q]], %[[K]], %[[V]] into %[[INIT]] {scale = 2.500000e-01 : f64} : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16> into tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
// FLASH: return %[[O]]
// With TF32 factors the kernel reads q, k and v as they are.
// TF32-LABEL: func.func @attention
// TF32: %[[INIT:.+]] = tensor.empty() : tensor<1x2x8x16xf32>
// TF32: %[[O:.+]] = msdd.flash_attention %arg0, %arg1, %arg2 into %[[INIT]] {scale = 2.500000e-01 : f64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> into tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
// TF32: return %[[O]]
// In 3xTF32 mode the same kernel op splits its f32 factors.
// TF32X3-LABEL: func.func @attention
// TF32X3: msdd.flash_attention %arg0, %arg1, %arg2 into %{{.+}} {scale = 2.500000e-01 : f64, split_factors} : tensor<1x2x8x16xf32>
func.func @attention(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// -----

// The kernel has no mask and its f16 products need a head dimension divisible by 16:
// these stay unfused.
// FLASH-LABEL: func.func @attention_unsupported
// FLASH-NOT: msdd.flash_attention
// FLASH-COUNT-2: linalg.batch_matmul_transpose_b
// FLASH-NOT: msdd.flash_attention
// TF32 products take 8 head dimensions at a time: the second one fits.
// TF32-LABEL: func.func @attention_unsupported
// TF32: linalg.batch_matmul_transpose_b
// TF32: msdd.flash_attention %arg2, %arg2, %arg2 {{.+}} : tensor<1x2x8x8xf32>
// TF32-NOT: linalg.batch_matmul_transpose_b
func.func @attention_unsupported(%q: tensor<1x2x8x16xf32>, %m: tensor<8x8xf32>, %q8: tensor<1x2x8x8xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>) {
  %0 = msdd.attention %q, %q, %q, %m : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<8x8xf32>) -> tensor<1x2x8x16xf32>
  %1 = msdd.attention %q8, %q8, %q8 : (tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  return %0, %1 : tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>
}

// -----

// Upsampling reads the input through a projected map over [B, C, H, f, W, f].
// CHECK-DAG: #[[IN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d4)>
// CHECK-LABEL: func.func @upsample
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #{{.+}}]
// CHECK: tensor.collapse_shape {{.+}} into tensor<1x3x8x8xf32>
func.func @upsample(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32> {
  %0 = msdd.upsample_nearest %x : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

// Philox rounds: 10 rounds of two 32x32->64 multiplies each, less the last round's second
// product, whose words the Box-Muller transform does not read.
// CHECK-LABEL: func.func @random_normal
// CHECK-COUNT-19: arith.mului_extended
// CHECK-NOT: arith.mului_extended
// CHECK: math.log
func.func @random_normal(%seed: i64, %step: i64) -> tensor<4x4xf32> {
  %0 = msdd.random_normal %seed, %step {stream = 3 : i32} : tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func private @denoiser(%x: tensor<1x3x8x8xf32>, %t: tensor<1xf32>, %c: tensor<1x4x8xf32>) -> tensor<1x3x8x8xf32>

func.func @sampler(%c: tensor<1x4x8xf32>, %n: tensor<1x4x8xf32>, %seed: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{must be expanded into per-scale loops before lowering to linalg}}
  %0 = msdd.multiscale_sample [@denoiser](%c, %n, %seed) {resolutions = array<i64: 8>, steps = array<i64: 1>, window_start = array<f64: 1.0>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64>, beta = array<f64>, guidance_scale = 1.0 : f64, gamma = 0.333 : f64} : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

// Padding by insertion into zeros, then one contraction over (c, kh, kw) per (n, g, m, oh, ow).
// CHECK-DAG: #[[CIN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1 * 2 + d5, d3 * 2 + d6, d4 + d7 * 2)>
// CHECK-DAG: #[[CW:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d1 * 3 + d2, d5, d6, d7)>
// CHECK-DAG: #[[COUT:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @conv
// CHECK: %[[P:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, 1, 0] [1, 4, 9, 9] [1, 1, 1, 1] : tensor<1x4x9x9xf32> into tensor<1x4x11x11xf32>
// CHECK: linalg.generic {indexing_maps = [#[[CIN]], #[[CW]], #[[COUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[P]], %{{.+}} : tensor<1x4x11x11xf32>, tensor<6x2x3x3xf32>) outs(%{{.+}} : tensor<1x2x3x5x7xf32>)
// CHECK: tensor.collapse_shape {{.+}} into tensor<1x6x5x7xf32>
func.func @conv(%x: tensor<1x4x9x9xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x5x7xf32> {
  %y = msdd.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pads_begin = array<i64: 1, 0>, pads_end = array<i64: 1, 2>, groups = 2 : i64} : (tensor<1x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x5x7xf32>
  return %y : tensor<1x6x5x7xf32>
}

// -----

// The input zero-stuffed (stride 2 in height), the kernel flipped by a gather, then a
// stride-1 contraction.
// CHECK-LABEL: func.func @conv_transpose
// CHECK: %[[U:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, 2, 4] [1, 6, 5, 7] [1, 1, 2, 1] : tensor<1x6x5x7xf32> into tensor<1x6x13x15xf32>
// CHECK: %[[S:.+]] = tensor.extract_slice %[[U]][0, 0, 1, 0] [1, 6, 12, 15] [1, 1, 1, 1]
// CHECK: %[[F:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<4x3x3x3xf32>)
// CHECK: arith.subi
// CHECK: tensor.extract
// CHECK: linalg.generic {{.+}} ins(%[[S]], %[[F]] : tensor<1x6x12x15xf32>, tensor<4x3x3x3xf32>) outs(%{{.+}} : tensor<1x2x2x9x9xf32>)
func.func @conv_transpose(%y: tensor<1x6x5x7xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x4x9x9xf32> {
  %x = msdd.conv_transpose %y, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, pads_begin = array<i64: 1, 0>, groups = 2 : i64} : (tensor<1x6x5x7xf32>, tensor<6x2x3x3xf32>) -> tensor<1x4x9x9xf32>
  return %x : tensor<1x4x9x9xf32>
}

// -----

// Ungrouped: im2col (a gather generic with the conv's input map), one matmul against the
// weight as [M, C K], then [N, P, M] transposed to channels first.
// CHECK-DAG: #[[COLS:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1 * 2 + d4, d2 + d5)>
// CHECK-LABEL: func.func @conv_im2col
// CHECK: %[[C:.+]] = linalg.generic {indexing_maps = [#[[COLS]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%{{.+}} : tensor<2x3x9x8xf32>) outs(%{{.+}} : tensor<2x4x6x3x3x3xf32>)
// CHECK-DAG: %[[W2:.+]] = tensor.collapse_shape %arg1 {{.+}} into tensor<5x27xf32>
// CHECK-DAG: %[[C2:.+]] = tensor.collapse_shape %[[C]] {{.+}} into tensor<48x27xf32>
// CHECK: linalg.matmul_transpose_b ins(%[[C2]], %[[W2]] : tensor<48x27xf32>, tensor<5x27xf32>)
// CHECK: linalg.transpose {{.+}} permutation = [0, 2, 1]
// CHECK: tensor.expand_shape {{.+}} into tensor<2x5x4x6xf32>
func.func @conv_im2col(%x: tensor<2x3x9x8xf32>, %w: tensor<5x3x3x3xf32>) -> tensor<2x5x4x6xf32> {
  %y = msdd.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>} : (tensor<2x3x9x8xf32>, tensor<5x3x3x3xf32>) -> tensor<2x5x4x6xf32>
  return %y : tensor<2x5x4x6xf32>
}
