// RUN: msdd-opt %s --split-input-file --msdd-allocate-device-memory --verify-diagnostics | FileCheck %s

// Tensor buffers move to the device; copies become linalg.copy (a kernel later).
// CHECK-LABEL: func.func @buffers
// CHECK: %[[A:.+]] = gpu.alloc () : memref<4x8xf32>
// CHECK: linalg.copy ins(%arg0 : memref<4x8xf32>) outs(%[[A]] : memref<4x8xf32>)
// CHECK: linalg.copy ins(%[[A]] : memref<4x8xf32>) outs(%arg1 : memref<4x8xf32>)
// CHECK: gpu.dealloc %[[A]] : memref<4x8xf32>
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.copy
func.func @buffers(%in: memref<4x8xf32>, %out: memref<4x8xf32>) {
  %a = memref.alloc() : memref<4x8xf32>
  memref.copy %in, %a : memref<4x8xf32> to memref<4x8xf32>
  memref.copy %a, %out : memref<4x8xf32> to memref<4x8xf32>
  memref.dealloc %a : memref<4x8xf32>
  return
}

// -----

// A constant gets one device copy per call, made at entry and freed at every return.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @constants
// CHECK: %[[HOST:.+]] = memref.get_global @table : memref<4xf32>
// CHECK: %[[DEV:.+]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[DEV]], %[[HOST]] : memref<4xf32>, memref<4xf32>
// CHECK: scf.if
// CHECK: linalg.copy ins(%[[DEV]] : memref<4xf32>)
// CHECK: gpu.dealloc %[[DEV]]
// CHECK-NEXT: return
// CHECK: linalg.copy ins(%[[DEV]] : memref<4xf32>)
// CHECK: gpu.dealloc %[[DEV]]
// CHECK-NEXT: return
// CHECK-NOT: get_global
func.func @constants(%c: i1, %out: memref<4xf32>) {
  cf.cond_br %c, ^a, ^b
^a:
  scf.if %c {
    %g = memref.get_global @table : memref<4xf32>
    memref.copy %g, %out : memref<4xf32> to memref<4xf32>
  }
  return
^b:
  %h = memref.get_global @table : memref<4xf32>
  memref.copy %h, %out : memref<4xf32> to memref<4xf32>
  return
}

// -----

// The deallocation pipeline's bookkeeping (pointers and ownership flags for its helper) stays
// in host memory; buffers it frees are device buffers.
func.func private @dealloc_helper(memref<?xindex>, memref<?xi1>)
// CHECK-LABEL: func.func @bookkeeping
// CHECK: %[[BUF:.+]] = gpu.alloc () : memref<8xf32>
// CHECK: %[[PTRS:.+]] = memref.alloc() : memref<1xindex>
// CHECK: %[[FLAGS:.+]] = memref.alloc() : memref<1xi1>
// CHECK: call @dealloc_helper
// CHECK: memref.dealloc %[[PTRS]]
// CHECK: memref.dealloc %[[FLAGS]]
// CHECK: gpu.dealloc %[[BUF]]
func.func @bookkeeping() {
  %c0 = arith.constant 0 : index
  %true = arith.constant true
  %buf = memref.alloc() : memref<8xf32>
  %ptrs = memref.alloc() : memref<1xindex>
  %flags = memref.alloc() : memref<1xi1>
  %p = memref.extract_aligned_pointer_as_index %buf : memref<8xf32> -> index
  memref.store %p, %ptrs[%c0] : memref<1xindex>
  memref.store %true, %flags[%c0] : memref<1xi1>
  %pc = memref.cast %ptrs : memref<1xindex> to memref<?xindex>
  %fc = memref.cast %flags : memref<1xi1> to memref<?xi1>
  call @dealloc_helper(%pc, %fc) : (memref<?xindex>, memref<?xi1>) -> ()
  memref.dealloc %ptrs : memref<1xindex>
  memref.dealloc %flags : memref<1xi1>
  memref.dealloc %buf : memref<8xf32>
  return
}

// -----

func.func @stack() {
  // expected-error @+1 {{'memref.alloca' op is not supported in CUDA host code (stack buffers live on the host)}}
  %a = memref.alloca() : memref<4xf32>
  return
}

// -----

func.func @dynamic(%n: index) {
  // expected-error @+1 {{'memref.alloc' op has dynamic sizes; CUDA artifacts need static shapes}}
  %a = memref.alloc(%n) : memref<?xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%a : memref<?xf32>)
  return
}
