// RUN: msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="optimizer=adamw lr=0.01 weight-decay=0.1 clip-norm=1.0 schedule=cosine warmup-steps=10 total-steps=100 ema=0.99" | FileCheck %s
// RUN: msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="optimizer=sgd momentum=0.9" | FileCheck %s --check-prefix=SGD
// RUN: msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="schedule=wsd warmup-steps=10 total-steps=100 decay-steps=20" | FileCheck %s --check-prefix=WSD
// RUN: not msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="schedule=wsd total-steps=100" 2>&1 | FileCheck %s --check-prefix=WSDNODECAY
// RUN: not msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="schedule=wsd warmup-steps=90 total-steps=100 decay-steps=20" 2>&1 | FileCheck %s --check-prefix=WSDNODECAY
// RUN: not msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="schedule=linear" 2>&1 | FileCheck %s --check-prefix=BADSCHEDULE
// RUN: not msdd-opt %s --msdd-build-train-step 2>&1 | FileCheck %s --check-prefix=NOGRAD
// RUN: not msdd-opt %s --msdd-autodiff="function=loss" --msdd-build-train-step="optimizer=lion" 2>&1 | FileCheck %s --check-prefix=BADOPT

// CHECK-LABEL: func.func private @loss_grad
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<4x3xf32> {msdd.name = "w"}
// CHECK-SAME: {msdd.name = "adam_m.w"}
// CHECK-SAME: {msdd.name = "adam_v.w"}
// CHECK-SAME: {msdd.name = "ema.w"}
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<f32> {msdd.name = "step"}
// CHECK-SAME: {msdd.name = "x"}
// CHECK-SAME: -> (tensor<4x3xf32> {msdd.name = "w", msdd.updates = "w"}
// CHECK-SAME: {msdd.name = "adam_m.w", msdd.updates = "adam_m.w"}
// CHECK-SAME: tensor<f32> {msdd.name = "loss"}, tensor<f32> {msdd.name = "grad_norm"}, tensor<f32> {msdd.name = "lr"})
// CHECK: %[[G:.+]]:2 = call @loss_grad
// Global norm, then clipping by min(1, clip / (norm + 1e-6)).
// CHECK: msdd.reduce_sum
// CHECK: %[[NORM:.+]] = msdd.sqrt
// CHECK: msdd.minimum
// Warm-up, then cosine decay.
// CHECK: msdd.scale %[[STEP]] {factor = 1.000000e-01 : f64}
// CHECK: msdd.cos
// Bias corrections 1 - beta^step.
// CHECK: msdd.exp
// Decoupled weight decay: added to the update, not to the gradient.
// CHECK: msdd.sqrt
// CHECK: %[[DECAY:.+]] = msdd.scale %[[W]] {factor = 1.000000e-01 : f64}
// CHECK: msdd.add %{{.+}}, %[[DECAY]]
// CHECK: return

// SGD-LABEL: func.func @train_step
// SGD-SAME: {msdd.name = "momentum.w"}
// SGD-NOT: adam_m

// Warm-up, then min(1, max(0, (total - step) / decay)): 1 until step 80, 0 at step 100.
// WSD-LABEL: func.func @train_step(
// WSD-SAME: %[[STEP:[a-z0-9]+]]: tensor<f32> {msdd.name = "step"}
// WSD: msdd.scale %[[STEP]] {factor = 1.000000e-01 : f64}
// WSD: %[[REMAINING:.+]] = msdd.scale %[[STEP]] {bias = 5.000000e+00 : f64, factor = -5.000000e-02 : f64}
// WSD: %[[LOW:.+]] = msdd.maximum %{{.+}}, %[[REMAINING]]
// WSD: %[[FACTOR:.+]] = msdd.minimum %{{.+}}, %[[LOW]]
// WSD: msdd.mul %{{.+}}, %[[FACTOR]]
// WSD-NOT: msdd.cos
// WSD: return

// WSDNODECAY: error: msdd-build-train-step: the wsd schedule needs decay-steps > 0 and total-steps >= warmup-steps + decay-steps
// BADSCHEDULE: error: msdd-build-train-step: unknown schedule 'linear' (constant, cosine, wsd)
// NOGRAD: error: msdd-build-train-step: needs @loss and @loss_grad (run msdd-autodiff first)
// BADOPT: error: msdd-build-train-step: unknown optimizer 'lion' (adamw, adam, sgd)

func.func @loss(%w: tensor<4x3xf32> {msdd.name = "w", msdd.param},
                %x: tensor<2x3xf32> {msdd.name = "x"}) -> tensor<f32> {
  %y = msdd.linear %x, %w : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  %l = msdd.reduce_mean %y {axes = array<i64: 0, 1>} : (tensor<2x4xf32>) -> tensor<f32>
  return %l : tensor<f32>
}
