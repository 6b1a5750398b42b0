func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = msdd.exp %x : tensor<4xf32>
