// RUN: msdd-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s

// msdd.flash_attention bufferizes like a linalg op: it writes its init's buffer in place
// (here a fresh allocation for the tensor.empty), which the function returns.
// CHECK-LABEL: func.func @flash_attention
// CHECK-SAME: (%[[Q:.+]]: memref<1x2x70x32xf16>, %[[K:.+]]: memref<1x2x70x32xf16>, %[[V:.+]]: memref<1x2x70x16xf16>) -> memref<1x2x70x16xf32>
// CHECK: %[[O:.+]] = memref.alloc() {{.+}} : memref<1x2x70x16xf32>
// CHECK-NOT: memref.copy
// CHECK: msdd.flash_attention %[[Q]], %[[K]], %[[V]] into %[[O]] {scale = 1.250000e-01 : f64} : memref<1x2x70x32xf16>, memref<1x2x70x32xf16>, memref<1x2x70x16xf16> into memref<1x2x70x16xf32>{{$}}
// CHECK: return %[[O]]
func.func @flash_attention(%q: tensor<1x2x70x32xf16>, %k: tensor<1x2x70x32xf16>, %v: tensor<1x2x70x16xf16>) -> tensor<1x2x70x16xf32> {
  %init = tensor.empty() : tensor<1x2x70x16xf32>
  %o = msdd.flash_attention %q, %k, %v into %init {scale = 0.125 : f64} : tensor<1x2x70x32xf16>, tensor<1x2x70x32xf16>, tensor<1x2x70x16xf16> into tensor<1x2x70x16xf32> -> tensor<1x2x70x16xf32>
  return %o : tensor<1x2x70x16xf32>
}

// The split_factors attribute survives bufferization.
// CHECK-LABEL: func.func @flash_attention_split
// CHECK: msdd.flash_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}} {scale = 1.250000e-01 : f64, split_factors} : memref<1x2x70x32xf32>
func.func @flash_attention_split(%q: tensor<1x2x70x32xf32>) -> tensor<1x2x70x32xf32> {
  %init = tensor.empty() : tensor<1x2x70x32xf32>
  %o = msdd.flash_attention %q, %q, %q into %init {scale = 0.125 : f64, split_factors} : tensor<1x2x70x32xf32>, tensor<1x2x70x32xf32>, tensor<1x2x70x32xf32> into tensor<1x2x70x32xf32> -> tensor<1x2x70x32xf32>
  return %o : tensor<1x2x70x32xf32>
}
