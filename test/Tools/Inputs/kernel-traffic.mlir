// Host code of a CUDA artifact as `msdd-compile --emit=kernels` prints it, cut down to what
// benchmarks/gpu/kernel_traffic.py reads (the kernels' bodies are not needed).
module attributes {gpu.container_module} {
  func.func private @msdd_rt_cuda_matmul_bf16_to_bf16(memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, i64, i64)
  func.func private @msdd_rt_cuda_matmul_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64)
  // A linear layer: a 65536 x 4096 x 1024 product (beta = 0), then a kernel over its result.
  func.func private @layer(%x: memref<65536x1024xbf16>, %w: memref<4096x1024xbf16>, %b: memref<4096xf32>, %y: memref<65536x4096xbf16>) {
    %c1_i64 = arith.constant 1 : i64
    %c0_i64 = arith.constant 0 : i64
    %c1 = arith.constant 1 : index
    %c256 = arith.constant 256 : index
    %c1024 = arith.constant 1024 : index
    %cast = memref.cast %x : memref<65536x1024xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
    %cast_0 = memref.cast %w : memref<4096x1024xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
    %cast_1 = memref.cast %y : memref<65536x4096xbf16> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
    call @msdd_rt_cuda_matmul_bf16_to_bf16(%cast, %cast_0, %cast_1, %c1_i64, %c0_i64) : (memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, memref<?x?xbf16, strided<[?, ?], offset: ?>>, i64, i64) -> ()
    gpu.launch_func @msdd_kernels::@generic_extf_addf_65536x4096 blocks in (%c1024, %c1, %c1) threads in (%c256, %c1, %c1)  args(%y : memref<65536x4096xbf16>, %b : memref<4096xf32>)
    return
  }
  func.func @model(%x: memref<65536x1024xbf16>, %w: memref<4096x1024xbf16>, %b: memref<4096xf32>, %y: memref<65536x4096xbf16>, %q: memref<16x12x1024x64xf16>, %k: memref<16x12x1024x64xf16>, %v: memref<16x12x1024x64xf16>, %o: memref<16x1024x12x64xbf16>, %a: memref<1024x1024xf32>) {
    %c1_i64 = arith.constant 1 : i64
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c192 = arith.constant 192 : index
    %c256 = arith.constant 256 : index
    %0 = gpu.wait async
    %memref, %asyncToken = gpu.alloc async [%0] () : memref<1000000xf32>
    call @layer(%x, %w, %b, %y) : (memref<65536x1024xbf16>, memref<4096x1024xbf16>, memref<4096xf32>, memref<65536x4096xbf16>) -> ()
    call @layer(%x, %w, %b, %y) : (memref<65536x1024xbf16>, memref<4096x1024xbf16>, memref<4096xf32>, memref<65536x4096xbf16>) -> ()
    // Attention at 1024 tokens: 8 query tiles of 128 rows, each staging all of K and V.
    gpu.launch_func @msdd_kernels::@flash_attention_16x12x1024x1024x64 blocks in (%c8, %c192, %c1) threads in (%c256, %c1, %c1)  args(%q : memref<16x12x1024x64xf16>, %k : memref<16x12x1024x64xf16>, %v : memref<16x12x1024x64xf16>, %o : memref<16x1024x12x64xbf16>)
    // An f32 product that accumulates into its result (beta = 1: read and written).
    %cast = memref.cast %a : memref<1024x1024xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
    call @msdd_rt_cuda_matmul_f32(%cast, %cast, %cast, %c1_i64, %c1_i64) : (memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64) -> ()
    gpu.launch_func @msdd_kernels::@fill_64 blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)  args(%memref : memref<1000000xf32>)
    %1 = gpu.dealloc async [%asyncToken] %memref : memref<1000000xf32>
    return
  }
}
