// Results that alias: an argument returned, one value returned twice.
func.func @f(%x: tensor<4xf32> {msdd.name = "x"}) -> (tensor<4xf32> {msdd.name = "a"}, tensor<4xf32> {msdd.name = "b"}, tensor<4xf32> {msdd.name = "c"}) {
  %y = msdd.exp %x : tensor<4xf32>
  return %x, %y, %y : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
