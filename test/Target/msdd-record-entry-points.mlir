// RUN: msdd-opt %s --split-input-file --msdd-record-entry-points --verify-diagnostics | FileCheck %s

// Names come from msdd.name, else arg<i> / result<i>; private functions are not entry points.
// CHECK: module attributes {msdd.manifest = "{\22format\22:\22msdd-artifact\22,\22functions\22:[{\22entry\22:\22msdd_entry_f\22,\22inputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22x\22,\22shape\22:[2,3]},{\22dtype\22:\22i64\22,\22name\22:\22arg1\22,\22shape\22:[]}],\22name\22:\22f\22,\22outputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22result0\22,\22shape\22:[2,3]}]}],\22target\22:\22cpu\22,\22version\22:2}"}
// CHECK-LABEL: func.func @f
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: llvm.emit_c_interface
func.func @f(%x: tensor<2x3xf32> {msdd.name = "x"}, %seed: tensor<i64>) -> tensor<2x3xf32> {
  return %x : tensor<2x3xf32>
}
func.func private @helper(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  return %x : tensor<2x3xf32>
}

// -----

// expected-error @+1 {{arg 0 has type 'tensor<?x3xf32>'; entry points take and return statically shaped tensors of f32, f64, i32, i64 or i1}}
func.func @dynamic(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  return %x : tensor<?x3xf32>
}

// -----

// expected-error @+1 {{arg 0 has type 'f32'}}
func.func @scalar(%x: f32) -> f32 {
  return %x : f32
}

// -----

// expected-error @+1 {{two arguments or results are named 'x'}}
func.func @duplicate(%a: tensor<2xf32> {msdd.name = "x"}) -> (tensor<2xf32> {msdd.name = "x"}) {
  return %a : tensor<2xf32>
}

// -----

// msdd.nfe (network evaluations per image) is recorded as the function's "nfe"; functions
// without it have none.
// CHECK: module attributes {msdd.manifest = "{\22format\22:\22msdd-artifact\22,\22functions\22:[{\22entry\22:\22msdd_entry_decode\22,\22inputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22arg0\22,\22shape\22:[2]}],\22name\22:\22decode\22,\22nfe\22:12,\22outputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22result0\22,\22shape\22:[2]}]},{\22entry\22:\22msdd_entry_encode\22,\22inputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22arg0\22,\22shape\22:[2]}],\22name\22:\22encode\22,\22outputs\22:[{\22dtype\22:\22f32\22,\22name\22:\22result0\22,\22shape\22:[2]}]}],
func.func @decode(%x: tensor<2xf32>) -> tensor<2xf32> attributes {msdd.nfe = 12 : i64} {
  return %x : tensor<2xf32>
}
func.func @encode(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{msdd.nfe must be a non-negative i64, got 1.200000e+01 : f32}}
func.func @float_nfe(%x: tensor<2xf32>) -> tensor<2xf32> attributes {msdd.nfe = 12.0 : f32} {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{msdd.nfe must be a non-negative i64, got -1 : i64}}
func.func @negative_nfe(%x: tensor<2xf32>) -> tensor<2xf32> attributes {msdd.nfe = -1 : i64} {
  return %x : tensor<2xf32>
}
