// msdd-compile --math-mode bf16 on the CPU builds the CUDA bf16 mode's graph: each product's
// factors are rounded to bf16 in the kernel that produces them (here the SiLU writes its
// bf16 copy), and the product is the runtime's bf16 kernel, which widens them exactly. The
// first product, read only by the SiLU, writes a bf16 result (msdd-round-contraction-
// results); the last, returned, stays f32. The LLVM stage expands the bf16 conversions into
// integer arithmetic; the artifact runs.
//
// RUN: msdd-compile %s --math-mode bf16 --emit=linalg -o - | FileCheck %s --check-prefix=LINALG
// RUN: msdd-compile %s --math-mode bf16 --emit=loops -o - | FileCheck %s --check-prefix=LOOPS
// RUN: msdd-compile %s --math-mode bf16 --emit=llvm -o - | FileCheck %s --check-prefix=LLVM
// RUN: msdd-compile %s --emit=loops -o - | FileCheck %s --check-prefix=F32
// RUN: msdd-compile %s --math-mode bf16 -o %t.msdd
// RUN: %python %S/Inputs/bf16_factors_check.py %t.msdd | FileCheck %s --check-prefix=NUMERICS
// RUN: not msdd-compile %s --math-mode tf32 -o %t.tf32.msdd 2>&1 | FileCheck %s --check-prefix=TF32
// RUN: not ls %t.tf32.msdd

// LINALG-LABEL: func.func @mlp
// LINALG: linalg.generic
// LINALG: arith.truncf %{{.+}} : f32 to bf16
// LINALG: %[[H:.+]] = linalg.matmul_transpose_b ins(%{{.+}}, %{{.+}} : tensor<8x16xbf16>, tensor<32x16xbf16>) outs(%{{.+}} : tensor<8x32xf32>)
// LINALG: %[[HR:.+]] = linalg.generic {{.+}} ins(%[[H]] : tensor<8x32xf32>) outs(%{{.+}} : tensor<8x32xbf16>)
// LINALG: linalg.generic {{.+}} ins(%[[HR]], %{{.+}} : tensor<8x32xbf16>, tensor<32xf32>)
// LINALG: arith.extf
// LINALG: math.exp
// LINALG: arith.truncf %{{.+}} : f32 to bf16
// LINALG-NEXT: linalg.yield %{{.+}} : bf16
// LINALG: linalg.matmul_transpose_b ins(%{{.+}}, %{{.+}} : tensor<8x32xbf16>, tensor<4x32xbf16>) outs(%{{.+}} : tensor<8x4xf32>)

// LOOPS-LABEL: func.func @mlp
// LOOPS: call @msdd_rt_matmul_bf16_to_bf16({{.+}}) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, i64, i64) -> ()
// LOOPS: call @msdd_rt_matmul_bf16({{.+}}) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64) -> ()

// LLVM-NOT: arith.truncf
// LLVM-NOT: arith.extf
// LLVM: llvm.func internal @mlp

// F32-LABEL: func.func @mlp
// F32-NOT: bf16
// F32: call @msdd_rt_matmul_f32

// NUMERICS-DAG: bf16 artifact vs float64 with f32 factors: relative error {{.*}} ok
// NUMERICS-DAG: bf16 artifact vs float64 with bf16-rounded factors: relative error {{.*}} ok

// TF32: msdd-compile: error: --math-mode tf32 needs --target cuda (cpu: f32 or bf16)

func.func @mlp(%x: tensor<8x16xf32> {msdd.name = "x"},
               %w1: tensor<32x16xf32> {msdd.name = "w1"}, %b1: tensor<32xf32> {msdd.name = "b1"},
               %w2: tensor<4x32xf32> {msdd.name = "w2"}, %b2: tensor<4xf32> {msdd.name = "b2"})
    -> (tensor<8x4xf32> {msdd.name = "y"}) {
  %h = msdd.linear %x, %w1, %b1 : (tensor<8x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %a = msdd.silu %h : tensor<8x32xf32>
  %y = msdd.linear %a, %w2, %b2 : (tensor<8x32xf32>, tensor<4x32xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  return %y : tensor<8x4xf32>
}
