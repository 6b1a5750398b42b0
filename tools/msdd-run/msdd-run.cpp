//===- msdd-run.cpp - Run compiled MSDD artifacts --------------------------===//
//
// Exit status: 0 on success, 1 on a runtime error (`msdd-run: error: <file>: <problem>`),
// 2 on a usage error. Outputs are written atomically, so a failed run leaves no file.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/Cuda.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Evaluate.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Npz.h"
#include "msdd/Runtime/Random.h"
#include "msdd/Runtime/Runtime.h"
#include "msdd/Runtime/Safetensors.h"
#include "msdd/Runtime/Trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <unistd.h>
#include <filesystem>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vector>

using namespace msdd::rt;

namespace {

constexpr char kTool[] = "msdd-run";
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;

const char kGlobalHelp[] = R"(usage: msdd-run <command> [options]

Runs compiled MSDD artifacts (.msdd): CPU artifacts on the host, CUDA artifacts
(msdd-compile --target cuda) on the GPU through the NVIDIA driver.

commands:
  infer         run one function of an artifact on tensors from .npz/.safetensors files
  bench         time one function of an artifact (median of several calls, items/s)
  info          list an artifact's functions with their inputs and outputs
  train         train with an artifact's train_step on a folder of images
  eval          reconstruct a folder of images with a tokenizer: PSNR, SSIM, NFE, img/s,
                and a Frechet distance of features from a given network
  reconstruct   a PNG grid of images and their reconstructions by one or more tokenizers

options:
  -h, --help   show this help (msdd-run <command> --help: a command's options)
  --version    print the version

environment:
  MSDD_NUM_THREADS   threads for parallel loops and matrix products (default: all cores)
  MSDD_CUDA_DEVICE   the GPU for CUDA artifacts (default 0)
  MSDD_CUDA_PROFILE  1: print the GPU time per kernel and matrix product at exit
)";

const char kInferHelp[] = R"(usage: msdd-run infer ART.msdd --inputs IN.npz --outputs OUT.npz [options]

Runs one function of ART.msdd and writes its outputs to OUT.npz. The file is written
atomically: after any error there is no OUT.npz (an existing one is left as it was).

options:
  --function NAME          the function to run (default: the artifact's only function)
  --inputs IN.npz          input arrays, matched to the function's inputs by name
  --weights W.safetensors  more inputs (e.g. parameters) by name; may be repeated
  --outputs OUT.npz        where to write the outputs (.safetensors if the name ends so)
  --json                   print one JSON line: function, outputs, wall time of the call
  -h, --help               show this help
)";

const char kInfoHelp[] = R"(usage: msdd-run info ART.msdd [--json]

Lists the functions of ART.msdd with the names, dtypes and shapes of their inputs and
outputs.

options:
  --json       print the artifact's manifest (JSON) instead
  -h, --help   show this help
)";

const char kTrainHelp[] = R"(usage: msdd-run train ART.msdd --data DIR --steps N [options]
       msdd-run train --config CONFIG.json --data DIR --steps N [options]

Trains with the train_step function of ART.msdd (compiled with msdd-compile --train) on the
PNG/JPEG images in DIR, carrying the parameters and optimizer state from step to step.
Writes into the run folder RUN_DIR:
  log.jsonl                           one JSON object per logged step
  checkpoints/step-XXXXXXXX.safetensors  parameters, optimizer state, step, loader and RNG
                                      state, config (written atomically, the last N kept)
  final.safetensors                   the parameters after the last step (for infer --weights)
  final_ema.safetensors               their exponential moving average, when the artifact was
                                      compiled with --ema (usually the better weights to evaluate)
Progress goes to stderr: one live line on a terminal, otherwise a line per logged step.

With --config (a tokenizer config, docs/tokenizer.md), the artifact is RUN_DIR/model.msdd,
compiled first by `msdd-compile CONFIG.json --train` (the msdd-compile next to msdd-run)
unless it is newer than the config.

options:
  --config CONFIG.json     train the tokenizer of a config (stage 1) instead of ART.msdd
  --data DIR               folder of training images (*.png, *.jpg, *.jpeg), sorted by name
  --steps N                total number of steps (a resumed run continues up to N)
  --init W.safetensors     initial parameters (default: the artifact's init function, given
                           the seed) and the frozen inputs of the step, if it has any (a
                           distillation's encoder, and its teacher.<p> from <p>)
  --out RUN_DIR            the run folder (default: runs/<artifact or config name>)
  --seed S                 seed of the shuffling, crops, flips and per-step seeds (default 0)
  --batch-size B           checked against the artifact's images input [B, 3, H, W], which
                           fixes it
  --checkpoint-every K     write a checkpoint every K steps (default 1000; 0: only at the end);
                           one is always written after the last step
  --keep-last N            keep the newest N checkpoints (default 3; 0: keep all)
  --log-every K            log every K steps and the last step (default 10)
  --resume [CKPT]          continue the run in RUN_DIR from its newest valid checkpoint, or
                           from CKPT (--resume=CKPT, or --resume CKPT.safetensors); settings
                           not given are taken from the checkpoint
  --no-random-crop         crop images larger than HxW at the centre, not at random
  --no-flip                no random horizontal flips
  --prefetch N             batches decoded ahead by the loader thread (default 4; 0: none)
  --function NAME          the step function (default train_step)
  -h, --help               show this help

Images must be at least HxW (the artifact's images input); larger ones are cropped. A run is
deterministic: the same command gives bit-identical parameters, and so does stopping it and
continuing with --resume.
)";

/// A command-line mistake: reported with a usage hint, exit status 2.
struct UsageError : std::runtime_error {
  UsageError(const std::string &message, std::string hint)
      : std::runtime_error(message), hint(std::move(hint)) {}
  std::string hint;
};

struct OptionSpec {
  const char *name; // without "--"
  bool takesValue;
  bool repeatable;
  bool optionalValue = false; // a flag that also takes `--name=value`
};

struct ParsedArgs {
  std::string command;
  bool help = false;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options; // flags hold one empty value

  bool has(const std::string &name) const { return options.count(name) != 0; }
  std::string value(const std::string &name) const {
    auto it = options.find(name);
    return it == options.end() ? std::string() : it->second.front();
  }
  std::vector<std::string> values(const std::string &name) const {
    auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>() : it->second;
  }
};

/// Parses `--name value`, `--name=value`, flags, `-h`, and `--` (end of options).
ParsedArgs parseArgs(const std::string &command, const std::vector<std::string> &args,
                     const std::vector<OptionSpec> &specs) {
  std::string hint = "Try '" + std::string(kTool) + " " + command + " --help'.";
  ParsedArgs parsed;
  parsed.command = command;
  bool optionsEnded = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (optionsEnded || arg.empty() || arg[0] != '-' || arg == "-") {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
      continue;
    }
    if (arg.compare(0, 2, "--") != 0)
      throw UsageError("unknown option '" + arg + "'", hint);
    size_t equals = arg.find('=');
    std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const OptionSpec *spec = nullptr;
    for (const OptionSpec &candidate : specs)
      if (name == candidate.name)
        spec = &candidate;
    if (!spec)
      throw UsageError("unknown option '--" + name + "'", hint);
    std::string value;
    if (spec->optionalValue) {
      if (equals != std::string::npos)
        value = arg.substr(equals + 1);
      if (equals != std::string::npos && value.empty())
        throw UsageError("option '--" + name + "' needs a non-empty value after '='", hint);
    } else if (spec->takesValue) {
      if (equals != std::string::npos)
        value = arg.substr(equals + 1);
      else if (i + 1 < args.size())
        value = args[++i];
      else
        throw UsageError("option '--" + name + "' needs a value", hint);
      if (value.empty())
        throw UsageError("option '--" + name + "' needs a non-empty value", hint);
    } else if (equals != std::string::npos) {
      throw UsageError("option '--" + name + "' takes no value", hint);
    }
    std::vector<std::string> &slot = parsed.options[name];
    if (!slot.empty() && !spec->repeatable)
      throw UsageError("option '--" + name + "' given twice", hint);
    slot.push_back(value);
  }
  return parsed;
}

/// The single ART.msdd positional argument.
std::string artifactArgument(const std::string &command, const ParsedArgs &args) {
  std::string hint = "Try '" + std::string(kTool) + " " + command + " --help'.";
  if (args.positional.empty())
    throw UsageError(command + ": missing the artifact (ART.msdd)", hint);
  if (args.positional.size() > 1)
    throw UsageError(command + ": unexpected argument '" + args.positional[1] + "'", hint);
  return args.positional.front();
}

Json shapeJson(const std::vector<int64_t> &shape) {
  Json json = Json::array();
  for (int64_t dim : shape)
    json.push_back(dim);
  return json;
}

/// A non-negative integer option, or a usage error.
int64_t integerOption(const ParsedArgs &args, const char *name, int64_t fallback, int64_t min) {
  if (!args.has(name))
    return fallback;
  std::string text = args.value(name);
  char *end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || value < min || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(std::string("option '--") + name + "' needs an integer >= " +
                         std::to_string(min) + ", got '" + text + "'",
                     "Try 'msdd-run " + args.command + " --help'.");
  return value;
}

/// --function NAME, else the artifact's only function.
const FunctionSpec &chooseFunction(const Artifact &artifact, const ParsedArgs &args) {
  if (args.has("function"))
    return artifact.function(args.value("function"));
  if (artifact.functions().size() == 1)
    return artifact.functions().front();
  std::string names;
  for (const FunctionSpec &candidate : artifact.functions())
    names += (names.empty() ? "" : ", ") + candidate.name;
  throw Error(artifact.path(), artifact.functions().empty()
                                  ? "has no functions"
                                  : "has several functions (" + names + "); choose one with --function");
}

int runInfer(const std::vector<std::string> &argv) {
  ParsedArgs args = parseArgs("infer", argv,
                              {{"function", true, false},
                               {"inputs", true, false},
                               {"weights", true, true},
                               {"outputs", true, false},
                               {"json", false, false}});
  if (args.help) {
    std::fputs(kInferHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("infer", args);
  std::string hint = "Try 'msdd-run infer --help'.";
  for (const char *required : {"inputs", "outputs"})
    if (!args.has(required))
      throw UsageError(std::string("infer: missing --") + required, hint);
  std::string inputsPath = args.value("inputs"), outputsPath = args.value("outputs");
  checkCanCreate(outputsPath); // before the work, not after

  std::unique_ptr<Artifact> artifact = Artifact::open(artifactPath);
  const FunctionSpec *function = &chooseFunction(*artifact, args);

  NamedTensors inputs = readNpz(inputsPath);
  std::map<std::string, std::string> sourceOf; // tensor name -> file, for clash messages
  for (const auto &entry : inputs)
    sourceOf[entry.first] = inputsPath;
  for (const std::string &weightsPath : args.values("weights")) {
    NamedTensors weights = readSafetensors(weightsPath);
    for (auto &[name, tensor] : weights) {
      if (inputs.contains(name))
        throw Error(weightsPath, "tensor '" + name + "' is also in " + sourceOf[name]);
      sourceOf[name] = weightsPath;
      inputs.insert(name, std::move(tensor));
    }
  }

  auto start = std::chrono::steady_clock::now();
  NamedTensors outputs = artifact->call(function->name, inputs);
  double millis =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // A .safetensors name gets safetensors (e.g. an init function's weights for --weights).
  const std::string st = ".safetensors";
  if (outputsPath.size() > st.size() &&
      outputsPath.compare(outputsPath.size() - st.size(), st.size(), st) == 0)
    writeSafetensors(outputsPath, outputs);
  else
    writeNpz(outputsPath, outputs);

  if (args.has("json")) {
    Json summary = Json::object();
    summary["function"] = function->name;
    Json list = Json::array();
    for (const auto &[name, tensor] : outputs) {
      Json entry = Json::object();
      entry["name"] = name;
      entry["dtype"] = dtypeName(tensor.dtype());
      entry["shape"] = shapeJson(tensor.shape());
      list.push_back(std::move(entry));
    }
    summary["outputs"] = std::move(list);
    summary["output_file"] = outputsPath;
    summary["time_ms"] = millis;
    std::printf("%s\n", summary.dump().c_str());
  } else {
    std::printf("%s: ran '%s' in %.3f ms, wrote %zu output%s to %s\n", artifactPath.c_str(),
                function->name.c_str(), millis, outputs.size(), outputs.size() == 1 ? "" : "s",
                outputsPath.c_str());
  }
  return 0;
}


const char kBenchHelp[] = R"(usage: msdd-run bench ART.msdd [--function NAME] [options]

Times one function: --warmup calls, then --runs timed calls, each from host inputs to host
outputs. For a CUDA artifact the --weights stay on the device after the first call (as in
msdd-run eval), and from the second call on the function replays a CUDA graph of its work:
the default two warm-up calls leave the capture out of the timing. Inputs that no file gives
are filled with seeded uniform values in [-1, 1) (floats) or zeros (integers). Prints the
median and fastest call and the items per second (the first input's leading dimension, the
batch, over the median), then one JSON line.

options:
  --function NAME          the function (default: the artifact's only function)
  --weights W.safetensors  inputs by name, kept resident; may be repeated
  --inputs IN.npz          more inputs by name
  --runs N                 timed calls (default 10)
  --warmup K               untimed calls first (default 2)
  -h, --help               show this help
)";

int runBench(const std::vector<std::string> &argv) {
  ParsedArgs args = parseArgs("bench", argv,
                              {{"function", true, false},
                               {"inputs", true, false},
                               {"weights", true, true},
                               {"runs", true, false},
                               {"warmup", true, false}});
  if (args.help) {
    std::fputs(kBenchHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("bench", args);
  int64_t runs = integerOption(args, "runs", 10, 1), warmup = integerOption(args, "warmup", 2, 0);

  std::unique_ptr<Artifact> artifact = Artifact::open(artifactPath);
  const FunctionSpec *function = &chooseFunction(*artifact, args);

  NamedTensors given;
  if (args.has("inputs"))
    given = readNpz(args.value("inputs"));
  std::vector<NamedTensors> weightFiles;
  for (const std::string &path : args.values("weights"))
    weightFiles.push_back(readSafetensors(path));
  std::vector<TensorRef> inputs, resident;
  std::vector<Tensor> filled;
  filled.reserve(function->inputs.size());
  uint64_t counter = 0;
  for (const TensorSpec &spec : function->inputs) {
    const Tensor *tensor = given.find(spec.name);
    bool fromWeights = false;
    for (const NamedTensors &weights : weightFiles)
      if (!tensor && (tensor = weights.find(spec.name)))
        fromWeights = true;
    if (!tensor) {
      filled.emplace_back(spec.dtype, spec.shape);
      Tensor &t = filled.back();
      if (spec.dtype == DType::F32)
        for (int64_t i = 0; i < t.numel(); ++i)
          t.data<float>()[i] =
              static_cast<float>(uniformBelow(counterHash({7, ++counter}), 1 << 24)) / (1 << 23) - 1;
      else
        std::memset(t.rawData(), 0, t.nbytes());
      tensor = &t;
    }
    TensorRef ref{spec.name, tensor->dtype(), tensor->shape(), const_cast<void *>(tensor->rawData())};
    inputs.push_back(ref);
    if (fromWeights)
      resident.push_back(ref);
  }
  artifact->keepResident(resident);
  std::vector<Tensor> outputTensors;
  std::vector<TensorRef> outputs;
  for (const TensorSpec &spec : function->outputs) {
    outputTensors.emplace_back(spec.dtype, spec.shape);
    outputs.push_back({spec.name, spec.dtype, spec.shape, outputTensors.back().rawData()});
  }
  std::vector<double> times;
  for (int64_t i = 0; i < warmup + runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    artifact->callInto(function->name, inputs, outputs);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= warmup)
      times.push_back(ms);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                    : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  int64_t batch = 1;
  if (!function->inputs.empty() && !inputs.empty()) {
    for (const TensorRef &ref : inputs)
      if (std::find_if(resident.begin(), resident.end(), [&](const TensorRef &r) { return r.name == ref.name; }) == resident.end() &&
          !ref.shape.empty()) {
        batch = ref.shape.front();
        break;
      }
  }
  bool graph = artifact->replaysGraph(function->name);
  std::printf("%s: '%s' median %.3f ms, fastest %.3f ms over %lld runs (%lld warm-up): %.2f items/s "
              "(batch %lld)%s\n",
              artifactPath.c_str(), function->name.c_str(), median, sorted.front(),
              static_cast<long long>(runs), static_cast<long long>(warmup), batch * 1e3 / median,
              static_cast<long long>(batch), graph ? ", CUDA graph" : "");
  Json summary = Json::object();
  summary["artifact"] = artifactPath;
  summary["function"] = function->name;
  summary["target"] = artifact->isCuda() ? "cuda" : "cpu";
  if (artifact->isCuda()) {
    summary["device"] = cuda::deviceName();
    summary["cuda_graph"] = graph;
  }
  summary["batch"] = batch;
  summary["runs"] = runs;
  summary["median_ms"] = median;
  summary["min_ms"] = sorted.front();
  summary["items_per_second"] = batch * 1e3 / median;
  if (function->nfe >= 0)
    summary["nfe"] = function->nfe;
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

void printTensorTable(const char *title, const std::vector<TensorSpec> &specs) {
  size_t width = 4;
  for (const TensorSpec &spec : specs)
    width = std::max(width, spec.name.size());
  std::printf("  %s:%s\n", title, specs.empty() ? " none" : "");
  for (const TensorSpec &spec : specs)
    std::printf("    %-*s  %s\n", static_cast<int>(width), spec.name.c_str(),
                typeToString(spec.dtype, spec.shape).c_str());
}

int runInfo(const std::vector<std::string> &argv) {
  ParsedArgs args = parseArgs("info", argv, {{"json", false, false}});
  if (args.help) {
    std::fputs(kInfoHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("info", args);
  std::unique_ptr<Artifact> artifact = Artifact::open(artifactPath);
  if (args.has("json")) {
    std::printf("%s\n", artifact->manifest().dump().c_str());
    return 0;
  }
  size_t count = artifact->functions().size();
  std::printf("%s: %zu function%s, target %s\n", artifactPath.c_str(), count, count == 1 ? "" : "s",
              artifact->isCuda() ? "cuda" : "cpu");
  for (const FunctionSpec &function : artifact->functions()) {
    std::string nfe = function.nfe >= 0 ? ", nfe " + std::to_string(function.nfe) : "";
    std::printf("function %s (entry %s%s)\n", function.name.c_str(), function.entry.c_str(),
                nfe.c_str());
    printTensorTable("inputs", function.inputs);
    printTensorTable("outputs", function.outputs);
  }
  return 0;
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  long long s = std::llround(seconds);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%llds", s);
  return buffer;
}

std::string progressLine(const StepReport &report) {
  std::string line = "step " + std::to_string(report.step) + "/" + std::to_string(report.totalSteps);
  char buffer[64];
  for (const auto &[name, value] : report.metrics) {
    std::snprintf(buffer, sizeof buffer, "  %s %.5g", name.c_str(), value);
    line += buffer;
  }
  std::snprintf(buffer, sizeof buffer, "  %.1f steps/s", report.stepsPerSecond);
  line += buffer;
  line += "  elapsed " + formatDuration(report.elapsedSeconds);
  line += "  ETA " + formatDuration(report.etaSeconds);
  return line;
}

/// The files a config's training artifact is built from: the config and, when it names
/// one, its perceptual feature network (relative to the config's folder). A config that
/// does not parse is left to msdd-compile to report.
std::vector<std::string> configInputs(const std::string &config) {
  std::vector<std::string> files = {config};
  std::ifstream in(config, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    Json root = Json::parse(text, config);
    const Json *train = root.find("train");
    const Json *network = train ? train->find("perceptual_network") : nullptr;
    if (network && network->isString() && !network->asString().empty()) {
      std::filesystem::path path(network->asString());
      if (path.is_relative())
        path = std::filesystem::path(config).parent_path() / path;
      files.push_back(path.string());
    }
  } catch (const Error &) {
  }
  return files;
}

/// `msdd-compile CONFIG --train -o ARTIFACT` with the msdd-compile beside this executable,
/// unless ARTIFACT is newer than CONFIG and its feature network. The compiler reports its
/// own errors.
void compileConfigIfStale(const std::string &config, const std::string &artifact) {
  struct stat configStat, artifactStat;
  if (::stat(config.c_str(), &configStat) != 0)
    throw Error(config, "cannot open: " + std::string(std::strerror(errno)));
  bool fresh = ::stat(artifact.c_str(), &artifactStat) == 0;
  for (const std::string &input : configInputs(config)) {
    struct stat inputStat;
    // A missing network is msdd-compile's to report: compile.
    fresh &= ::stat(input.c_str(), &inputStat) == 0 && artifactStat.st_mtime >= inputStat.st_mtime;
  }
  if (fresh)
    return;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    throw Error("--config", "cannot locate msdd-run's own folder to find msdd-compile");
  std::string compiler(self, n);
  compiler = compiler.substr(0, compiler.rfind('/') + 1) + "msdd-compile";
  if (::access(compiler.c_str(), X_OK) != 0)
    throw Error(compiler, "not found: --config needs msdd-compile next to msdd-run");
  std::string dir = artifact.substr(0, artifact.rfind('/'));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(dir, "cannot create the run folder: " + ec.message());
  std::fprintf(stderr, "%s: compiling %s into %s\n", kTool, config.c_str(), artifact.c_str());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(compiler.c_str(), compiler.c_str(), config.c_str(), "--train", "-o", artifact.c_str(),
            static_cast<char *>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(config, "msdd-compile failed (see its message above)");
}

int runTrain(const std::vector<std::string> &argv) {
  // `--resume CKPT.safetensors`: the optional value may follow as its own argument.
  std::vector<std::string> rewritten;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string &arg = argv[i];
    const std::string suffix = ".safetensors";
    if (arg == "--resume" && i + 1 < argv.size() && !argv[i + 1].empty() && argv[i + 1][0] != '-' &&
        argv[i + 1].size() > suffix.size() &&
        argv[i + 1].compare(argv[i + 1].size() - suffix.size(), suffix.size(), suffix) == 0) {
      rewritten.push_back("--resume=" + argv[++i]);
      continue;
    }
    rewritten.push_back(arg);
  }
  ParsedArgs args = parseArgs("train", rewritten,
                              {{"data", true, false},
                               {"steps", true, false},
                               {"init", true, false},
                               {"out", true, false},
                               {"seed", true, false},
                               {"batch-size", true, false},
                               {"checkpoint-every", true, false},
                               {"keep-last", true, false},
                               {"log-every", true, false},
                               {"resume", false, false, true},
                               {"no-random-crop", false, false},
                               {"no-flip", false, false},
                               {"prefetch", true, false},
                               {"function", true, false},
                               {"config", true, false}});
  if (args.help) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  std::string hint = "Try 'msdd-run train --help'.";
  std::string configPath = args.value("config");
  if (!configPath.empty() && !args.positional.empty())
    throw UsageError("train: give an artifact or --config, not both", hint);
  std::string artifactPath = configPath.empty() ? artifactArgument("train", args) : "";
  bool resume = args.has("resume");
  if (!resume)
    for (const char *required : {"data", "steps"})
      if (!args.has(required))
        throw UsageError(std::string("train: missing --") + required, hint);
  if (resume && args.has("init"))
    throw UsageError("train: --init and --resume exclude each other (a resumed run continues "
                     "from its checkpoint)", hint);

  TrainOptions options;
  if (args.has("function"))
    options.function = args.value("function");
  if (args.has("data"))
    options.dataDir = args.value("data");
  if (args.has("steps"))
    options.steps = integerOption(args, "steps", 0, 1);
  if (args.has("seed"))
    options.seed = static_cast<uint64_t>(integerOption(args, "seed", 0, 0));
  if (args.has("no-random-crop"))
    options.randomCrop = false;
  if (args.has("no-flip"))
    options.flip = false;
  options.initPath = args.value("init");
  if (args.has("checkpoint-every"))
    options.checkpointEvery = integerOption(args, "checkpoint-every", 0, 0);
  if (args.has("keep-last"))
    options.keepLast = integerOption(args, "keep-last", 0, 0);
  if (args.has("log-every"))
    options.logEvery = integerOption(args, "log-every", 0, 1);
  options.prefetch = static_cast<size_t>(integerOption(args, "prefetch", 4, 0));
  int64_t batchSize = integerOption(args, "batch-size", 0, 1);
  options.resume = resume;
  options.resumeFrom = args.value("resume");
  if (args.has("out")) {
    options.runDir = args.value("out");
  } else {
    std::string source = configPath.empty() ? artifactPath : configPath;
    std::string stem = source.substr(source.rfind('/') + 1);
    for (const char *suffix : {".msdd", ".json"})
      if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, suffix) == 0)
        stem.resize(stem.size() - 5);
    options.runDir = "runs/" + stem;
  }
  while (options.runDir.size() > 1 && options.runDir.back() == '/')
    options.runDir.pop_back();
  if (!configPath.empty()) {
    artifactPath = options.runDir + "/model.msdd";
    compileConfigIfStale(configPath, artifactPath);
  }
  options.artifactPath = artifactPath;

  std::unique_ptr<Artifact> artifact = Artifact::open(artifactPath);
  bool tty = ::isatty(STDERR_FILENO) != 0;
  TrainingRun run(*artifact, options, [](const std::string &message) {
    std::fprintf(stderr, "%s: warning: %s\n", kTool, message.c_str());
  });
  const std::vector<int64_t> &images = run.trainer().imagesShape();
  if (batchSize != 0 && batchSize != images[0])
    throw Error(artifactPath, "--batch-size " + std::to_string(batchSize) +
                                  " does not match the images input " +
                                  typeToString(DType::F32, images) +
                                  " (the batch size is fixed when the artifact is compiled)");
  run.prepare();
  if (!run.resumedFrom().empty())
    std::fprintf(stderr, "%s: resuming from %s (step %lld)\n", kTool, run.resumedFrom().c_str(),
                 static_cast<long long>(run.startStep()));

  const int64_t startStep = run.startStep();
  double lastLoss = NAN;
  auto lastDraw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  run.run([&](const StepReport &report) {
    if (!report.metrics.empty())
      lastLoss = report.metrics.front().second;
    if (tty) {
      auto now = std::chrono::steady_clock::now();
      bool last = report.step == report.totalSteps;
      if (last || now - lastDraw >= std::chrono::milliseconds(100)) {
        std::fprintf(stderr, "\r\033[K%s", progressLine(report).c_str());
        if (last)
          std::fputc('\n', stderr);
        std::fflush(stderr);
        lastDraw = now;
      }
    } else if (report.logged) {
      std::fprintf(stderr, "%s\n", progressLine(report).c_str());
    }
  });
  if (run.trainer().step() == startStep)
    std::printf("%s: already at step %lld of %lld; wrote %s\n", kTool,
                static_cast<long long>(startStep), static_cast<long long>(run.totalSteps()),
                run.finalPath().c_str());
  else
    std::printf("%s: trained steps %lld..%lld of %lld, final loss %.6g; wrote %s%s\n", kTool,
                static_cast<long long>(startStep + 1), static_cast<long long>(run.trainer().step()),
                static_cast<long long>(run.totalSteps()), lastLoss, run.finalPath().c_str(),
                run.trainer().emaValues().empty() ? "" : (" and " + run.finalEmaPath()).c_str());
  return 0;
}

const char kEvalHelp[] = R"(usage: msdd-run eval ART.msdd --weights W.safetensors --data DIR [options]

Reconstructs every image of DIR (*.png, *.jpg, *.jpeg, sorted by name; centre-cropped to the
artifact's image size, which smaller images are refused for) with the tokenizer ART.msdd, in
batches of its static batch size (the last batch is padded; padded outputs are ignored), and
reports, against the cropped originals:
  PSNR        dB, per image with both images clamped to [0, 1] (data range 1), then the mean
              over images (+inf for an exact reconstruction; null in JSON)
  SSIM        as skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
              use_sample_covariance=False, data_range=1, channel_axis=0), mean over images
  NFE         network evaluations per image, from the decoding function's manifest entry
  img/s       images per second of the encode + decode calls (or the reconstruct call) of a
              batch, counting the batch size: the median over batches and the total, leaving
              out the first --warmup batches
  FD(NAME)    with --features: the Frechet distance between the feature vectors of the
              originals and of the reconstructions (a FID-style number only comparable with
              the same feature network; not rFID unless that network is the standard one)
Prints a table, then the same as one JSON line on stdout.

options:
  --weights W.safetensors  the tokenizer's parameters (inputs of its functions, by name)
  --data DIR               the folder of images
  --function NAME          reconstruct with this one function (default: 'reconstruct' if the
                           artifact has it, else 'encode' then 'decode')
  --encode NAME --decode NAME   encode and decode with these functions
  --limit N                only the first N images (default: all)
  --seed S                 seed of the decoding noise: batch k gets a seed derived from (S, k)
                           (default 0)
  --warmup K               batches left out of the throughput (default 1)
  --json OUT.json          also write the JSON (atomically)
  --features FEAT.msdd     a feature network (e.g. imported from ONNX): one function taking
                           an f32 [B, 3, H, W] batch in [0, 1] of the tokenizer's image size
                           and returning [B, D] or [B, D, 1, 1]
  --feature-weights FW.safetensors   its parameters
  --feature-name NAME      the name in the label FD(NAME) (default: FEAT's file name)
  -h, --help               show this help
)";

const char kReconstructHelp[] = R"(usage: msdd-run reconstruct ART.msdd --weights W.safetensors --data DIR -o GRID.png [options]

Writes a PNG grid with one row per image: the original (the first N images of DIR, sorted by
name and centre-cropped) and its reconstruction by ART.msdd and by every --model, left to
right, with 2-pixel white gaps. The file is written atomically. Prints the columns and each
model's PSNR and SSIM on the images shown.

options:
  --weights W.safetensors  the parameters of ART.msdd
  --data DIR               the folder of images
  -o, --output GRID.png    where to write the grid
  --count N                images (rows) (default 8)
  --seed S                 seed of the decoding noise, as for eval (default 0)
  --model ART2.msdd:W2.safetensors[:LABEL]   one more tokenizer (a column); may be repeated;
                           its image size must match ART.msdd's (paths cannot contain ':')
  --function NAME, --encode NAME --decode NAME   the functions, as for eval (every model)
  -h, --help               show this help
)";

/// The function choice of eval/reconstruct, checked for usage mistakes.
TokenizerFunctions tokenizerFunctions(const ParsedArgs &args) {
  std::string hint = "Try 'msdd-run " + args.command + " --help'.";
  TokenizerFunctions functions;
  functions.reconstruct = args.value("function");
  functions.encode = args.value("encode");
  functions.decode = args.value("decode");
  if (!functions.reconstruct.empty() && (args.has("encode") || args.has("decode")))
    throw UsageError(args.command + ": --function excludes --encode and --decode", hint);
  if (args.has("encode") != args.has("decode"))
    throw UsageError(args.command + ": --encode and --decode go together", hint);
  return functions;
}

NamedTensors readWeights(const std::string &path) {
  return path.empty() ? NamedTensors() : readSafetensors(path);
}

std::string fileStem(const std::string &path) {
  std::string stem = path.substr(path.rfind('/') + 1);
  size_t dot = stem.rfind('.');
  return dot == std::string::npos || dot == 0 ? stem : stem.substr(0, dot);
}

/// "12.345" or "inf"/"n/a" for printing.
std::string formatNumber(double value, const char *format) {
  if (std::isnan(value))
    return "n/a";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

/// A live "batch k/n" line on a terminal; nothing otherwise.
std::function<void(int64_t, int64_t)> batchProgress(const std::string &what) {
  if (!::isatty(STDERR_FILENO))
    return {};
  return [what](int64_t done, int64_t total) {
    std::fprintf(stderr, "\r\033[K%s: batch %lld/%lld", what.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done == total)
      std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  };
}

int runEval(const std::vector<std::string> &argv) {
  ParsedArgs args = parseArgs("eval", argv,
                              {{"weights", true, false},
                               {"data", true, false},
                               {"function", true, false},
                               {"encode", true, false},
                               {"decode", true, false},
                               {"limit", true, false},
                               {"seed", true, false},
                               {"json", true, false},
                               {"warmup", true, false},
                               {"features", true, false},
                               {"feature-weights", true, false},
                               {"feature-name", true, false}});
  if (args.help) {
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("eval", args);
  std::string hint = "Try 'msdd-run eval --help'.";
  if (!args.has("data"))
    throw UsageError("eval: missing --data", hint);
  for (const char *option : {"feature-weights", "feature-name"})
    if (args.has(option) && !args.has("features"))
      throw UsageError(std::string("eval: --") + option + " needs --features", hint);
  TokenizerFunctions functions = tokenizerFunctions(args);
  EvalOptions options;
  options.dataDir = args.value("data");
  options.limit = integerOption(args, "limit", 0, 1);
  options.seed = static_cast<uint64_t>(integerOption(args, "seed", 0, 0));
  options.warmup = integerOption(args, "warmup", 1, 0);
  std::string jsonPath = args.value("json");
  if (!jsonPath.empty())
    checkCanCreate(jsonPath); // before the work, not after

  std::unique_ptr<Artifact> artifact = Artifact::open(artifactPath);
  std::string weightsPath = args.value("weights");
  NamedTensors weights = readWeights(weightsPath);
  Tokenizer tokenizer(*artifact, weights, weightsPath, functions);
  const std::vector<int64_t> &shape = tokenizer.imagesShape();

  std::unique_ptr<Artifact> featureArtifact;
  NamedTensors featureWeights;
  std::optional<FeatureNetwork> features;
  std::string featureLabel;
  if (args.has("features")) {
    featureArtifact = Artifact::open(args.value("features"));
    featureWeights = readWeights(args.value("feature-weights"));
    features.emplace(*featureArtifact, featureWeights, args.value("feature-weights"), shape[2],
                     shape[3]);
    std::string name = args.has("feature-name") ? args.value("feature-name")
                                                : fileStem(args.value("features"));
    featureLabel = "FD(" + name + ")";
  }

  EvalResult result = evaluate(tokenizer, features ? &*features : nullptr, options,
                               batchProgress("eval"));
  if (result.timedBatches == 0)
    std::fprintf(stderr, "%s: warning: all %lld batches were warm-up (--warmup %lld); no "
                         "throughput measured\n",
                 kTool, static_cast<long long>(result.batches),
                 static_cast<long long>(options.warmup));
  if (features && result.images <= features->dim())
    std::fprintf(stderr, "%s: warning: %s from %lld images of %lld features: the covariances "
                         "are singular and the distance is strongly biased\n",
                 kTool, featureLabel.c_str(), static_cast<long long>(result.images),
                 static_cast<long long>(features->dim()));

  Json summary = Json::object();
  summary["artifact"] = artifactPath;
  summary["weights"] = weightsPath.empty() ? Json() : Json(weightsPath);
  summary["functions"] = tokenizer.description();
  summary["data"] = options.dataDir;
  summary["images"] = result.images;
  summary["image_shape"] = shapeJson({shape[1], shape[2], shape[3]});
  summary["batch_size"] = result.batchSize;
  summary["batches"] = result.batches;
  summary["seed"] = static_cast<int64_t>(options.seed);
  summary["psnr"] = result.meanPsnr;
  summary["ssim"] = result.meanSsim;
  summary["nfe"] = result.nfe >= 0 ? Json(result.nfe) : Json();
  Json throughput = Json::object();
  throughput["warmup_batches"] = std::min(options.warmup, result.batches);
  throughput["timed_batches"] = result.timedBatches;
  throughput["timed_seconds"] = result.timedSeconds;
  throughput["median_images_per_second"] = result.medianImagesPerSecond;
  throughput["total_images_per_second"] = result.totalImagesPerSecond;
  summary["throughput"] = std::move(throughput);
  if (result.frechetDistance) {
    Json fd = Json::object();
    fd["label"] = featureLabel;
    fd["value"] = *result.frechetDistance;
    fd["features"] = args.value("features");
    fd["feature_dim"] = result.featureDim;
    summary["fd"] = std::move(fd);
  }
  std::string line = summary.dump();
  if (!jsonPath.empty()) {
    AtomicFileWriter writer(jsonPath);
    writer.write(line + "\n");
    writer.commit();
  }

  std::printf("%s: %s, %lld images (%lldx%lld) from %s, batch %lld, seed %llu\n",
              artifactPath.c_str(), tokenizer.description().c_str(),
              static_cast<long long>(result.images), static_cast<long long>(shape[3]),
              static_cast<long long>(shape[2]), options.dataDir.c_str(),
              static_cast<long long>(result.batchSize),
              static_cast<unsigned long long>(options.seed));
  auto row = [](const std::string &name, const std::string &value, const std::string &note) {
    std::printf("  %-16s %12s  %s\n", name.c_str(), value.c_str(), note.c_str());
  };
  row("PSNR (dB)", formatNumber(result.meanPsnr, "%.3f"), "mean over images");
  row("SSIM", formatNumber(result.meanSsim, "%.4f"), "mean over images");
  row("NFE / image", result.nfe >= 0 ? std::to_string(result.nfe) : "n/a",
      result.nfe >= 0 ? "" : "(no \"nfe\" in the manifest)");
  std::string timed = std::to_string(result.timedBatches) + " batches after " +
                      std::to_string(std::min(options.warmup, result.batches)) + " warm-up";
  row("img/s (median)", formatNumber(result.medianImagesPerSecond, "%.2f"), "per batch, " + timed);
  row("img/s (total)", formatNumber(result.totalImagesPerSecond, "%.2f"),
      formatNumber(result.timedSeconds, "%.3f") + " s");
  if (result.frechetDistance)
    row(featureLabel, formatNumber(*result.frechetDistance, "%.4f"),
        std::to_string(result.featureDim) + " features");
  if (!jsonPath.empty())
    std::printf("wrote %s\n", jsonPath.c_str());
  std::printf("%s\n", line.c_str());
  return 0;
}

/// One column of the reconstruct grid.
struct GridModel {
  std::string artifactPath, weightsPath, label;
};

GridModel parseModelSpec(const std::string &spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t colon; (colon = spec.find(':', start)) != std::string::npos; start = colon + 1)
    parts.push_back(spec.substr(start, colon - start));
  parts.push_back(spec.substr(start));
  bool empty = std::any_of(parts.begin(), parts.end(), [](const std::string &p) { return p.empty(); });
  if (parts.size() < 2 || parts.size() > 3 || empty)
    throw UsageError("option '--model' needs ART.msdd:W.safetensors[:LABEL], got '" + spec + "'",
                     "Try 'msdd-run reconstruct --help'.");
  return {parts[0], parts[1], parts.size() == 3 ? parts[2] : fileStem(parts[0])};
}

int runReconstruct(const std::vector<std::string> &argv) {
  std::vector<std::string> rewritten;
  for (const std::string &arg : argv) // -o is --output
    rewritten.push_back(arg == "-o" ? "--output" : arg.rfind("-o=", 0) == 0 ? "--output=" + arg.substr(3) : arg);
  ParsedArgs args = parseArgs("reconstruct", rewritten,
                              {{"weights", true, false},
                               {"data", true, false},
                               {"output", true, false},
                               {"count", true, false},
                               {"seed", true, false},
                               {"model", true, true},
                               {"function", true, false},
                               {"encode", true, false},
                               {"decode", true, false}});
  if (args.help) {
    std::fputs(kReconstructHelp, stdout);
    return 0;
  }
  std::string hint = "Try 'msdd-run reconstruct --help'.";
  std::vector<GridModel> models = {{artifactArgument("reconstruct", args), args.value("weights"), ""}};
  models.front().label = fileStem(models.front().artifactPath);
  for (const char *required : {"data", "output"})
    if (!args.has(required))
      throw UsageError(std::string("reconstruct: missing --") + required +
                           (std::string(required) == "output" ? " (-o GRID.png)" : ""),
                       hint);
  for (const std::string &spec : args.values("model"))
    models.push_back(parseModelSpec(spec));
  TokenizerFunctions functions = tokenizerFunctions(args);
  const int64_t count = integerOption(args, "count", 8, 1);
  const uint64_t seed = static_cast<uint64_t>(integerOption(args, "seed", 0, 0));
  const std::string outputPath = args.value("output");
  checkCanCreate(outputPath);

  struct Loaded {
    std::unique_ptr<Artifact> artifact;
    NamedTensors weights;
    std::unique_ptr<Tokenizer> tokenizer;
  };
  std::vector<Loaded> loaded;
  for (const GridModel &model : models) {
    Loaded entry;
    entry.artifact = Artifact::open(model.artifactPath);
    entry.weights = readWeights(model.weightsPath);
    entry.tokenizer = std::make_unique<Tokenizer>(*entry.artifact, entry.weights,
                                                  model.weightsPath, functions);
    const std::vector<int64_t> &first = loaded.empty() ? entry.tokenizer->imagesShape()
                                                       : loaded.front().tokenizer->imagesShape();
    const std::vector<int64_t> &shape = entry.tokenizer->imagesShape();
    if (shape[2] != first[2] || shape[3] != first[3])
      throw Error(model.artifactPath, "takes " + std::to_string(shape[3]) + "x" +
                                          std::to_string(shape[2]) + " images, " +
                                          models.front().artifactPath + " " +
                                          std::to_string(first[3]) + "x" + std::to_string(first[2]));
    loaded.push_back(std::move(entry));
  }

  const std::vector<int64_t> &shape = loaded.front().tokenizer->imagesShape();
  const int64_t height = shape[2], width = shape[3], imageSize = 3 * height * width;
  ImageFolder folder(args.value("data"), height, width, count);
  const int64_t rows = folder.size(), columns = 1 + static_cast<int64_t>(models.size());
  Tensor originals(DType::F32, {rows, 3, height, width});
  folder.load(0, rows, originals);

  std::vector<Tensor> reconstructions; // per model, [rows, 3, H, W]
  for (const Loaded &entry : loaded) {
    const int64_t batchSize = entry.tokenizer->imagesShape()[0];
    Tensor all(DType::F32, {rows, 3, height, width}), batch(DType::F32, entry.tokenizer->imagesShape());
    for (int64_t first = 0, k = 0; first < rows; first += batchSize, ++k) {
      const int64_t n = std::min(batchSize, rows - first);
      folder.load(first, n, batch);
      Tensor output = entry.tokenizer->run(batch, batchSeed(seed, k));
      std::memcpy(all.data<float>() + first * imageSize, output.data<float>(),
                  sizeof(float) * static_cast<size_t>(n * imageSize));
    }
    reconstructions.push_back(std::move(all));
  }

  std::vector<const float *> cells;
  for (int64_t r = 0; r < rows; ++r) {
    cells.push_back(originals.data<float>() + r * imageSize);
    for (const Tensor &all : reconstructions)
      cells.push_back(all.data<float>() + r * imageSize);
  }
  writePng(outputPath, imageGrid(cells, rows, columns, height, width));

  std::printf("wrote %s: %lld images (rows) x %lld columns: original", outputPath.c_str(),
              static_cast<long long>(rows), static_cast<long long>(columns));
  for (const GridModel &model : models)
    std::printf(" | %s", model.label.c_str());
  std::printf("\n");
  for (size_t m = 0; m < models.size(); ++m)
    std::printf("  %-20s PSNR %s dB  SSIM %s  (%s)\n", models[m].label.c_str(),
                formatNumber(mean(psnrPerImage(originals, reconstructions[m])), "%.3f").c_str(),
                formatNumber(mean(ssimPerImage(originals, reconstructions[m])), "%.4f").c_str(),
                loaded[m].tokenizer->description().c_str());
  return 0;
}

int dispatch(int argc, char **argv) {
  const std::string hint = "Try 'msdd-run --help'.";
  if (argc < 2)
    throw UsageError("missing command (infer, bench, info, train, eval or reconstruct)", hint);
  std::string command = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (command == "-h" || command == "--help") {
    std::fputs(kGlobalHelp, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("%s %s\n", kTool, msdd_runtime_version());
    return 0;
  }
  if (command == "infer")
    return runInfer(rest);
  if (command == "bench")
    return runBench(rest);
  if (command == "info")
    return runInfo(rest);
  if (command == "train")
    return runTrain(rest);
  if (command == "eval")
    return runEval(rest);
  if (command == "reconstruct")
    return runReconstruct(rest);
  if (!command.empty() && command[0] == '-')
    throw UsageError("unknown option '" + command + "'", hint);
  throw UsageError("unknown command '" + command +
                       "' (expected infer, bench, info, train, eval or reconstruct)",
                   hint);
}

} // namespace

int main(int argc, char **argv) {
  try {
    return dispatch(argc, argv);
  } catch (const UsageError &error) {
    std::fprintf(stderr, "%s: error: %s\n%s\n", kTool, error.what(), error.hint.c_str());
    return kExitUsage;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "%s: error: out of memory\n", kTool);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "%s: error: %s\n", kTool, error.what());
  }
  return kExitRuntimeError;
}
