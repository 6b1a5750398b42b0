// Kernels with the faults msdd-emulate-cuda reports (test/Tools/msdd-emulate-cuda.test).
module attributes {gpu.container_module} {
  // Thread 32 stores one past the end of a 32-element buffer.
  func.func @out_of_bounds() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c33 = arith.constant 33 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c33, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // After a shuffle (threads run as fibers), thread 31 stores past the end.
  func.func @out_of_bounds_after_shuffle() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@shifted blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // Only the first 16 lanes reach the shuffle.
  func.func @divergent() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@divergent blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // The kernel was compiled for 128-thread blocks.
  func.func @wrong_block() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@known blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // Reads a buffer nothing wrote: fresh device memory is NaN.
  func.func @unwritten() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %in = gpu.alloc () : memref<32xf32>
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@copy blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%in : memref<32xf32>, %out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // Launches a kernel on a buffer it freed.
  func.func @use_after_free() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %in = gpu.alloc () : memref<32xf32>
    %out = gpu.alloc () : memref<32xf32>
    gpu.dealloc %in : memref<32xf32>
    gpu.launch_func @kernels::@copy blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%in : memref<32xf32>, %out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // A row-major 8x8 product whose A is a column-strided view cuBLAS cannot address.
  func.func private @msdd_rt_cuda_matmul_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64)
  func.func @unaddressable(%a: memref<8x16xf32> {msdd.name = "a"}, %b: memref<8x8xf32> {msdd.name = "b"}) -> memref<8x8xf32> {
    %c = gpu.alloc () : memref<8x8xf32>
    %every_other = memref.subview %a[0, 0] [8, 8] [1, 2] : memref<8x16xf32> to memref<8x8xf32, strided<[16, 2]>>
    %a_any = memref.cast %every_other : memref<8x8xf32, strided<[16, 2]>> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b_any = memref.cast %b : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %c_any = memref.cast %c : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %no = arith.constant 0 : i64
    call @msdd_rt_cuda_matmul_f32(%a_any, %b_any, %c_any, %no, %no, %no) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64) -> ()
    return %c : memref<8x8xf32>
  }
  // A product written over its own factor (8x8 A times 8x8 B into A).
  func.func @in_place(%a: memref<8x16xf32> {msdd.name = "a"}, %b: memref<8x8xf32> {msdd.name = "b"}) -> memref<8x8xf32> {
    %square = gpu.alloc () : memref<8x8xf32>
    %a_any = memref.cast %square : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %b_any = memref.cast %b : memref<8x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    %no = arith.constant 0 : i64
    call @msdd_rt_cuda_matmul_f32(%a_any, %b_any, %a_any, %no, %no, %no) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64) -> ()
    return %square : memref<8x8xf32>
  }
  // Thread 1 reads what thread 0 writes to shared memory, with no barrier between.
  func.func @shared_race() -> memref<32xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@shared_race blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  // Two blocks write the same elements.
  func.func @block_race() -> memref<32xf32> {
    %c2 = arith.constant 2 : index
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %out = gpu.alloc () : memref<32xf32>
    gpu.launch_func @kernels::@fill blocks in (%c2, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%out : memref<32xf32>)
    return %out : memref<32xf32>
  }
  gpu.module @kernels {
    gpu.func @shared_race(%out: memref<32xf32>) workgroup(%cell : memref<1xf32, #gpu.address_space<workgroup>>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      %first = arith.cmpi eq, %tid, %c0 : index
      scf.if %first {
        memref.store %one, %cell[%c0] : memref<1xf32, #gpu.address_space<workgroup>>
      }
      %v = memref.load %cell[%c0] : memref<1xf32, #gpu.address_space<workgroup>>
      memref.store %v, %out[%tid] : memref<32xf32>
      gpu.return
    }
    gpu.func @fill(%out: memref<32xf32>) kernel {
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      memref.store %one, %out[%tid] : memref<32xf32>
      gpu.return
    }
    gpu.func @shifted(%out: memref<32xf32>) kernel {
      %c1 = arith.constant 1 : index
      %i1 = arith.constant 1 : i32
      %i32 = arith.constant 32 : i32
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      %s, %ok = gpu.shuffle xor %one, %i1, %i32 : f32
      %next = arith.addi %tid, %c1 : index
      memref.store %s, %out[%next] : memref<32xf32>
      gpu.return
    }
    gpu.func @divergent(%out: memref<32xf32>) kernel {
      %c16 = arith.constant 16 : index
      %i1 = arith.constant 1 : i32
      %i32 = arith.constant 32 : i32
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      %low = arith.cmpi ult, %tid, %c16 : index
      scf.if %low {
        %s, %ok = gpu.shuffle xor %one, %i1, %i32 : f32
        memref.store %s, %out[%tid] : memref<32xf32>
      }
      gpu.return
    }
    gpu.func @known(%out: memref<32xf32>) kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
      gpu.return
    }
    gpu.func @copy(%in: memref<32xf32>, %out: memref<32xf32>) kernel {
      %tid = gpu.thread_id x
      %v = memref.load %in[%tid] : memref<32xf32>
      memref.store %v, %out[%tid] : memref<32xf32>
      gpu.return
    }
  }
}
