// RUN: msdd-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(msdd-dealloc-after-last-use))" | FileCheck %s

// Each temporary is freed right after its last use (through a view), not at the end.
// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.+]] = memref.alloc() : memref<8xf32>
// CHECK: linalg.copy ins(%arg0 : memref<8xf32>) outs(%[[A]] : memref<8xf32>)
// CHECK: %[[B:.+]] = memref.alloc() : memref<8xf32>
// CHECK: %[[V:.+]] = memref.expand_shape %[[A]]
// CHECK: scf.for
// CHECK: linalg.copy ins(%[[V]] : memref<2x4xf32>)
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: linalg.copy ins(%[[B]] : memref<8xf32>) outs(%arg1 : memref<8xf32>)
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK: %[[C:.+]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT: memref.dealloc %[[C]]
// CHECK-NEXT: return
func.func @chain(%x: memref<8xf32>, %y: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<8xf32>
  linalg.copy ins(%x : memref<8xf32>) outs(%a : memref<8xf32>)
  %b = memref.alloc() : memref<8xf32>
  %v = memref.expand_shape %a [[0, 1]] output_shape [2, 4] : memref<8xf32> into memref<2x4xf32>
  %bv = memref.expand_shape %b [[0, 1]] output_shape [2, 4] : memref<8xf32> into memref<2x4xf32>
  scf.for %i = %c0 to %c1 step %c1 {
    linalg.copy ins(%v : memref<2x4xf32>) outs(%bv : memref<2x4xf32>)
  }
  linalg.copy ins(%b : memref<8xf32>) outs(%y : memref<8xf32>)
  %c = memref.alloc() : memref<8xf32>
  memref.dealloc %a : memref<8xf32>
  memref.dealloc %b : memref<8xf32>
  memref.dealloc %c : memref<8xf32>
  return
}

// -----

// A buffer whose address is taken (the deallocation helper compares addresses) or that is
// yielded stays where it was.
// CHECK-LABEL: func.func @escapes
// CHECK: %[[P:.+]] = memref.extract_aligned_pointer_as_index
// CHECK: scf.yield
// CHECK: memref.dealloc %{{.+}} : memref<8xf32>
// CHECK-NEXT: memref.dealloc %{{.+}} : memref<8xf32>
// CHECK-NEXT: return
func.func @escapes(%x: memref<8xf32>, %c: i1) -> index {
  %a = memref.alloc() : memref<8xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<8xf32> -> index
  %b = memref.alloc() : memref<8xf32>
  %r = scf.if %c -> memref<8xf32> {
    scf.yield %b : memref<8xf32>
  } else {
    scf.yield %x : memref<8xf32>
  }
  linalg.copy ins(%r : memref<8xf32>) outs(%x : memref<8xf32>)
  memref.dealloc %a : memref<8xf32>
  memref.dealloc %b : memref<8xf32>
  return %p : index
}
