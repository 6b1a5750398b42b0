// RUN: msdd-opt %s --split-input-file --msdd-approximate-math | FileCheck %s

// f32 transcendentals become polynomial arithmetic (no libm call left to block vectorization).
// CHECK-LABEL: func.func @f32_ops
// CHECK-NOT: math.tanh
// CHECK-NOT: math.exp
// CHECK-NOT: math.erf
// CHECK: arith.mulf
// CHECK: return
func.func @f32_ops(%x: f32) -> (f32, f32, f32) {
  %t = math.tanh %x : f32
  %e = math.exp %x : f32
  %r = math.erf %x : f32
  return %t, %e, %r : f32, f32, f32
}

// -----

// f64 keeps the exact library functions.
// CHECK-LABEL: func.func @f64_ops
// CHECK: math.tanh %{{.+}} : f64
// CHECK: math.exp %{{.+}} : f64
func.func @f64_ops(%x: f64) -> (f64, f64) {
  %t = math.tanh %x : f64
  %e = math.exp %x : f64
  return %t, %e : f64, f64
}

// -----

// CHECK-LABEL: func.func @rsqrt
// CHECK: %[[ROOT:.+]] = math.sqrt %arg0 : f32
// CHECK: arith.divf %{{.+}}, %[[ROOT]] : f32
func.func @rsqrt(%x: f32) -> f32 {
  %r = math.rsqrt %x : f32
  return %r : f32
}
