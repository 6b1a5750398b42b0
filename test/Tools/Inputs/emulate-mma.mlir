// One warp multiplies a 16x16 A by a 16x8 B with nvvm.mma.sync m16n8k16 (f16 factors, f32
// accumulators), each lane loading and storing its fragments as the PTX ISA lays them out
// ("Matrix Fragments for mma.m16n8k16 with floating point type"): D = A B + C.
module attributes {gpu.container_module} {
  func.func @mma(%a: memref<16x16xf32> {msdd.name = "a"}, %b: memref<16x8xf32> {msdd.name = "b"}, %c: memref<16x8xf32> {msdd.name = "c"}) -> memref<16x8xf32> {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %d = gpu.alloc () : memref<16x8xf32>
    gpu.launch_func @kernels::@mma blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%a : memref<16x16xf32>, %b : memref<16x8xf32>, %c : memref<16x8xf32>, %d : memref<16x8xf32>)
    return %d : memref<16x8xf32>
  }
  gpu.module @kernels {
    gpu.func @mma(%a: memref<16x16xf32>, %b: memref<16x8xf32>, %c: memref<16x8xf32>, %d: memref<16x8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c4 = arith.constant 4 : index
      %c8 = arith.constant 8 : index
      %c9 = arith.constant 9 : index
      %p0 = llvm.mlir.constant(0 : i32) : i32
      %p1 = llvm.mlir.constant(1 : i32) : i32
      %undef = llvm.mlir.undef : vector<2xf16>
      %lane = gpu.thread_id x
      %g = arith.divui %lane, %c4 : index
      %t = arith.remui %lane, %c4 : index
      %t2 = arith.muli %t, %c2 : index
      %t2p1 = arith.addi %t2, %c1 : index
      %t2p8 = arith.addi %t2, %c8 : index
      %t2p9 = arith.addi %t2, %c9 : index
      %g8 = arith.addi %g, %c8 : index
      %x0 = memref.load %a[%g, %t2] : memref<16x16xf32>
      %y0 = memref.load %a[%g, %t2p1] : memref<16x16xf32>
      %hx0 = arith.truncf %x0 : f32 to f16
      %hy0 = arith.truncf %y0 : f32 to f16
      %v0a = llvm.insertelement %hx0, %undef[%p0 : i32] : vector<2xf16>
      %v0 = llvm.insertelement %hy0, %v0a[%p1 : i32] : vector<2xf16>
      %x1 = memref.load %a[%g8, %t2] : memref<16x16xf32>
      %y1 = memref.load %a[%g8, %t2p1] : memref<16x16xf32>
      %hx1 = arith.truncf %x1 : f32 to f16
      %hy1 = arith.truncf %y1 : f32 to f16
      %v1a = llvm.insertelement %hx1, %undef[%p0 : i32] : vector<2xf16>
      %v1 = llvm.insertelement %hy1, %v1a[%p1 : i32] : vector<2xf16>
      %x2 = memref.load %a[%g, %t2p8] : memref<16x16xf32>
      %y2 = memref.load %a[%g, %t2p9] : memref<16x16xf32>
      %hx2 = arith.truncf %x2 : f32 to f16
      %hy2 = arith.truncf %y2 : f32 to f16
      %v2a = llvm.insertelement %hx2, %undef[%p0 : i32] : vector<2xf16>
      %v2 = llvm.insertelement %hy2, %v2a[%p1 : i32] : vector<2xf16>
      %x3 = memref.load %a[%g8, %t2p8] : memref<16x16xf32>
      %y3 = memref.load %a[%g8, %t2p9] : memref<16x16xf32>
      %hx3 = arith.truncf %x3 : f32 to f16
      %hy3 = arith.truncf %y3 : f32 to f16
      %v3a = llvm.insertelement %hx3, %undef[%p0 : i32] : vector<2xf16>
      %v3 = llvm.insertelement %hy3, %v3a[%p1 : i32] : vector<2xf16>
      %x4 = memref.load %b[%t2, %g] : memref<16x8xf32>
      %y4 = memref.load %b[%t2p1, %g] : memref<16x8xf32>
      %hx4 = arith.truncf %x4 : f32 to f16
      %hy4 = arith.truncf %y4 : f32 to f16
      %v4a = llvm.insertelement %hx4, %undef[%p0 : i32] : vector<2xf16>
      %v4 = llvm.insertelement %hy4, %v4a[%p1 : i32] : vector<2xf16>
      %x5 = memref.load %b[%t2p8, %g] : memref<16x8xf32>
      %y5 = memref.load %b[%t2p9, %g] : memref<16x8xf32>
      %hx5 = arith.truncf %x5 : f32 to f16
      %hy5 = arith.truncf %y5 : f32 to f16
      %v5a = llvm.insertelement %hx5, %undef[%p0 : i32] : vector<2xf16>
      %v5 = llvm.insertelement %hy5, %v5a[%p1 : i32] : vector<2xf16>
      %cc0 = memref.load %c[%g, %t2] : memref<16x8xf32>
      %cc1 = memref.load %c[%g, %t2p1] : memref<16x8xf32>
      %cc2 = memref.load %c[%g8, %t2] : memref<16x8xf32>
      %cc3 = memref.load %c[%g8, %t2p1] : memref<16x8xf32>
      %res = nvvm.mma.sync A[%v0, %v1, %v2, %v3] B[%v4, %v5] C[%cc0, %cc1, %cc2, %cc3] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
      %dd0 = llvm.extractvalue %res[0] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %dd0, %d[%g, %t2] : memref<16x8xf32>
      %dd1 = llvm.extractvalue %res[1] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %dd1, %d[%g, %t2p1] : memref<16x8xf32>
      %dd2 = llvm.extractvalue %res[2] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %dd2, %d[%g8, %t2] : memref<16x8xf32>
      %dd3 = llvm.extractvalue %res[3] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %dd3, %d[%g8, %t2p1] : memref<16x8xf32>
      gpu.return
    }
  }
}
