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
// CHECK-LABEL: define void @msdd_entry_heads
// CUDA: --emit=llvm-ir is a CPU stage
func.func @heads(%x: tensor<4x64x2x32xf32>) -> tensor<4x2x64x32xf32> {
  %y = msdd.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : (tensor<4x64x2x32xf32>) -> tensor<4x2x64x32xf32>
  return %y : tensor<4x2x64x32xf32>
}
