// RUN: msdd-opt %s --split-input-file --allow-unregistered-dialect --msdd-lower-flash-attention-to-gpu --verify-diagnostics | FileCheck %s
// RUN: msdd-opt %s --split-input-file --allow-unregistered-dialect --msdd-lower-flash-attention-to-gpu=query-tile=64 --verify-diagnostics | FileCheck %s --check-prefix=TILE64
// RUN: not msdd-opt %s --split-input-file --allow-unregistered-dialect --msdd-lower-flash-attention-to-gpu=query-tile=32 2>&1 | FileCheck %s --check-prefix=BADTILE
// BADTILE: error: query-tile must be 0, 64 or 128, not 32

// 100 queries, 70 keys, head dim 32, value dim 16, f16 factors: 128-row query tiles (100
// rows pad to 128 either way), 1 query tile x 6 (batch, head) blocks of 256 threads (8
// warps); shared memory for a 64-key tile of K (64 rows of 16 + 4 padding words) and of V
// transposed (16 rows of 32 + 4 words); 2 key tiles. With query-tile=64: 2 query tiles of
// 128 threads.
// CHECK-LABEL: func.func @partial_tiles
// CHECK-DAG: %[[C6:.+]] = arith.constant 6 : index
// CHECK-DAG: %[[C256:.+]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %c1{{(_[0-9]+)?}}, %{{.+}} = %[[C6]], %{{.+}} = %{{.+}}) threads(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C256]], %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) workgroup(%[[KS:.+]] : memref<64x20xi32, #gpu.address_space<workgroup>>, %[[VS:.+]] : memref<16x36xi32, #gpu.address_space<workgroup>>)
// TILE64-LABEL: func.func @partial_tiles
// TILE64-DAG: %[[C2:.+]] = arith.constant 2 : index
// TILE64-DAG: %[[C6:.+]] = arith.constant 6 : index
// TILE64-DAG: %[[C128:.+]] = arith.constant 128 : index
// TILE64: gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C2]], %{{.+}} = %[[C6]], %{{.+}} = %{{.+}}) threads(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C128]], %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) workgroup
// Q fragments: 2 slices of 16 of the head dim x 4 registers, 4-byte loads.
// CHECK-COUNT-8: llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr -> i32
// The loop carries 2 output tiles x 4 accumulators, 2 running maxima and 2 sums.
// CHECK: %[[LOOP:.+]]:12 = scf.for
// CHECK: gpu.barrier
// K: 16-byte loads stored as 16-byte rows of shared memory; V: two keys' 16-byte loads
// interleaved, each of the 8 words stored at the key pair's column XORed with 16 x the
// chunk (2 chunks of 8 value columns: the 32 lanes cover 16 key pairs x 2 chunks).
// CHECK: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xi32>
// CHECK: vector.store %{{.+}}, %[[KS]][%{{.+}}, %{{.+}}] : memref<64x20xi32, #gpu.address_space<workgroup>>, vector<4xi32>
// CHECK: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr -> vector<8xf16>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15]
// CHECK: %[[SW:.+]] = arith.andi %{{.+}}, %c31
// CHECK: %[[VCOL:.+]] = arith.xori %[[KP:.+]], %[[SW]]
// CHECK-COUNT-8: memref.store %{{.+}}, %[[VS]][%{{.+}}, %[[VCOL]]]
// CHECK: gpu.barrier
// S = Q K^T: 8 tiles of 8 keys x 2 slices; keys past 70 get -inf.
// CHECK-COUNT-16: nvvm.mma.sync {{.+}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: arith.constant 0xFF800000 : f32
// The row maxima combine over the 4 lanes of a quad; base-2 exponentials.
// CHECK: gpu.shuffle xor %{{.+}}, %{{.+}}, %{{.+}} : f32
// CHECK: math.exp2
// O += P V: 4 slices of 16 keys x 2 output tiles.
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: scf.yield
// The row sums combine over the quad; the rows past 100 are not stored.
// CHECK: gpu.shuffle xor %[[LOOP]]#10
// CHECK: scf.if
// CHECK: memref.store %{{.+}}, %{{.+}} : memref<2x3x100x16xf32>
// CHECK: gpu.shuffle xor %[[LOOP]]#11
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.terminator
// CHECK-NOT: msdd.flash_attention
func.func @partial_tiles(%q: memref<2x3x100x32xf16>, %k: memref<2x3x70x32xf16>, %v: memref<2x3x70x16xf16>, %o: memref<2x3x100x16xf32>) {
  msdd.flash_attention %q, %k, %v into %o {scale = 0.25 : f64} : memref<2x3x100x32xf16>, memref<2x3x70x32xf16>, memref<2x3x70x16xf16> into memref<2x3x100x16xf32>
  return
}

// -----

// Whole tiles (128 queries and keys; 64 keys x 8 chunks of K and 32 key pairs x 8 chunks
// of V per block of 256 threads): no key mask, no guard on the copies, no row guard.
// CHECK-LABEL: func.func @whole_tiles
// CHECK: scf.for
// CHECK-NOT: 0xFF800000
// CHECK-NOT: scf.if
// CHECK: gpu.terminator
func.func @whole_tiles(%q: memref<1x1x128x64xf16>, %o: memref<1x1x128x64xf32>) {
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x128x64xf16>, memref<1x1x128x64xf16>, memref<1x1x128x64xf16> into memref<1x1x128x64xf32>
  return
}

// -----

// Joint attention over 16 latent and 64 image tokens: each slice of the output rows is only
// rounded to bf16 and transposed to [B, L, H, D] by its reader. The kernel stores each
// slice there itself (rows 0..15 into the first buffer, 16..79 into the second at row - 16,
// both at (batch, row, head, column)); the f32 output and the readers are gone, and the
// second destination is now allocated before the kernel.
#heads = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @joint_outputs
// CHECK-NOT: xf32>
// CHECK: %[[LAT:.+]] = gpu.alloc () : memref<2x16x3x32xbf16>
// CHECK-NEXT: %[[IMG:.+]] = gpu.alloc () : memref<2x64x3x32xbf16>
// CHECK: gpu.launch
// CHECK: %[[LATROW:.+]] = arith.cmpi ult, %[[ROW:.+]], %c16
// CHECK: scf.if %[[LATROW]]
// CHECK-COUNT-8: memref.store %{{.+}}, %[[LAT]][%[[B:.+]], %[[ROW]], %[[H:.+]], %{{.+}}] : memref<2x16x3x32xbf16>
// CHECK: arith.cmpi uge, %[[ROW]], %c16
// CHECK: arith.cmpi ult, %[[ROW]], %c80
// CHECK: scf.if
// CHECK: %[[IMGROW:.+]] = arith.subi %[[ROW]], %c16
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// CHECK: memref.store %{{.+}}, %[[IMG]][%[[B]], %[[IMGROW]], %[[H]], %{{.+}}] : memref<2x64x3x32xbf16>
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK-NOT: gpu.dealloc
// CHECK: "test.use"(%[[LAT]], %[[IMG]])
func.func @joint_outputs(%q: memref<2x3x80x32xf16>) {
  %o = gpu.alloc () : memref<2x3x80x32xf32>
  %lat = gpu.alloc () : memref<2x16x3x32xbf16>
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<2x3x80x32xf16>, memref<2x3x80x32xf16>, memref<2x3x80x32xf16> into memref<2x3x80x32xf32>
  %s0 = memref.subview %o[0, 0, 0, 0] [2, 3, 16, 32] [1, 1, 1, 1] : memref<2x3x80x32xf32> to memref<2x3x16x32xf32, strided<[7680, 2560, 32, 1]>>
  %s1 = memref.subview %o[0, 0, 16, 0] [2, 3, 64, 32] [1, 1, 1, 1] : memref<2x3x80x32xf32> to memref<2x3x64x32xf32, strided<[7680, 2560, 32, 1], offset: 512>>
  linalg.generic {indexing_maps = [#heads, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s0 : memref<2x3x16x32xf32, strided<[7680, 2560, 32, 1]>>) outs(%lat : memref<2x16x3x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  %img = gpu.alloc () : memref<2x64x3x32xbf16>
  linalg.generic {indexing_maps = [#heads, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s1 : memref<2x3x64x32xf32, strided<[7680, 2560, 32, 1], offset: 512>>) outs(%img : memref<2x64x3x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  gpu.dealloc %o : memref<2x3x80x32xf32>
  "test.use"(%lat, %img) : (memref<2x16x3x32xbf16>, memref<2x64x3x32xbf16>) -> ()
  return
}

// -----

// Another op reads the f32 output too: the kernel stores it in f32, and the rounding
// reader (of all of it, without a view) stays. Without that op, it would go (next case).
#heads2 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
#id2 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @also_read_in_f32
// CHECK: gpu.launch
// CHECK: memref.store %{{.+}}, %{{.+}} : memref<1x1x64x16xf32>
// CHECK: gpu.terminator
// CHECK: linalg.generic
// CHECK: "test.use"
func.func @also_read_in_f32(%q: memref<1x1x64x16xf16>, %r: memref<1x64x1x16xbf16>) {
  %o = gpu.alloc () : memref<1x1x64x16xf32>
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x64x16xf16>, memref<1x1x64x16xf16>, memref<1x1x64x16xf16> into memref<1x1x64x16xf32>
  linalg.generic {indexing_maps = [#heads2, #id2], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o : memref<1x1x64x16xf32>) outs(%r : memref<1x64x1x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  "test.use"(%o) : (memref<1x1x64x16xf32>) -> ()
  return
}

// -----

func.func @strided(%q: memref<1x1x64x16xf16, strided<[2048, 2048, 32, 1]>>, %o: memref<1x1x64x16xf32>) {
  // expected-error @+1 {{'msdd.flash_attention' op needs identity-layout buffers}}
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x64x16xf16, strided<[2048, 2048, 32, 1]>>, memref<1x1x64x16xf16, strided<[2048, 2048, 32, 1]>>, memref<1x1x64x16xf16, strided<[2048, 2048, 32, 1]>> into memref<1x1x64x16xf32>
  return
}

// -----

func.func @tensors(%q: tensor<1x1x64x16xf16>, %o: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  // expected-error @+1 {{'msdd.flash_attention' op is not bufferized}}
  %r = msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : tensor<1x1x64x16xf16>, tensor<1x1x64x16xf16>, tensor<1x1x64x16xf16> into tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %r : tensor<1x1x64x16xf32>
}

// -----

#heads3 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
#id3 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @whole_output_rounded
// CHECK-NOT: xf32>
// CHECK: gpu.launch
// CHECK: memref.store %{{.+}}, %arg1[%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}] : memref<1x64x1x16xbf16>
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
func.func @whole_output_rounded(%q: memref<1x1x64x16xf16>, %r: memref<1x64x1x16xbf16>) {
  %o = gpu.alloc () : memref<1x1x64x16xf32>
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x64x16xf16>, memref<1x1x64x16xf16>, memref<1x1x64x16xf16> into memref<1x1x64x16xf32>
  linalg.generic {indexing_maps = [#heads3, #id3], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o : memref<1x1x64x16xf32>) outs(%r : memref<1x64x1x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  gpu.dealloc %o : memref<1x1x64x16xf32>
  return
}

// -----

// TF32 factors: 100 queries, 70 keys, head dim 24 (3 slices of 8), value dim 16. K and V
// are staged as rows of TF32 bits (64 keys x 24 or 16 words + 4 padding words).
// CHECK-LABEL: func.func @partial_tiles_tf32
// CHECK: gpu.launch {{.+}} workgroup(%[[KS:.+]] : memref<64x28xi32, #gpu.address_space<workgroup>>, %[[VS:.+]] : memref<64x20xi32, #gpu.address_space<workgroup>>)
// Q fragments: 3 slices x 4 registers, each f32 rounded to TF32 (to nearest, ties away).
// CHECK: %[[QF:.+]] = llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK: %[[QBITS:.+]] = arith.bitcast %[[QF]] : f32 to i32
// CHECK: %[[QUP:.+]] = arith.addi %[[QBITS]], %c4096_i32
// CHECK: arith.andi %[[QUP]], %c-8192_i32
// CHECK-COUNT-11: llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK: %[[LOOP:.+]]:12 = scf.for
// CHECK: gpu.barrier
// K and V: 16-byte loads, rounded as vectors, stored as 16 bytes.
// CHECK: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK: arith.bitcast %{{.+}} : vector<4xf32> to vector<4xi32>
// CHECK: vector.store %{{.+}}, %[[KS]]
// CHECK: llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK: vector.store %{{.+}}, %[[VS]]
// CHECK: gpu.barrier
// S = Q K^T: 8 tiles of 8 keys x 3 slices on m16n8k8 TF32; keys past 70 get -inf.
// CHECK-COUNT-24: nvvm.mma.sync {{.+}}multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: math.exp2
// O += P V: 8 tiles of 8 keys x 2 output tiles, V read at rows (keys) 2t and 2t + 1.
// CHECK: memref.load %[[VS]]
// CHECK-COUNT-16: nvvm.mma.sync {{.+}}k = 8>}
// CHECK: scf.yield
// CHECK: gpu.shuffle xor %[[LOOP]]#10
// CHECK: memref.store %{{.+}}, %{{.+}} : memref<2x3x100x16xf32>
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.terminator
func.func @partial_tiles_tf32(%q: memref<2x3x100x24xf32>, %k: memref<2x3x70x24xf32>, %v: memref<2x3x70x16xf32>, %o: memref<2x3x100x16xf32>) {
  msdd.flash_attention %q, %k, %v into %o {scale = 0.25 : f64} : memref<2x3x100x24xf32>, memref<2x3x70x24xf32>, memref<2x3x70x16xf32> into memref<2x3x100x16xf32>
  return
}

// -----

// Split factors (3xTF32): K and V are staged unrounded; every factor is split as it is
// read into high = tf32(x) and low = tf32(x - high), and each product takes three TF32
// products on the same tile: low(A) high(B), high(A) low(B), high(A) high(B).
// CHECK-LABEL: func.func @split_factors
// CHECK: gpu.launch {{.+}} workgroup(%[[KS:.+]] : memref<64x12xi32, #gpu.address_space<workgroup>>, %[[VS:.+]] : memref<64x12xi32, #gpu.address_space<workgroup>>)
// CHECK: %[[QF:.+]] = llvm.load %{{.+}} {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK: %[[QBITS:.+]] = arith.bitcast %[[QF]] : f32 to i32
// CHECK: %[[QUP:.+]] = arith.addi %[[QBITS]], %c4096_i32
// CHECK: %[[QHI:.+]] = arith.andi %[[QUP]], %c-8192_i32
// CHECK: %[[QHIF:.+]] = arith.bitcast %[[QHI]] : i32 to f32
// CHECK: %[[QREST:.+]] = arith.subf %[[QF]], %[[QHIF]]
// CHECK: %[[QRBITS:.+]] = arith.bitcast %[[QREST]] : f32 to i32
// CHECK: %[[QRUP:.+]] = arith.addi %[[QRBITS]], %c4096_i32
// CHECK: %[[QLO:.+]] = arith.andi %[[QRUP]], %c-8192_i32
// CHECK: scf.for
// K staged as the f32s' bits, not rounded.
// CHECK: %[[KV:.+]] = llvm.load %{{.+}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK: %[[KSEL:.+]] = arith.select %{{.+}}, %[[KV]], %{{.+}} : vector<4xf32>
// CHECK-NEXT: %[[KW:.+]] = arith.bitcast %[[KSEL]] : vector<4xf32> to vector<4xi32>
// CHECK-NOT: arith.andi
// CHECK: vector.store %[[KW]]
// CHECK: gpu.barrier
// S = Q K^T: the first 8-key tile, its one slice as three products.
// CHECK: %[[K0:.+]] = memref.load %[[KS]]
// CHECK: %[[K0F:.+]] = arith.bitcast %[[K0]] : i32 to f32
// CHECK: nvvm.mma.sync A[%[[QLO]], {{.+}}B[%[[K0H:[0-9a-z_]+]], %[[K1H:[0-9a-z_]+]]]
// CHECK: nvvm.mma.sync A[%[[QHI]], {{.+}}B[%[[K0L:[0-9a-z_]+]], %[[K1L:[0-9a-z_]+]]]
// CHECK: nvvm.mma.sync A[%[[QHI]], {{.+}}B[%[[K0H]], %[[K1H]]]
// CHECK-COUNT-21: nvvm.mma.sync
// CHECK: math.exp2
// O += P V: 8 key tiles x 1 output tile x 3.
// CHECK-COUNT-24: nvvm.mma.sync {{.+}}k = 8>}
// CHECK: scf.yield
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.terminator
func.func @split_factors(%q: memref<1x2x64x8xf32>, %k: memref<1x2x64x8xf32>, %v: memref<1x2x64x8xf32>, %o: memref<1x2x64x8xf32>) {
  msdd.flash_attention %q, %k, %v into %o {scale = 0.25 : f64, split_factors} : memref<1x2x64x8xf32>, memref<1x2x64x8xf32>, memref<1x2x64x8xf32> into memref<1x2x64x8xf32>
  return
}

// -----

// 128-wide TF32 heads: 64-key tiles of K and V would take 67584 bytes of shared memory,
// 32-key tiles fit in 48 KiB.
// CHECK-LABEL: func.func @wide_heads_tf32
// CHECK: workgroup(%{{.+}} : memref<32x132xi32, #gpu.address_space<workgroup>>, %{{.+}} : memref<32x132xi32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-64: nvvm.mma.sync
// CHECK-COUNT-64: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
func.func @wide_heads_tf32(%q: memref<1x1x64x128xf32>, %o: memref<1x1x64x128xf32>) {
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x64x128xf32>, memref<1x1x64x128xf32>, memref<1x1x64x128xf32> into memref<1x1x64x128xf32>
  return
}

// -----

func.func @too_wide(%q: memref<1x1x64x512xf32>, %o: memref<1x1x64x512xf32>) {
  // expected-error @+1 {{'msdd.flash_attention' op has key tiles that do not fit in 49152 bytes of shared memory (head dimension 512, value dimension 512)}}
  msdd.flash_attention %q, %q, %q into %o {scale = 0.25 : f64} : memref<1x1x64x512xf32>, memref<1x1x64x512xf32>, memref<1x1x64x512xf32> into memref<1x1x64x512xf32>
  return
}
