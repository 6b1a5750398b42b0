//===- Tokenizer.h - The multi-scale diffusion tokenizer's IR builder -*- C++ -*-===//
//
// Builds the tokenizer of docs/tokenizer.md (an MMDiT encoder reading out latent tokens, one
// MMDiT decoder shared by all scales, the multi-scale sampler, the stage-1 loss) as msdd IR
// from a JSON config.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_MODELS_TOKENIZER_H
#define MSDD_MODELS_TOKENIZER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::msdd {

struct MmditConfig {
  int64_t depth = 0, hidden = 0, heads = 0;
};

struct TokenizerConfig {
  std::string name;
  int64_t imageSize = 0, numScales = 0, patchSize = 0;
  int64_t latentTokens = 0, latentChannels = 0;
  MmditConfig encoder, decoder;
  int64_t mlpRatio = 4, timeEmbedDim = 256;
  double ropeTheta = 10000.0;
  /// Where 2-D RoPE places tokens: "index" (each grid at its own row/column indices) or
  /// "aligned" (every scale's patches and the latent tokens spread over the full-resolution
  /// patch grid, at the centres of the areas they cover).
  std::string ropeLayout = "index";
  // sampler
  int64_t samplerSteps = 1;
  double guidance = 1.0, gamma = 1.0 / 3.0;
  // stage-1 training
  int64_t batchSize = 8;
  double lr = 1e-4, beta1 = 0.9, beta2 = 0.95, weightDecay = 0.0;
  double latentDropout = 0.1, logitNormalMean = 0.0, logitNormalStd = 1.0;
  /// "none" or "sigmoid_logsnr" (w = sigmoid(logsnr_bias - logSNR(t))).
  std::string lossWeighting = "none";
  double logsnrBias = 0.0;
  /// The perceptual term on the last scale: an ONNX feature network (a path, relative to the
  /// config's folder) and its weight; off when the path is empty.
  std::string perceptualNetwork;
  double perceptualWeight = 0.1;

  /// Resolution of each scale, coarsest first.
  std::vector<int64_t> resolutions() const;
  /// Denoiser evaluations per decoded image.
  int64_t nfe() const;
  /// Training samples of scale `s` in a batch (split evenly, the finest get the remainder).
  int64_t samplesAtScale(int64_t s) const;
};

/// Parses and checks a config. On failure returns nothing and sets `error` to one line that
/// names the key and the problem.
std::optional<TokenizerConfig> parseTokenizerConfig(llvm::StringRef json, std::string &error);

/// Which training loss buildTokenizer adds as `loss` (the input of msdd-compile --train).
enum class TokenizerLoss {
  None,
  /// Stage 1: encoder and decoder from scratch.
  Stage1,
  /// Stage 2: the one-step-per-scale student of a stage-1 model (its decoder and null latent
  /// are trained; the encoder and the teacher, `teacher.<p>`, are frozen inputs). decode and
  /// reconstruct then take one step per scale.
  Distill,
};

/// The functions of docs/tokenizer.md: init, encode, denoise_s<k>, decode, reconstruct and
/// the training loss `loss`. With `pairCfg` (and
/// guidance != 1) the sampler evaluates both CFG branches in one call of private batch-2B
/// denoisers `denoise_cfg_s<k>`: half the launches on a GPU, larger products and fewer
/// parallel dispatches on a CPU, for more compile time (msdd-compile sets it).
///
/// `featureNetwork`, with the loss, is the perceptual term's network: one function from the
/// last scale's images [samplesAtScale(S - 1), 3, image_size, image_size] (in [-1, 1]) to
/// one or more float32 feature maps [N, C, ...]; it is copied into the module.
OwningOpRef<ModuleOp> buildTokenizer(MLIRContext *context, const TokenizerConfig &config,
                                     TokenizerLoss loss = TokenizerLoss::Stage1,
                                     bool pairCfg = false, func::FuncOp featureNetwork = {});

/// Imports the config's `train.perceptual_network` (a path relative to `configPath`'s
/// folder) with its weights as constants and its image input fixed to the last scale's
/// training batch, and checks its signature (see buildTokenizer). Returns a null module
/// when the config has none; on failure, sets `error` to "<path>: <problem>".
FailureOr<OwningOpRef<ModuleOp>> loadFeatureNetwork(MLIRContext &context,
                                                    const TokenizerConfig &config,
                                                    llvm::StringRef configPath,
                                                    std::string &error);
/// The feature network's function in a module from loadFeatureNetwork.
func::FuncOp featureNetworkOf(ModuleOp module);

} // namespace mlir::msdd

#endif // MSDD_MODELS_TOKENIZER_H
