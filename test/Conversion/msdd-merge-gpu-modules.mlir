// RUN: msdd-opt %s --split-input-file --msdd-merge-gpu-modules --verify-diagnostics | FileCheck %s

// Two identical kernels (apart from their names) and a different one: one module with two
// kernels, every launch renamed.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: func.func @f
// CHECK-NEXT: arith.constant
// CHECK-NEXT: gpu.launch_func @msdd_kernels::@[[K0:[a-z_0-9]+]] blocks
// CHECK-NEXT: gpu.launch_func @msdd_kernels::@[[K0]] blocks
// CHECK-NEXT: gpu.launch_func @msdd_kernels::@[[K2:[a-z_0-9]+]] blocks
// CHECK: gpu.module @msdd_kernels
// CHECK-DAG: gpu.func @[[K0]](%{{.+}}: memref<8xf32>) kernel
// CHECK-DAG: gpu.func @[[K2]](%{{.+}}: memref<8xf32>) kernel
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @f(%x: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<8xf32>)
    gpu.launch_func @b::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<8xf32>)
    gpu.launch_func @c::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<8xf32>)
    return
  }
  gpu.module @a {
    gpu.func @k(%x: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %x[%c0] : memref<8xf32>
      %e = math.exp %v : f32
      memref.store %e, %x[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @b {
    gpu.func @k(%y: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %y[%c0] : memref<8xf32>
      %e = math.exp %v : f32
      memref.store %e, %y[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @c {
    gpu.func @k(%x: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %x[%c0] : memref<8xf32>
      %e = math.log %v : f32
      memref.store %e, %x[%c0] : memref<8xf32>
      gpu.return
    }
  }
}

// -----

// Shared buffers come out 16-byte aligned, unless they say otherwise.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: gpu.func @shared_k(%{{.+}}: memref<8xi32>) workgroup(%{{.+}} : memref<64x20xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.+}} : memref<8xi32, #gpu.address_space<workgroup>> {llvm.align = 32 : i64}) kernel
module attributes {gpu.container_module} {
  func.func @f(%x: memref<8xi32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @shared::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<8xi32>)
    return
  }
  gpu.module @shared {
    gpu.func @k(%x: memref<8xi32>) workgroup(%s : memref<64x20xi32, #gpu.address_space<workgroup>>, %t : memref<8xi32, #gpu.address_space<workgroup>> {llvm.align = 32 : i64}) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %s[%c0, %c0] : memref<64x20xi32, #gpu.address_space<workgroup>>
      memref.store %v, %t[%c0] : memref<8xi32, #gpu.address_space<workgroup>>
      memref.store %v, %x[%c0] : memref<8xi32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @a {
    // expected-error @+1 {{'gpu.module' op in a kernel module is not supported by msdd-merge-gpu-modules}}
    gpu.module @nested {
    }
  }
}
