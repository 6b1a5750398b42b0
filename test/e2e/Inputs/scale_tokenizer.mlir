// A compiled stand-in tokenizer for eval_compiled.test: encode scales by `scale`, decode by
// `unscale`; with 0.5 and 2.0 the reconstruction is exact.
func.func @encode(%images: tensor<2x3x64x64xf32> {msdd.name = "images"},
                  %scale: tensor<f32> {msdd.name = "scale"})
    -> (tensor<2x3x64x64xf32> {msdd.name = "latent"}) {
  %y = msdd.mul %images, %scale : (tensor<2x3x64x64xf32>, tensor<f32>) -> tensor<2x3x64x64xf32>
  return %y : tensor<2x3x64x64xf32>
}
func.func @decode(%latent: tensor<2x3x64x64xf32> {msdd.name = "latent"},
                  %seed: tensor<i64> {msdd.name = "seed"},
                  %unscale: tensor<f32> {msdd.name = "unscale"})
    -> (tensor<2x3x64x64xf32> {msdd.name = "images"}) attributes {msdd.nfe = 2 : i64} {
  %y = msdd.mul %latent, %unscale : (tensor<2x3x64x64xf32>, tensor<f32>) -> tensor<2x3x64x64xf32>
  return %y : tensor<2x3x64x64xf32>
}
