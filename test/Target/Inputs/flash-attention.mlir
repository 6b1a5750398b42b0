// Attention shapes for cuda-emulate-flash-attention.test: partial query and key tiles
// (100 queries, 70 keys), head dimension 32 (f16 and TF32 kernels) and 24 (TF32 only: the
// f16 kernel takes 16 at a time); 48 (f16: 6 chunks of 8 value columns, not a power of two);
// and whole tiles at the paper's head dimension, 64.
func.func @attention(%q: tensor<2x3x100x32xf32>, %k: tensor<2x3x70x32xf32>, %v: tensor<2x3x70x16xf32>) -> tensor<2x3x100x16xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<2x3x100x32xf32>, tensor<2x3x70x32xf32>, tensor<2x3x70x16xf32>) -> tensor<2x3x100x16xf32>
  return %0 : tensor<2x3x100x16xf32>
}

func.func @attention_d24(%q: tensor<1x2x100x24xf32>, %k: tensor<1x2x70x24xf32>, %v: tensor<1x2x70x24xf32>) -> tensor<1x2x100x24xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<1x2x100x24xf32>, tensor<1x2x70x24xf32>, tensor<1x2x70x24xf32>) -> tensor<1x2x100x24xf32>
  return %0 : tensor<1x2x100x24xf32>
}

func.func @attention_d64(%q: tensor<1x2x256x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>) -> tensor<1x2x256x64xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>) -> tensor<1x2x256x64xf32>
  return %0 : tensor<1x2x256x64xf32>
}

func.func @attention_d48(%q: tensor<1x2x100x48xf32>, %k: tensor<1x2x70x48xf32>, %v: tensor<1x2x70x48xf32>) -> tensor<1x2x100x48xf32> {
  %0 = msdd.attention %q, %k, %v : (tensor<1x2x100x48xf32>, tensor<1x2x70x48xf32>, tensor<1x2x70x48xf32>) -> tensor<1x2x100x48xf32>
  return %0 : tensor<1x2x100x48xf32>
}
