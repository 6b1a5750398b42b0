// RUN: msdd-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(msdd-fuse-scale-transitions))" | FileCheck %s
// RUN: msdd-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(msdd-fuse-scale-transitions, msdd-lower-to-linalg, canonicalize, cse))" | FileCheck %s --check-prefix=LINALG

// The chain msdd-expand-sampler emits between scales becomes one op with its attributes.
// CHECK-LABEL: func.func @transition
// CHECK-SAME: (%[[X:.+]]: tensor<2x3x4x4xf32>, %[[SEED:.+]]: i64, %[[STEP:.+]]: i64)
// CHECK-NEXT: %[[T:.+]] = msdd.scale_transition %[[X]], %[[SEED]], %[[STEP]] {alpha = 6.000000e-01 : f64, beta = 0.69282032302755103 : f64, covariance = "paper_code", gamma = 2.500000e-01 : f64, stream = 1 : i32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x8x8xf32>
// CHECK-NEXT: return %[[T]]
// One kernel: no reduction for the block means, no stored noise or upsampled image.
// LINALG-LABEL: func.func @transition
// LINALG-COUNT-1: linalg.generic
// LINALG-NOT: linalg.generic
// LINALG-NOT: reduction
// LINALG: return
func.func @transition(%x: tensor<2x3x4x4xf32>, %seed: i64, %step: i64) -> tensor<2x3x8x8xf32> {
  %up = msdd.upsample_nearest %x : (tensor<2x3x4x4xf32>) -> tensor<2x3x8x8xf32>
  %z = msdd.random_normal %seed, %step {stream = 1 : i32} : tensor<2x3x8x8xf32>
  %n = msdd.block_noise %z {gamma = 0.25 : f64, covariance = "paper_code"} : (tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  %m = msdd.noise_mix %up, %n {alpha = 0.6 : f64, beta = 0.69282032302755103 : f64} : (tensor<2x3x8x8xf32>, tensor<2x3x8x8xf32>) -> tensor<2x3x8x8xf32>
  return %m : tensor<2x3x8x8xf32>
}

// -----

// Left alone: the noise is also returned, or the upsampling factor is not 2.
// CHECK-LABEL: func.func @shared_noise
// CHECK-NOT: msdd.scale_transition
// CHECK: msdd.noise_mix
// CHECK-LABEL: func.func @factor_four
// CHECK-NOT: msdd.scale_transition
// CHECK: msdd.noise_mix
func.func @shared_noise(%x: tensor<1x1x2x2xf32>, %seed: i64, %step: i64) -> (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) {
  %up = msdd.upsample_nearest %x : (tensor<1x1x2x2xf32>) -> tensor<1x1x4x4xf32>
  %z = msdd.random_normal %seed, %step : tensor<1x1x4x4xf32>
  %n = msdd.block_noise %z {gamma = 0.25 : f64} : (tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  %m = msdd.noise_mix %up, %n {alpha = 0.6 : f64, beta = 0.7 : f64} : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  return %m, %n : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
}
func.func @factor_four(%x: tensor<1x1x2x2xf32>, %seed: i64, %step: i64) -> tensor<1x1x8x8xf32> {
  %up = msdd.upsample_nearest %x {factor = 4 : i64} : (tensor<1x1x2x2xf32>) -> tensor<1x1x8x8xf32>
  %z = msdd.random_normal %seed, %step : tensor<1x1x8x8xf32>
  %n = msdd.block_noise %z {gamma = 0.25 : f64} : (tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32>
  %m = msdd.noise_mix %up, %n {alpha = 0.6 : f64, beta = 0.7 : f64} : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32>
  return %m : tensor<1x1x8x8xf32>
}
