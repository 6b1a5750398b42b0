// Every diagnostic of the msdd verifiers (dialects/msdd/MsddOps.cpp) and of the ODS
// constraints, one per split.
//
// RUN: msdd-opt %s --split-input-file --verify-diagnostics

//===----------------------------------------------------------------------===//
// ODS constraints: statically shaped f32/f64 tensors, one element type per op
//===----------------------------------------------------------------------===//

func.func @dynamic_shape(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{'msdd.exp' op operand #0 must be statically shaped f32 or f64 tensor, but got 'tensor<?x4xf32>'}}
  %0 = msdd.exp %x : tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

func.func @f16_operand(%a: tensor<4xf16>, %b: tensor<4xf16>) -> tensor<4xf16> {
  // expected-error @+1 {{'msdd.add' op operand #0 must be statically shaped f32 or f64 tensor, but got 'tensor<4xf16>'}}
  %0 = msdd.add %a, %b : (tensor<4xf16>, tensor<4xf16>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @integer_operand(%x: tensor<4x8xi32>, %w: tensor<2x8xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'msdd.linear' op operand #0 must be statically shaped f32 or f64 tensor, but got 'tensor<4x8xi32>'}}
  %0 = msdd.linear %x, %w : (tensor<4x8xi32>, tensor<2x8xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @dynamic_result(%x: tensor<4x8xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'msdd.reshape' op result #0 must be statically shaped f32 or f64 tensor, but got 'tensor<?xf32>'}}
  %0 = msdd.reshape %x : (tensor<4x8xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @dynamic_optional_operand(%x: tensor<4x8xf32>, %w: tensor<2x8xf32>, %b: tensor<?xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'msdd.linear' op operand #2 must be statically shaped f32 or f64 tensor, but got 'tensor<?xf32>'}}
  %0 = msdd.linear %x, %w, %b : (tensor<4x8xf32>, tensor<2x8xf32>, tensor<?xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @f16_random_normal(%seed: i64) -> tensor<4xf16> {
  // expected-error @+1 {{'msdd.random_normal' op result #0 must be statically shaped f32 or f64 tensor, but got 'tensor<4xf16>'}}
  %0 = msdd.random_normal %seed, %seed : tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @mixed_element_types(%a: tensor<4xf32>, %b: tensor<4xf64>) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.add' op requires the same element type for all operands and results}}
  %0 = msdd.add %a, %b : (tensor<4xf32>, tensor<4xf64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @unary_type_mismatch(%x: tensor<4xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{'msdd.exp' op requires the same type for all operands and results}}
  %0 = "msdd.exp"(%x) : (tensor<4xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @missing_attribute(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.scale' op requires attribute 'factor'}}
  %0 = msdd.scale %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @patch_size_not_positive(%x: tensor<2x3x8x8xf32>) -> tensor<2x4x48xf32> {
  // expected-error @+1 {{attribute 'patch_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = msdd.patchify %x {patch_size = 0 : i64} : (tensor<2x3x8x8xf32>) -> tensor<2x4x48xf32>
  return %0 : tensor<2x4x48xf32>
}

// -----

func.func @grid_not_positive(%x: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{attribute 'grid_width' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = -1 : i64} : (tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %0 : tensor<1x1x4x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

func.func @add_no_broadcast(%a: tensor<4x3xf32>, %b: tensor<2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'msdd.add' op operand shapes [4, 3] and [2] do not broadcast}}
  %0 = msdd.add %a, %b : (tensor<4x3xf32>, tensor<2xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @sub_no_broadcast(%a: tensor<4x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'msdd.sub' op operand shapes [4, 3] and [3, 4] do not broadcast}}
  %0 = msdd.sub %a, %b : (tensor<4x3xf32>, tensor<3x4xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @mul_bad_result(%a: tensor<4x1xf32>, %b: tensor<3xf32>) -> tensor<4x1xf32> {
  // expected-error @+1 {{'msdd.mul' op result must have shape [4, 3] but has [4, 1]}}
  %0 = msdd.mul %a, %b : (tensor<4x1xf32>, tensor<3xf32>) -> tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

func.func @div_bad_result_rank(%a: tensor<2x1x3xf32>, %b: tensor<4x1xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'msdd.div' op result must have shape [2, 4, 3] but has [4, 3]}}
  %0 = msdd.div %a, %b : (tensor<2x1x3xf32>, tensor<4x1xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @maximum_no_broadcast(%a: tensor<2xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'msdd.maximum' op operand shapes [2] and [3] do not broadcast}}
  %0 = msdd.maximum %a, %b : (tensor<2xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @minimum_bad_result(%a: tensor<f32>, %b: tensor<f32>) -> tensor<1xf32> {
  // expected-error @+1 {{'msdd.minimum' op result must have shape [] but has [1]}}
  %0 = msdd.minimum %a, %b : (tensor<f32>, tensor<f32>) -> tensor<1xf32>
  return %0 : tensor<1xf32>
}

// -----

func.func @pow_no_broadcast(%a: tensor<8x2xf32>, %b: tensor<8xf32>) -> tensor<8x8xf32> {
  // expected-error @+1 {{'msdd.pow' op operand shapes [8, 2] and [8] do not broadcast}}
  %0 = msdd.pow %a, %b : (tensor<8x2xf32>, tensor<8xf32>) -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Reductions and layout
//===----------------------------------------------------------------------===//

func.func @reduce_no_axes(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'msdd.reduce_sum' op needs at least one axis}}
  %0 = msdd.reduce_sum %x {axes = array<i64>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_axis_too_large(%x: tensor<2x3x4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'msdd.reduce_mean' op axis 3 is out of range for rank 3}}
  %0 = msdd.reduce_mean %x {axes = array<i64: 3>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_axis_negative(%x: tensor<2x3x4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'msdd.reduce_max' op axis -1 is out of range for rank 3}}
  %0 = msdd.reduce_max %x {axes = array<i64: -1>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_axis_repeated(%x: tensor<2x3x4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'msdd.reduce_sum' op axis 1 is repeated}}
  %0 = msdd.reduce_sum %x {axes = array<i64: 1, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @reduce_bad_result(%x: tensor<2x3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'msdd.reduce_mean' op result must have shape [2, 1, 4] but has [2, 4]}}
  %0 = msdd.reduce_mean %x {axes = array<i64: 1>, keep_dims = true} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @reshape_element_count(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{'msdd.reshape' op cannot reshape [2, 3] (6 elements) to [7] (7 elements)}}
  %0 = msdd.reshape %x : (tensor<2x3xf32>) -> tensor<7xf32>
  return %0 : tensor<7xf32>
}

// -----

func.func @transpose_wrong_length(%x: tensor<2x3x4xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'msdd.transpose' op permutation has 2 entries for rank 3}}
  %0 = msdd.transpose %x {permutation = array<i64: 1, 0>} : (tensor<2x3x4xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_repeated(%x: tensor<2x3x4xf32>) -> tensor<2x2x3xf32> {
  // expected-error @+1 {{'msdd.transpose' op permutation [0, 0, 1] is not a permutation of [0, 3)}}
  %0 = msdd.transpose %x {permutation = array<i64: 0, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<2x2x3xf32>
  return %0 : tensor<2x2x3xf32>
}

// -----

func.func @transpose_out_of_range(%x: tensor<2x3x4xf32>) -> tensor<2x4x3xf32> {
  // expected-error @+1 {{'msdd.transpose' op permutation [0, 3, 1] is not a permutation of [0, 3)}}
  %0 = msdd.transpose %x {permutation = array<i64: 0, 3, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  return %0 : tensor<2x4x3xf32>
}

// -----

func.func @transpose_bad_result(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  // expected-error @+1 {{'msdd.transpose' op result must have shape [2, 4, 3] but has [2, 3, 4]}}
  %0 = msdd.transpose %x {permutation = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

func.func @broadcast_to_lower_rank(%x: tensor<2x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'msdd.broadcast' op cannot broadcast [2, 3] to [3]}}
  %0 = msdd.broadcast %x : (tensor<2x3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @broadcast_incompatible(%x: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'msdd.broadcast' op cannot broadcast [3] to [2, 4]}}
  %0 = msdd.broadcast %x : (tensor<3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// Broadcasting never shrinks a dimension to 1.
func.func @broadcast_shrinks(%x: tensor<2x3xf32>) -> tensor<1x3xf32> {
  // expected-error @+1 {{'msdd.broadcast' op cannot broadcast [2, 3] to [1, 3]}}
  %0 = msdd.broadcast %x : (tensor<2x3xf32>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Neural-network ops
//===----------------------------------------------------------------------===//

func.func @linear_scalar_input(%x: tensor<f32>, %w: tensor<2x1xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'msdd.linear' op input must have rank >= 1}}
  %0 = msdd.linear %x, %w : (tensor<f32>, tensor<2x1xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<4x8xf32>, %w: tensor<8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.linear' op weight must have rank 2 but has rank 1}}
  %0 = msdd.linear %x, %w : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// The weight is [N, K] (PyTorch layout), not [K, N].
func.func @linear_weight_mismatch(%x: tensor<2x16x32xf32>, %w: tensor<32x48xf32>) -> tensor<2x16x48xf32> {
  // expected-error @+1 {{'msdd.linear' op weight is [32, 48] ([N, K]) but the input's last dimension is 32}}
  %0 = msdd.linear %x, %w : (tensor<2x16x32xf32>, tensor<32x48xf32>) -> tensor<2x16x48xf32>
  return %0 : tensor<2x16x48xf32>
}

// -----

func.func @linear_bias_shape(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'msdd.linear' op bias must have shape [16] but has [8]}}
  %0 = msdd.linear %x, %w, %b : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

func.func @linear_bad_result(%x: tensor<2x4x8xf32>, %w: tensor<16x8xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'msdd.linear' op result must have shape [2, 4, 16] but has [8, 16]}}
  %0 = msdd.linear %x, %w : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @matmul_rank_one(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.matmul' op operands must have the same rank >= 2, got [8] and [8]}}
  %0 = msdd.matmul %a, %b : (tensor<8xf32>, tensor<8xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @matmul_rank_mismatch(%a: tensor<2x8x16xf32>, %b: tensor<16x4xf32>) -> tensor<2x8x4xf32> {
  // expected-error @+1 {{'msdd.matmul' op operands must have the same rank >= 2, got [2, 8, 16] and [16, 4]}}
  %0 = msdd.matmul %a, %b : (tensor<2x8x16xf32>, tensor<16x4xf32>) -> tensor<2x8x4xf32>
  return %0 : tensor<2x8x4xf32>
}

// -----

func.func @matmul_batch_mismatch(%a: tensor<2x8x16xf32>, %b: tensor<3x16x4xf32>) -> tensor<2x8x4xf32> {
  // expected-error @+1 {{'msdd.matmul' op batch dimensions differ: [2, 8, 16] and [3, 16, 4]}}
  %0 = msdd.matmul %a, %b : (tensor<2x8x16xf32>, tensor<3x16x4xf32>) -> tensor<2x8x4xf32>
  return %0 : tensor<2x8x4xf32>
}

// -----

func.func @matmul_contraction_mismatch(%a: tensor<8x16xf32>, %b: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'msdd.matmul' op contraction sizes differ: lhs has K = 16, rhs has 8}}
  %0 = msdd.matmul %a, %b : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

// With transpose_rhs the rhs is [N, K].
func.func @matmul_transposed_contraction_mismatch(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{'msdd.matmul' op contraction sizes differ: lhs has K = 16, rhs has 4}}
  %0 = msdd.matmul %a, %b {transpose_rhs = true} : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x16xf32>
  return %0 : tensor<8x16xf32>
}

// -----

func.func @matmul_bad_result(%a: tensor<2x8x16xf32>, %b: tensor<2x16x4xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{'msdd.matmul' op result must have shape [2, 8, 4] but has [2, 4, 8]}}
  %0 = msdd.matmul %a, %b : (tensor<2x8x16xf32>, tensor<2x16x4xf32>) -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

func.func @patchify_not_image(%x: tensor<3x16x16xf32>) -> tensor<1x16x48xf32> {
  // expected-error @+1 {{'msdd.patchify' op input (an image [B, C, H, W]) must have rank 4 but has rank 3}}
  %0 = msdd.patchify %x {patch_size = 4 : i64} : (tensor<3x16x16xf32>) -> tensor<1x16x48xf32>
  return %0 : tensor<1x16x48xf32>
}

// -----

func.func @patchify_not_divisible(%x: tensor<2x3x16x10xf32>) -> tensor<2x8x48xf32> {
  // expected-error @+1 {{'msdd.patchify' op image size 16x10 is not divisible by the patch size 4}}
  %0 = msdd.patchify %x {patch_size = 4 : i64} : (tensor<2x3x16x10xf32>) -> tensor<2x8x48xf32>
  return %0 : tensor<2x8x48xf32>
}

// -----

func.func @patchify_bad_result(%x: tensor<2x3x16x16xf32>) -> tensor<2x16x16x3xf32> {
  // expected-error @+1 {{'msdd.patchify' op result must have shape [2, 16, 48] but has [2, 16, 16, 3]}}
  %0 = msdd.patchify %x {patch_size = 4 : i64} : (tensor<2x3x16x16xf32>) -> tensor<2x16x16x3xf32>
  return %0 : tensor<2x16x16x3xf32>
}

// -----

func.func @unpatchify_not_image(%x: tensor<2x16x48xf32>) -> tensor<2x3x256xf32> {
  // expected-error @+1 {{'msdd.unpatchify' op result (an image [B, C, H, W]) must have rank 4 but has rank 3}}
  %0 = msdd.unpatchify %x {patch_size = 4 : i64} : (tensor<2x16x48xf32>) -> tensor<2x3x256xf32>
  return %0 : tensor<2x3x256xf32>
}

// -----

func.func @unpatchify_not_divisible(%x: tensor<2x16x48xf32>) -> tensor<2x3x16x18xf32> {
  // expected-error @+1 {{'msdd.unpatchify' op image size 16x18 is not divisible by the patch size 4}}
  %0 = msdd.unpatchify %x {patch_size = 4 : i64} : (tensor<2x16x48xf32>) -> tensor<2x3x16x18xf32>
  return %0 : tensor<2x3x16x18xf32>
}

// -----

// 16 tokens of 48 features make a 16x16 image of 3 channels, not of 4.
func.func @unpatchify_bad_input(%x: tensor<2x16x48xf32>) -> tensor<2x4x16x16xf32> {
  // expected-error @+1 {{'msdd.unpatchify' op input must have shape [2, 16, 64] but has [2, 16, 48]}}
  %0 = msdd.unpatchify %x {patch_size = 4 : i64} : (tensor<2x16x48xf32>) -> tensor<2x4x16x16xf32>
  return %0 : tensor<2x4x16x16xf32>
}

// -----

func.func @layer_norm_scalar(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.layer_norm' op input must have rank >= 1}}
  %0 = msdd.layer_norm %x : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @layer_norm_weight_without_bias(%x: tensor<4x8xf32>, %w: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op weight and bias must be given together}}
  %0 = msdd.layer_norm %x, %w : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Only the generic form can give a bias without a weight.
func.func @layer_norm_bias_without_weight(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op weight and bias must be given together}}
  %0 = "msdd.layer_norm"(%x, %b) <{epsilon = 1.0e-6 : f64, operandSegmentSizes = array<i32: 1, 0, 1>}> : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_epsilon_zero(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op epsilon must be positive}}
  %0 = msdd.layer_norm %x {epsilon = 0.0 : f64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_epsilon_negative(%x: tensor<4x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op epsilon must be positive}}
  %0 = msdd.layer_norm %x, %w, %b {epsilon = -1.0e-5 : f64} : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_epsilon_nan(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op epsilon must be positive}}
  %0 = msdd.layer_norm %x {epsilon = 0x7FF8000000000000 : f64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_weight_shape(%x: tensor<4x8xf32>, %w: tensor<4xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op weight must have shape [8] but has [4]}}
  %0 = msdd.layer_norm %x, %w, %b : (tensor<4x8xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_bias_shape(%x: tensor<4x8xf32>, %w: tensor<8xf32>, %b: tensor<1x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op bias must have shape [8] but has [1, 8]}}
  %0 = msdd.layer_norm %x, %w, %b : (tensor<4x8xf32>, tensor<8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @layer_norm_bad_result(%x: tensor<4x8xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'msdd.layer_norm' op result must have shape [4, 8] but has [8, 4]}}
  %0 = msdd.layer_norm %x : (tensor<4x8xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @rms_norm_scalar(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.rms_norm' op input must have rank >= 1}}
  %0 = msdd.rms_norm %x : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @rms_norm_epsilon(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.rms_norm' op epsilon must be positive}}
  %0 = msdd.rms_norm %x {epsilon = 0.0 : f64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @rms_norm_epsilon_nan(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.rms_norm' op epsilon must be positive}}
  %0 = msdd.rms_norm %x {epsilon = 0x7FF8000000000000 : f64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @rms_norm_weight_shape(%x: tensor<2x2x16x16xf32>, %w: tensor<32xf32>) -> tensor<2x2x16x16xf32> {
  // expected-error @+1 {{'msdd.rms_norm' op weight must have shape [16] but has [32]}}
  %0 = msdd.rms_norm %x, %w : (tensor<2x2x16x16xf32>, tensor<32xf32>) -> tensor<2x2x16x16xf32>
  return %0 : tensor<2x2x16x16xf32>
}

// -----

func.func @rms_norm_bad_result(%x: tensor<4x8xf32>) -> tensor<4x9xf32> {
  // expected-error @+1 {{'msdd.rms_norm' op result must have shape [4, 8] but has [4, 9]}}
  %0 = msdd.rms_norm %x : (tensor<4x8xf32>) -> tensor<4x9xf32>
  return %0 : tensor<4x9xf32>
}

// -----

func.func @softmax_axis_too_large(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.softmax' op axis 2 is out of range for rank 2}}
  %0 = msdd.softmax %x {axis = 2 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @softmax_axis_too_small(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'msdd.softmax' op axis -3 is out of range for rank 2}}
  %0 = msdd.softmax %x {axis = -3 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @softmax_bad_result(%x: tensor<4x8xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.softmax' op result must have shape [4, 8] but has [4]}}
  %0 = msdd.softmax %x : (tensor<4x8xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @attention_query_rank(%q: tensor<2x16x32xf32>, %k: tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op query must have rank 4 but has rank 3}}
  %0 = msdd.attention %q, %k, %k : (tensor<2x16x32xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_key_rank(%q: tensor<2x4x16x8xf32>, %k: tensor<8x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op key must have rank 4 but has rank 3}}
  %0 = msdd.attention %q, %k, %q : (tensor<2x4x16x8xf32>, tensor<8x16x8xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_value_rank(%q: tensor<2x4x16x8xf32>, %v: tensor<2x4x16x2x4xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op value must have rank 4 but has rank 5}}
  %0 = msdd.attention %q, %q, %v : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x2x4xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_key_heads(%q: tensor<2x4x16x8xf32>, %k: tensor<2x2x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op key [2, 2, 16, 8] does not match query [2, 4, 16, 8] in batch, heads or head dimension}}
  %0 = msdd.attention %q, %k, %k : (tensor<2x4x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_key_head_dim(%q: tensor<2x4x16x8xf32>, %k: tensor<2x4x16x16xf32>, %v: tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op key [2, 4, 16, 16] does not match query [2, 4, 16, 8] in batch, heads or head dimension}}
  %0 = msdd.attention %q, %k, %v : (tensor<2x4x16x8xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_value_length(%q: tensor<2x4x16x8xf32>, %k: tensor<2x4x12x8xf32>, %v: tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op value [2, 4, 16, 8] does not match key [2, 4, 12, 8] in batch, heads or length}}
  %0 = msdd.attention %q, %k, %v : (tensor<2x4x16x8xf32>, tensor<2x4x12x8xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_value_batch(%q: tensor<2x4x16x8xf32>, %v: tensor<1x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op value [1, 4, 16, 8] does not match key [2, 4, 16, 8] in batch, heads or length}}
  %0 = msdd.attention %q, %q, %v : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<1x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

// The mask is [Lq, Lk] = [16, 12]; a transposed one is rejected.
func.func @attention_mask_2d(%q: tensor<2x4x16x8xf32>, %k: tensor<2x4x12x8xf32>, %m: tensor<12x16xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op mask must be [16, 12] or [2, 4, 16, 12] but is [12, 16]}}
  %0 = msdd.attention %q, %k, %k, %m : (tensor<2x4x16x8xf32>, tensor<2x4x12x8xf32>, tensor<2x4x12x8xf32>, tensor<12x16xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_mask_4d(%q: tensor<2x4x16x8xf32>, %m: tensor<2x1x16x16xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op mask must be [16, 16] or [2, 4, 16, 16] but is [2, 1, 16, 16]}}
  %0 = msdd.attention %q, %q, %q, %m : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x1x16x16xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_mask_rank(%q: tensor<2x4x16x8xf32>, %m: tensor<4x16x16xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op mask must be [16, 16] or [2, 4, 16, 16] but is [4, 16, 16]}}
  %0 = msdd.attention %q, %q, %q, %m : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<4x16x16xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_scale_zero(%q: tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op scale must be positive}}
  %0 = msdd.attention %q, %q, %q {scale = 0.0 : f64} : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_scale_negative(%q: tensor<2x4x16x8xf32>, %m: tensor<16x16xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op scale must be positive}}
  %0 = msdd.attention %q, %q, %q, %m {scale = -0.5 : f64} : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<16x16xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @attention_scale_nan(%q: tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op scale must be positive}}
  %0 = msdd.attention %q, %q, %q {scale = 0x7FF8000000000000 : f64} : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

// The result takes Dv from the value, not D from the query.
func.func @attention_bad_result(%q: tensor<2x4x16x8xf32>, %v: tensor<2x4x16x4xf32>) -> tensor<2x4x16x8xf32> {
  // expected-error @+1 {{'msdd.attention' op result must have shape [2, 4, 16, 4] but has [2, 4, 16, 8]}}
  %0 = msdd.attention %q, %q, %v : (tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x4xf32>) -> tensor<2x4x16x8xf32>
  return %0 : tensor<2x4x16x8xf32>
}

// -----

func.func @rope_2d_rank(%x: tensor<2x16x32xf32>) -> tensor<2x16x32xf32> {
  // expected-error @+1 {{'msdd.rope_2d' op input must have rank 4 but has rank 3}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 4 : i64} : (tensor<2x16x32xf32>) -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}

// -----

func.func @rope_2d_grid(%x: tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32> {
  // expected-error @+1 {{'msdd.rope_2d' op sequence length 16 is not grid_height * grid_width = 12}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 3 : i64} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  return %0 : tensor<2x2x16x16xf32>
}

// -----

func.func @rope_2d_head_dim(%x: tensor<2x2x16x6xf32>) -> tensor<2x2x16x6xf32> {
  // expected-error @+1 {{'msdd.rope_2d' op head dimension 6 is not divisible by 4}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 4 : i64} : (tensor<2x2x16x6xf32>) -> tensor<2x2x16x6xf32>
  return %0 : tensor<2x2x16x6xf32>
}

// -----

func.func @rope_2d_step(%x: tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32> {
  // expected-error @+1 {{'msdd.rope_2d' op row_step and col_step must be positive}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 4 : i64, col_step = 0.0 : f64} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  return %0 : tensor<2x2x16x16xf32>
}

// -----

func.func @rope_2d_bad_result(%x: tensor<2x2x16x16xf32>) -> tensor<2x16x2x16xf32> {
  // expected-error @+1 {{'msdd.rope_2d' op result must have shape [2, 2, 16, 16] but has [2, 16, 2, 16]}}
  %0 = msdd.rope_2d %x {grid_height = 4 : i64, grid_width = 4 : i64} : (tensor<2x2x16x16xf32>) -> tensor<2x16x2x16xf32>
  return %0 : tensor<2x16x2x16xf32>
}

// -----

func.func @swiglu_up_shape(%g: tensor<2x16x64xf32>, %u: tensor<2x16x32xf32>) -> tensor<2x16x64xf32> {
  // expected-error @+1 {{'msdd.swiglu' op up must have shape [2, 16, 64] but has [2, 16, 32]}}
  %0 = msdd.swiglu %g, %u : (tensor<2x16x64xf32>, tensor<2x16x32xf32>) -> tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// -----

func.func @swiglu_bad_result(%g: tensor<2x16x64xf32>) -> tensor<2x16x32xf32> {
  // expected-error @+1 {{'msdd.swiglu' op result must have shape [2, 16, 64] but has [2, 16, 32]}}
  %0 = msdd.swiglu %g, %g : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}

// -----

func.func @modulate_rank(%x: tensor<2x3x4x4xf32>, %c: tensor<2x4xf32>) -> tensor<2x3x4x4xf32> {
  // expected-error @+1 {{'msdd.modulate' op input ([B, L, D]) must have rank 3 but has rank 4}}
  %0 = msdd.modulate %x, %c, %c : (tensor<2x3x4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x3x4x4xf32>
  return %0 : tensor<2x3x4x4xf32>
}

// -----

// shift is [B, D], not per token.
func.func @modulate_shift(%x: tensor<2x16x32xf32>, %shift: tensor<2x16x32xf32>, %scale: tensor<2x32xf32>) -> tensor<2x16x32xf32> {
  // expected-error @+1 {{'msdd.modulate' op shift must have shape [2, 32] but has [2, 16, 32]}}
  %0 = msdd.modulate %x, %shift, %scale : (tensor<2x16x32xf32>, tensor<2x16x32xf32>, tensor<2x32xf32>) -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}

// -----

func.func @modulate_scale(%x: tensor<2x16x32xf32>, %shift: tensor<2x32xf32>, %scale: tensor<1x32xf32>) -> tensor<2x16x32xf32> {
  // expected-error @+1 {{'msdd.modulate' op scale must have shape [2, 32] but has [1, 32]}}
  %0 = msdd.modulate %x, %shift, %scale : (tensor<2x16x32xf32>, tensor<2x32xf32>, tensor<1x32xf32>) -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}

// -----

func.func @modulate_bad_result(%x: tensor<2x16x32xf32>, %c: tensor<2x32xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'msdd.modulate' op result must have shape [2, 16, 32] but has [2, 32]}}
  %0 = msdd.modulate %x, %c, %c : (tensor<2x16x32xf32>, tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @timestep_embedding_timesteps_rank(%t: tensor<2x1xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op timesteps must have rank 1 but has rank 2}}
  %0 = msdd.timestep_embedding %t : (tensor<2x1xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @timestep_embedding_result_rank(%t: tensor<2xf32>) -> tensor<2x1x64xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op result must have rank 2 but has rank 3}}
  %0 = msdd.timestep_embedding %t : (tensor<2xf32>) -> tensor<2x1x64xf32>
  return %0 : tensor<2x1x64xf32>
}

// -----

func.func @timestep_embedding_odd_dim(%t: tensor<2xf32>) -> tensor<2x63xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op embedding dimension 63 must be even}}
  %0 = msdd.timestep_embedding %t : (tensor<2xf32>) -> tensor<2x63xf32>
  return %0 : tensor<2x63xf32>
}

// -----

func.func @timestep_embedding_max_period(%t: tensor<2xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op max_period must be > 1}}
  %0 = msdd.timestep_embedding %t {max_period = 1.0 : f64} : (tensor<2xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @timestep_embedding_max_period_nan(%t: tensor<2xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op max_period must be > 1}}
  %0 = msdd.timestep_embedding %t {max_period = 0x7FF8000000000000 : f64} : (tensor<2xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @timestep_embedding_batch(%t: tensor<2xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{'msdd.timestep_embedding' op result must have shape [2, 64] but has [4, 64]}}
  %0 = msdd.timestep_embedding %t : (tensor<2xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

func.func @upsample_not_image(%x: tensor<3x8x8xf32>) -> tensor<3x16x16xf32> {
  // expected-error @+1 {{'msdd.upsample_nearest' op input (an image [B, C, H, W]) must have rank 4 but has rank 3}}
  %0 = msdd.upsample_nearest %x : (tensor<3x8x8xf32>) -> tensor<3x16x16xf32>
  return %0 : tensor<3x16x16xf32>
}

// -----

func.func @upsample_factor_zero(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.upsample_nearest' op factor must be >= 1, got 0}}
  %0 = msdd.upsample_nearest %x {factor = 0 : i64} : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @upsample_bad_result(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.upsample_nearest' op result must have shape [1, 3, 32, 32] but has [1, 3, 16, 16]}}
  %0 = msdd.upsample_nearest %x {factor = 4 : i64} : (tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @downsample_not_image(%x: tensor<8x8xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'msdd.downsample' op input (an image [B, C, H, W]) must have rank 4 but has rank 2}}
  %0 = msdd.downsample %x : (tensor<8x8xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @downsample_factor_negative(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32> {
  // expected-error @+1 {{'msdd.downsample' op factor must be >= 1, got -2}}
  %0 = msdd.downsample %x {factor = -2 : i64} : (tensor<1x3x8x8xf32>) -> tensor<1x3x4x4xf32>
  return %0 : tensor<1x3x4x4xf32>
}

// -----

func.func @downsample_not_divisible(%x: tensor<1x3x8x12xf32>) -> tensor<1x3x1x1xf32> {
  // expected-error @+1 {{'msdd.downsample' op image size 8x12 is not divisible by the factor 8}}
  %0 = msdd.downsample %x {factor = 8 : i64} : (tensor<1x3x8x12xf32>) -> tensor<1x3x1x1xf32>
  return %0 : tensor<1x3x1x1xf32>
}

// -----

func.func @downsample_bad_result(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.downsample' op result must have shape [1, 3, 4, 4] but has [1, 3, 8, 8]}}
  %0 = msdd.downsample %x : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Diffusion ops
//===----------------------------------------------------------------------===//

func.func @random_normal_seed_type(%seed: i32) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.random_normal' op operand #0 must be 64-bit signless integer, but got 'i32'}}
  %0 = "msdd.random_normal"(%seed, %seed) : (i32, i32) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @block_noise_not_image(%n: tensor<3x16x16xf32>) -> tensor<3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op input (an image [B, C, H, W]) must have rank 4 but has rank 3}}
  %0 = msdd.block_noise %n {gamma = 0.25 : f64} : (tensor<3x16x16xf32>) -> tensor<3x16x16xf32>
  return %0 : tensor<3x16x16xf32>
}

// -----

func.func @block_noise_odd_size(%n: tensor<1x3x16x15xf32>) -> tensor<1x3x16x15xf32> {
  // expected-error @+1 {{'msdd.block_noise' op image size 16x15 is not even}}
  %0 = msdd.block_noise %n {gamma = 0.25 : f64} : (tensor<1x3x16x15xf32>) -> tensor<1x3x16x15xf32>
  return %0 : tensor<1x3x16x15xf32>
}

// -----

func.func @block_noise_covariance(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op covariance must be "pyramidal" or "paper_code", got "diagonal"}}
  %0 = msdd.block_noise %n {gamma = 0.25 : f64, covariance = "diagonal"} : (tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// pyramidal: the eigenvalue 1 - 3 gamma is negative for gamma > 1/3.
func.func @block_noise_gamma_pyramidal(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op gamma 5.000000e-01 gives a covariance that is not positive semi-definite for "pyramidal"}}
  %0 = msdd.block_noise %n {gamma = 0.5 : f64} : (tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// paper_code: the eigenvalue 1 - gamma is negative for gamma > 1.
func.func @block_noise_gamma_paper_code(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op gamma 1.500000e+00 gives a covariance that is not positive semi-definite for "paper_code"}}
  %0 = msdd.block_noise %n {gamma = 1.5 : f64, covariance = "paper_code"} : (tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// A negative gamma is rejected as negative: for "pyramidal", -0.1 gives the eigenvalues 0.9 and
// 1.3, a valid covariance, so "not positive semi-definite" would be wrong.
func.func @block_noise_gamma_negative(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op gamma -1.000000e-01 must be >= 0}}
  %0 = msdd.block_noise %n {gamma = -0.1 : f64} : (tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @block_noise_gamma_nan(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.block_noise' op gamma nan must be >= 0}}
  %0 = msdd.block_noise %n {gamma = 0x7FF8000000000000 : f64, covariance = "paper_code"} : (tensor<1x3x16x16xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @block_noise_bad_result(%n: tensor<1x3x16x16xf32>) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.block_noise' op result must have shape [1, 3, 16, 16] but has [1, 3, 8, 8]}}
  %0 = msdd.block_noise %n {gamma = 0.25 : f64} : (tensor<1x3x16x16xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @noise_mix_operands(%x: tensor<1x3x16x16xf32>, %n: tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.noise_mix' op every operand must have shape [1, 3, 16, 16] but has [1, 3, 8, 8]}}
  %0 = msdd.noise_mix %x, %n {alpha = 0.8 : f64, beta = 0.6 : f64} : (tensor<1x3x16x16xf32>, tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @noise_mix_bad_result(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.noise_mix' op result must have shape [1, 3, 8, 8] but has [1, 3, 16, 16]}}
  %0 = msdd.noise_mix %x, %x {alpha = 0.8 : f64, beta = 0.6 : f64} : (tensor<1x3x8x8xf32>, tensor<1x3x8x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// Broadcasting is not allowed.
func.func @euler_step_operands(%x: tensor<2x3x8x8xf32>, %v: tensor<1x3x8x8xf32>) -> tensor<2x3x8x8xf32> {
  // expected-error @+1 {{'msdd.euler_step' op every operand must have shape [2, 3, 8, 8] but has [1, 3, 8, 8]}}
  %0 = msdd.euler_step %x, %v {t_from = 1.0 : f64, t_to = 0.5 : f64} : (tensor<2x3x8x8xf32>, tensor<1x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  return %0 : tensor<2x3x8x8xf32>
}

// -----

func.func @euler_step_bad_result(%x: tensor<2x3x8x8xf32>) -> tensor<3x8x8xf32> {
  // expected-error @+1 {{'msdd.euler_step' op result must have shape [2, 3, 8, 8] but has [3, 8, 8]}}
  %0 = msdd.euler_step %x, %x {t_from = 1.0 : f64, t_to = 0.5 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<3x8x8xf32>
  return %0 : tensor<3x8x8xf32>
}

// -----

func.func @cfg_combine_operands(%u: tensor<2x3x8x8xf32>, %c: tensor<2x3x8x4xf32>) -> tensor<2x3x8x8xf32> {
  // expected-error @+1 {{'msdd.cfg_combine' op every operand must have shape [2, 3, 8, 8] but has [2, 3, 8, 4]}}
  %0 = msdd.cfg_combine %u, %c {guidance_scale = 3.0 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x4xf32>) -> tensor<2x3x8x8xf32>
  return %0 : tensor<2x3x8x8xf32>
}

// -----

func.func @cfg_combine_bad_result(%u: tensor<2x3x8x8xf32>) -> tensor<4x3x8x8xf32> {
  // expected-error @+1 {{'msdd.cfg_combine' op result must have shape [2, 3, 8, 8] but has [4, 3, 8, 8]}}
  %0 = msdd.cfg_combine %u, %u {guidance_scale = 3.0 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<4x3x8x8xf32>
  return %0 : tensor<4x3x8x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// multiscale_sample: two scales 8 -> 16, each split breaks one thing
//===----------------------------------------------------------------------===//

// The well-formed sampler the splits below break one thing of (they name one denoiser for
// both scales: the checks they exercise come before the per-scale shape checks).
func.func private @denoiser8(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_ok(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  %0 = msdd.multiscale_sample [@denoiser8, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_no_scales(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op needs at least one scale}}
  %0 = msdd.multiscale_sample [@denoiser](%l, %n, %seed) {resolutions = array<i64>, steps = array<i64>, window_start = array<f64>, window_end = array<f64>, tau_start = array<f64>, tau_end = array<f64>, alpha = array<f64>, beta = array<f64>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_steps_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op steps has 1 entries, expected 2}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 4>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_window_start_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op window_start has 3 entries, expected 2}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5, 0.25>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_window_end_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op window_end has 1 entries, expected 2}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_tau_start_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op tau_start has 0 entries, expected 2}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_tau_end_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op tau_end has 1 entries, expected 2}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// alpha and beta have one entry per transition between scales, not per scale.
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_alpha_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op alpha has 2 entries, expected 1}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5, 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_beta_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op beta has 0 entries, expected 1}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_zero_steps(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op scale 1 has 0 steps}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 0>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x24x24xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x24x24xf32>
func.func @sampler_resolution_not_doubling(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x24x24xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op resolution 24 of scale 1 is not twice the previous 8}}
  %0 = msdd.multiscale_sample [@denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 24>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x24x24xf32>
  return %0 : tensor<1x3x24x24xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_window_increasing(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op window 1 runs from 5.000000e-01 to 7.500000e-01; time must decrease}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.75>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_window_empty(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op window 0 runs from 5.000000e-01 to 5.000000e-01; time must decrease}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 0.5, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<3x16x16xf32>
func.func @sampler_result_not_image(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op result (an image [B, C, H, W]) must have rank 4 but has rank 3}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<3x16x16xf32>
  return %0 : tensor<3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x8xf32>
func.func @sampler_result_size(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op result is 16x8 but the last scale is 16}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x8xf32>
  return %0 : tensor<1x3x16x8xf32>
}

// -----

func.func private @denoiser(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_result_last_scale(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op result is 8x8 but the last scale is 16}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_null_latent(%l: tensor<1x8xf32>, %n: tensor<1x4xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op latent and null_latent must have the same type, got 'tensor<1x8xf32>' and 'tensor<1x4xf32>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x4xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// Both branches call the same denoiser: the element types must match too.
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_null_latent_element_type(%l: tensor<1x8xf32>, %n: tensor<1x8xf64>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op latent and null_latent must have the same type, got 'tensor<1x8xf32>' and 'tensor<1x8xf64>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf64>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @sampler_missing_denoiser(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' is not a function in this module}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_misspelt_denoiser(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoise' is not a function in this module}}
  %0 = msdd.multiscale_sample [@denoise, @denoise](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// The symbol exists but is not a func.func.
memref.global "private" constant @denoiser : memref<f32> = dense<0.0>
func.func @sampler_denoiser_not_a_function(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' is not a function in this module}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// The denoiser takes no latent.
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_denoiser_two_arguments(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' must take (x, tau, latent) and return one velocity}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> (tensor<1x3x16x16xf32>, tensor<1x3x16x16xf32>)
func.func @sampler_denoiser_two_results(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' must take (x, tau, latent) and return one velocity}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x16xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_denoiser_latent_type(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' takes a latent of type 'tensor<1x16xf32>', expected 'tensor<1x8xf32>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// The CFG pair's denoiser takes batch 2B.
func.func private @d(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_cfg_denoiser_batch(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op cfg denoiser 'd' takes a latent of type 'tensor<1x8xf32>', expected 'tensor<2x8xf32>'}}
  %0 = msdd.multiscale_sample [@d](%l, %n, %seed) {resolutions = array<i64: 8>, steps = array<i64: 2>, window_start = array<f64: 1.0>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64>, beta = array<f64>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64, cfg_denoisers = [@d]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func private @d(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_cfg_denoisers_without_guidance(%l: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op has cfg_denoisers but guidance_scale 1 (no unconditional branch)}}
  %0 = msdd.multiscale_sample [@d](%l, %l, %seed) {resolutions = array<i64: 8>, steps = array<i64: 2>, window_start = array<f64: 1.0>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64>, beta = array<f64>, guidance_scale = 1.0 : f64, gamma = 0.25 : f64, cfg_denoisers = [@d]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func private @d(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_cfg_denoisers_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op cfg_denoisers has 2 entries, expected 1}}
  %0 = msdd.multiscale_sample [@d](%l, %n, %seed) {resolutions = array<i64: 8>, steps = array<i64: 2>, window_start = array<f64: 1.0>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64>, beta = array<f64>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64, cfg_denoisers = [@d, @d]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

// The element type is part of the latent's type.
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_denoiser_latent_element_type(%l: tensor<1x8xf64>, %n: tensor<1x8xf64>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' takes a latent of type 'tensor<1x8xf32>', expected 'tensor<1x8xf64>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf64>, tensor<1x8xf64>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func @sampler_latent_f16(%l: tensor<1x8xf16>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op operand #0 must be statically shaped f32 or f64 tensor, but got 'tensor<1x8xf16>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %l, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf16>, tensor<1x8xf16>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

func.func @mse_target_shape(%p: tensor<4x3x8x8xf32>, %t: tensor<4x3x8x4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.mse' op target must have shape [4, 3, 8, 8] but has [4, 3, 8, 4]}}
  %0 = msdd.mse %p, %t : (tensor<4x3x8x8xf32>, tensor<4x3x8x4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Losses are scalars: tensor<f32>, not tensor<1xf32>.
func.func @mse_bad_result(%p: tensor<4x8xf32>) -> tensor<1xf32> {
  // expected-error @+1 {{'msdd.mse' op result must have shape [] but has [1]}}
  %0 = msdd.mse %p, %p : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<1xf32>
  return %0 : tensor<1xf32>
}

// -----

func.func @weighted_mse_target_shape(%p: tensor<4x8xf32>, %t: tensor<8x4xf32>, %w: tensor<4xf32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.weighted_mse' op target must have shape [4, 8] but has [8, 4]}}
  %0 = msdd.weighted_mse %p, %t, %w : (tensor<4x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @weighted_mse_no_batch(%p: tensor<f32>, %w: tensor<1xf32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.weighted_mse' op prediction must have a batch dimension}}
  %0 = msdd.weighted_mse %p, %p, %w : (tensor<f32>, tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @weighted_mse_weight_shape(%p: tensor<4x8xf32>, %w: tensor<4x1xf32>) -> tensor<f32> {
  // expected-error @+1 {{'msdd.weighted_mse' op weight must have shape [4] but has [4, 1]}}
  %0 = msdd.weighted_mse %p, %p, %w : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @weighted_mse_bad_result(%p: tensor<4x8xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'msdd.weighted_mse' op result must have shape [] but has [4]}}
  %0 = msdd.weighted_mse %p, %p, %w : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Each scale's denoiser works at that scale's resolution.
func.func private @denoiser(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
func.func @sampler_wrong_scale_shape(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'denoiser' of scale 0 must take and return x of type 'tensor<1x3x8x8xf32>'}}
  %0 = msdd.multiscale_sample [@denoiser, @denoiser](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

func.func private @d8(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_denoiser_count(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64) -> tensor<1x3x16x16xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoisers has 1 entries, expected 2}}
  %0 = msdd.multiscale_sample [@d8](%l, %n, %seed) {resolutions = array<i64: 8, 16>, steps = array<i64: 2, 2>, window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.5, 0.0>, tau_start = array<f64: 1.0, 1.0>, tau_end = array<f64: 0.0, 0.0>, alpha = array<f64: 0.5>, beta = array<f64: 0.8>, guidance_scale = 3.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// Shared weights are passed as params and must match the denoisers' trailing arguments.
func.func private @d8w(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>, tensor<4x4xf32>) -> tensor<1x3x8x8xf32>
func.func @sampler_param_type(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64, %w: tensor<4x5xf32>) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.multiscale_sample' op denoiser 'd8w' takes parameter 0 of type 'tensor<4x4xf32>' but gets 'tensor<4x5xf32>'}}
  %0 = msdd.multiscale_sample [@d8w](%l, %n, %seed) params(%w : tensor<4x5xf32>) {resolutions = array<i64: 8>, steps = array<i64: 1>, window_start = array<f64: 1.0>, window_end = array<f64: 0.0>, tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>, alpha = array<f64>, beta = array<f64>, guidance_scale = 1.0 : f64, gamma = 0.25 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @concat_mismatch(%a: tensor<2x3x8xf32>, %b: tensor<2x5x4xf32>) -> tensor<2x8x8xf32> {
  // expected-error @+1 {{'msdd.concat' op input 1 has shape [2, 5, 4], which does not match the result [2, 8, 8] outside axis 1}}
  %c = msdd.concat %a, %b {axis = 1 : i64} : (tensor<2x3x8xf32>, tensor<2x5x4xf32>) -> tensor<2x8x8xf32>
  return %c : tensor<2x8x8xf32>
}

// -----

func.func @concat_wrong_total(%a: tensor<2x3x8xf32>, %b: tensor<2x5x8xf32>) -> tensor<2x9x8xf32> {
  // expected-error @+1 {{'msdd.concat' op inputs sum to 8 along axis 1 but the result has 9}}
  %c = msdd.concat %a, %b {axis = 1 : i64} : (tensor<2x3x8xf32>, tensor<2x5x8xf32>) -> tensor<2x9x8xf32>
  return %c : tensor<2x9x8xf32>
}

// -----

func.func @concat_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'msdd.concat' op axis 2 is out of range for rank 2}}
  %c = msdd.concat %a {axis = 2 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %c : tensor<2x3xf32>
}

// -----

func.func @slice_out_of_range(%a: tensor<2x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'msdd.slice' op elements 6 to 9 of axis 1 are out of range for size 8}}
  %s = msdd.slice %a {axis = 1 : i64, start = 6 : i64} : (tensor<2x8xf32>) -> tensor<2x4xf32>
  return %s : tensor<2x4xf32>
}

// -----

func.func @slice_other_dims(%a: tensor<2x8xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'msdd.slice' op result [3, 4] must equal the input [2, 8] outside axis 1}}
  %s = msdd.slice %a {axis = 1 : i64, start = 0 : i64} : (tensor<2x8xf32>) -> tensor<3x4xf32>
  return %s : tensor<3x4xf32>
}

// -----

func.func @scale_transition_shape(%x: tensor<1x3x4x4xf32>, %s: i64) -> tensor<1x3x8x4xf32> {
  // expected-error @+1 {{'msdd.scale_transition' op result must have shape [1, 3, 8, 8] but has [1, 3, 8, 4]}}
  %0 = msdd.scale_transition %x, %s, %s {alpha = 0.6 : f64, beta = 0.7 : f64, gamma = 0.25 : f64} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x4xf32>
  return %0 : tensor<1x3x8x4xf32>
}

// -----

func.func @scale_transition_gamma(%x: tensor<1x3x4x4xf32>, %s: i64) -> tensor<1x3x8x8xf32> {
  // expected-error @+1 {{'msdd.scale_transition' op gamma 5.000000e-01 gives a covariance that is not positive semi-definite for "pyramidal"}}
  %0 = msdd.scale_transition %x, %s, %s {alpha = 0.6 : f64, beta = 0.7 : f64, gamma = 0.5 : f64} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf32>
  return %0 : tensor<1x3x8x8xf32>
}

// -----

func.func @scale_transition_types(%x: tensor<1x3x4x4xf32>, %s: i64) -> tensor<1x3x8x8xf64> {
  // expected-error @+1 {{'msdd.scale_transition' op input and result must have the same element type}}
  %0 = msdd.scale_transition %x, %s, %s {alpha = 0.6 : f64, beta = 0.7 : f64, gamma = 0.25 : f64} : (tensor<1x3x4x4xf32>) -> tensor<1x3x8x8xf64>
  return %0 : tensor<1x3x8x8xf64>
}

// -----

func.func @conv_rank(%x: tensor<4x9xf32>, %w: tensor<6x4xf32>) -> tensor<4x6xf32> {
  // expected-error @+1 {{'msdd.conv' op input must have rank >= 3 ([N, C, spatial...]) but has rank 2}}
  %0 = msdd.conv %x, %w {strides = array<i64>, dilations = array<i64>, pads_begin = array<i64>, pads_end = array<i64>} : (tensor<4x9xf32>, tensor<6x4xf32>) -> tensor<4x6xf32>
  return %0 : tensor<4x6xf32>
}

// -----

func.func @conv_strides(%x: tensor<1x4x9x9xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x7x7xf32> {
  // expected-error @+1 {{'msdd.conv' op strides must have 2 entries but has 1}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>} : (tensor<1x4x9x9xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x7x7xf32>
  return %0 : tensor<1x6x7x7xf32>
}

// -----

func.func @conv_pads(%x: tensor<1x4x9x9xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x7x7xf32> {
  // expected-error @+1 {{'msdd.conv' op pads must be >= 0, got [-1, 0]}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: -1, 0>, pads_end = array<i64: 0, 0>} : (tensor<1x4x9x9xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x7x7xf32>
  return %0 : tensor<1x6x7x7xf32>
}

// -----

func.func @conv_groups(%x: tensor<1x4x9x9xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x7x7xf32> {
  // expected-error @+1 {{'msdd.conv' op input channels 4 are not divisible by groups 3}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>, groups = 3 : i64} : (tensor<1x4x9x9xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x7x7xf32>
  return %0 : tensor<1x6x7x7xf32>
}

// -----

func.func @conv_weight(%x: tensor<1x4x9x9xf32>, %w: tensor<6x3x3x3xf32>) -> tensor<1x6x7x7xf32> {
  // expected-error @+1 {{'msdd.conv' op weight [6, 3, 3, 3] does not match 4 input channels in 1 groups}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>} : (tensor<1x4x9x9xf32>, tensor<6x3x3x3xf32>) -> tensor<1x6x7x7xf32>
  return %0 : tensor<1x6x7x7xf32>
}

// -----

func.func @conv_output_groups(%x: tensor<1x4x9x9xf32>, %w: tensor<5x2x3x3xf32>) -> tensor<1x5x7x7xf32> {
  // expected-error @+1 {{'msdd.conv' op output channels 5 are not divisible by groups 2}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>, groups = 2 : i64} : (tensor<1x4x9x9xf32>, tensor<5x2x3x3xf32>) -> tensor<1x5x7x7xf32>
  return %0 : tensor<1x5x7x7xf32>
}

// -----

func.func @conv_kernel(%x: tensor<1x4x3x3xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x1x1xf32> {
  // expected-error @+1 {{'msdd.conv' op the kernel [3, 3] (dilated) is larger than the padded input [3, 3]}}
  %0 = msdd.conv %x, %w {strides = array<i64: 1, 1>, dilations = array<i64: 2, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>} : (tensor<1x4x3x3xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x1x1xf32>
  return %0 : tensor<1x6x1x1xf32>
}

// -----

func.func @conv_result(%x: tensor<1x4x9x9xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x9x9xf32> {
  // expected-error @+1 {{'msdd.conv' op result must have shape [1, 6, 4, 7] but has [1, 6, 9, 9]}}
  %0 = msdd.conv %x, %w {strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 0, 0>, pads_end = array<i64: 0, 0>} : (tensor<1x4x9x9xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x9x9xf32>
  return %0 : tensor<1x6x9x9xf32>
}

// -----

func.func @conv_transpose_pads(%x: tensor<1x6x5x5xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x2x9x9xf32> {
  // expected-error @+1 {{'msdd.conv_transpose' op pads_begin must have 2 entries but has 3}}
  %0 = msdd.conv_transpose %x, %w {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 1, 1, 1>} : (tensor<1x6x5x5xf32>, tensor<6x2x3x3xf32>) -> tensor<1x2x9x9xf32>
  return %0 : tensor<1x2x9x9xf32>
}

// -----

func.func @conv_transpose_weight(%x: tensor<1x6x5x5xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x2x9x9xf32> {
  // expected-error @+1 {{'msdd.conv_transpose' op weight [4, 2, 3, 3] does not match 6 input channels in 1 groups}}
  %0 = msdd.conv_transpose %x, %w {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 1, 1>} : (tensor<1x6x5x5xf32>, tensor<4x2x3x3xf32>) -> tensor<1x2x9x9xf32>
  return %0 : tensor<1x2x9x9xf32>
}

// -----

func.func @conv_transpose_result(%x: tensor<1x6x5x5xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x3x9x9xf32> {
  // expected-error @+1 {{'msdd.conv_transpose' op result must have batch 1 and 4 channels but has shape [1, 3, 9, 9]}}
  %0 = msdd.conv_transpose %x, %w {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads_begin = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x6x5x5xf32>, tensor<6x2x3x3xf32>) -> tensor<1x3x9x9xf32>
  return %0 : tensor<1x3x9x9xf32>
}

// -----

func.func @flash_attention_mixed(%q: tensor<1x1x4x16xf16>, %o: memref<1x1x4x16xf32>) {
  // expected-error @+1 {{'msdd.flash_attention' op query must be a ranked memref like init}}
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16> into memref<1x1x4x16xf32>
  return
}

// -----

func.func @flash_attention_bf16_factors(%q: tensor<1x1x4x16xbf16>, %o: tensor<1x1x4x16xf32>) -> tensor<1x1x4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op query must have f16 or f32 elements}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x16xbf16>, tensor<1x1x4x16xbf16>, tensor<1x1x4x16xbf16> into tensor<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return %r : tensor<1x1x4x16xf32>
}

// -----

func.func @flash_attention_mixed_factors(%q: tensor<1x1x4x16xf16>, %k: tensor<1x1x4x16xf32>, %o: tensor<1x1x4x16xf32>) -> tensor<1x1x4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op query, key and value must have the same element type}}
  %r = msdd.flash_attention %q, %k, %k into %o {scale = 0.25 : f64} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32> into tensor<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return %r : tensor<1x1x4x16xf32>
}

// -----

func.func @flash_attention_init_type(%q: tensor<1x1x4x16xf16>, %o: tensor<1x1x4x16xf16>) -> tensor<1x1x4x16xf16> {
  // expected-error @+1 {{'msdd.flash_attention' op init must have f32 elements}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16> into tensor<1x1x4x16xf16> -> tensor<1x1x4x16xf16>
  return %r : tensor<1x1x4x16xf16>
}

// -----

func.func @flash_attention_rank(%q: tensor<4x16xf16>, %o: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op query must have a static shape of rank 4}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<4x16xf16>, tensor<4x16xf16>, tensor<4x16xf16> into tensor<4x16xf32> -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

func.func @flash_attention_shapes(%q: tensor<1x2x4x16xf16>, %k: tensor<1x2x6x16xf16>, %v: tensor<1x2x5x16xf16>, %o: tensor<1x2x4x16xf32>) -> tensor<1x2x4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op query [1, 2, 4, 16], key [1, 2, 6, 16] and value [1, 2, 5, 16] do not fit [B, H, Lq, D], [B, H, Lk, D], [B, H, Lk, Dv]}}
  %r = msdd.flash_attention %q, %k, %v into %o {scale = 0.25 : f64} : tensor<1x2x4x16xf16>, tensor<1x2x6x16xf16>, tensor<1x2x5x16xf16> into tensor<1x2x4x16xf32> -> tensor<1x2x4x16xf32>
  return %r : tensor<1x2x4x16xf32>
}

// -----

func.func @flash_attention_init_shape(%q: tensor<1x2x4x16xf16>, %o: tensor<1x2x5x16xf32>) -> tensor<1x2x5x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op init must have shape [1, 2, 4, 16] but has [1, 2, 5, 16]}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x2x4x16xf16>, tensor<1x2x4x16xf16>, tensor<1x2x4x16xf16> into tensor<1x2x5x16xf32> -> tensor<1x2x5x16xf32>
  return %r : tensor<1x2x5x16xf32>
}

// -----

func.func @flash_attention_head_dim(%q: tensor<1x1x4x8xf16>, %o: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op needs a head dimension that is a multiple of 16 (has 8) and a value dimension that is a multiple of 8 (has 8)}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16> into tensor<1x1x4x8xf32> -> tensor<1x1x4x8xf32>
  return %r : tensor<1x1x4x8xf32>
}

// -----

// TF32 factors (f32) take 8 head dimensions per product.
func.func @flash_attention_tf32_head_dim(%q: tensor<1x1x4x12xf32>, %o: tensor<1x1x4x12xf32>) -> tensor<1x1x4x12xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op needs a head dimension that is a multiple of 8 (has 12) and a value dimension that is a multiple of 8 (has 12)}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x12xf32>, tensor<1x1x4x12xf32>, tensor<1x1x4x12xf32> into tensor<1x1x4x12xf32> -> tensor<1x1x4x12xf32>
  return %r : tensor<1x1x4x12xf32>
}

// -----

func.func @flash_attention_scale(%q: tensor<1x1x4x16xf16>, %o: tensor<1x1x4x16xf32>) -> tensor<1x1x4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op scale must be positive}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.0 : f64} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16> into tensor<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return %r : tensor<1x1x4x16xf32>
}

// -----

func.func @flash_attention_no_result(%q: tensor<1x1x4x16xf16>, %o: tensor<1x1x4x16xf32>) {
  // expected-error @+1 {{'msdd.flash_attention' op on tensors must return one tensor of init's type}}
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16> into tensor<1x1x4x16xf32>
  return
}

// -----

func.func @flash_attention_memref_result(%q: memref<1x1x4x16xf16>, %o: memref<1x1x4x16xf32>) {
  // expected-error @+1 {{'msdd.flash_attention' op on memrefs must not return anything}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x4x16xf16>, memref<1x1x4x16xf16>, memref<1x1x4x16xf16> into memref<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return
}

// -----

func.func @flash_attention_split_f16(%q: tensor<1x1x4x16xf16>, %o: tensor<1x1x4x16xf32>) -> tensor<1x1x4x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op split_factors needs f32 factors (3xTF32), not 'f16'}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64, split_factors} : tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16>, tensor<1x1x4x16xf16> into tensor<1x1x4x16xf32> -> tensor<1x1x4x16xf32>
  return %r : tensor<1x1x4x16xf32>
}
