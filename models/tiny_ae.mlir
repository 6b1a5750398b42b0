// A tiny patch autoencoder on 32x32 RGB crops: patchify (4x4 patches), a GELU bottleneck of
// 16 channels per patch, unpatchify; trained with a pixel MSE. It exercises the training path
// (msdd-compile --train, msdd-run train) until the tokenizer models land.
//
//   msdd-compile --train models/tiny_ae.mlir -o tiny_ae.msdd --lr 3e-3
//   msdd-run train tiny_ae.msdd --data data/photos64/train --steps 200 --out runs/tiny

!images = tensor<8x3x32x32xf32>
!tokens = tensor<8x64x48xf32>
!codes = tensor<8x64x16xf32>

func.func @loss(%w_enc: tensor<16x48xf32> {msdd.name = "w_enc", msdd.param},
                %b_enc: tensor<16xf32> {msdd.name = "b_enc", msdd.param},
                %w_dec: tensor<48x16xf32> {msdd.name = "w_dec", msdd.param},
                %b_dec: tensor<48xf32> {msdd.name = "b_dec", msdd.param},
                %images: !images {msdd.name = "images"}) -> (tensor<f32> {msdd.name = "loss"}) {
  %tok = msdd.patchify %images {patch_size = 4 : i64} : (!images) -> !tokens
  %z = msdd.linear %tok, %w_enc, %b_enc : (!tokens, tensor<16x48xf32>, tensor<16xf32>) -> !codes
  %h = msdd.gelu %z : !codes
  %y = msdd.linear %h, %w_dec, %b_dec : (!codes, tensor<48x16xf32>, tensor<48xf32>) -> !tokens
  %rec = msdd.unpatchify %y {patch_size = 4 : i64} : (!tokens) -> !images
  %l = msdd.mse %rec, %images : (!images, !images) -> tensor<f32>
  return %l : tensor<f32>
}

// Initial parameters from a seed: normal weights scaled by 1/sqrt(fan_in), zero biases.
func.func @init(%seed: tensor<i64> {msdd.name = "seed"})
    -> (tensor<16x48xf32> {msdd.name = "w_enc"}, tensor<16xf32> {msdd.name = "b_enc"},
        tensor<48x16xf32> {msdd.name = "w_dec"}, tensor<48xf32> {msdd.name = "b_dec"}) {
  %s = tensor.extract %seed[] : tensor<i64>
  %zero = arith.constant 0 : i64
  %n_enc = msdd.random_normal %s, %zero {stream = 0 : i32} : tensor<16x48xf32>
  %n_dec = msdd.random_normal %s, %zero {stream = 1 : i32} : tensor<48x16xf32>
  %w_enc = msdd.scale %n_enc {factor = 0.14433756729740643 : f64} : tensor<16x48xf32>
  %w_dec = msdd.scale %n_dec {factor = 0.25 : f64} : tensor<48x16xf32>
  %b_enc = arith.constant dense<0.0> : tensor<16xf32>
  %b_dec = arith.constant dense<0.0> : tensor<48xf32>
  return %w_enc, %b_enc, %w_dec, %b_dec : tensor<16x48xf32>, tensor<16xf32>, tensor<48x16xf32>, tensor<48xf32>
}

// Reconstruction with trained parameters (what evaluation and the demo call).
func.func @reconstruct(%w_enc: tensor<16x48xf32> {msdd.name = "w_enc"},
                       %b_enc: tensor<16xf32> {msdd.name = "b_enc"},
                       %w_dec: tensor<48x16xf32> {msdd.name = "w_dec"},
                       %b_dec: tensor<48xf32> {msdd.name = "b_dec"},
                       %images: !images {msdd.name = "images"}) -> (!images {msdd.name = "reconstruction"}) {
  %tok = msdd.patchify %images {patch_size = 4 : i64} : (!images) -> !tokens
  %z = msdd.linear %tok, %w_enc, %b_enc : (!tokens, tensor<16x48xf32>, tensor<16xf32>) -> !codes
  %h = msdd.gelu %z : !codes
  %y = msdd.linear %h, %w_dec, %b_dec : (!codes, tensor<48x16xf32>, tensor<48xf32>) -> !tokens
  %rec = msdd.unpatchify %y {patch_size = 4 : i64} : (!tokens) -> !images
  return %rec : !images
}
