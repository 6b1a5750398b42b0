// RUN: msdd-opt %s --split-input-file --msdd-expand-sampler | FileCheck %s

// Two scales: 4 teacher steps at 8x8 as a loop, a block-noise transition, one distilled step
// at 16x16 as straight-line code; CFG calls both branches.
// CHECK-LABEL: func.func @sample
// CHECK: %[[C0:.+]] = arith.constant 0 : i64
// CHECK: %[[X0:.+]] = msdd.random_normal %arg2, %[[C0]] : tensor<1x3x8x8xf32>
// CHECK: %[[X1:.+]] = scf.for %[[K:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[X:.+]] = %[[X0]])
// CHECK:   arith.sitofp
// CHECK:   %[[TAU:.+]] = linalg.fill
// CHECK:   %[[VC:.+]] = {{(func.)?}}call @d8(%[[X]], %[[TAU]], %arg0, %arg3)
// CHECK:   %[[VU:.+]] = {{(func.)?}}call @d8(%[[X]], %[[TAU]], %arg1, %arg3)
// CHECK:   %[[V:.+]] = msdd.cfg_combine %[[VU]], %[[VC]] {guidance_scale = 2.000000e+00 : f64}
// CHECK:   %[[NEXT:.+]] = msdd.euler_step %[[X]], %[[V]] {t_from = 0.000000e+00 : f64, t_to = -6.250000e-02 : f64}
// CHECK:   scf.yield %[[NEXT]]
// CHECK: %[[UP:.+]] = msdd.upsample_nearest %[[X1]] {{.*}}-> tensor<1x3x16x16xf32>
// CHECK: %[[C1:.+]] = arith.constant 1 : i64
// CHECK: %[[Z:.+]] = msdd.random_normal %arg2, %[[C1]] {stream = 1 : i32} : tensor<1x3x16x16xf32>
// CHECK: %[[N:.+]] = msdd.block_noise %[[Z]] {gamma = 0.33333333333333331 : f64}
// CHECK: %[[MIX:.+]] = msdd.noise_mix %[[UP]], %[[N]] {alpha = 6.000000e-01 : f64, beta = 0.69281999999999999 : f64}
// CHECK-NOT: scf.for
// CHECK: {{(func.)?}}call @d16(%[[MIX]]
// CHECK: {{(func.)?}}call @d16(%[[MIX]]
// CHECK: msdd.cfg_combine
// CHECK: %[[OUT:.+]] = msdd.euler_step %[[MIX]], %{{.+}} {t_from = 0.000000e+00 : f64, t_to = -5.000000e-01 : f64}
// CHECK: return %[[OUT]]
func.func private @d8(tensor<1x3x8x8xf32>, tensor<1xf32>, tensor<1x8xf32>, tensor<4xf32>) -> tensor<1x3x8x8xf32>
func.func private @d16(tensor<1x3x16x16xf32>, tensor<1xf32>, tensor<1x8xf32>, tensor<4xf32>) -> tensor<1x3x16x16xf32>
func.func @sample(%l: tensor<1x8xf32>, %n: tensor<1x8xf32>, %seed: i64, %w: tensor<4xf32>) -> tensor<1x3x16x16xf32> {
  %0 = msdd.multiscale_sample [@d8, @d16](%l, %n, %seed) params(%w : tensor<4xf32>) {
      resolutions = array<i64: 8, 16>, steps = array<i64: 4, 1>,
      window_start = array<f64: 1.0, 0.5>, window_end = array<f64: 0.75, 0.0>,
      tau_start = array<f64: 1.0, 0.6>, tau_end = array<f64: 0.6, 0.0>,
      alpha = array<f64: 0.6>, beta = array<f64: 0.69282>,
      guidance_scale = 2.0 : f64, gamma = 0.3333333333333333 : f64}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x3x16x16xf32>
  return %0 : tensor<1x3x16x16xf32>
}

// -----

// Guidance scale 1: the unconditional branch is not evaluated.
// CHECK-LABEL: func.func @no_cfg
// CHECK: call @d4
// CHECK-NOT: call
// CHECK-NOT: msdd.cfg_combine
func.func private @d4(tensor<2x3x4x4xf32>, tensor<2xf32>, tensor<2x8xf32>) -> tensor<2x3x4x4xf32>
func.func @no_cfg(%l: tensor<2x8xf32>, %seed: i64) -> tensor<2x3x4x4xf32> {
  %0 = msdd.multiscale_sample [@d4](%l, %l, %seed) {
      resolutions = array<i64: 4>, steps = array<i64: 1>,
      window_start = array<f64: 1.0>, window_end = array<f64: 0.0>,
      tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>,
      alpha = array<f64>, beta = array<f64>, guidance_scale = 1.0 : f64, gamma = 0.3333333333333333 : f64}
      : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x3x4x4xf32>
  return %0 : tensor<2x3x4x4xf32>
}

// -----

// cfg_denoisers: both CFG branches in one call at batch 2B (x and tau twice, the latent then
// the null latent); the first B velocities are the conditional ones.
// CHECK-LABEL: func.func @paired
// CHECK: %[[TAU:.+]] = linalg.fill
// CHECK: %[[X2:.+]] = msdd.concat %[[X:.+]], %[[X]] {axis = 0 : i64} : {{.*}} -> tensor<4x3x4x4xf32>
// CHECK: %[[T2:.+]] = msdd.concat %[[TAU]], %[[TAU]] {axis = 0 : i64} : {{.*}} -> tensor<4xf32>
// CHECK: %[[L2:.+]] = msdd.concat %arg0, %arg1 {axis = 0 : i64} : {{.*}} -> tensor<4x8xf32>
// CHECK: %[[V2:.+]] = {{(func.)?}}call @pair4(%[[X2]], %[[T2]], %[[L2]])
// CHECK-DAG: %[[VU:.+]] = msdd.slice %[[V2]] {axis = 0 : i64, start = 2 : i64}
// CHECK-DAG: %[[VC:.+]] = msdd.slice %[[V2]] {axis = 0 : i64, start = 0 : i64}
// CHECK: msdd.cfg_combine %[[VU]], %[[VC]] {guidance_scale = 3.000000e+00 : f64}
// CHECK-NOT: call @d4
func.func private @d4(tensor<2x3x4x4xf32>, tensor<2xf32>, tensor<2x8xf32>) -> tensor<2x3x4x4xf32>
func.func private @pair4(tensor<4x3x4x4xf32>, tensor<4xf32>, tensor<4x8xf32>) -> tensor<4x3x4x4xf32>
func.func @paired(%l: tensor<2x8xf32>, %n: tensor<2x8xf32>, %seed: i64) -> tensor<2x3x4x4xf32> {
  %0 = msdd.multiscale_sample [@d4](%l, %n, %seed) {
      resolutions = array<i64: 4>, steps = array<i64: 1>,
      window_start = array<f64: 1.0>, window_end = array<f64: 0.0>,
      tau_start = array<f64: 1.0>, tau_end = array<f64: 0.0>,
      alpha = array<f64>, beta = array<f64>, guidance_scale = 3.0 : f64, gamma = 0.3333333333333333 : f64,
      cfg_denoisers = [@pair4]}
      : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x3x4x4xf32>
  return %0 : tensor<2x3x4x4xf32>
}
