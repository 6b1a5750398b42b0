//===- Trainer.cpp - Driving a compiled train_step ------------------------===//
#include "msdd/Runtime/Trainer.h"

#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Random.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

namespace msdd::rt {

const char *const kStatePrefixes[4] = {"adam_m.", "adam_v.", "momentum.", "ema."};

namespace {

constexpr char kCheckpointFormat[] = "msdd-train-checkpoint";
constexpr char kFinalFormat[] = "msdd-train-final";
constexpr int64_t kCheckpointVersion = 1;

/// The state prefix `name` starts with, or nullptr.
const char *statePrefix(const std::string &name) {
  for (const char *prefix : kStatePrefixes)
    if (name.compare(0, std::strlen(prefix), prefix) == 0)
      return prefix;
  return nullptr;
}

std::string joinNames(const std::vector<TensorSpec> &specs) {
  std::string text;
  for (const TensorSpec &spec : specs)
    text += (text.empty() ? "" : ", ") + spec.name;
  return text.empty() ? "none" : text;
}

std::string hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

bool isScalar(const TensorSpec &spec, DType dtype) {
  return spec.dtype == dtype && spec.shape.empty();
}

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// mkdir -p; throws Error(path, ...).
void makeDirectories(const std::string &path) {
  std::string partial;
  size_t at = 0;
  while (at != std::string::npos) {
    at = path.find('/', at + 1);
    partial = path.substr(0, at);
    if (partial.empty())
      continue;
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST)
      throw Error(partial, "cannot create folder: " + errnoMessage(errno));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(path, "is not a folder");
}

std::vector<std::string> listNames(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *handle = ::opendir(dir.c_str())) {
    while (dirent *entry = ::readdir(handle))
      names.push_back(entry->d_name);
    ::closedir(handle);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Removes `dir/<name>.tmp.<pid>` files a killed writer left behind for names `keep` accepts.
void removeStaleTemporaries(const std::string &dir,
                            const std::function<bool(const std::string &)> &keep) {
  for (const std::string &name : listNames(dir)) {
    size_t tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos || !keep(name.substr(0, tmp)))
      continue;
    std::string pid = name.substr(tmp + 5);
    if (!pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos)
      std::remove((dir + "/" + name).c_str());
  }
}

/// The checkpoint step in a file name "step-XXXXXXXX.safetensors", or -1.
int64_t checkpointStep(const std::string &name) {
  const std::string prefix = "step-", suffix = ".safetensors";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(digits);
}

} // namespace

int64_t stepSeed(uint64_t runSeed, int64_t step) {
  return static_cast<int64_t>(
      counterHash({runSeed, uint64_t(RandomStream::StepSeed), static_cast<uint64_t>(step)}) >> 1);
}

std::string manifestHash(const Artifact &artifact) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : artifact.manifest().dump())
    h = (h ^ c) * 0x100000001b3ull;
  return hex64(h);
}

//===----------------------------------------------------------------------===//
// Trainer
//===----------------------------------------------------------------------===//

Trainer::Trainer(const Artifact &artifact, std::string functionName)
    : artifact_(artifact), function_(&artifact.function(functionName)) {
  const FunctionSpec &fn = *function_;
  auto fail = [&](const std::string &problem) {
    return Error(artifact.path(), "function '" + fn.name + "': " + problem);
  };
  auto findOutput = [&](const std::string &name) -> const TensorSpec * {
    for (const TensorSpec &output : fn.outputs)
      if (output.name == name)
        return &output;
    return nullptr;
  };
  bool hasImages = false;
  for (const TensorSpec &input : fn.inputs) {
    if (input.name == "step") {
      if (!isScalar(input, DType::F32))
        throw fail("input 'step' is " + typeToString(input.dtype, input.shape) + ", expected f32[]");
      continue;
    }
    if (input.name == "seed") {
      if (!isScalar(input, DType::I64))
        throw fail("input 'seed' is " + typeToString(input.dtype, input.shape) + ", expected i64[]");
      hasSeed_ = true;
      continue;
    }
    if (input.name == "images") {
      if (input.dtype != DType::F32 || input.shape.size() != 4 || input.shape[1] != 3 ||
          input.shape[0] <= 0 || input.shape[2] <= 0 || input.shape[3] <= 0)
        throw fail("input 'images' is " + typeToString(input.dtype, input.shape) +
                   ", expected f32[B, 3, H, W]");
      images_ = input;
      hasImages = true;
      continue;
    }
    const TensorSpec *output = findOutput(input.name);
    if (!output) {
      frozen_.push_back(input); // read by every step, never updated: comes from --init
      continue;
    }
    if (output->dtype != input.dtype || output->shape != input.shape)
      throw fail("output '" + input.name + "' is " + typeToString(output->dtype, output->shape) +
                 " but updates input " + typeToString(input.dtype, input.shape));
    (statePrefix(input.name) ? state_ : parameters_).push_back(input);
  }
  if (!hasImages)
    throw fail("has no 'images' input (f32[B, 3, H, W]) for the data loader to fill");
  if (parameters_.empty())
    throw fail("has no parameters (inputs that are also outputs of the same name)");
  for (const TensorSpec &s : state_) {
    std::string base = s.name.substr(std::strlen(statePrefix(s.name)));
    auto param = std::find_if(parameters_.begin(), parameters_.end(),
                              [&](const TensorSpec &p) { return p.name == base; });
    if (param == parameters_.end())
      throw fail("optimizer state '" + s.name + "' belongs to no parameter '" + base + "'");
    if (param->dtype != s.dtype || param->shape != s.shape)
      throw fail("optimizer state '" + s.name + "' is " + typeToString(s.dtype, s.shape) +
                 ", its parameter " + typeToString(param->dtype, param->shape));
  }
  const TensorSpec *loss = findOutput("loss");
  if (!loss || !isScalar(*loss, DType::F32))
    throw fail(loss ? "output 'loss' is " + typeToString(loss->dtype, loss->shape) + ", expected f32[]"
                    : "has no 'loss' output");

  for (const TensorSpec &output : fn.outputs)
    outputs_.insert(output.name, Tensor(output.dtype, output.shape));
  for (const std::vector<TensorSpec> *list : {&parameters_, &state_})
    for (const TensorSpec &spec : *list)
      carried_.push_back(spec.name);
}

void Trainer::resetDeviceState() {
  deviceCurrent_ = false;
  hostCurrent_ = true;
  if (!artifact_.isCuda())
    return;
  // The frozen inputs (a distillation's teacher and encoder) go to the device once.
  std::vector<TensorRef> frozen;
  for (const TensorSpec &f : frozen_) {
    Tensor *tensor = tensors_.find(f.name);
    frozen.push_back({f.name, tensor->dtype(), tensor->shape(), tensor->rawData()});
  }
  artifact_.keepResident(frozen);
}

void Trainer::syncFromDevice() const {
  if (hostCurrent_)
    return;
  std::vector<TensorRef> hosts;
  for (const std::string &name : carried_) {
    Tensor *tensor = tensors_.find(name);
    hosts.push_back({name, tensor->dtype(), tensor->shape(), tensor->rawData()});
  }
  artifact_.downloadCarried(function_->name, hosts);
  hostCurrent_ = true;
}

const NamedTensors &Trainer::tensors() const {
  syncFromDevice();
  return tensors_;
}

/// The tensor that fills frozen input `name`: `name` itself, or for `teacher.<p>` the
/// parameter `<p>` (a distillation's teacher starts as the model it distils).
static const Tensor *frozenSource(const NamedTensors &given, const std::string &name) {
  if (const Tensor *tensor = given.find(name))
    return tensor;
  static const std::string teacher = "teacher.";
  return name.rfind(teacher, 0) == 0 ? given.find(name.substr(teacher.size())) : nullptr;
}

void Trainer::initialize(const NamedTensors &given, const std::string &source) {
  auto isFrozen = [&](const std::string &name) {
    for (const TensorSpec &f : frozen_)
      if (f.name == name || f.name == "teacher." + name)
        return true;
    return false;
  };
  for (const auto &[name, tensor] : given) {
    bool known = isFrozen(name);
    for (const TensorSpec &p : parameters_)
      known |= p.name == name;
    if (!known && !statePrefix(name))
      throw Error(source, "tensor '" + name + "' is not a parameter of " + artifact_.path() +
                              " (its parameters: " + joinNames(parameters_) + ")");
  }
  NamedTensors tensors;
  auto take = [&](const TensorSpec &spec, const Tensor *tensor, const char *what) {
    if (!tensor)
      throw Error(source, std::string("has no ") + what + " '" + spec.name + "' (" +
                              typeToString(spec.dtype, spec.shape) + ")");
    if (tensor->dtype() != spec.dtype || tensor->shape() != spec.shape)
      throw Error(source, std::string(what) + " '" + spec.name + "' is " +
                              typeToString(tensor->dtype(), tensor->shape()) + ", " +
                              artifact_.path() + " expects " + typeToString(spec.dtype, spec.shape));
    tensors.insert(spec.name, tensor->clone());
  };
  for (const TensorSpec &p : parameters_)
    take(p, given.find(p.name), "parameter");
  for (const TensorSpec &f : frozen_)
    take(f, frozenSource(given, f.name), "frozen input");
  for (const TensorSpec &s : state_) {
    const char *prefix = statePrefix(s.name);
    if (std::strcmp(prefix, "ema.") == 0)
      tensors.insert(s.name, tensors.find(s.name.substr(std::strlen(prefix)))->clone());
    else
      tensors.insert(s.name, Tensor(s.dtype, s.shape));
  }
  tensors_ = std::move(tensors);
  step_ = 0;
  initialized_ = true;
  resetDeviceState();
}

void Trainer::initializeFromArtifact(uint64_t seed) {
  if (!frozen_.empty())
    throw Error(artifact_.path(), "function '" + function_->name + "' reads frozen inputs (" +
                                      joinNames(frozen_) + "); give them and the initial "
                                      "parameters with --init W.safetensors");
  const FunctionSpec *init = artifact_.findFunction("init");
  if (!init)
    throw Error(artifact_.path(), "has no 'init' function to initialise the parameters; give "
                                  "initial weights with --init W.safetensors");
  NamedTensors inputs;
  for (const TensorSpec &input : init->inputs) {
    if (input.name != "seed" || !isScalar(input, DType::I64))
      throw Error(artifact_.path(), "function 'init': input '" + input.name + "' is " +
                                        typeToString(input.dtype, input.shape) +
                                        "; msdd-run train only gives 'seed' (i64[])");
    Tensor value(DType::I64, {});
    *value.data<int64_t>() = static_cast<int64_t>(seed);
    inputs.insert("seed", std::move(value));
  }
  NamedTensors outputs = artifact_.call("init", inputs);
  initialize(outputs, artifact_.path() + ": function 'init'");
}

StepMetrics Trainer::runStep(const Tensor &images, uint64_t runSeed) {
  if (!initialized_)
    throw Error(artifact_.path(), "train step before the parameters were initialised");
  const FunctionSpec &fn = *function_;
  int64_t next = step_ + 1;
  Tensor stepValue(DType::F32, {}), seedValue(DType::I64, {});
  *stepValue.data<float>() = static_cast<float>(next);
  *seedValue.data<int64_t>() = stepSeed(runSeed, next);

  std::vector<TensorRef> inputs, outputs;
  for (const TensorSpec &input : fn.inputs) {
    const Tensor *tensor;
    if (input.name == "step")
      tensor = &stepValue;
    else if (input.name == "seed")
      tensor = &seedValue;
    else if (input.name == "images")
      tensor = &images;
    else
      tensor = tensors_.find(input.name);
    inputs.push_back({input.name, tensor->dtype(), tensor->shape(),
                      const_cast<void *>(tensor->rawData())});
  }
  for (auto &[name, tensor] : outputs_)
    outputs.push_back({name, tensor.dtype(), tensor.shape(), tensor.rawData()});
  bool onDevice = artifact_.isCuda();
  if (onDevice) {
    artifact_.callCarried(fn.name, inputs, outputs, carried_, !deviceCurrent_);
    deviceCurrent_ = true;
    hostCurrent_ = false;
  } else {
    artifact_.callInto(fn.name, inputs, outputs);
  }

  StepMetrics metrics;
  for (const TensorSpec &output : fn.outputs) {
    Tensor &result = *outputs_.find(output.name);
    if (Tensor *updated = tensors_.find(output.name)) {
      if (!onDevice)
        std::swap(*updated, result); // the new values in, the old buffer out for the next step
    } else if (isScalar(output, DType::F32)) {
      double value = *result.data<float>();
      if (output.name == "loss")
        metrics.insert(metrics.begin(), {output.name, value});
      else
        metrics.push_back({output.name, value});
    }
  }
  step_ = next;
  return metrics;
}

NamedTensors Trainer::parameterValues() const {
  syncFromDevice();
  NamedTensors values;
  for (const TensorSpec &p : parameters_)
    values.insert(p.name, tensors_.find(p.name)->clone());
  return values;
}

NamedTensors Trainer::modelValues(const NamedTensors &parameters) const {
  syncFromDevice();
  NamedTensors values;
  for (const TensorSpec &f : frozen_)
    if (f.name.rfind("teacher.", 0) != 0)
      values.insert(f.name, tensors_.find(f.name)->clone());
  for (const auto &[name, tensor] : parameters)
    values.insert(name, tensor.clone());
  return values;
}

NamedTensors Trainer::emaValues() const {
  syncFromDevice();
  NamedTensors values;
  for (const TensorSpec &s : state_)
    if (s.name.rfind("ema.", 0) == 0)
      values.insert(s.name.substr(4), tensors_.find(s.name)->clone());
  return values;
}

void Trainer::restore(NamedTensors given, int64_t step, const std::string &source) {
  std::vector<TensorSpec> expected(parameters_);
  expected.insert(expected.end(), state_.begin(), state_.end());
  expected.insert(expected.end(), frozen_.begin(), frozen_.end());
  for (const auto &[name, tensor] : given) {
    bool known = false;
    for (const TensorSpec &spec : expected)
      known |= spec.name == name;
    if (!known)
      throw Error(source, "holds tensor '" + name + "', which " + artifact_.path() + "'s " +
                              function_->name + " does not take (a checkpoint of another model?)");
  }
  NamedTensors tensors;
  for (const TensorSpec &spec : expected) {
    if (!given.contains(spec.name))
      throw Error(source, "has no tensor '" + spec.name + "' (" +
                              typeToString(spec.dtype, spec.shape) + "), which " +
                              artifact_.path() + " needs (a checkpoint of another model?)");
    Tensor tensor = given.take(spec.name);
    if (tensor.dtype() != spec.dtype || tensor.shape() != spec.shape)
      throw Error(source, "tensor '" + spec.name + "' is " +
                              typeToString(tensor.dtype(), tensor.shape()) + ", " +
                              artifact_.path() + " expects " + typeToString(spec.dtype, spec.shape) +
                              " (a checkpoint of another model?)");
    tensors.insert(spec.name, std::move(tensor));
  }
  tensors_ = std::move(tensors);
  step_ = step;
  initialized_ = true;
  resetDeviceState();
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

std::string checkpointName(int64_t step) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "step-%08lld.safetensors", static_cast<long long>(step));
  return buffer;
}

std::vector<std::pair<int64_t, std::string>> listCheckpoints(const std::string &dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  for (const std::string &name : listNames(dir)) {
    int64_t step = checkpointStep(name);
    if (step >= 0)
      found.emplace_back(step, dir + "/" + name);
  }
  std::sort(found.begin(), found.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
  return found;
}

void writeCheckpoint(const std::string &path, const Trainer &trainer, const CheckpointInfo &info) {
  Metadata metadata;
  metadata["format"] = kCheckpointFormat;
  metadata["version"] = std::to_string(kCheckpointVersion);
  metadata["step"] = std::to_string(info.step);
  metadata["seed"] = std::to_string(info.seed);
  Json loader = Json::object();
  loader["epoch"] = info.loader.epoch;
  loader["position"] = info.loader.position;
  metadata["loader"] = loader.dump();
  Json rng = Json::object(); // every random draw is a hash of these counters
  rng["generator"] = "counter-splitmix64";
  rng["seed"] = std::to_string(info.seed);
  rng["next_step"] = info.step + 1;
  rng["loader_epoch"] = info.loader.epoch;
  rng["loader_position"] = info.loader.position;
  metadata["rng"] = rng.dump();
  metadata["artifact_hash"] = info.artifactHash;
  Json data = Json::object();
  data["files"] = info.dataFiles;
  data["hash"] = info.dataHash;
  metadata["data"] = data.dump();
  metadata["elapsed_s"] = Json(info.elapsedSeconds).dump();
  metadata["config"] = info.config.dump();

  const NamedTensors &tensors = trainer.tensors();
  std::string header = safetensorsHeader(path, tensors, metadata);
  uint64_t total = header.size();
  for (const auto &entry : tensors)
    total += entry.second.nbytes();

  // Test hook: die halfway through the K-th checkpoint write of this process.
  static int written = 0;
  ++written;
  uint64_t killAt = UINT64_MAX;
  if (const char *kill = std::getenv("MSDD_TEST_KILL_DURING_CHECKPOINT"))
    if (std::atoi(kill) == written)
      killAt = total / 2;

  AtomicFileWriter writer(path);
  auto emit = [&](const void *bytes, size_t size) {
    const char *p = static_cast<const char *>(bytes);
    if (writer.offset() <= killAt && killAt < writer.offset() + size) {
      size_t first = static_cast<size_t>(killAt - writer.offset());
      writer.write(p, first);
      writer.flush();
      std::raise(SIGKILL);
    }
    writer.write(p, size);
  };
  emit(header.data(), header.size());
  for (const auto &entry : tensors)
    emit(entry.second.rawData(), entry.second.nbytes());
  writer.commit();
}

std::pair<NamedTensors, CheckpointInfo> readCheckpoint(const std::string &path) {
  Metadata metadata;
  NamedTensors tensors = readSafetensors(path, &metadata);
  auto field = [&](const char *key) -> const std::string & {
    auto it = metadata.find(key);
    if (it == metadata.end())
      throw Error(path, std::string("not a complete msdd-run train checkpoint (no '") + key +
                            "' in __metadata__)");
    return it->second;
  };
  if (field("format") != kCheckpointFormat)
    throw Error(path, "not an msdd-run train checkpoint (format '" + field("format") + "')");
  if (field("version") != std::to_string(kCheckpointVersion))
    throw Error(path, "checkpoint version " + field("version") + " is not supported (this "
                      "runtime reads version " + std::to_string(kCheckpointVersion) + ")");
  CheckpointInfo info;
  auto integer = [&](const char *key, const std::string &text) -> int64_t {
    char *end = nullptr;
    errno = 0;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < 0)
      throw Error(path, std::string("corrupt checkpoint metadata: '") + key + "' is '" + text + "'");
    return value;
  };
  auto json = [&](const char *key) {
    try {
      return Json::parse(field(key), std::string(key));
    } catch (const Error &error) {
      throw Error(path, std::string("corrupt checkpoint metadata: ") + error.what());
    }
  };
  try {
    info.step = integer("step", field("step"));
    const std::string &seed = field("seed");
    char *end = nullptr;
    errno = 0;
    info.seed = std::strtoull(seed.c_str(), &end, 10);
    if (seed.empty() || *end != '\0' || errno != 0 || seed[0] == '-')
      throw Error(path, "corrupt checkpoint metadata: 'seed' is '" + seed + "'");
    Json loader = json("loader");
    const Json *epoch = loader.find("epoch"), *position = loader.find("position");
    if (!epoch || !position || !epoch->isInteger() || !position->isInteger())
      throw Error(path, "corrupt checkpoint metadata: 'loader' is " + loader.dump());
    info.loader = {epoch->asInt(), position->asInt()};
    info.artifactHash = field("artifact_hash");
    Json data = json("data");
    const Json *files = data.find("files"), *hash = data.find("hash");
    if (!files || !hash || !files->isInteger() || !hash->isString())
      throw Error(path, "corrupt checkpoint metadata: 'data' is " + data.dump());
    info.dataFiles = files->asInt();
    info.dataHash = hash->asString();
    Json elapsed = json("elapsed_s");
    info.elapsedSeconds = elapsed.isNumber() ? elapsed.asNumber() : 0.0;
    info.config = json("config");
    if (!info.config.isObject())
      throw Error(path, "corrupt checkpoint metadata: 'config' is not an object");
  } catch (const Error &) {
    throw;
  } catch (const std::exception &error) {
    throw Error(path, std::string("corrupt checkpoint metadata: ") + error.what());
  }
  return {std::move(tensors), std::move(info)};
}

//===----------------------------------------------------------------------===//
// TrainingRun
//===----------------------------------------------------------------------===//

TrainingRun::TrainingRun(const Artifact &artifact, TrainOptions options,
                         std::function<void(const std::string &)> warn)
    : artifact_(artifact), options_(std::move(options)), warn_(std::move(warn)),
      trainer_(artifact, options_.function) {
  if (!warn_)
    warn_ = [](const std::string &message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); };
}

TrainingRun::~TrainingRun() = default;

std::string TrainingRun::finalPath() const { return options_.runDir + "/final.safetensors"; }
std::string TrainingRun::finalEmaPath() const {
  return options_.runDir + "/final_ema.safetensors";
}

Json TrainingRun::configJson() const {
  Json config = Json::object();
  config["artifact"] = options_.artifactPath;
  config["function"] = options_.function;
  config["data"] = dataDir_;
  config["init"] = options_.initPath.empty() ? "artifact:init" : options_.initPath;
  config["steps"] = totalSteps_;
  config["seed"] = std::to_string(seed_);
  const std::vector<int64_t> &shape = trainer_.imagesShape();
  config["batch_size"] = shape[0];
  config["height"] = shape[2];
  config["width"] = shape[3];
  config["random_crop"] = randomCrop_;
  config["flip"] = flip_;
  config["checkpoint_every"] = checkpointEvery_;
  config["keep_last"] = keepLast_;
  config["log_every"] = logEvery_;
  return config;
}

CheckpointInfo TrainingRun::info(double elapsed) const {
  CheckpointInfo info;
  info.step = trainer_.step();
  info.seed = seed_;
  info.loader = loader_->position();
  info.artifactHash = manifestHash(artifact_);
  info.dataFiles = static_cast<int64_t>(loader_->files().size());
  info.dataHash = hex64(loader_->filesHash());
  info.elapsedSeconds = elapsed;
  info.config = configJson();
  return info;
}

void TrainingRun::resumeFrom(const std::string &path, bool explicitPath) {
  // Automatic choice: the newest checkpoint that reads back whole; explicit: that one.
  std::vector<std::pair<int64_t, std::string>> candidates;
  if (explicitPath) {
    candidates.emplace_back(0, path);
  } else {
    candidates = listCheckpoints(path);
    if (candidates.empty())
      throw Error(path, "no checkpoint to resume from (no step-*.safetensors files)");
  }
  std::optional<std::pair<NamedTensors, CheckpointInfo>> chosen;
  std::string chosenPath;
  for (const auto &[step, file] : candidates) {
    try {
      chosen.emplace(readCheckpoint(file));
      chosenPath = file;
      break;
    } catch (const Error &error) {
      if (explicitPath)
        throw;
      warn_(std::string(error.what()) + "; skipping it");
    }
  }
  if (!chosen)
    throw Error(path, "no valid checkpoint to resume from (every step-*.safetensors is corrupt)");
  CheckpointInfo &info = chosen->second;
  trainer_.restore(std::move(chosen->first), info.step, chosenPath);
  resumedFrom_ = chosenPath;

  const Json &config = info.config;
  auto configBool = [&](const char *key, bool fallback) {
    const Json *value = config.find(key);
    return value && value->isBool() ? value->asBool() : fallback;
  };
  if (options_.seed && *options_.seed != info.seed)
    throw Error(chosenPath, "was written by a run with --seed " + std::to_string(info.seed) +
                                ", not " + std::to_string(*options_.seed) +
                                " (a resumed run keeps its seed)");
  seed_ = info.seed;
  for (auto [given, key, flag, target] :
       {std::tuple{options_.randomCrop, "random_crop", "--no-random-crop", &randomCrop_},
        std::tuple{options_.flip, "flip", "--no-flip", &flip_}}) {
    bool stored = configBool(key, true);
    if (given && *given != stored)
      throw Error(chosenPath, std::string("was written by a run ") + (stored ? "without " : "with ") +
                                  flag + " (a resumed run keeps its augmentation)");
    *target = stored;
  }
  if (!options_.dataDir) {
    const Json *data = config.find("data");
    if (!data || !data->isString())
      throw Error(chosenPath, "names no data folder; give --data");
    dataDir_ = data->asString();
  }
  if (!options_.steps) {
    const Json *steps = config.find("steps");
    if (!steps || !steps->isInteger())
      throw Error(chosenPath, "names no step count; give --steps");
    totalSteps_ = steps->asInt();
  }
  for (auto [given, key, target] :
       {std::tuple{options_.checkpointEvery, "checkpoint_every", &checkpointEvery_},
        std::tuple{options_.keepLast, "keep_last", &keepLast_},
        std::tuple{options_.logEvery, "log_every", &logEvery_}}) {
    const Json *stored = config.find(key);
    if (!given && stored && stored->isInteger() && stored->asInt() >= (target == &logEvery_ ? 1 : 0))
      *target = stored->asInt();
  }
  if (const Json *init = config.find("init"); init && init->isString() && options_.initPath.empty())
    options_.initPath = init->asString() == "artifact:init" ? "" : init->asString();
  if (info.artifactHash != manifestHash(artifact_))
    warn_(chosenPath + ": written with another build of the artifact (its manifest differs); "
                       "the parameters match, continuing");
  start_ = info.loader;
  elapsedBefore_ = info.elapsedSeconds;
  if (trainer_.step() > totalSteps_)
    throw Error(chosenPath, "is at step " + std::to_string(trainer_.step()) + ", beyond --steps " +
                                std::to_string(totalSteps_));

  // Remembered for the data check once the loader is up.
  options_.resumeFrom = chosenPath;
  dataFilesAtCheckpoint_ = info.dataFiles;
  dataHashAtCheckpoint_ = info.dataHash;
}

void TrainingRun::checkRunDirIsFree() const {
  if (!listCheckpoints(options_.runDir + "/checkpoints").empty() ||
      exists(options_.runDir + "/log.jsonl"))
    throw Error(options_.runDir, "already holds a training run (log.jsonl or checkpoints); "
                                 "continue it with --resume or choose another --out");
  struct stat st;
  if (::stat(options_.runDir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    throw Error(options_.runDir, "exists and is not a folder");
}

void TrainingRun::createRunDir() {
  std::string checkpoints = options_.runDir + "/checkpoints";
  makeDirectories(checkpoints);
  removeStaleTemporaries(checkpoints, [](const std::string &name) { return checkpointStep(name) >= 0; });
  removeStaleTemporaries(options_.runDir, [](const std::string &name) {
    return name == "final.safetensors" || name == "final_ema.safetensors" || name == "log.jsonl";
  });
}

void TrainingRun::prepare() {
  if (options_.runDir.empty())
    throw Error("train", "no run folder (--out) given");
  if ((options_.logEvery && *options_.logEvery <= 0) ||
      (options_.checkpointEvery && *options_.checkpointEvery < 0) ||
      (options_.keepLast && *options_.keepLast < 0))
    throw Error("train", "--log-every must be positive, --checkpoint-every and --keep-last not negative");
  checkpointEvery_ = options_.checkpointEvery.value_or(1000);
  keepLast_ = options_.keepLast.value_or(3);
  logEvery_ = options_.logEvery.value_or(10);
  if (options_.steps && *options_.steps <= 0)
    throw Error("train", "--steps must be positive");
  const std::vector<int64_t> &shape = trainer_.imagesShape();
  if (options_.dataDir)
    dataDir_ = *options_.dataDir;
  if (options_.steps)
    totalSteps_ = *options_.steps;

  if (options_.resume) {
    std::string path = options_.resumeFrom.empty() ? options_.runDir + "/checkpoints" : options_.resumeFrom;
    resumeFrom(path, !options_.resumeFrom.empty());
  } else {
    if (!options_.dataDir)
      throw Error("train", "no data folder (--data) given");
    if (!options_.steps)
      throw Error("train", "no step count (--steps) given");
    seed_ = options_.seed.value_or(0);
    randomCrop_ = options_.randomCrop.value_or(true);
    flip_ = options_.flip.value_or(true);
    checkRunDirIsFree();
  }

  DataLoaderOptions loaderOptions;
  loaderOptions.directory = dataDir_;
  loaderOptions.batchSize = shape[0];
  loaderOptions.height = shape[2];
  loaderOptions.width = shape[3];
  loaderOptions.seed = seed_;
  loaderOptions.randomCrop = randomCrop_;
  loaderOptions.flip = flip_;
  loaderOptions.prefetch = options_.prefetch;
  loader_ = std::make_unique<DataLoader>(loaderOptions, start_);
  if (options_.resume && (static_cast<int64_t>(loader_->files().size()) != dataFilesAtCheckpoint_ ||
                          hex64(loader_->filesHash()) != dataHashAtCheckpoint_))
    warn_(dataDir_ + ": holds other images than the checkpoint was trained on (" +
          std::to_string(loader_->files().size()) + " files, it had " +
          std::to_string(dataFilesAtCheckpoint_) +
          "); the resumed run will differ from an uninterrupted one");

  if (!options_.resume) {
    if (!options_.initPath.empty())
      trainer_.initialize(readSafetensors(options_.initPath), options_.initPath);
    else
      trainer_.initializeFromArtifact(seed_);
  }
  createRunDir(); // only now: a failed start leaves nothing behind
  prepared_ = true;
}

void TrainingRun::run(const std::function<void(const StepReport &)> &progress) {
  if (!prepared_)
    prepare();
  using Clock = std::chrono::steady_clock;
  std::string logPath = options_.runDir + "/log.jsonl";
  std::string checkpoints = options_.runDir + "/checkpoints";

  // The log keeps the lines of the steps before the one resumed from; a killed run may have
  // logged steps after its last checkpoint (and half a line).
  {
    std::string kept;
    if (options_.resume) {
      std::ifstream in(logPath);
      std::string line;
      while (std::getline(in, line)) {
        try {
          Json entry = Json::parse(line, logPath);
          const Json *step = entry.find("step");
          if (step && step->isInteger() && step->asInt() <= trainer_.step())
            kept += line + "\n";
        } catch (const Error &) {
        }
      }
    }
    AtomicFileWriter writer(logPath);
    writer.write(kept);
    writer.commit();
  }
  std::FILE *log = std::fopen(logPath.c_str(), "ae");
  if (!log)
    throw Error(logPath, "cannot open: " + errnoMessage(errno));
  struct Closer {
    std::FILE *file;
    ~Closer() { std::fclose(file); }
  } closer{log};

  auto writeCheckpointNow = [&](double elapsed) {
    std::string path = checkpoints + "/" + checkpointName(trainer_.step());
    writeCheckpoint(path, trainer_, info(elapsed));
    if (keepLast_ > 0) {
      int64_t kept = 0;
      for (const auto &[step, file] : listCheckpoints(checkpoints)) {
        if (step > trainer_.step())
          continue; // left from before a resume: overwritten when the run gets there
        if (++kept > keepLast_)
          std::remove(file.c_str());
      }
    }
  };

  const int64_t firstStep = trainer_.step() + 1;
  auto t0 = Clock::now();
  while (trainer_.step() < totalSteps_) {
    Tensor images = loader_->next();
    StepReport report;
    report.metrics = trainer_.runStep(images, seed_);
    report.step = trainer_.step();
    report.totalSteps = totalSteps_;
    report.firstStep = firstStep;
    report.loader = loader_->position();
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    report.stepsPerSecond = seconds > 0 ? double(report.step - firstStep + 1) / seconds : 0;
    report.elapsedSeconds = elapsedBefore_ + seconds;
    report.etaSeconds = report.stepsPerSecond > 0
                            ? double(totalSteps_ - report.step) / report.stepsPerSecond
                            : 0;
    if (report.step % logEvery_ == 0 || report.step == totalSteps_) {
      Json line = Json::object();
      line["step"] = report.step;
      for (const auto &[name, value] : report.metrics)
        line[name] = value;
      line["epoch"] = report.loader.epoch;
      line["steps_per_s"] = report.stepsPerSecond;
      line["elapsed_s"] = report.elapsedSeconds;
      std::string text = line.dump() + "\n";
      if (std::fputs(text.c_str(), log) == EOF || std::fflush(log) != 0)
        throw Error(logPath, "write failed: " + errnoMessage(errno));
      report.logged = true;
    }
    if ((checkpointEvery_ > 0 && report.step % checkpointEvery_ == 0) ||
        report.step == totalSteps_) {
      writeCheckpointNow(report.elapsedSeconds);
      report.checkpointed = true;
    }
    if (progress)
      progress(report);
  }
  if (firstStep > totalSteps_ && listCheckpoints(checkpoints).empty())
    writeCheckpointNow(elapsedBefore_);

  Metadata metadata;
  metadata["format"] = kFinalFormat;
  metadata["step"] = std::to_string(trainer_.step());
  metadata["seed"] = std::to_string(seed_);
  metadata["artifact_hash"] = manifestHash(artifact_);
  writeSafetensors(finalPath(), trainer_.modelValues(trainer_.parameterValues()), metadata);
  NamedTensors ema = trainer_.emaValues();
  if (!ema.empty()) {
    metadata["weights"] = "ema";
    writeSafetensors(finalEmaPath(), trainer_.modelValues(ema), metadata);
  }
}

} // namespace msdd::rt
