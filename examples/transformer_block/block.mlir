// A DiT/MMDiT-style transformer block on image patches: patchify, adaLN modulation from a
// timestep embedding, attention with QK-RMSNorm and 2-D RoPE, a SwiGLU MLP, unpatchify.
// reference.py is an independent float64 numpy implementation of the same block.
//
//   msdd-compile block.mlir -o block.msdd
//   python3 reference.py --write-inputs DIR
//   msdd-run infer block.msdd --weights DIR/weights.safetensors --inputs DIR/inputs.npz \
//       --outputs DIR/outputs.npz
//   python3 reference.py --check DIR

!img = tensor<2x3x16x16xf32>
!tok = tensor<2x16x32xf32>
!heads = tensor<2x2x16x16xf32>
!w = tensor<32x32xf32>
!b = tensor<32xf32>
!cond = tensor<2x32xf32>

func.func @block(%x: !img {msdd.name = "x"}, %t: tensor<2xf32> {msdd.name = "t"},
                 %w_in: tensor<32x48xf32> {msdd.name = "w_in"}, %b_in: !b {msdd.name = "b_in"},
                 %w_t: tensor<32x64xf32> {msdd.name = "w_t"}, %b_t: !b {msdd.name = "b_t"},
                 %w_shift1: !w {msdd.name = "w_shift1"}, %w_scale1: !w {msdd.name = "w_scale1"},
                 %w_shift2: !w {msdd.name = "w_shift2"}, %w_scale2: !w {msdd.name = "w_scale2"},
                 %w_q: !w {msdd.name = "w_q"}, %w_k: !w {msdd.name = "w_k"},
                 %w_v: !w {msdd.name = "w_v"}, %w_o: !w {msdd.name = "w_o"},
                 %q_norm: tensor<16xf32> {msdd.name = "q_norm"},
                 %k_norm: tensor<16xf32> {msdd.name = "k_norm"},
                 %ln2_w: !b {msdd.name = "ln2_w"}, %ln2_b: !b {msdd.name = "ln2_b"},
                 %w_gate: tensor<64x32xf32> {msdd.name = "w_gate"},
                 %w_up: tensor<64x32xf32> {msdd.name = "w_up"},
                 %w_down: tensor<32x64xf32> {msdd.name = "w_down"},
                 %w_out: tensor<48x32xf32> {msdd.name = "w_out"},
                 %b_out: tensor<48xf32> {msdd.name = "b_out"})
    -> (!img {msdd.name = "y"}) {
  // Patch embedding.
  %tok = msdd.patchify %x {patch_size = 4 : i64} : (!img) -> tensor<2x16x48xf32>
  %h = msdd.linear %tok, %w_in, %b_in : (tensor<2x16x48xf32>, tensor<32x48xf32>, !b) -> !tok

  // adaLN conditioning from the timestep.
  %temb = msdd.timestep_embedding %t : (tensor<2xf32>) -> tensor<2x64xf32>
  %c0 = msdd.linear %temb, %w_t, %b_t : (tensor<2x64xf32>, tensor<32x64xf32>, !b) -> !cond
  %c = msdd.silu %c0 : !cond
  %shift1 = msdd.linear %c, %w_shift1 : (!cond, !w) -> !cond
  %scale1 = msdd.linear %c, %w_scale1 : (!cond, !w) -> !cond
  %shift2 = msdd.linear %c, %w_shift2 : (!cond, !w) -> !cond
  %scale2 = msdd.linear %c, %w_scale2 : (!cond, !w) -> !cond

  // Attention with QK-RMSNorm and 2-D RoPE over the 4x4 patch grid.
  %n1 = msdd.layer_norm %h : (!tok) -> !tok
  %m1 = msdd.modulate %n1, %shift1, %scale1 : (!tok, !cond, !cond) -> !tok
  %q0 = msdd.linear %m1, %w_q : (!tok, !w) -> !tok
  %k0 = msdd.linear %m1, %w_k : (!tok, !w) -> !tok
  %v0 = msdd.linear %m1, %w_v : (!tok, !w) -> !tok
  %q1 = msdd.reshape %q0 : (!tok) -> tensor<2x16x2x16xf32>
  %k1 = msdd.reshape %k0 : (!tok) -> tensor<2x16x2x16xf32>
  %v1 = msdd.reshape %v0 : (!tok) -> tensor<2x16x2x16xf32>
  %q2 = msdd.transpose %q1 {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x16x2x16xf32>) -> !heads
  %k2 = msdd.transpose %k1 {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x16x2x16xf32>) -> !heads
  %v = msdd.transpose %v1 {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x16x2x16xf32>) -> !heads
  %q3 = msdd.rms_norm %q2, %q_norm : (!heads, tensor<16xf32>) -> !heads
  %k3 = msdd.rms_norm %k2, %k_norm : (!heads, tensor<16xf32>) -> !heads
  %q = msdd.rope_2d %q3 {grid_height = 4 : i64, grid_width = 4 : i64} : (!heads) -> !heads
  %k = msdd.rope_2d %k3 {grid_height = 4 : i64, grid_width = 4 : i64} : (!heads) -> !heads
  %a0 = msdd.attention %q, %k, %v : (!heads, !heads, !heads) -> !heads
  %a1 = msdd.transpose %a0 {permutation = array<i64: 0, 2, 1, 3>} : (!heads) -> tensor<2x16x2x16xf32>
  %a2 = msdd.reshape %a1 : (tensor<2x16x2x16xf32>) -> !tok
  %a = msdd.linear %a2, %w_o : (!tok, !w) -> !tok
  %h2 = msdd.add %h, %a : (!tok, !tok) -> !tok

  // SwiGLU MLP.
  %n2 = msdd.layer_norm %h2, %ln2_w, %ln2_b : (!tok, !b, !b) -> !tok
  %m2 = msdd.modulate %n2, %shift2, %scale2 : (!tok, !cond, !cond) -> !tok
  %g = msdd.linear %m2, %w_gate : (!tok, tensor<64x32xf32>) -> tensor<2x16x64xf32>
  %u = msdd.linear %m2, %w_up : (!tok, tensor<64x32xf32>) -> tensor<2x16x64xf32>
  %s = msdd.swiglu %g, %u : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  %mlp = msdd.linear %s, %w_down : (tensor<2x16x64xf32>, tensor<32x64xf32>) -> !tok
  %h3 = msdd.add %h2, %mlp : (!tok, !tok) -> !tok

  // Back to pixels.
  %o = msdd.linear %h3, %w_out, %b_out : (!tok, tensor<48x32xf32>, tensor<48xf32>) -> tensor<2x16x48xf32>
  %y = msdd.unpatchify %o {patch_size = 4 : i64} : (tensor<2x16x48xf32>) -> !img
  return %y : !img
}
