//===- Evaluate.cpp - Running tokenizer artifacts over image folders ------===//
#include "msdd/Runtime/Evaluate.h"

#include "msdd/Runtime/DataLoader.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Random.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

namespace msdd::rt {

namespace {

constexpr char kImages[] = "images";
constexpr char kSeed[] = "seed";

const TensorSpec *findSpec(const std::vector<TensorSpec> &specs, const std::string &name) {
  for (const TensorSpec &spec : specs)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

std::string functionNames(const Artifact &artifact) {
  std::string names;
  for (const FunctionSpec &function : artifact.functions())
    names += (names.empty() ? "" : ", ") + function.name;
  return names.empty() ? "none" : names;
}

/// The output that holds the images: the one named `images`, else the only output.
const TensorSpec &imagesOutput(const Artifact &artifact, const FunctionSpec &function,
                               const std::vector<int64_t> &shape) {
  const TensorSpec *spec = findSpec(function.outputs, kImages);
  if (!spec && function.outputs.size() == 1)
    spec = &function.outputs.front();
  if (!spec)
    throw Error(artifact.path(), "function '" + function.name +
                                     "' has no output named 'images' (and not exactly one output)");
  if (spec->dtype != DType::F32 || spec->shape != shape)
    throw Error(artifact.path(), "function '" + function.name + "' returns '" + spec->name + "' " +
                                     typeToString(spec->dtype, spec->shape) +
                                     ", expected the input images' " +
                                     typeToString(DType::F32, shape));
  return *spec;
}

/// Parameters of `function` that come from the weights: every input not in `passed`.
std::vector<TensorRef> parameterRefs(const Artifact &artifact, const FunctionSpec &function,
                                     const NamedTensors &weights, const std::string &weightsPath,
                                     const std::vector<std::string> &passed) {
  std::vector<TensorRef> refs;
  for (const TensorSpec &spec : function.inputs) {
    if (std::find(passed.begin(), passed.end(), spec.name) != passed.end())
      continue;
    const Tensor *tensor = weights.find(spec.name);
    std::string wanted = typeToString(spec.dtype, spec.shape);
    if (!tensor)
      throw weightsPath.empty()
          ? Error(artifact.path(), "function '" + function.name + "' takes '" + spec.name +
                                       "' " + wanted + ": give the parameters with --weights")
          : Error(weightsPath, "has no tensor '" + spec.name + "' (" + wanted + ", an input of '" +
                                   function.name + "' in " + artifact.path() + ")");
    if (tensor->dtype() != spec.dtype || tensor->shape() != spec.shape)
      throw Error(weightsPath, "tensor '" + spec.name + "' is " +
                                   typeToString(tensor->dtype(), tensor->shape()) + ", but '" +
                                   function.name + "' in " + artifact.path() + " takes " + wanted);
    refs.push_back({spec.name, spec.dtype, spec.shape, const_cast<void *>(tensor->rawData())});
  }
  return refs;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

} // namespace

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(const Artifact &artifact, const NamedTensors &weights,
                     std::string weightsPath, TokenizerFunctions functions)
    : artifact_(artifact), weightsPath_(std::move(weightsPath)) {
  if (functions.reconstruct.empty() && functions.encode.empty() && functions.decode.empty()) {
    if (artifact.findFunction("reconstruct"))
      functions.reconstruct = "reconstruct";
    else if (artifact.findFunction("encode") && artifact.findFunction("decode"))
      functions.encode = "encode", functions.decode = "decode";
    else
      throw Error(artifact.path(), "has no 'reconstruct' function and no 'encode' and 'decode' "
                                   "functions (it has: " + functionNames(artifact) + ")");
  }
  if (!functions.reconstruct.empty() && (!functions.encode.empty() || !functions.decode.empty()))
    throw Error(artifact.path(), "choose either a reconstruct function or encode and decode");
  if (functions.reconstruct.empty() && (functions.encode.empty() || functions.decode.empty()))
    throw Error(artifact.path(), "an encode function needs a decode function and vice versa");
  split_ = functions.reconstruct.empty();

  const FunctionSpec &first = artifact.function(split_ ? functions.encode : functions.reconstruct);
  const TensorSpec *images = findSpec(first.inputs, kImages);
  if (!images)
    throw Error(artifact.path(), "function '" + first.name + "' has no input named 'images'");
  if (images->dtype != DType::F32 || images->shape.size() != 4 || images->shape[1] != 3 ||
      images->shape[0] < 1 || images->shape[2] < 1 || images->shape[3] < 1)
    throw Error(artifact.path(), "function '" + first.name + "' takes images " +
                                     typeToString(images->dtype, images->shape) +
                                     ", expected f32[B, 3, H, W]");
  imagesShape_ = images->shape;

  if (!split_) {
    reconstruct_ = prepare(first.name, weights, {kImages});
    imagesOutput(artifact, first, imagesShape_);
    nfe_ = first.nfe;
    if (nfe_ < 0)
      if (const FunctionSpec *decode = artifact.findFunction("decode"))
        nfe_ = decode->nfe;
    return;
  }
  const FunctionSpec &decode = artifact.function(functions.decode);
  std::vector<std::string> latents;
  for (const TensorSpec &output : first.outputs) {
    const TensorSpec *input = findSpec(decode.inputs, output.name);
    if (!input)
      continue;
    if (input->dtype != output.dtype || input->shape != output.shape)
      throw Error(artifact.path(), "function '" + decode.name + "' takes '" + input->name + "' " +
                                       typeToString(input->dtype, input->shape) + " but '" +
                                       first.name + "' returns " +
                                       typeToString(output.dtype, output.shape));
    latents.push_back(output.name);
  }
  if (latents.empty())
    throw Error(artifact.path(), "function '" + decode.name + "' takes none of the outputs of '" +
                                     first.name + "' (matched by name)");
  encode_ = prepare(first.name, weights, {kImages});
  decode_ = prepare(decode.name, weights, latents);
  imagesOutput(artifact, decode, imagesShape_);
  nfe_ = decode.nfe;
}

Tokenizer::Call Tokenizer::prepare(const std::string &name, const NamedTensors &weights,
                                   std::vector<std::string> passed) const {
  Call call;
  call.function = &artifact_.function(name);
  if (const TensorSpec *seed = findSpec(call.function->inputs, kSeed)) {
    if (seed->dtype != DType::I64 || !seed->shape.empty())
      throw Error(artifact_.path(), "function '" + name + "' takes 'seed' " +
                                        typeToString(seed->dtype, seed->shape) +
                                        ", expected an i64 scalar");
    passed.push_back(kSeed);
  }
  call.fixed = parameterRefs(artifact_, *call.function, weights, weightsPath_, passed);
  artifact_.keepResident(call.fixed); // the weights stay put for the whole evaluation
  return call;
}

std::string Tokenizer::description() const {
  if (split_)
    return "encode + decode ('" + encode_.function->name + "', '" + decode_.function->name + "')";
  return reconstruct_.function->name == "reconstruct" ? "reconstruct"
                                                      : "reconstruct ('" + reconstruct_.function->name + "')";
}

NamedTensors Tokenizer::invoke(const Call &call, const std::vector<TensorRef> &passed,
                               int64_t seed) const {
  std::vector<TensorRef> inputs = call.fixed;
  inputs.insert(inputs.end(), passed.begin(), passed.end());
  Tensor seedTensor(DType::I64, {});
  seedTensor.data<int64_t>()[0] = seed;
  if (findSpec(call.function->inputs, kSeed))
    inputs.push_back({kSeed, DType::I64, {}, seedTensor.rawData()});
  NamedTensors outputs;
  std::vector<TensorRef> outputRefs;
  for (const TensorSpec &spec : call.function->outputs) {
    Tensor tensor(spec.dtype, spec.shape);
    outputRefs.push_back({spec.name, spec.dtype, spec.shape, tensor.rawData()});
    outputs.insert(spec.name, std::move(tensor));
  }
  artifact_.callInto(call.function->name, inputs, outputRefs);
  return outputs;
}

Tensor Tokenizer::run(const Tensor &images, int64_t seed, BatchTiming *timing) const {
  if (images.dtype() != DType::F32 || images.shape() != imagesShape_)
    throw Error(artifact_.path(), "images " + typeToString(images.dtype(), images.shape()) +
                                      ", expected " + typeToString(DType::F32, imagesShape_));
  std::vector<TensorRef> batch = {
      {kImages, DType::F32, imagesShape_, const_cast<void *>(images.rawData())}};
  BatchTiming measured;
  auto start = std::chrono::steady_clock::now();
  const Call &last = split_ ? decode_ : reconstruct_;
  NamedTensors outputs;
  if (split_) {
    NamedTensors latent = invoke(encode_, batch, seed);
    measured.encodeSeconds = seconds(start);
    std::vector<TensorRef> latents;
    for (auto &[name, tensor] : latent)
      if (findSpec(decode_.function->inputs, name))
        latents.push_back({name, tensor.dtype(), tensor.shape(), tensor.rawData()});
    start = std::chrono::steady_clock::now();
    outputs = invoke(decode_, latents, seed);
  } else {
    outputs = invoke(reconstruct_, batch, seed);
  }
  measured.decodeSeconds = seconds(start);
  if (timing)
    *timing = measured;
  return outputs.take(imagesOutput(artifact_, *last.function, imagesShape_).name);
}

//===----------------------------------------------------------------------===//
// FeatureNetwork
//===----------------------------------------------------------------------===//

FeatureNetwork::FeatureNetwork(const Artifact &artifact, const NamedTensors &weights,
                               std::string weightsPath, int64_t height, int64_t width)
    : artifact_(artifact) {
  if (artifact.functions().size() != 1)
    throw Error(artifact.path(), "a feature network must have exactly one function (it has: " +
                                     functionNames(artifact) + ")");
  function_ = &artifact.functions().front();
  std::vector<const TensorSpec *> unbound;
  for (const TensorSpec &spec : function_->inputs)
    if (!weights.contains(spec.name))
      unbound.push_back(&spec);
  if (unbound.size() != 1)
    throw Error(artifact.path(), "a feature network takes one image batch besides its weights; '" +
                                     function_->name + "' has " + std::to_string(unbound.size()) +
                                     " inputs not in the feature weights");
  const TensorSpec &input = *unbound.front();
  if (input.dtype != DType::F32 || input.shape.size() != 4 || input.shape[1] != 3 ||
      input.shape[0] < 1)
    throw Error(artifact.path(), "feature network input '" + input.name + "' is " +
                                     typeToString(input.dtype, input.shape) +
                                     ", expected f32[B, 3, H, W]");
  if (input.shape[2] != height || input.shape[3] != width)
    throw Error(artifact.path(), "feature network takes " + std::to_string(input.shape[3]) + "x" +
                                     std::to_string(input.shape[2]) + " images, the tokenizer " +
                                     std::to_string(width) + "x" + std::to_string(height) +
                                     " (images are not resized)");
  imageInput_ = input.name;
  inputShape_ = input.shape;
  const std::vector<TensorSpec> &outputs = function_->outputs;
  const std::vector<int64_t> *shape = outputs.size() == 1 ? &outputs.front().shape : nullptr;
  bool ok = shape && outputs.front().dtype == DType::F32 && (*shape)[0] == inputShape_[0] &&
            (shape->size() == 2 || (shape->size() == 4 && (*shape)[2] == 1 && (*shape)[3] == 1));
  if (!ok)
    throw Error(artifact.path(), "a feature network returns one f32 [B, D] or [B, D, 1, 1] "
                                 "output with B = " + std::to_string(inputShape_[0]) +
                                     "; '" + function_->name + "' returns " +
                                     (outputs.size() == 1 ? typeToString(outputs.front().dtype,
                                                                         outputs.front().shape)
                                                          : std::to_string(outputs.size()) +
                                                                " outputs"));
  dim_ = (*shape)[1];
  fixed_ = parameterRefs(artifact, *function_, weights, weightsPath, {imageInput_});
}

void FeatureNetwork::run(const Tensor &batch, int64_t count, std::vector<double> &features) const {
  std::vector<TensorRef> inputs = fixed_;
  inputs.push_back({imageInput_, DType::F32, inputShape_, const_cast<void *>(batch.rawData())});
  const TensorSpec &outputSpec = function_->outputs.front();
  Tensor output(DType::F32, outputSpec.shape);
  artifact_.callInto(function_->name, inputs,
                     {{outputSpec.name, DType::F32, outputSpec.shape, output.rawData()}});
  const float *values = output.data<float>();
  features.insert(features.end(), values, values + count * dim_);
}

FeatureNetwork::Collector::Collector(const FeatureNetwork &network)
    : network_(network), pending_(DType::F32, network.inputShape_) {}

void FeatureNetwork::Collector::add(const float *image) {
  const int64_t size = 3 * network_.inputShape_[2] * network_.inputShape_[3];
  std::memcpy(pending_.data<float>() + pendingCount_ * size, image, sizeof(float) * size);
  ++count_;
  if (++pendingCount_ == network_.batchSize())
    flush();
}

void FeatureNetwork::Collector::flush() {
  if (pendingCount_ == 0)
    return;
  network_.run(pending_, pendingCount_, features_); // samples past pendingCount_: ignored
  pendingCount_ = 0;
}

const std::vector<double> &FeatureNetwork::Collector::features() {
  flush();
  return features_;
}

//===----------------------------------------------------------------------===//
// Images and evaluation
//===----------------------------------------------------------------------===//

ImageFolder::ImageFolder(const std::string &directory, int64_t height, int64_t width,
                         int64_t limit)
    : files_(listImageFiles(directory)), height_(height), width_(width) {
  if (files_.empty())
    throw Error(directory, "no images in the data folder (looked for *.png, *.jpg, *.jpeg)");
  if (limit > 0 && limit < size())
    files_.resize(static_cast<size_t>(limit));
}

void ImageFolder::load(int64_t first, int64_t count, Tensor &batch) const {
  const int64_t size = 3 * height_ * width_;
  float *out = batch.data<float>();
  for (int64_t i = 0; i < count; ++i) {
    const std::string &path = files_[static_cast<size_t>(first + i)];
    Tensor image = readImage(path);
    checkImageCovers(image, path, height_, width_);
    int64_t y0 = (image.shape()[1] - height_) / 2, x0 = (image.shape()[2] - width_) / 2;
    copyImageWindow(image, y0, x0, height_, width_, /*mirror=*/false, out + i * size);
  }
  for (int64_t i = count; i < batch.shape()[0]; ++i)
    std::memcpy(out + i * size, out + (count - 1) * size, sizeof(float) * size);
}

int64_t batchSeed(uint64_t seed, int64_t index) {
  return static_cast<int64_t>(
      counterHash({seed, uint64_t(RandomStream::EvalSeed), static_cast<uint64_t>(index)}) >> 1);
}

EvalResult evaluate(const Tokenizer &tokenizer, const FeatureNetwork *features,
                    const EvalOptions &options,
                    const std::function<void(int64_t, int64_t)> &progress) {
  const std::vector<int64_t> &shape = tokenizer.imagesShape();
  const int64_t batchSize = shape[0], channels = shape[1], height = shape[2], width = shape[3];
  const int64_t imageSize = channels * height * width;
  ImageFolder folder(options.dataDir, height, width, options.limit);
  if (features && folder.size() < 2) // checked now rather than after all the work
    throw Error(options.dataDir, "a Frechet distance needs at least 2 images, the data has " +
                                     std::to_string(folder.size()));
  EvalResult result;
  result.images = folder.size();
  result.batchSize = batchSize;
  result.batches = (result.images + batchSize - 1) / batchSize;
  result.nfe = tokenizer.nfe();

  std::optional<FeatureNetwork::Collector> originals, reconstructions;
  if (features)
    originals.emplace(*features), reconstructions.emplace(*features);
  Tensor batch(DType::F32, shape);
  std::vector<float> clamped(static_cast<size_t>(imageSize));
  for (int64_t k = 0; k < result.batches; ++k) {
    const int64_t first = k * batchSize, count = std::min(batchSize, result.images - first);
    folder.load(first, count, batch);
    BatchTiming timing;
    Tensor output = tokenizer.run(batch, batchSeed(options.seed, k), &timing);
    result.timings.push_back(timing);
    for (int64_t i = 0; i < count; ++i) {
      const float *original = batch.data<float>() + i * imageSize;
      const float *reconstruction = output.data<float>() + i * imageSize;
      result.psnr.push_back(psnr(original, reconstruction, static_cast<size_t>(imageSize)));
      result.ssim.push_back(ssim(original, reconstruction, channels, height, width));
      if (features) {
        for (int64_t j = 0; j < imageSize; ++j) // the metrics' view of the reconstruction
          clamped[j] = std::min(1.0f, std::max(0.0f, reconstruction[j]));
        originals->add(original);
        reconstructions->add(clamped.data());
      }
    }
    if (progress)
      progress(k + 1, result.batches);
  }
  result.meanPsnr = mean(result.psnr);
  result.meanSsim = mean(result.ssim);

  std::vector<double> rates;
  for (size_t k = static_cast<size_t>(std::max<int64_t>(options.warmup, 0));
       k < result.timings.size(); ++k) {
    double elapsed = result.timings[k].total();
    result.timedSeconds += elapsed;
    rates.push_back(static_cast<double>(batchSize) / elapsed);
  }
  result.timedBatches = static_cast<int64_t>(rates.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (rates.empty()) {
    result.medianImagesPerSecond = result.totalImagesPerSecond = nan;
  } else {
    std::sort(rates.begin(), rates.end());
    size_t middle = rates.size() / 2;
    result.medianImagesPerSecond =
        rates.size() % 2 ? rates[middle] : 0.5 * (rates[middle - 1] + rates[middle]);
    result.totalImagesPerSecond =
        static_cast<double>(result.timedBatches * batchSize) / result.timedSeconds;
  }

  if (features) {
    const int64_t dim = features->dim();
    FeatureStatistics a = featureStatistics(originals->features().data(), result.images, dim);
    FeatureStatistics b = featureStatistics(reconstructions->features().data(), result.images, dim);
    result.frechetDistance = frechetDistance(a, b);
    result.featureDim = dim;
  }
  return result;
}

Tensor imageGrid(const std::vector<const float *> &cells, int64_t rows, int64_t columns,
                 int64_t height, int64_t width, int64_t gap) {
  if (static_cast<int64_t>(cells.size()) != rows * columns)
    throw Error("image grid", std::to_string(cells.size()) + " cells for " +
                                  std::to_string(rows) + " x " + std::to_string(columns));
  const int64_t gridHeight = rows * height + (rows + 1) * gap;
  const int64_t gridWidth = columns * width + (columns + 1) * gap;
  Tensor grid(DType::F32, {3, gridHeight, gridWidth});
  float *out = grid.data<float>();
  std::fill(out, out + grid.numel(), 1.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < columns; ++c) {
      const float *cell = cells[static_cast<size_t>(r * columns + c)];
      const int64_t top = gap + r * (height + gap), left = gap + c * (width + gap);
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t y = 0; y < height; ++y)
          std::memcpy(out + (ch * gridHeight + top + y) * gridWidth + left,
                      cell + (ch * height + y) * width, sizeof(float) * width);
    }
  return grid;
}

} // namespace msdd::rt
