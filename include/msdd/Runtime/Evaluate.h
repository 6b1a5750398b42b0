//===- Evaluate.h - Running tokenizer artifacts over image folders -*- C++ -*-===//
//
// What `msdd-run eval` and `msdd-run reconstruct` do (docs/runtime.md#evaluation): a
// Tokenizer runs an artifact's `reconstruct` function, or its `encode` then `decode`, on
// batches of images; evaluate() runs one over a folder and measures PSNR, SSIM, throughput
// and, with a feature network, the Frechet distance of the features of the originals and the
// reconstructions.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_EVALUATE_H
#define MSDD_RUNTIME_EVALUATE_H

#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/Metrics.h"
#include "msdd/Runtime/Tensor.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace msdd::rt {

/// Which functions turn images into reconstructions: `reconstruct` alone, or `encode` and
/// `decode` (all empty: the artifact's `reconstruct` if it has one, else `encode` + `decode`).
struct TokenizerFunctions {
  std::string reconstruct;
  std::string encode, decode;
};

/// Wall time of one batch, in seconds.
struct BatchTiming {
  double encodeSeconds = 0; // 0 for a reconstruct function
  double decodeSeconds = 0; // the reconstruct call, or decode
  double total() const { return encodeSeconds + decodeSeconds; }
};

/// A tokenizer artifact with its parameters. Inputs are found by name: `images` (f32
/// [B, 3, H, W], the batch) of `reconstruct` / `encode`; `seed` (i64 scalar), if present;
/// the inputs of `decode` named like outputs of `encode` get those; every other input comes
/// from `weights`. The output is the one named `images` (or the only one).
class Tokenizer {
public:
  /// Throws Error naming the artifact (or `weightsPath`) if the functions are missing or do
  /// not fit together, or a parameter is missing from the weights or has another type.
  /// `artifact` and `weights` must outlive the Tokenizer (their buffers are used in place).
  Tokenizer(const Artifact &artifact, const NamedTensors &weights, std::string weightsPath,
            TokenizerFunctions functions = {});

  const Artifact &artifact() const { return artifact_; }
  /// "reconstruct" or "encode + decode" (with the functions' names).
  std::string description() const;
  /// [B, 3, H, W] of the images input: the static batch size and image size.
  const std::vector<int64_t> &imagesShape() const { return imagesShape_; }
  /// Network evaluations per image: the manifest's "nfe" of the decoding function (decode,
  /// or reconstruct; for reconstruct without one, the artifact's `decode` function's), or -1.
  int64_t nfe() const { return nfe_; }

  /// Reconstructs a batch (f32 imagesShape()); `seed` feeds the functions' seed inputs.
  Tensor run(const Tensor &images, int64_t seed, BatchTiming *timing = nullptr) const;

private:
  struct Call {
    const FunctionSpec *function = nullptr;
    std::vector<TensorRef> fixed; // parameters from the weights
  };
  /// `passed`: the inputs the tokenizer supplies (the rest, but `seed`, are parameters).
  Call prepare(const std::string &name, const NamedTensors &weights,
               std::vector<std::string> passed) const;
  NamedTensors invoke(const Call &call, const std::vector<TensorRef> &passed, int64_t seed) const;

  const Artifact &artifact_;
  std::string weightsPath_;
  bool split_ = false;
  Call reconstruct_, encode_, decode_;
  std::vector<int64_t> imagesShape_;
  int64_t nfe_ = -1;
};

/// A feature network (e.g. compiled from ONNX): one function, whose image input is an f32
/// [B, 3, H, W] batch (the input not found in the weights) and whose one output is [B, D] or
/// [B, D, 1, 1]. It sees images in [0, 1]; any normalisation must be part of the network.
class FeatureNetwork {
public:
  /// Throws Error naming the artifact if it has not exactly one function of that form, or
  /// its image size is not `height` x `width` (images are not resized). `artifact` and
  /// `weights` must outlive it.
  FeatureNetwork(const Artifact &artifact, const NamedTensors &weights, std::string weightsPath,
                 int64_t height, int64_t width);
  int64_t batchSize() const { return inputShape_[0]; }
  int64_t dim() const { return dim_; }

  /// Feature vectors collected image by image, run in batches of batchSize() (the last one
  /// padded): add() each image [3, H, W], then features() (row-major [count, dim]).
  class Collector {
  public:
    explicit Collector(const FeatureNetwork &network);
    void add(const float *image);
    const std::vector<double> &features();
    int64_t count() const { return count_; }

  private:
    void flush();
    const FeatureNetwork &network_;
    Tensor pending_;
    int64_t pendingCount_ = 0, count_ = 0;
    std::vector<double> features_;
  };

private:
  void run(const Tensor &batch, int64_t count, std::vector<double> &features) const;

  const Artifact &artifact_;
  const FunctionSpec *function_ = nullptr;
  std::string imageInput_;
  std::vector<int64_t> inputShape_;
  int64_t dim_ = 0;
  std::vector<TensorRef> fixed_;
};

/// The images of a folder for evaluation: the first `limit` files (0: all) of
/// listImageFiles(directory), each centre-cropped to height x width. Throws Error(directory,
/// ...) for a missing folder or one without images, Error(file, ...) for an unreadable image
/// or one smaller than height x width.
class ImageFolder {
public:
  ImageFolder(const std::string &directory, int64_t height, int64_t width, int64_t limit = 0);
  const std::vector<std::string> &files() const { return files_; }
  int64_t size() const { return static_cast<int64_t>(files_.size()); }
  /// Images [first, first + count) into the first `count` samples of `batch` (f32
  /// [B, 3, H, W], count <= B); the remaining samples repeat the last image (padding).
  void load(int64_t first, int64_t count, Tensor &batch) const;

private:
  std::vector<std::string> files_;
  int64_t height_, width_;
};

/// The seed of batch `index` of a run with seed `seed` (non-negative).
int64_t batchSeed(uint64_t seed, int64_t index);

struct EvalOptions {
  std::string dataDir;
  int64_t limit = 0;  // images (0: all)
  uint64_t seed = 0;  // batch seeds: batchSeed(seed, batch index)
  int64_t warmup = 1; // leading batches left out of the timing
};

struct EvalResult {
  int64_t images = 0, batches = 0, batchSize = 0;
  std::vector<double> psnr, ssim; // per image
  double meanPsnr = 0, meanSsim = 0;
  int64_t nfe = -1;
  std::vector<BatchTiming> timings;  // per batch, warm-up included
  int64_t timedBatches = 0;          // batches after the warm-up
  double medianImagesPerSecond = 0;  // median over timed batches of B / (encode + decode)
  double totalImagesPerSecond = 0;   // timed batches x B / their summed time
  double timedSeconds = 0;
  /// With a feature network: the Frechet distance of the two feature sets.
  std::optional<double> frechetDistance;
  int64_t featureDim = 0;
};

/// Reconstructs every image of options.dataDir with `tokenizer` and measures it (see
/// EvalResult). `progress(done, total)` is called after each batch.
EvalResult evaluate(const Tokenizer &tokenizer, const FeatureNetwork *features,
                    const EvalOptions &options,
                    const std::function<void(int64_t, int64_t)> &progress = {});

/// Lays out images [3, h, w] in a grid (rows x columns, row-major in `cells`), `gap` white
/// pixels between cells and around them: f32 [3, H, W] for writePng.
Tensor imageGrid(const std::vector<const float *> &cells, int64_t rows, int64_t columns,
                 int64_t height, int64_t width, int64_t gap = 2);

} // namespace msdd::rt

#endif // MSDD_RUNTIME_EVALUATE_H
