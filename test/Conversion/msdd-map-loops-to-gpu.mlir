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

// Exactly one block of 64 threads: no guard. Rows of 3 are too short to share among
// lanes: the reduction stays a loop in each thread, its accumulator in a register: the
// output is loaded once, before the loop, and stored once, after it.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_sums
// CHECK: gpu.launch
// CHECK-NOT: scf.if
// CHECK: %[[OLD:.+]] = memref.load %arg1[%[[ROW:.+]]] : memref<64xf32>
// CHECK: %[[TOTAL:.+]] = scf.for %[[K:.+]] = {{.*}} iter_args(%[[ACC:.+]] = %[[OLD]]) -> (f32)
// CHECK-NEXT: %[[X:.+]] = memref.load %arg0[%[[ROW]], %[[K]]]
// CHECK-NEXT: %[[SUM:.+]] = arith.addf %[[X]], %[[ACC]]
// CHECK-NEXT: scf.yield %[[SUM]]
// CHECK: memref.store %[[TOTAL]], %arg1[%[[ROW]]]
// CHECK-NOT: gpu.shuffle
// CHECK: gpu.terminator
func.func @row_sums(%x: memref<64x3xf32>, %y: memref<64xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x3xf32>) outs(%y : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Rows of 20: 16 lanes a row, two rows a warp (a thread per row would read 20 floats
// apart in each load of a warp). 6 rows: 3 warps in one block of 96 threads. The
// butterfly stays inside each row's 16 lanes (offsets 8, 4, 2, 1 over the whole warp).
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @short_rows
// CHECK: %[[C96:.+]] = arith.constant 96 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{(_[0-9]+)?}}, {{.*}} threads({{.*}}) in ({{.*}} = %[[C96]],
// CHECK: arith.divui %{{.+}}, %c16
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c16
// CHECK: %[[ROW:.+]] = arith.index_castui %{{.+}} : i32 to index
// CHECK-NOT: scf.if
// CHECK: %[[ACC:.+]] = scf.for %[[K:.+]] = %[[LANE]] to %c20 step %c16{{(_[0-9]+)?}} iter_args
// CHECK: memref.load %arg0[%[[ROW]], %[[K]]]
// CHECK: gpu.shuffle  xor %[[ACC]], %c8_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK: gpu.shuffle  xor %{{.+}}, %c4_i32
// CHECK: gpu.shuffle  xor %{{.+}}, %c2_i32
// CHECK: gpu.shuffle  xor %{{.+}}, %c1_i32
// CHECK-NOT: gpu.shuffle
// CHECK: arith.cmpi eq, %[[LANE]], %c0
// CHECK: memref.store %{{.+}}, %arg1[%[[ROW]]]
func.func @short_rows(%x: memref<6x20xf32>, %y: memref<6xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<6x20xf32>) outs(%y : memref<6xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Rows of 32 (a head dimension): a warp per row. 20 rows: 3 blocks of 8 warps, the last
// one's 4 extra warps dropped whole by the guard.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @warp_rows
// CHECK: %[[C3:.+]] = arith.constant 3 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C3]], {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: scf.if
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step %c1
// CHECK: %[[K:.+]] = arith.addi %{{.+}}, %[[LANE]]
// CHECK: memref.load %arg0[%{{.+}}, %[[K]]]
// CHECK-NOT: memref.load
// CHECK-COUNT-5: gpu.shuffle  xor
func.func @warp_rows(%x: memref<20x32xf32>, %y: memref<20xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<20x32xf32>) outs(%y : memref<20xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// 5 rows of 16 cannot fill whole warps two rows at a time (the tail's guard drops whole
// warps only): a thread per row.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @odd_rows
// CHECK: gpu.launch
// CHECK-NOT: gpu.shuffle
// CHECK: scf.for
// CHECK-NOT: gpu.shuffle
// CHECK: gpu.terminator
func.func @odd_rows(%x: memref<5x16xf32>, %y: memref<5xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<5x16xf32>) outs(%y : memref<5xf32>) {
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
// CHECK: memref.load %arg1[]
// CHECK: scf.for
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
// striding by 32, 4 points an iteration (their loads first, then the maxima in the
// points' order), a shuffle butterfly, lane 0 folding into the initial value.
#in2 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out2 = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @row_max
// CHECK: %[[C2:.+]] = arith.constant 2 : index
// CHECK: %[[C256:.+]] = arith.constant 256 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C2]], {{.*}} threads({{.*}}) in ({{.*}} = %[[C256]],
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: %[[NEG:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[ACC:.+]] = scf.for %[[I:.+]] = %c0{{.*}} to %c2{{(_[0-9]+)?}} step %c1{{(_[0-9]+)?}} iter_args(%[[A:.+]] = %[[NEG]]) -> (f32)
// CHECK: %[[BASE:.+]] = arith.muli %[[I]], %c128
// CHECK: %[[K:.+]] = arith.addi %[[BASE]], %[[LANE]]
// CHECK-COUNT-3: arith.addi %{{.+}}, %[[LANE]]
// CHECK: %[[X:.+]] = memref.load %arg0[%{{.+}}, %{{.+}}, %[[K]]]
// CHECK-COUNT-3: memref.load %arg0
// CHECK: %[[M:.+]] = arith.maximumf %[[A]], %[[X]] : f32
// CHECK-COUNT-3: arith.maximumf
// CHECK: scf.yield
// CHECK: gpu.shuffle  xor %[[ACC]], %c16_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK-COUNT-4: gpu.shuffle  xor
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]]
// CHECK: memref.load %arg1
// CHECK: arith.maximumf
// CHECK: memref.store
func.func @row_max(%x: memref<4x4x256xf32>, %y: memref<4x4xf32>) {
  linalg.generic {indexing_maps = [#in2, #out2], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x4x256xf32>) outs(%y : memref<4x4xf32>) {
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

// -----

// A LayerNorm: two reductions of the same rows and the normalization that reads them
// become one launch of a warp per row. The reductions move down past the call (it touches
// none of their buffers); their zero fills become the starting values, and their results
// stay in registers: nothing but the normalized rows is stored.
#rows = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
#col = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @layer_norm
// CHECK-NOT: linalg.
// CHECK: call @other
// CHECK: %[[C4:.+]] = arith.constant 4 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[C4]],
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: %[[SUMS:.+]] = scf.for %{{.+}} = %c0{{.*}} to %c3{{(_[0-9]+)?}} step %c1{{.*}} iter_args
// CHECK: memref.load %arg0
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[SUM:.+]] = arith.addf %cst{{.*}}, %{{.+}} : f32
// CHECK-NOT: memref.store
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c3{{(_[0-9]+)?}} step
// CHECK: memref.load %arg0
// CHECK: arith.mulf %[[SUM]], %cst
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[VAR:.+]] = arith.addf %cst{{.*}}, %{{.+}} : f32
// CHECK-NOT: memref.store
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c3{{(_[0-9]+)?}} step
// CHECK-DAG: arith.mulf %[[SUM]], %cst
// CHECK-DAG: arith.mulf %[[VAR]], %cst
// CHECK: math.rsqrt
// CHECK: memref.store %{{.+}}, %arg2
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func private @other(memref<16x16xf32>)
func.func @layer_norm(%x: memref<4x8x96xf32>, %w: memref<96xf32>, %y: memref<4x8x96xbf16>, %o: memref<16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %inv = arith.constant 0.0104166670 : f32
  %eps = arith.constant 1.0e-6 : f32
  %sum = gpu.alloc () : memref<4x8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4x8xf32>)
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x8x96xf32>) outs(%sum : memref<4x8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  %var = gpu.alloc () : memref<4x8xf32>
  linalg.fill ins(%zero : f32) outs(%var : memref<4x8xf32>)
  linalg.generic {indexing_maps = [#rows, #row, #row], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum : memref<4x8x96xf32>, memref<4x8xf32>) outs(%var : memref<4x8xf32>) {
  ^bb0(%in: f32, %s: f32, %acc: f32):
    %mean = arith.mulf %s, %inv : f32
    %d = arith.subf %in, %mean : f32
    %d2 = arith.mulf %d, %d : f32
    %v = arith.addf %acc, %d2 : f32
    linalg.yield %v : f32
  }
  call @other(%o) : (memref<16x16xf32>) -> ()
  linalg.generic {indexing_maps = [#rows, #row, #row, #col, #rows], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %sum, %var, %w : memref<4x8x96xf32>, memref<4x8xf32>, memref<4x8xf32>, memref<96xf32>) outs(%y : memref<4x8x96xbf16>) {
  ^bb0(%in: f32, %s: f32, %v: f32, %g: f32, %out: bf16):
    %mean = arith.mulf %s, %inv : f32
    %vm = arith.mulf %v, %inv : f32
    %d = arith.subf %in, %mean : f32
    %ve = arith.addf %vm, %eps : f32
    %r = math.rsqrt %ve : f32
    %n = arith.mulf %d, %r : f32
    %sc = arith.mulf %n, %g : f32
    %t = arith.truncf %sc : f32 to bf16
    linalg.yield %t : bf16
  }
  gpu.dealloc %var : memref<4x8xf32>
  gpu.dealloc %sum : memref<4x8xf32>
  return
}

// -----

// The same group over rows of 16 (a QK-norm over a small head): 16 lanes a row, two rows a
// warp; 8 rows take one block of 4 warps, and the butterflies stay inside each row's lanes.
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @short_norm
// CHECK: %[[C128:.+]] = arith.constant 128 : index
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{(_[0-9]+)?}}, {{.*}} threads({{.*}}) in ({{.*}} = %[[C128]],
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c16
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step %c1{{.*}} iter_args
// CHECK: gpu.shuffle  xor %{{.+}}, %c8_i32{{.*}}, %c32_i32
// CHECK-COUNT-3: gpu.shuffle  xor
// CHECK-NOT: gpu.shuffle
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step
// CHECK: math.rsqrt
// CHECK: memref.store %{{.+}}, %arg1
func.func @short_norm(%x: memref<8x16xf32>, %y: memref<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %inv = arith.constant 0.0625 : f32
  %ss = gpu.alloc () : memref<8xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<8xf32>)
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x16xf32>) outs(%ss : memref<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss : memref<8x16xf32>, memref<8xf32>) outs(%y : memref<8x16xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %m = arith.mulf %s, %inv : f32
    %r = math.rsqrt %m : f32
    %n = arith.mulf %in, %r : f32
    linalg.yield %n : f32
  }
  gpu.dealloc %ss : memref<8xf32>
  return
}

// -----

// An RMS norm whose statistics another op reads afterwards: lane 0 also stores them. There
// is no fill: every lane starts from the value the buffer holds. The normalization's inner loops (a pair
// view of the row) are strided over by the lanes as one.
#rows4 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row4 = affine_map<(d0, d1, d2) -> (d0, d1)>
#pairs = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 * 2 + d3)>
#pairrow = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
#pairout = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @stats_kept
// CHECK: gpu.launch
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: scf.for
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[OLD:.+]] = memref.load %arg1
// CHECK-NEXT: %[[TOTAL:.+]] = arith.addf %[[OLD]]
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]]
// CHECK-NEXT: memref.store %[[TOTAL]], %arg1
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step
// CHECK: arith.remui {{.*}} %c2
// CHECK: memref.store %{{.+}}, %arg2
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: memref.load %arg1
// CHECK: return
func.func @stats_kept(%x: memref<2x3x64xf32>, %ss: memref<2x3xf32>, %y: memref<2x3x32x2xf32>, %copy: memref<2x3xf32>) {
  linalg.generic {indexing_maps = [#rows4, #row4], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<2x3x64xf32>) outs(%ss : memref<2x3xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#pairs, #pairrow, #pairout], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss : memref<2x3x64xf32>, memref<2x3xf32>) outs(%y : memref<2x3x32x2xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %r = math.rsqrt %s : f32
    %n = arith.mulf %in, %r : f32
    linalg.yield %n : f32
  }
  linalg.copy ins(%ss : memref<2x3xf32>) outs(%copy : memref<2x3xf32>)
  return
}

// -----

// The call between the statistics and the normalization may write the rows: nothing moves,
// and the warp reduction (which starts from the fill's constant) and the normalization get
// a launch each.
// CHECK-LABEL: func.func @written_between
// CHECK: gpu.launch
// CHECK-NOT: linalg.fill
// CHECK-NOT: gpu.launch
// CHECK: call @writes
// CHECK: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
#rows5 = affine_map<(d0, d1) -> (d0, d1)>
#row5 = affine_map<(d0, d1) -> (d0)>
func.func private @writes(memref<8x128xf32>)
func.func @written_between(%x: memref<8x128xf32>, %y: memref<8x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %sum = gpu.alloc () : memref<8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<8xf32>)
  linalg.generic {indexing_maps = [#rows5, #row5], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x128xf32>) outs(%sum : memref<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  call @writes(%x) : (memref<8x128xf32>) -> ()
  linalg.generic {indexing_maps = [#rows5, #row5, #rows5], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<8x128xf32>, memref<8xf32>) outs(%y : memref<8x128xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %d = arith.subf %in, %s : f32
    linalg.yield %d : f32
  }
  gpu.dealloc %sum : memref<8xf32>
  return
}

// -----

// A residual update before a norm leads the row group: each lane writes its points of the
// updated row and reads back only those, so the reductions need no synchronization and the
// row is not read again from memory. The deallocation of the update's input, between the
// update and the reduction, moves after the kernel; the fill with it is found past it.
#rows6 = affine_map<(d0, d1) -> (d0, d1)>
#row6 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @residual_norm
// CHECK-NOT: linalg.
// CHECK: gpu.launch
// CHECK: %[[LANE:.+]] = arith.remui %{{.+}}, %c32
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step
// CHECK-COUNT-4: memref.load %arg1
// CHECK-COUNT-4: memref.store %{{.+}}, %arg0
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step {{.*}} iter_args
// CHECK: memref.load %arg0
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK-NOT: memref.store
// CHECK: scf.for %{{.+}} = %c0{{.*}} to %c1{{(_[0-9]+)?}} step
// CHECK-COUNT-4: memref.store %{{.+}}, %arg2
// CHECK: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: gpu.dealloc %arg1
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @residual_norm(%x: memref<8x128xf32>, %y: memref<8x128xbf16>, %out: memref<8x128xbf16>) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#rows6, #rows6, #rows6], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : memref<8x128xf32>, memref<8x128xbf16>) outs(%x : memref<8x128xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %w = arith.extf %b : bf16 to f32
    %s = arith.addf %a, %w : f32
    linalg.yield %s : f32
  }
  %sum = gpu.alloc () : memref<8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<8xf32>)
  gpu.dealloc %y : memref<8x128xbf16>
  linalg.generic {indexing_maps = [#rows6, #row6], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x128xf32>) outs(%sum : memref<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rows6, #row6, #rows6], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<8x128xf32>, memref<8xf32>) outs(%out : memref<8x128xbf16>) {
  ^bb0(%in: f32, %s: f32, %o: bf16):
    %d = arith.subf %in, %s : f32
    %t = arith.truncf %d : f32 to bf16
    linalg.yield %t : bf16
  }
  gpu.dealloc %sum : memref<8xf32>
  return
}

// -----

// The norm reads the updated rows transposed: a lane would read points other lanes wrote,
// so the update keeps its own launch (the reduction and the normalization still share one).
#rows7 = affine_map<(d0, d1) -> (d0, d1)>
#cols7 = affine_map<(d0, d1) -> (d1, d0)>
#row7 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @transposed_reader
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @transposed_reader(%x: memref<64x64xf32>, %out: memref<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#rows7, #rows7], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<64x64xf32>) outs(%x : memref<64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %a : f32
    linalg.yield %s : f32
  }
  %sum = gpu.alloc () : memref<64xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<64xf32>)
  linalg.generic {indexing_maps = [#cols7, #row7], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x64xf32>) outs(%sum : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rows7, #row7, #rows7], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<64x64xf32>, memref<64xf32>) outs(%out : memref<64x64xf32>) {
  ^bb0(%in: f32, %s: f32, %o: f32):
    %d = arith.subf %in, %s : f32
    linalg.yield %d : f32
  }
  gpu.dealloc %sum : memref<64xf32>
  return
}

// -----

// A constant fill that a reduction then reduces onto is its accumulators' starting value: no
// launch for the fill, and the output is never read. A bias gradient (a column sum: a
// thread per column, looping over the rows), and a warp per row of a long row sum.
#rows10 = affine_map<(d0, d1) -> (d0, d1)>
#col10 = affine_map<(d0, d1) -> (d1)>
#row10 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @fills_folded
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[COLUMN:.+]] = scf.for {{.*}} iter_args(%[[ACC:.+]] = %[[ZERO]]) -> (f32)
// CHECK: memref.store %[[COLUMN]], %arg1
// CHECK: gpu.terminator
// CHECK-NOT: memref.load %arg1
// CHECK: gpu.launch
// CHECK: gpu.shuffle xor
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[ROW:.+]] = arith.addf {{.*}}%[[ONE]]
// CHECK: memref.store %[[ROW]], %arg2
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK-NOT: memref.load %arg2
// CHECK: return
func.func @fills_folded(%g: memref<48x64xf32>, %db: memref<64xf32>, %rs: memref<48xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%zero : f32) outs(%db : memref<64xf32>)
  linalg.generic {indexing_maps = [#rows10, #col10], iterator_types = ["reduction", "parallel"]}
      ins(%g : memref<48x64xf32>) outs(%db : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%one : f32) outs(%rs : memref<48xf32>)
  linalg.generic {indexing_maps = [#rows10, #row10], iterator_types = ["parallel", "reduction"]}
      ins(%g : memref<48x64xf32>) outs(%rs : memref<48xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not folded: the second reduction onto the same buffer starts from what the first left
// there, and a reduction that also reads its output's buffer as an input keeps its fill
// (and is lowered as loops over memory).
#rows11 = affine_map<(d0, d1) -> (d0, d1)>
#col11 = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @fills_kept
// CHECK: gpu.launch
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: scf.for
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: %[[PREVIOUS:.+]] = memref.load %arg2
// CHECK: scf.for {{.*}} iter_args(%{{.+}} = %[[PREVIOUS]])
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: memref.load %arg3
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @fills_kept(%a: memref<8x64xf32>, %b: memref<8x64xf32>, %db: memref<64xf32>, %t: memref<8x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%db : memref<64xf32>)
  linalg.generic {indexing_maps = [#rows11, #col11], iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<8x64xf32>) outs(%db : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rows11, #col11], iterator_types = ["reduction", "parallel"]}
      ins(%b : memref<8x64xf32>) outs(%db : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  %t0 = memref.subview %t[0, 0] [1, 64] [1, 1] : memref<8x64xf32> to memref<64xf32, strided<[1]>>
  linalg.fill ins(%zero : f32) outs(%t0 : memref<64xf32, strided<[1]>>)
  linalg.generic {indexing_maps = [#rows11, #col11], iterator_types = ["reduction", "parallel"]}
      ins(%t : memref<8x64xf32>) outs(%t0 : memref<64xf32, strided<[1]>>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Two outputs reduced together (a sum and a sum of squares) carry two accumulators.
#rows12 = affine_map<(d0, d1) -> (d0, d1)>
#row12 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @two_sums
// CHECK: gpu.launch
// CHECK: %{{.+}}:2 = scf.for {{.*}} iter_args(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (f32, f32)
// CHECK-COUNT-2: memref.store
// CHECK: gpu.terminator
func.func @two_sums(%x: memref<16x8xf32>, %s: memref<16xf32>, %ss: memref<16xf32>) {
  linalg.generic {indexing_maps = [#rows12, #row12, #row12], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x8xf32>) outs(%s, %ss : memref<16xf32>, memref<16xf32>) {
  ^bb0(%in: f32, %a: f32, %b: f32):
    %sa = arith.addf %in, %a : f32
    %sq = arith.mulf %in, %in : f32
    %sb = arith.addf %sq, %b : f32
    linalg.yield %sa, %sb : f32, f32
  }
  return
}
