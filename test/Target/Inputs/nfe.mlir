// A decode-like function with msdd.nfe, for manifest-nfe.test.
func.func @decode(%x: tensor<2x3xf32> {msdd.name = "latent"}) -> (tensor<2x3xf32> {msdd.name = "images"})
    attributes {msdd.nfe = 24 : i64} {
  %y = msdd.add %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
func.func @encode(%x: tensor<2x3xf32> {msdd.name = "images"}) -> (tensor<2x3xf32> {msdd.name = "latent"}) {
  %y = msdd.mul %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
