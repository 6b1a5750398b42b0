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

// -----

// Identical loops (the same op at the same shapes, as in every layer of a model) share one
// outlined function, also across functions; a loop that differs (here a constant) gets its own.
// CHECK-LABEL: func.func private @__msdd_par_layers_0(
// CHECK:       arith.constant 2.000000e+00
// CHECK-NOT:   func.func private @__msdd_par_layers_1(
// CHECK-LABEL: func.func private @__msdd_par_layers_2(
// CHECK:       arith.constant 3.000000e+00
// CHECK-LABEL: func.func private @__msdd_loop_layers_0(
// CHECK-NOT:   func.func private @__msdd_loop_layers_1(
// CHECK-LABEL: func.func @layers
// CHECK:       call @__msdd_par_layers_0(%{{.+}}, %{{.+}}, %arg0)
// CHECK:       call @__msdd_par_layers_0(%{{.+}}, %{{.+}}, %arg1)
// CHECK:       call @__msdd_par_layers_2(%{{.+}}, %{{.+}}, %arg0)
// CHECK:       call @__msdd_loop_layers_0(%arg0)
// CHECK:       call @__msdd_loop_layers_0(%arg1)
// CHECK-LABEL: func.func @other_function
// CHECK:       call @__msdd_par_layers_0(%{{.+}}, %{{.+}}, %arg0)
// CHECK-NOT:   func.func private
func.func @layers(%a: memref<64xf32>, %b: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %two = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %a[%i] : memref<64xf32>
    %s = arith.mulf %v, %two : f32
    memref.store %s, %a[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %b[%i] : memref<64xf32>
    %s = arith.mulf %v, %two : f32
    memref.store %s, %b[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %a[%i] : memref<64xf32>
    %s = arith.mulf %v, %three : f32
    memref.store %s, %a[%i] : memref<64xf32>
    scf.reduce
  }
  scf.for %i = %c0 to %c64 step %c1 {
    memref.store %two, %a[%i] : memref<64xf32>
  }
  scf.for %i = %c0 to %c64 step %c1 {
    memref.store %two, %b[%i] : memref<64xf32>
  }
  return
}
func.func @other_function(%a: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %a[%i] : memref<64xf32>
    %s = arith.mulf %v, %two : f32
    memref.store %s, %a[%i] : memref<64xf32>
    scf.reduce
  }
  return
}
