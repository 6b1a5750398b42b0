// RUN: msdd-opt %s --split-input-file --msdd-lower-reductions-to-loops | FileCheck %s
// RUN: msdd-opt %s --split-input-file --msdd-lower-reductions-to-loops="reassociate=false" \
// RUN:   | FileCheck %s --check-prefix=ORDERED

// A row maximum: the output element is loaded once, carried through the reduction loop and
// stored once. A maximum needs no reassociation to vectorize, so it is left as it is.
// CHECK-LABEL: func.func @row_max
// CHECK-SAME: (%[[IN:.+]]: memref<4x288xf32>, %[[OUT:.+]]: memref<4xf32>)
// CHECK: scf.for %[[I:.+]] = %{{.+}} to %{{.+}} step
// CHECK:   %[[INIT:.+]] = memref.load %[[OUT]][%[[I]]]
// CHECK:   %[[MAX:.+]] = scf.for %[[J:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %[[INIT]]) -> (f32)
// CHECK:     %[[X:.+]] = memref.load %[[IN]][%[[I]], %[[J]]]
// CHECK:     %[[M:.+]] = arith.maximumf %[[ACC]], %[[X]] : f32
// CHECK:     scf.yield %[[M]]
// CHECK:   memref.store %[[MAX]], %[[OUT]][%[[I]]]
// CHECK-NOT: linalg.generic
func.func @row_max(%in: memref<4x288xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%in : memref<4x288xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %m = arith.maximumf %acc, %x : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// A variance-style sum over the last two dims of a strided tile, with a broadcast input and
// a scalar operand: only the addition into the accumulator is marked `reassoc`.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK-SAME: (%[[IN:.+]]: memref<2x8x16xf32, strided<[256, 16, 1], offset: ?>>, %[[MEAN:.+]]: memref<2xf32>, %[[S:.+]]: f32, %[[OUT:.+]]: memref<2xf32>)
// CHECK: scf.for %[[B:.+]] = %{{.+}} to %{{.+}} step
// CHECK:   %[[INIT:.+]] = memref.load %[[OUT]][%[[B]]]
// CHECK:   %[[R:.+]] = scf.for %[[I:.+]] = {{.+}} iter_args(%[[ACC0:.+]] = %[[INIT]]) -> (f32)
// CHECK:     %[[R1:.+]] = scf.for %[[J:.+]] = {{.+}} iter_args(%[[ACC:.+]] = %[[ACC0]]) -> (f32)
// CHECK:       %[[X:.+]] = memref.load %[[IN]][%[[B]], %[[I]], %[[J]]]
// CHECK:       %[[M:.+]] = memref.load %[[MEAN]][%[[B]]]
// CHECK:       %[[D:.+]] = arith.subf %[[X]], %[[M]] : f32
// CHECK:       %[[SQ:.+]] = arith.mulf %[[D]], %[[D]] : f32
// CHECK:       %[[T:.+]] = arith.mulf %[[SQ]], %[[S]] : f32
// CHECK:       %[[SUM:.+]] = arith.addf %[[ACC]], %[[T]] fastmath<reassoc> : f32
// CHECK:       scf.yield %[[SUM]]
// CHECK:     scf.yield %[[R1]]
// CHECK:   memref.store %[[R]], %[[OUT]][%[[B]]]
// ORDERED-LABEL: func.func @sum_of_squares
// ORDERED-NOT: fastmath
// ORDERED: arith.addf %{{.+}}, %{{.+}} : f32
// ORDERED-NOT: fastmath
func.func @sum_of_squares(%in: memref<2x8x16xf32, strided<[256, 16, 1], offset: ?>>,
                          %mean: memref<2xf32>, %s: f32, %out: memref<2xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0)>,
                                   affine_map<(d0, d1, d2) -> ()>,
                                   affine_map<(d0, d1, d2) -> (d0)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%in, %mean, %s : memref<2x8x16xf32, strided<[256, 16, 1], offset: ?>>, memref<2xf32>, f32)
      outs(%out : memref<2xf32>) {
  ^bb0(%x: f32, %m: f32, %scale: f32, %acc: f32):
    %d = arith.subf %x, %m : f32
    %sq = arith.mulf %d, %d : f32
    %t = arith.mulf %sq, %scale : f32
    %sum = arith.addf %acc, %t : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

// Two outputs reduced together (a value and its index, as an argmax) with linalg.index; a
// 0-d output (a whole-tensor sum) has no outer loops at all.
// CHECK-LABEL: func.func @argmax
// CHECK: %[[R:.+]]:2 = scf.for %[[J:.+]] = {{.+}} iter_args(%[[V:.+]] = %{{.+}}, %[[K:.+]] = %{{.+}}) -> (f32, i64)
// CHECK:   %[[J64:.+]] = arith.index_cast %[[J]] : index to i64
// CHECK:   arith.cmpf ogt
// CHECK:   scf.yield
// CHECK: memref.store %[[R]]#0
// CHECK: memref.store %[[R]]#1
func.func @argmax(%in: memref<3x10xf32>, %value: memref<3xf32>, %index: memref<3xi64>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>,
                                   affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%in : memref<3x10xf32>) outs(%value, %index : memref<3xf32>, memref<3xi64>) {
  ^bb0(%x: f32, %v: f32, %k: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %gt = arith.cmpf ogt, %x, %v : f32
    %nv = arith.select %gt, %x, %v : f32
    %nk = arith.select %gt, %j64, %k : i64
    linalg.yield %nv, %nk : f32, i64
  }
  return
}

// CHECK-LABEL: func.func @total
// CHECK-SAME: (%[[IN:.+]]: memref<5x7xf32>, %[[OUT:.+]]: memref<f32>)
// CHECK: %[[INIT:.+]] = memref.load %[[OUT]][] : memref<f32>
// CHECK: %[[R:.+]] = scf.for {{.+}} iter_args(%{{.+}} = %[[INIT]])
// CHECK:   scf.for
// CHECK:     arith.addf {{.+}} fastmath<reassoc>
// CHECK: memref.store %[[R]], %[[OUT]][] : memref<f32>
func.func @total(%in: memref<5x7xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>],
                  iterator_types = ["reduction", "reduction"]}
      ins(%in : memref<5x7xf32>) outs(%out : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left to convert-linalg-to-loops: a column sum (its inner loop is parallel and vectorizes
// over the output), an op on tensors, an elementwise op, and a reduction that also reads its
// output as an input (the accumulator in a register would make that read stale).
// CHECK-LABEL: func.func @untouched
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: scf.for
func.func @untouched(%in: memref<8x16xf32>, %col: memref<16xf32>, %t: tensor<8xf32>,
                     %ti: tensor<8x16xf32>, %rows: memref<8xf32>) -> tensor<8xf32> {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>],
                  iterator_types = ["reduction", "parallel"]}
      ins(%in : memref<8x16xf32>) outs(%col : memref<16xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%ti : tensor<8x16xf32>) outs(%t : tensor<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%in : memref<8x16xf32>) outs(%in : memref<8x16xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%rows, %in : memref<8xf32>, memref<8x16xf32>) outs(%rows : memref<8xf32>) {
  ^bb0(%c: f32, %x: f32, %acc: f32):
    %s = arith.addf %c, %x : f32
    linalg.yield %s : f32
  }
  return %r : tensor<8xf32>
}
