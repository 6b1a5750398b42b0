// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls | FileCheck %s

// CHECK-LABEL: func.func private @msdd_rt_matmul_f32
// CHECK-SAME: (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @matmul
// CHECK: %[[A:.+]] = memref.cast %arg0 : memref<4x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[B:.+]] = memref.cast %arg1
// CHECK: %[[C:.+]] = memref.cast %arg2
// CHECK: %[[NOTRANS:.+]] = arith.constant 0 : i64
// CHECK: %[[ACC:.+]] = arith.constant 1 : i64
// CHECK: call @msdd_rt_matmul_f32(%[[A]], %[[B]], %[[C]], %[[NOTRANS]], %[[ACC]])
// CHECK-NOT: linalg.matmul
func.func @matmul(%a: memref<4x8xf32>, %b: memref<8x2xf32>, %c: memref<4x2xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x2xf32>) outs(%c : memref<4x2xf32>)
  return
}

// -----

// Views keep their strides: a subview reaches the kernel without a copy.
// CHECK-LABEL: func.func @batch_transposed_view
// CHECK: memref.cast %{{.+}} : memref<2x4x8xf32, strided<[64, 8, 1], offset: 16>> to memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>
// CHECK: %[[TRANS:.+]] = arith.constant 1 : i64
// CHECK: call @msdd_rt_batch_matmul_f32({{.+}}, %[[TRANS]], %{{.+}})
func.func @batch_transposed_view(%a: memref<2x8x8xf32>, %b: memref<2x3x8xf32>, %c: memref<2x4x3xf32>) {
  %v = memref.subview %a[0, 2, 0] [2, 4, 8] [1, 1, 1] : memref<2x8x8xf32> to memref<2x4x8xf32, strided<[64, 8, 1], offset: 16>>
  linalg.batch_matmul_transpose_b ins(%v, %b : memref<2x4x8xf32, strided<[64, 8, 1], offset: 16>>, memref<2x3x8xf32>) outs(%c : memref<2x4x3xf32>)
  return
}

// -----

// f64 products call the f64 kernels; mixed types and tensor-level ops are not touched.
// CHECK-LABEL: func.func @other_types
// CHECK: call @msdd_rt_matmul_f64({{.+}}) : (memref<?x?xf64, strided<[?, ?], offset: ?>>,
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : memref<4x4xf16>, memref<4x4xf16>) outs(%{{.+}} : memref<4x4xf32>)
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<4x4xf32>
func.func @other_types(%a: memref<4x4xf64>, %c: memref<4x4xf64>, %h: memref<4x4xf16>, %hc: memref<4x4xf32>, %t: tensor<4x4xf32>) -> tensor<4x4xf32> {
  linalg.matmul ins(%a, %a : memref<4x4xf64>, memref<4x4xf64>) outs(%c : memref<4x4xf64>)
  linalg.matmul ins(%h, %h : memref<4x4xf16>, memref<4x4xf16>) outs(%hc : memref<4x4xf32>)
  %0 = linalg.matmul ins(%t, %t : tensor<4x4xf32>, tensor<4x4xf32>) outs(%t : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// With device=cuda: cuBLAS calls on device buffers, with `accumulate` after transposeB
// (1: C is not known to be zero). TF32 and f32 pass the math mode last; bf16 rounds both
// factors into bf16 buffers first and calls the _bf16 kernel.
// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls="device=cuda math-mode=tf32" | FileCheck %s --check-prefix=TF32
// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls="device=cuda math-mode=bf16" | FileCheck %s --check-prefix=BF16
// TF32-LABEL: func.func @cuda_batch
// TF32: %[[TRANS:.+]] = arith.constant 1 : i64
// TF32: %[[ACC:.+]] = arith.constant 1 : i64
// TF32: %[[MODE:.+]] = arith.constant 1 : i64
// TF32: call @msdd_rt_cuda_batch_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[TRANS]], %[[ACC]], %[[MODE]])
// BF16-LABEL: func.func private @msdd_rt_cuda_batch_matmul_bf16
// BF16-SAME: (memref<?x?x?xbf16, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xbf16, strided<[?, ?, ?], offset: ?>>, memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>, i64, i64)
// BF16-LABEL: func.func @cuda_batch
// BF16: %[[A:.+]] = memref.alloc() : memref<2x4x8xbf16>
// BF16: linalg.generic {{.*}} ins(%arg0 : memref<2x4x8xf32>) outs(%[[A]] : memref<2x4x8xbf16>)
// BF16: arith.truncf %{{.+}} : f32 to bf16
// BF16: %[[B:.+]] = memref.alloc() : memref<2x3x8xbf16>
// BF16: call @msdd_rt_cuda_batch_matmul_bf16(
// BF16-NEXT: memref.dealloc %[[A]]
// BF16-NEXT: memref.dealloc %[[B]]
func.func @cuda_batch(%a: memref<2x4x8xf32>, %b: memref<2x3x8xf32>, %c: memref<2x4x3xf32>) {
  linalg.batch_matmul_transpose_b ins(%a, %b : memref<2x4x8xf32>, memref<2x3x8xf32>) outs(%c : memref<2x4x3xf32>)
  return
}

// -----

// Factors already rounded at the tensor level (msdd-round-contraction-operands) go to the
// _bf16 kernel as they are, whatever the math mode: no second rounding, no mode argument.
// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls="device=cuda math-mode=tf32" | FileCheck %s --check-prefix=PREROUNDED
// PREROUNDED-LABEL: func.func @cuda_prerounded
// PREROUNDED-NOT: linalg.generic
// PREROUNDED: %[[TRANS:.+]] = arith.constant 0 : i64
// PREROUNDED-NEXT: %[[ACC:.+]] = arith.constant 1 : i64
// PREROUNDED-NEXT: call @msdd_rt_cuda_matmul_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %[[TRANS]], %[[ACC]]) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64) -> ()
// PREROUNDED-NOT: memref.dealloc
// PREROUNDED: return
// On the CPU (--math-mode bf16) they go to the CPU's bf16 kernel, which widens them.
// CHECK-LABEL: func.func @cuda_prerounded
// CHECK: call @msdd_rt_matmul_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64) -> ()
func.func @cuda_prerounded(%a: memref<4x8xbf16>, %b: memref<8x2xbf16>, %c: memref<4x2xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xbf16>, memref<8x2xbf16>) outs(%c : memref<4x2xf32>)
  return
}

// -----

// A zero fill of the accumulator just before the product is dropped: the BLAS or cuBLAS
// overwrites C (accumulate = 0). Not when something reads or writes that buffer in between,
// nor for fills of other values.
// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls="device=cuda math-mode=tf32" | FileCheck %s --check-prefix=OVERWRITE
// OVERWRITE-LABEL: func.func @cuda_zero_fill
// OVERWRITE-NOT: linalg.fill
// OVERWRITE: %[[TRANS:.+]] = arith.constant 0 : i64
// OVERWRITE-NEXT: %[[ACC0:.+]] = arith.constant 0 : i64
// OVERWRITE: call @msdd_rt_cuda_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[TRANS]], %[[ACC0]], %{{.+}})
// OVERWRITE: linalg.fill ins(%{{.+}} : f32) outs(%[[T:.+]] : memref<4x2xf32>)
// OVERWRITE: memref.subview %[[T]]
// OVERWRITE: %[[ACC1:.+]] = arith.constant 1 : i64
// OVERWRITE: call @msdd_rt_cuda_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[ACC1]], %{{.+}})
// OVERWRITE: linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : memref<4x2xf32>)
// OVERWRITE: %[[ACC2:.+]] = arith.constant 1 : i64
// OVERWRITE: call @msdd_rt_cuda_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[ACC2]], %{{.+}})
// CHECK-LABEL: func.func @cuda_zero_fill
// CHECK-NOT: linalg.fill
// CHECK: %[[NOTRANS:.+]] = arith.constant 0 : i64
// CHECK-NEXT: %[[ACC0:.+]] = arith.constant 0 : i64
// CHECK-NEXT: call @msdd_rt_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[NOTRANS]], %[[ACC0]])
// CHECK: linalg.fill
// CHECK: %[[ACC1:.+]] = arith.constant 1 : i64
// CHECK: call @msdd_rt_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[ACC1]])
// CHECK: linalg.fill
// CHECK: %[[ACC2:.+]] = arith.constant 1 : i64
// CHECK: call @msdd_rt_matmul_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[ACC2]])
func.func @cuda_zero_fill(%a: memref<4x8xf32>, %b: memref<8x2xf32>, %c: memref<4x2xf32>, %t: memref<4x2xf32>, %u: memref<4x2xf32>, %x: memref<2xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x2xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x2xf32>) outs(%c : memref<4x2xf32>)
  linalg.fill ins(%zero : f32) outs(%t : memref<4x2xf32>)
  %row = memref.subview %t[0, 0] [1, 2] [1, 1] : memref<4x2xf32> to memref<2xf32, strided<[1]>>
  memref.copy %x, %row : memref<2xf32> to memref<2xf32, strided<[1]>>
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x2xf32>) outs(%t : memref<4x2xf32>)
  linalg.fill ins(%one : f32) outs(%u : memref<4x2xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x2xf32>) outs(%u : memref<4x2xf32>)
  return
}

// -----

// A stored A^T (msdd-fold-transposes-into-products) reaches the kernel as a transposed
// view: the runtime hands it to the BLAS as a transposed operand, without a copy.
// CHECK-LABEL: func.func @matmul_transpose_a
// CHECK: %[[AT:.+]] = memref.transpose %arg0 (d0, d1) -> (d1, d0) : memref<8x4xf32> to memref<4x8xf32, strided<[1, 4]>>
// CHECK: %[[A:.+]] = memref.cast %[[AT]] : memref<4x8xf32, strided<[1, 4]>> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[NOTRANS:.+]] = arith.constant 0 : i64
// CHECK: call @msdd_rt_matmul_f32(%[[A]], %{{.+}}, %{{.+}}, %[[NOTRANS]], %{{.+}})
// CHECK-NOT: linalg.matmul
func.func @matmul_transpose_a(%a: memref<8x4xf32>, %b: memref<8x2xf32>, %c: memref<4x2xf32>) {
  linalg.matmul_transpose_a ins(%a, %b : memref<8x4xf32>, memref<8x2xf32>) outs(%c : memref<4x2xf32>)
  return
}

// -----

// CHECK-LABEL: func.func @batch_matmul_transpose_a
// CHECK: %[[AT:.+]] = memref.transpose %arg0 (d0, d1, d2) -> (d0, d2, d1) : memref<3x8x4xf32> to memref<3x4x8xf32, strided<[32, 1, 4]>>
// CHECK: %[[A:.+]] = memref.cast %[[AT]]
// CHECK: call @msdd_rt_batch_matmul_f32(%[[A]],
// CHECK-NOT: linalg.batch_matmul
func.func @batch_matmul_transpose_a(%a: memref<3x8x4xf32>, %b: memref<3x8x2xf32>, %c: memref<3x4x2xf32>) {
  linalg.batch_matmul_transpose_a ins(%a, %b : memref<3x8x4xf32>, memref<3x8x2xf32>) outs(%c : memref<3x4x2xf32>)
  return
}

// -----

// A product whose zero-filled f32 result is only rounded to bf16 (msdd-round-contraction-
// results) writes the bf16 result itself: one call with beta = 0, no f32 buffer, no rounding
// kernel; the bf16 buffer is allocated before the call.
// RUN: msdd-opt %s --split-input-file --msdd-linalg-to-runtime-calls="device=cuda math-mode=bf16" | FileCheck %s --check-prefix=ROUNDED
// ROUNDED-LABEL: func.func @rounded_result
// ROUNDED-NOT: linalg.fill
// ROUNDED: %[[R:.+]] = memref.alloc() : memref<4x2xbf16>
// ROUNDED: %[[C:.+]] = memref.cast %[[R]] : memref<4x2xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// ROUNDED: %[[TRANS:.+]] = arith.constant 0 : i64
// ROUNDED-NEXT: %[[ACC:.+]] = arith.constant 0 : i64
// ROUNDED-NEXT: call @msdd_rt_cuda_matmul_bf16_to_bf16(%{{.+}}, %{{.+}}, %[[C]], %[[TRANS]], %[[ACC]])
// ROUNDED-NOT: linalg.generic
// ROUNDED: return %[[R]]
// CHECK-LABEL: func.func @rounded_result
// CHECK: call @msdd_rt_matmul_bf16_to_bf16(
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @rounded_result(%a: memref<4x8xbf16>, %b: memref<8x2xbf16>) -> memref<4x2xbf16> {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<4x2xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4x2xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xbf16>, memref<8x2xbf16>) outs(%t : memref<4x2xf32>)
  %r = memref.alloc() : memref<4x2xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t : memref<4x2xf32>) outs(%r : memref<4x2xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %x = arith.truncf %in : f32 to bf16
    linalg.yield %x : bf16
  }
  memref.dealloc %t : memref<4x2xf32>
  return %r : memref<4x2xbf16>
}

// -----

// Not when the f32 result is read by anything else, nor when the product accumulates.
// ROUNDED-LABEL: func.func @result_also_read
// ROUNDED: call @msdd_rt_cuda_matmul_bf16(
// ROUNDED: linalg.generic
// ROUNDED: arith.truncf
// ROUNDED: call @msdd_rt_cuda_matmul_bf16(
// ROUNDED: linalg.generic
// ROUNDED: arith.truncf
func.func @result_also_read(%a: memref<4x8xbf16>, %b: memref<8x2xbf16>, %out: memref<4x2xf32>, %acc: memref<4x2xf32>) -> (memref<4x2xbf16>, memref<4x2xbf16>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<4x2xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4x2xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xbf16>, memref<8x2xbf16>) outs(%t : memref<4x2xf32>)
  %r = memref.alloc() : memref<4x2xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t : memref<4x2xf32>) outs(%r : memref<4x2xbf16>) {
  ^bb0(%in: f32, %o: bf16):
    %x = arith.truncf %in : f32 to bf16
    linalg.yield %x : bf16
  }
  memref.copy %t, %out : memref<4x2xf32> to memref<4x2xf32>
  %u = memref.alloc() : memref<4x2xf32>
  memref.copy %acc, %u : memref<4x2xf32> to memref<4x2xf32>
  linalg.matmul ins(%a, %b : memref<4x8xbf16>, memref<8x2xbf16>) outs(%u : memref<4x2xf32>)
  %s = memref.alloc() : memref<4x2xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%u : memref<4x2xf32>) outs(%s : memref<4x2xbf16>) {
  ^bb0(%in: f32, %o: bf16):
    %x = arith.truncf %in : f32 to bf16
    linalg.yield %x : bf16
  }
  return %r, %s : memref<4x2xbf16>, memref<4x2xbf16>
}

// -----

// Nor when the bf16 buffer is one of the product's own factors (bufferization reuses a dead
// factor's buffer for the rounding): the call would write its result over a factor that
// other tiles of the product still read. The rounding stays after the product.
// ROUNDED-LABEL: func.func @rounded_into_factor
// ROUNDED: call @msdd_rt_cuda_matmul_bf16(
// ROUNDED: linalg.generic
// ROUNDED: arith.truncf
// ROUNDED: return
func.func @rounded_into_factor(%a: memref<4x8xbf16>, %b: memref<8x8xbf16>) -> memref<4x8xbf16> {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<4x8xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4x8xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xbf16>, memref<8x8xbf16>) outs(%t : memref<4x8xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t : memref<4x8xf32>) outs(%a : memref<4x8xbf16>) {
  ^bb0(%in: f32, %o: bf16):
    %x = arith.truncf %in : f32 to bf16
    linalg.yield %x : bf16
  }
  memref.dealloc %t : memref<4x8xf32>
  return %a : memref<4x8xbf16>
}
