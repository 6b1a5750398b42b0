// msdd-compile --emit=llvm-ir: the LLVM IR the CPU back end compiles, after LLVM's -O2.
// Parallel tiles are not unrolled before the loop vectorizer: a head transpose's tile (8 rows
// of 32 contiguous floats) stays a vector loop. Unrolled first, it became 256 scalar loads and
// stores the vectorizer could no longer widen, and bigger tiles took minutes of compile time.
//
// RUN: msdd-compile %s --emit=llvm-ir -o - | FileCheck %s
// RUN: not msdd-compile %s --target=cuda --emit=llvm-ir -o %t.ll 2>&1 | FileCheck %s --check-prefix=CUDA

// CHECK-LABEL: define internal void @__msdd_par_heads_0_trampoline
// CHECK: load <{{[0-9]+}} x float>
// CHECK: store <{{[0-9]+}} x float>
// CHECK-LABEL: define internal void @__msdd_par_softmax_0_trampoline
// CHECK: phi <{{[0-9]+}} x float>
// CHECK: call <{{[0-9]+}} x float> @llvm.maximum.v{{[0-9]+}}f32
// CHECK: call float @llvm.vector.reduce.fmaximum.v{{[0-9]+}}f32
// CHECK-LABEL: define internal void @__msdd_par_softmax_2_trampoline
// CHECK: fadd reassoc <{{[0-9]+}} x float>
// CHECK: call reassoc float @llvm.vector.reduce.fadd.v{{[0-9]+}}f32
// CHECK-LABEL: define void @msdd_entry_heads
// CUDA: --emit=llvm-ir is a CPU stage
func.func @heads(%x: tensor<4x64x2x32xf32>) -> tensor<4x2x64x32xf32> {
  %y = msdd.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : (tensor<4x64x2x32xf32>) -> tensor<4x2x64x32xf32>
  return %y : tensor<4x2x64x32xf32>
}

// A softmax's row maximum and row sum are vector reductions (msdd-lower-reductions-to-loops
// keeps the accumulators in registers; arith.maximumf stays llvm.maximum, which LLVM can
// vectorize, and the sum's additions may be reassociated). Stored and reloaded in every
// iteration, both were scalar loops.
// (Checked above, in the order of the module's functions.)
func.func @softmax(%x: tensor<64x288xf32>) -> tensor<64x288xf32> {
  %y = msdd.softmax %x {axis = 1 : i64} : (tensor<64x288xf32>) -> tensor<64x288xf32>
  return %y : tensor<64x288xf32>
}
