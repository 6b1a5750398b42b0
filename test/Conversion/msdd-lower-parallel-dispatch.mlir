// RUN: msdd-opt %s --split-input-file --msdd-lower-parallel-dispatch | FileCheck %s

// CHECK-LABEL: llvm.func internal @__msdd_par_f_0(
// CHECK-LABEL: llvm.func @f
// CHECK: %[[STATE:.+]] = llvm.alloca %{{.+}} x !llvm.struct<(ptr, f32)>
// CHECK: %[[P0:.+]] = llvm.getelementptr %[[STATE]][0, 0]
// CHECK: llvm.store %arg0, %[[P0]]
// CHECK: %[[P1:.+]] = llvm.getelementptr %[[STATE]][0, 1]
// CHECK: llvm.store %arg1, %[[P1]]
// CHECK: %[[FN:.+]] = llvm.mlir.addressof @__msdd_par_f_0_trampoline
// CHECK: llvm.call @msdd_rt_parallel_for(%[[FN]], %[[STATE]], %{{.+}}) : (!llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK-NOT: llvm.call @__msdd_par_f_0(
// CHECK: llvm.func @msdd_rt_parallel_for(!llvm.ptr, !llvm.ptr, i64)
// CHECK-LABEL: llvm.func internal @__msdd_par_f_0_trampoline(%arg0: !llvm.ptr, %arg1: i64, %arg2: i64)
// CHECK: %[[A:.+]] = llvm.load %{{.+}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[B:.+]] = llvm.load %{{.+}} : !llvm.ptr -> f32
// CHECK: llvm.call @__msdd_par_f_0(%arg1, %arg2, %[[A]], %[[B]])
module {
  llvm.func @__msdd_par_f_0(%begin: i64, %end: i64, %p: !llvm.ptr, %x: f32) {
    llvm.return
  }
  llvm.func @f(%p: !llvm.ptr, %x: f32) {
    %0 = llvm.mlir.constant(0 : i64) : i64
    %1 = llvm.mlir.constant(16 : i64) : i64
    llvm.call @__msdd_par_f_0(%0, %1, %p, %x) : (i64, i64, !llvm.ptr, f32) -> ()
    llvm.return
  }
}

// -----

// A body with two calls (msdd-outline-parallel-loops shares identical bodies) has one
// trampoline, which both dispatches take.
// CHECK-LABEL: llvm.func @twice
// CHECK: %[[FN0:.+]] = llvm.mlir.addressof @__msdd_par_g_0_trampoline
// CHECK: llvm.call @msdd_rt_parallel_for(%[[FN0]],
// CHECK: %[[FN1:.+]] = llvm.mlir.addressof @__msdd_par_g_0_trampoline
// CHECK: llvm.call @msdd_rt_parallel_for(%[[FN1]],
// CHECK: llvm.func internal @__msdd_par_g_0_trampoline(
// CHECK-NOT: llvm.func {{.*}}trampoline
module {
  llvm.func @__msdd_par_g_0(%begin: i64, %end: i64, %p: !llvm.ptr) {
    llvm.return
  }
  llvm.func @twice(%p: !llvm.ptr, %q: !llvm.ptr) {
    %0 = llvm.mlir.constant(0 : i64) : i64
    %1 = llvm.mlir.constant(16 : i64) : i64
    llvm.call @__msdd_par_g_0(%0, %1, %p) : (i64, i64, !llvm.ptr) -> ()
    llvm.call @__msdd_par_g_0(%0, %1, %q) : (i64, i64, !llvm.ptr) -> ()
    llvm.return
  }
}
