// A stand-in "tokenizer" for msdd-run eval/reconstruct tests: reconstruction = gain * images,
// the gain a parameter read from the weights; it claims 6 denoiser evaluations per image.
func.func @reconstruct(%images: tensor<4x3x16x16xf32> {msdd.name = "images"},
                       %seed: tensor<i64> {msdd.name = "seed"},
                       %gain: tensor<3x1x1xf32> {msdd.name = "gain"})
    -> (tensor<4x3x16x16xf32> {msdd.name = "reconstruction"}) attributes {msdd.nfe = 6 : i64} {
  %y = msdd.mul %images, %gain : (tensor<4x3x16x16xf32>, tensor<3x1x1xf32>) -> tensor<4x3x16x16xf32>
  return %y : tensor<4x3x16x16xf32>
}
