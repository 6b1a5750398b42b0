// Loops whose indexing maps have constant offsets, floordiv, mod and windows, large enough
// to reach the tiling threshold; checked by indexing_maps.test.
#id = affine_map<(d0, d1) -> (d0, d1)>
#shift = affine_map<(d0, d1) -> (d0, d1 + 1)>
#half = affine_map<(d0, d1) -> (d0, d1 floordiv 2)>
#mod = affine_map<(d0, d1) -> (d0, d1 mod 64)>
#win = affine_map<(d0, d1, d2) -> (d0, d1 + d2)>
#out3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#k3 = affine_map<(d0, d1, d2) -> (d2)>
func.func @f(%x: tensor<4x4097xf32> {msdd.name = "x"}) -> (tensor<4x4096xf32> {msdd.name = "shift"}, tensor<4x4096xf32> {msdd.name = "half"}, tensor<4x4096xf32> {msdd.name = "mod"}, tensor<4x4096xf32> {msdd.name = "win"}) {
  %e = tensor.empty() : tensor<4x4096xf32>
  %a = linalg.generic {indexing_maps = [#shift, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x4097xf32>) outs(%e : tensor<4x4096xf32>) {
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  } -> tensor<4x4096xf32>
  %b = linalg.generic {indexing_maps = [#half, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x4097xf32>) outs(%e : tensor<4x4096xf32>) {
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  } -> tensor<4x4096xf32>
  %c = linalg.generic {indexing_maps = [#mod, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x4097xf32>) outs(%e : tensor<4x4096xf32>) {
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  } -> tensor<4x4096xf32>
  %z = arith.constant 0.0 : f32
  %ez = linalg.fill ins(%z : f32) outs(%e : tensor<4x4096xf32>) -> tensor<4x4096xf32>
  %kk = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %d = linalg.generic {indexing_maps = [#win, #k3, #out3], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %kk : tensor<4x4097xf32>, tensor<2xf32>) outs(%ez : tensor<4x4096xf32>) {
  ^bb0(%i: f32, %k: f32, %o: f32):
    %m = arith.mulf %i, %k : f32
    %s = arith.addf %m, %o : f32
    linalg.yield %s : f32
  } -> tensor<4x4096xf32>
  return %a, %b, %c, %d : tensor<4x4096xf32>, tensor<4x4096xf32>, tensor<4x4096xf32>, tensor<4x4096xf32>
}
