// RUN: msdd-opt %s --split-input-file --msdd-outline-parallel-loops | FileCheck %s

// The body runs iterations [begin, end) of the first dimension; the rest stays a nested
// parallel loop. Constants are re-created inside, other values are passed.
// CHECK-LABEL: func.func private @__msdd_par_scale_0
// CHECK-SAME: (%[[BEGIN:.+]]: index, %[[END:.+]]: index, %[[BUF:.+]]: memref<64x32xf32>, %[[F:.+]]: f32)
// CHECK: %[[C4:.+]] = arith.constant 4 : index
// CHECK: scf.for %[[I:.+]] = %[[BEGIN]] to %[[END]]
// CHECK:   %[[ROW0:.+]] = arith.muli %[[I]], %[[C4]]
// CHECK:   scf.parallel
// CHECK:     memref.load %[[BUF]]
// CHECK:     arith.mulf %{{.+}}, %[[F]]
// CHECK-LABEL: func.func @scale
// CHECK: %[[SPAN:.+]] = arith.subi
// CHECK: %[[ROUNDED:.+]] = arith.addi %[[SPAN]]
// CHECK: %[[N:.+]] = arith.divsi %[[ROUNDED]]
// CHECK: call @__msdd_par_scale_0(%{{.+}}, %[[N]], %arg0, %arg1)
// CHECK-NOT: scf.parallel
func.func @scale(%buf: memref<64x32xf32>, %f: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c32) step (%c4, %c1) {
    %v = memref.load %buf[%i, %j] : memref<64x32xf32>
    %s = arith.mulf %v, %f : f32
    memref.store %s, %buf[%i, %j] : memref<64x32xf32>
    scf.reduce
  }
  return
}

// -----

// Loops with reductions stay where they are.
// CHECK-LABEL: func.func @reduction
// CHECK: scf.parallel
// CHECK-NOT: call
func.func @reduction(%buf: memref<64xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %r = scf.parallel (%i) = (%c0) to (%c64) step (%c1) init (%zero) -> f32 {
    %v = memref.load %buf[%i] : memref<64xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %r : f32
}

// -----

// A serial loop nest at the top of a function becomes a function of its own, called once and
// marked noinline for LLVM; loops with results (reductions carried in iter_args) stay.
// CHECK-LABEL: func.func private @__msdd_loop_serial_0(%{{.+}}: memref<16xf32>)
// CHECK-SAME: passthrough = ["noinline"]
// CHECK: scf.for
// CHECK: memref.store
// CHECK-LABEL: func.func @serial
// CHECK: call @__msdd_loop_serial_0(%{{.+}}) : (memref<16xf32>) -> ()
// CHECK: scf.for {{.+}} iter_args
func.func @serial(%m: memref<16xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %one = arith.constant 1.0 : f32
  scf.for %i = %c0 to %c16 step %c1 {
    memref.store %one, %m[%i] : memref<16xf32>
  }
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %i = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %m[%i] : memref<16xf32>
    %s = arith.addf %acc, %v : f32
    scf.yield %s : f32
  }
  return %sum : f32
}
