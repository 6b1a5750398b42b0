// Memory accesses with known costs, for msdd-emulate-cuda --memory-stats
// (msdd-emulate-cuda.test): 64 threads, 2 warps.
module attributes {gpu.container_module} {
  func.func @banks() -> (memref<64xf32>, memref<64x8xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %out = gpu.alloc () : memref<64xf32>
    %wide = gpu.alloc () : memref<64x8xf32>
    gpu.launch_func @kernels::@banks blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)
        args(%out : memref<64xf32>, %wide : memref<64x8xf32>)
    return %out, %wide : memref<64xf32>, memref<64x8xf32>
  }
  gpu.module @kernels {
    gpu.func @banks(%out: memref<64xf32>, %wide: memref<64x8xf32>) workgroup(%s : memref<1024xf32, #gpu.address_space<workgroup>>, %w : memref<64x4xi32, #gpu.address_space<workgroup>>) kernel {
      %c0 = arith.constant 0 : index
      %c16 = arith.constant 16 : index
      %one = arith.constant 1.0 : f32
      %tid = gpu.thread_id x
      // Shared memory. Consecutive words: 1 wavefront per warp.
      memref.store %one, %s[%tid] : memref<1024xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      // Words 16 apart: the lanes of a warp alternate between banks 0 and 16, 16 words in
      // each: 16 wavefronts per warp.
      %strided = arith.muli %tid, %c16 : index
      memref.store %one, %s[%strided] : memref<1024xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      // One word for every lane (a broadcast): 1 wavefront per warp.
      %v = memref.load %s[%c0] : memref<1024xf32, #gpu.address_space<workgroup>>
      // 16 bytes per lane, consecutive: 4 wavefronts per warp (one per quarter), no conflict.
      %words = arith.constant dense<[1, 2, 3, 4]> : vector<4xi32>
      vector.store %words, %w[%tid, %c0] : memref<64x4xi32, #gpu.address_space<workgroup>>, vector<4xi32>
      // Device memory. Consecutive words: 4 sectors per warp, coalesced.
      memref.store %v, %out[%tid] : memref<64xf32>
      // A word per 32-byte row: 32 sectors per warp where its 128 bytes need 4.
      memref.store %v, %wide[%tid, %c0] : memref<64x8xf32>
      gpu.return
    }
  }
}
