// RUN: msdd-opt %s --split-input-file --msdd-hoist-call-invariant-code | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-hoist-call-invariant-code --cse | FileCheck %s --check-prefix=CSE

// A sampler loop: the weight's rounding and the latent's stacking and embedding are the
// same at every step, the image's work is not. The stacking leaves the loop first; the
// rounding and the embedding move above the loop and cross the call as new arguments;
// the weight and the latent, no longer read in the callee, are dropped. The product's
// zero fill depends on constants only and stays.
// CHECK-LABEL: func.func private @denoise
// CHECK-SAME: (%[[X:.+]]: tensor<4x8xf32> {msdd.name = "x"}, %[[RW:.+]]: tensor<8x8xbf16> {msdd.name = "w.hoisted"}, %[[EMB:.+]]: tensor<4x8xf32> {msdd.name = "latent.hoisted"})
// CHECK: %[[XB:.+]] = linalg.generic {{.+}} ins(%[[X]] : tensor<4x8xf32>)
// CHECK: linalg.fill
// CHECK: linalg.matmul ins(%[[XB]], %[[RW]] : tensor<4x8xbf16>, tensor<8x8xbf16>)
// CHECK-NOT: arith.mulf
// CHECK: linalg.add ins(%{{.+}}, %[[EMB]] : tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%[[LATENT:.+]]: tensor<2x8xf32>, %[[W:.+]]: tensor<8x8xf32>, %[[X0:.+]]: tensor<4x8xf32>)
// CHECK: %[[STACK:.+]] = tensor.insert_slice %[[LATENT]] into %{{.+}}[2, 0]
// CHECK: %[[ROUNDED:.+]] = linalg.generic {{.+}} ins(%[[W]] : tensor<8x8xf32>)
// CHECK: %[[EMBEDDED:.+]] = linalg.generic {{.+}} ins(%[[STACK]] : tensor<4x8xf32>)
// CHECK: scf.for
// CHECK: call @denoise(%{{.+}}, %[[ROUNDED]], %[[EMBEDDED]]) : (tensor<4x8xf32>, tensor<8x8xbf16>, tensor<4x8xf32>)
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func private @denoise(%x: tensor<4x8xf32> {msdd.name = "x"}, %latent: tensor<4x8xf32> {msdd.name = "latent"}, %w: tensor<8x8xf32> {msdd.name = "w"}) -> tensor<4x8xf32> attributes {msdd.outline} {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xbf16>
  %rw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x8xbf16>
  %ex = tensor.empty() : tensor<4x8xbf16>
  %xb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%ex : tensor<4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x8xbf16>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e48 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%xb, %rw : tensor<4x8xbf16>, tensor<8x8xbf16>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  %emb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%latent : tensor<4x8xf32>) outs(%e48 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.mulf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %sum = linalg.add ins(%p, %emb : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e48 : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %sum : tensor<4x8xf32>
}
func.func @decode(%latent: tensor<2x8xf32>, %w: tensor<8x8xf32>, %x0: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%x = %x0) -> tensor<4x8xf32> {
    %e = tensor.empty() : tensor<4x8xf32>
    %s0 = tensor.insert_slice %latent into %e[0, 0] [2, 8] [1, 1] : tensor<2x8xf32> into tensor<4x8xf32>
    %s1 = tensor.insert_slice %latent into %s0[2, 0] [2, 8] [1, 1] : tensor<2x8xf32> into tensor<4x8xf32>
    %d = func.call @denoise(%x, %s1, %w) : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    scf.yield %d : tensor<4x8xf32>
  }
  return %r : tensor<4x8xf32>
}

// -----

// Two callees (two scales) called once each with the same weight: each rounding moves
// up, and CSE leaves one. The image, passed to one call only, stays an argument.
// CHECK-LABEL: func.func private @scale0
// CHECK-SAME: (%{{.+}}: tensor<4x8xf32>, %{{.+}}: tensor<8x8xbf16> {msdd.name = "hoisted"})
// CHECK-LABEL: func.func private @scale1
// CHECK-SAME: (%{{.+}}: tensor<4x8xf32>, %{{.+}}: tensor<8x8xbf16> {msdd.name = "hoisted"})
// CSE-LABEL: func.func @two_scales
// CSE-COUNT-1: arith.truncf
// CSE-NOT: arith.truncf
// CSE: %[[A:.+]] = call @scale0(%{{.+}}, %[[R:.+]]) :
// CSE: call @scale1(%[[A]], %[[R]]) :
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func private @scale0(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xbf16>
  %rw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x8xbf16>
  %ex = tensor.empty() : tensor<4x8xbf16>
  %xb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%ex : tensor<4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x8xbf16>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e48 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%xb, %rw : tensor<4x8xbf16>, tensor<8x8xbf16>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %p : tensor<4x8xf32>
}
func.func private @scale1(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xbf16>
  %rw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x8xbf16>
  %ex = tensor.empty() : tensor<4x8xbf16>
  %xb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%ex : tensor<4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x8xbf16>
  %e48 = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e48 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %p = linalg.matmul ins(%xb, %rw : tensor<4x8xbf16>, tensor<8x8xbf16>) outs(%z : tensor<4x8xf32>) -> tensor<4x8xf32>
  return %p : tensor<4x8xf32>
}
func.func @two_scales(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> tensor<4x8xf32> {
  %a = func.call @scale0(%x, %w) : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %b = func.call @scale1(%a, %w) : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  return %b : tensor<4x8xf32>
}

// -----

// Left alone: a call under a branch (its work would run when the branch does not), a
// public callee (its signature is an entry point's), and a callee called once at the top
// level (nothing repeats). Only a reshape of the weight (cheap) never moves on its own.
// A weight's function that a product overwrites (its accumulator) stays with it.
// CHECK-LABEL: func.func private @branch_callee
// CHECK-SAME: (%{{.+}}: tensor<8x8xf32>)
// CHECK: arith.negf
// CHECK-LABEL: func.func @public_callee
// CHECK: arith.negf
// CHECK-LABEL: func.func private @once
// CHECK-SAME: (%{{.+}}: tensor<8x8xf32>)
// CHECK: arith.negf
// CHECK-LABEL: func.func private @reshape_only
// CHECK-SAME: (%{{.+}}: tensor<8x8xf32>)
// CHECK: tensor.collapse_shape
// CHECK-LABEL: func.func private @overwritten
// CHECK-SAME: (%{{.+}}: tensor<8x8xf32>, %{{.+}}: tensor<8x8xf32>)
// CHECK: arith.negf
// CHECK: linalg.matmul
// CHECK-LABEL: func.func @callers
// CHECK-NOT: arith.negf
// CHECK: scf.if
// CHECK: call @branch_callee(%{{.+}}) : (tensor<8x8xf32>)
// CHECK: call @public_callee
// CHECK: call @once(%{{.+}}) : (tensor<8x8xf32>)
// CHECK: scf.for
// CHECK: call @reshape_only(%{{.+}}) : (tensor<8x8xf32>)
// CHECK: call @overwritten(%{{.+}}, %{{.+}}) : (tensor<8x8xf32>, tensor<8x8xf32>)
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func private @branch_callee(%w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tensor.empty() : tensor<8x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = arith.negf %in : f32
    linalg.yield %t : f32
  } -> tensor<8x8xf32>
  return %n : tensor<8x8xf32>
}
func.func @public_callee(%w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tensor.empty() : tensor<8x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = arith.negf %in : f32
    linalg.yield %t : f32
  } -> tensor<8x8xf32>
  return %n : tensor<8x8xf32>
}
func.func private @once(%w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tensor.empty() : tensor<8x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = arith.negf %in : f32
    linalg.yield %t : f32
  } -> tensor<8x8xf32>
  return %n : tensor<8x8xf32>
}
func.func private @reshape_only(%w: tensor<8x8xf32>) -> tensor<64xf32> {
  %c = tensor.collapse_shape %w [[0, 1]] : tensor<8x8xf32> into tensor<64xf32>
  return %c : tensor<64xf32>
}
func.func private @overwritten(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tensor.empty() : tensor<8x8xf32>
  %n = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = arith.negf %in : f32
    linalg.yield %t : f32
  } -> tensor<8x8xf32>
  %p = linalg.matmul ins(%x, %x : tensor<8x8xf32>, tensor<8x8xf32>) outs(%n : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %p : tensor<8x8xf32>
}
func.func @callers(%w: tensor<8x8xf32>, %v: tensor<8x8xf32>, %flag: i1) -> (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %a = scf.if %flag -> tensor<8x8xf32> {
    %r = func.call @branch_callee(%w) : (tensor<8x8xf32>) -> tensor<8x8xf32>
    scf.yield %r : tensor<8x8xf32>
  } else {
    scf.yield %w : tensor<8x8xf32>
  }
  %b = func.call @public_callee(%w) : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %c = func.call @once(%v) : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %init = tensor.empty() : tensor<64xf32>
  %d, %y = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %init, %x = %v) -> (tensor<64xf32>, tensor<8x8xf32>) {
    %r = func.call @reshape_only(%w) : (tensor<8x8xf32>) -> tensor<64xf32>
    %o = func.call @overwritten(%x, %w) : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
    scf.yield %r, %o : tensor<64xf32>, tensor<8x8xf32>
  }
  return %a, %b, %c, %d : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<64xf32>
}
