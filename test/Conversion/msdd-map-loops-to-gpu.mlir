// RUN: msdd-opt %s --split-input-file --msdd-map-loops-to-gpu --verify-diagnostics | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-map-loops-to-gpu="block-size=64" --verify-diagnostics | FileCheck %s --check-prefix=B64

// A 3 x 100 elementwise op: 300 points, 2 blocks of 256 threads, the tail guarded; the linear
// id splits into (i, j) with j fastest.
#id = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[C2:.+]] = arith.constant 2 : index
// CHECK: %[[C256:.+]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C2]], %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%[[BS:.+]] = %[[C256]],
// CHECK: %[[MUL:.+]] = arith.muli %[[BX]], %[[C256]]
// CHECK: %[[ID:.+]] = arith.addi %[[MUL]], %[[TX]]
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[ID]], %{{.+}} : index
// CHECK: scf.if %[[IN]]
// Fewer than 2^31 points: the divisions run on i32 (64-bit ones are emulated on GPUs).
// CHECK: %[[ID32:.+]] = arith.index_castui %[[ID]] : index to i32
// CHECK: %[[J32:.+]] = arith.remui %[[ID32]], %{{.+}} : i32
// CHECK: %[[I32:.+]] = arith.divui %[[ID32]], %{{.+}} : i32
// CHECK: arith.index_castui %[[J32]] : i32 to index
// CHECK: arith.index_castui %[[I32]] : i32 to index
// CHECK: memref.load %arg0[%{{.+}}, %{{.+}}]
// CHECK: math.exp
// CHECK: memref.store
// CHECK: gpu.terminator
// B64-LABEL: func.func @elementwise
// B64: %[[C5:.+]] = arith.constant 5 : index
// B64: %[[C64:.+]] = arith.constant 64 : index
// B64: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C5]], {{.*}} threads({{.*}}) in ({{.*}} = %[[C64]],
func.func @elementwise(%x: memref<3x100xf32>, %y: memref<3x100xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<3x100xf32>) outs(%y : memref<3x100xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// Exactly one block of 64 threads: no guard. The reduction stays a loop in each thread.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_sums
// CHECK: gpu.launch
// CHECK-NOT: scf.if
// CHECK: scf.for
// CHECK: arith.addf
// CHECK: gpu.terminator
func.func @row_sums(%x: memref<64x32xf32>, %y: memref<64xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x32xf32>) outs(%y : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// No parallel dimension: one thread runs the whole loop nest.
#all = affine_map<(d0) -> (d0)>
#none = affine_map<(d0) -> ()>
// CHECK-LABEL: func.func @total
// CHECK: gpu.launch blocks({{.*}}) in (%{{[a-z0-9]+}} = %c1{{(_[0-9]+)?}}, {{.*}} threads({{.*}}) in (%{{[a-z0-9]+}} = %c1{{(_[0-9]+)?}},
// CHECK-NEXT: scf.for
func.func @total(%x: memref<16xf32>, %y: memref<f32>) {
  linalg.generic {indexing_maps = [#all, #none], iterator_types = ["reduction"]}
      ins(%x : memref<16xf32>) outs(%y : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A scalar input read on the host (hoisted out of the body) is read in the kernel instead.
#id1 = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @seeded
// CHECK-NOT: memref.load %arg0
// CHECK: gpu.launch
// CHECK: memref.load %arg0[] : memref<i64>
// CHECK: gpu.terminator
func.func @seeded(%seed: memref<i64>, %y: memref<8xi64>) {
  %s = memref.load %seed[] : memref<i64>
  linalg.generic {indexing_maps = [#id1], iterator_types = ["parallel"]} outs(%y : memref<8xi64>) {
  ^bb0(%out: i64):
    %i = linalg.index 0 : index
    %c = arith.index_cast %i : index to i64
    %v = arith.xori %c, %s : i64
    linalg.yield %v : i64
  }
  return
}

// -----

func.func @host_read(%seed: memref<i64>) -> i64 {
  // expected-error @+1 {{'memref.load' op in host code would access device memory}}
  %s = memref.load %seed[] : memref<i64>
  return %s : i64
}

// -----

// A long last-dimension reduction: one warp per row (8 rows per block of 256 threads), lanes
// striding by 32, a shuffle butterfly, lane 0 folding into the initial value.
#in2 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out2 = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @row_max
// CHECK: %[[C2:.+]] = arith.constant 2 : index
// CHECK: %[[C256:.+]] = arith.constant 256 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C2]], {{.*}} threads({{.*}}) in ({{.*}} = %[[C256]],
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: %[[NEG:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[ACC:.+]] = scf.for %[[K:.+]] = %[[LANE]] to %c128 step %c32{{(_[0-9]+)?}} iter_args(%[[A:.+]] = %[[NEG]]) -> (f32)
// CHECK: %[[X:.+]] = memref.load %arg0[%{{.+}}, %{{.+}}, %[[K]]]
// CHECK: %[[M:.+]] = arith.maximumf %[[A]], %[[X]] : f32
// CHECK: scf.yield %[[M]]
// CHECK: gpu.shuffle  xor %[[ACC]], %c16_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK-COUNT-4: gpu.shuffle  xor
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]]
// CHECK: memref.load %arg1
// CHECK: arith.maximumf
// CHECK: memref.store
func.func @row_max(%x: memref<4x4x128xf32>, %y: memref<4x4xf32>) {
  linalg.generic {indexing_maps = [#in2, #out2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x4x128xf32>) outs(%y : memref<4x4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.maximumf %acc, %in : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// 2^31 points: the linear id does not fit in i32, so delinearization stays on index.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @huge
// CHECK: gpu.launch
// CHECK-NOT: index_castui
// CHECK: arith.remui %{{.+}}, %{{.+}} : index
// CHECK: arith.divui %{{.+}}, %{{.+}} : index
// CHECK: gpu.terminator
func.func @huge(%x: memref<2x1073741824xf32>) {
  linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel", "parallel"]}
      outs(%x : memref<2x1073741824xf32>) {
  ^bb0(%out: f32):
    %e = math.exp %out : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// 2^20 + 256 points, straight-line body: each thread takes 4 points a block apart (coalesced
// steps), loads and computes all four, then stores them; out-of-range points are clamped to
// the last one for reading and skip their stores.
#id3 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @coarsened
// CHECK: %[[BLOCKS:.+]] = arith.constant 1025 : index
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[BLOCKS]],
// CHECK: %[[PERBLOCK:.+]] = arith.constant 1024 : index
// CHECK: %[[START:.+]] = arith.muli %[[BX]], %[[PERBLOCK]]
// CHECK: %[[ID0:.+]] = arith.addi %[[START]], %{{.+}} : index
// CHECK: %[[ID1:.+]] = arith.addi %[[ID0]], %{{.+}} : index
// CHECK: %[[ID2:.+]] = arith.addi %[[ID0]], %{{.+}} : index
// CHECK: %[[ID3:.+]] = arith.addi %[[ID0]], %{{.+}} : index
// CHECK: arith.minui %[[ID0]]
// CHECK: arith.minui %[[ID3]]
// CHECK-COUNT-4: math.exp
// CHECK-NOT: memref.store
// CHECK: scf.if
// CHECK-NEXT: memref.store
// CHECK: scf.if
// CHECK-NEXT: memref.store
// CHECK: scf.if
// CHECK-NEXT: memref.store
// CHECK: scf.if
// CHECK-NEXT: memref.store
// CHECK: gpu.terminator
func.func @coarsened(%x: memref<4097x256xf32>, %y: memref<4097x256xf32>) {
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4097x256xf32>) outs(%y : memref<4097x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  return
}
