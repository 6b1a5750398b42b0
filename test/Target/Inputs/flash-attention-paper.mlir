// The paper decoder's joint attention at its last scale (1024 image + 128 latent tokens, 12
// heads of 64), for cuda-flash-registers.test.
func.func @attention(%q: tensor<2x12x1152x64xf32>, %k: tensor<2x12x1152x64xf32>, %v: tensor<2x12x1152x64xf32>) -> tensor<2x12x1152x64xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<2x12x1152x64xf32>, tensor<2x12x1152x64xf32>, tensor<2x12x1152x64xf32>) -> tensor<2x12x1152x64xf32>
  return %0 : tensor<2x12x1152x64xf32>
}
