// Two warps: a butterfly sum per warp, the warp sums combined through shared memory after a
// barrier, and a shuffle down whose last lane reads past the warp (not valid: its own value).
module attributes {gpu.container_module} {
  func.func @warp_sum(%x: memref<64xf32> {msdd.name = "x"}) -> (memref<1xf32>, memref<64xf32>, memref<64xi32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %sum = gpu.alloc () : memref<1xf32>
    %down = gpu.alloc () : memref<64xf32>
    %valid = gpu.alloc () : memref<64xi32>
    gpu.launch_func @kernels::@warp_sum blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)
        args(%x : memref<64xf32>, %sum : memref<1xf32>, %down : memref<64xf32>, %valid : memref<64xi32>)
    return %sum, %down, %valid : memref<1xf32>, memref<64xf32>, memref<64xi32>
  }
  gpu.module @kernels {
    gpu.func @warp_sum(%x: memref<64xf32>, %sum: memref<1xf32>, %down: memref<64xf32>, %valid: memref<64xi32>)
        workgroup(%partial : memref<2xf32, #gpu.address_space<workgroup>>)
        kernel attributes {known_block_size = array<i32: 64, 1, 1>} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c32 = arith.constant 32 : index
      %i1 = arith.constant 1 : i32
      %i2 = arith.constant 2 : i32
      %i4 = arith.constant 4 : i32
      %i8 = arith.constant 8 : i32
      %i16 = arith.constant 16 : i32
      %i32 = arith.constant 32 : i32
      %tid = gpu.thread_id x
      %v = memref.load %x[%tid] : memref<64xf32>
      %d, %ok = gpu.shuffle down %v, %i1, %i32 : f32
      memref.store %d, %down[%tid] : memref<64xf32>
      %okint = arith.extui %ok : i1 to i32
      memref.store %okint, %valid[%tid] : memref<64xi32>
      %s1, %p1 = gpu.shuffle xor %v, %i16, %i32 : f32
      %a1 = arith.addf %v, %s1 : f32
      %s2, %p2 = gpu.shuffle xor %a1, %i8, %i32 : f32
      %a2 = arith.addf %a1, %s2 : f32
      %s3, %p3 = gpu.shuffle xor %a2, %i4, %i32 : f32
      %a3 = arith.addf %a2, %s3 : f32
      %s4, %p4 = gpu.shuffle xor %a3, %i2, %i32 : f32
      %a4 = arith.addf %a3, %s4 : f32
      %s5, %p5 = gpu.shuffle xor %a4, %i1, %i32 : f32
      %a5 = arith.addf %a4, %s5 : f32
      %warp = arith.divui %tid, %c32 : index
      %lane = arith.remui %tid, %c32 : index
      %first = arith.cmpi eq, %lane, %c0 : index
      scf.if %first {
        memref.store %a5, %partial[%warp] : memref<2xf32, #gpu.address_space<workgroup>>
      }
      gpu.barrier
      %leader = arith.cmpi eq, %tid, %c0 : index
      scf.if %leader {
        %w0 = memref.load %partial[%c0] : memref<2xf32, #gpu.address_space<workgroup>>
        %w1 = memref.load %partial[%c1] : memref<2xf32, #gpu.address_space<workgroup>>
        %total = arith.addf %w0, %w1 : f32
        memref.store %total, %sum[%c0] : memref<1xf32>
      }
      gpu.return
    }
  }
}
