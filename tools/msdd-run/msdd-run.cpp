//===- msdd-run.cpp - Run compiled MSDD artifacts --------------------------===//
//
// Exit status: 0 on success, 1 on a runtime error (`msdd-run: error: <file>: <problem>`),
// 2 on a usage error. Outputs are written atomically, so a failed run leaves no file.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/DataLoader.h"
#include "msdd/Runtime/Image.h"
#include "msdd/Runtime/Metrics.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Npz.h"
#include "msdd/Runtime/Runtime.h"
#include "msdd/Runtime/Safetensors.h"
#include "msdd/Runtime/Trainer.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
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

Runs compiled MSDD artifacts (.msdd) on the CPU.

commands:
  infer   run one function of an artifact on tensors from .npz/.safetensors files
  info    list an artifact's functions with their inputs and outputs
  train   train with an artifact's train_step on a folder of images
  eval    reconstruct a folder of images with a tokenizer: PSNR, SSIM, img/s, NFE
  reconstruct  a PNG grid: original | reconstruction of each model

options:
  -h, --help   show this help (msdd-run <command> --help: a command's options)
  --version    print the version

environment:
  MSDD_NUM_THREADS   threads for parallel loops and matrix products (default: all cores)
)";

const char kInferHelp[] = R"(usage: msdd-run infer ART.msdd --inputs IN.npz --outputs OUT.npz [options]

Runs one function of ART.msdd and writes its outputs to OUT.npz. The file is written
atomically: after any error there is no OUT.npz (an existing one is left as it was).

options:
  --function NAME          the function to run (default: the artifact's only function)
  --inputs IN.npz          input arrays, matched to the function's inputs by name
  --weights W.safetensors  more inputs (e.g. parameters) by name; may be repeated
  --outputs OUT.npz        where to write the outputs
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
Progress goes to stderr: one live line on a terminal, otherwise a line per logged step.

With --config (a tokenizer config, docs/tokenizer.md), the artifact is RUN_DIR/model.msdd,
compiled first by `msdd-compile CONFIG.json --train` (the msdd-compile next to msdd-run)
unless it is newer than the config.

options:
  --config CONFIG.json     train the tokenizer of a config (stage 1) instead of ART.msdd
  --data DIR               folder of training images (*.png, *.jpg, *.jpeg), sorted by name
  --steps N                total number of steps (a resumed run continues up to N)
  --init W.safetensors     initial parameters (default: the artifact's init function, given
                           the seed)
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

const char kEvalHelp[] = R"(usage: msdd-run eval ART.msdd --weights W.safetensors --data DIR [options]

Reconstructs every image of DIR with the tokenizer ART.msdd (encode + decode: its
`reconstruct` function) and reports PSNR and SSIM against the originals, the throughput and
the denoiser evaluations per image (NFE): a table, then one JSON line, on stdout.

options:
  --weights W.safetensors  the model's parameters (final.safetensors or a checkpoint; tensors
                           the function does not take are ignored); may be repeated
  --data DIR               images (*.png, *.jpg, *.jpeg), centre-cropped to the model's size
  --function NAME          the reconstruction (default reconstruct): inputs `images`
                           [B, 3, R, R] in [0, 1] and optionally `seed` (i64), one output
                           of the same shape
  --limit N                only the first N images (sorted by name)
  --seed S                 the sampler's seed of the first batch; batch k gets S + k (default 0)
  --warmup K               untimed calls before timing starts (default 1)
  --label TEXT             the model's name in the table and the JSON (default: ART's name)
  --json OUT.json          also write the JSON there (atomically)
  -h, --help               show this help

PSNR (dB, data range 1) and SSIM (Gaussian window 11, sigma 1.5, data range 1) are taken per
image on values clamped to [0, 1] and averaged over the images. img/s is the batch size over
the median wall time of one call (encode + decode of a batch), after the warm-up. The last
batch is padded by repeating its last image; padded outputs are not scored.
)";

const char kReconstructHelp[] = R"(usage: msdd-run reconstruct ART.msdd --weights W.safetensors --data DIR -o GRID.png [options]

Writes a PNG grid with one row per image: the original, then the reconstruction by each
model (ART.msdd first, then every --model in order), 2-pixel white gaps between them.

options:
  --weights W.safetensors  parameters of ART.msdd (extra tensors are ignored)
  --model ART2.msdd:W2.safetensors
                           another model (for instance the single-scale baseline); repeatable
  --data DIR               images, centre-cropped to the models' size (they must agree)
  -o, --output GRID.png    the grid (written atomically)
  --count N                images (rows) from the start of DIR (default 8)
  --function NAME          the reconstruction function (default reconstruct)
  --seed S                 the samplers' seed of the first batch (default 0)
  -h, --help               show this help
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
  const FunctionSpec *function;
  if (args.has("function")) {
    function = &artifact->function(args.value("function"));
  } else if (artifact->functions().size() == 1) {
    function = &artifact->functions().front();
  } else {
    std::string names;
    for (const FunctionSpec &candidate : artifact->functions())
      names += (names.empty() ? "" : ", ") + candidate.name;
    throw Error(artifactPath, artifact->functions().empty()
                                  ? "has no functions"
                                  : "has several functions (" + names + "); choose one with --function");
  }

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
  std::printf("%s: %zu function%s\n", artifactPath.c_str(), count, count == 1 ? "" : "s");
  for (const FunctionSpec &function : artifact->functions()) {
    std::printf("function %s (entry %s)\n", function.name.c_str(), function.entry.c_str());
    printTensorTable("inputs", function.inputs);
    printTensorTable("outputs", function.outputs);
  }
  return 0;
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
                     "Try 'msdd-run train --help'.");
  return value;
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

/// `msdd-compile CONFIG --train -o ARTIFACT` with the msdd-compile beside this executable,
/// unless ARTIFACT is newer than CONFIG. The compiler reports its own errors.
void compileConfigIfStale(const std::string &config, const std::string &artifact) {
  struct stat configStat, artifactStat;
  if (::stat(config.c_str(), &configStat) != 0)
    throw Error(config, "cannot open: " + std::string(std::strerror(errno)));
  if (::stat(artifact.c_str(), &artifactStat) == 0 &&
      artifactStat.st_mtime >= configStat.st_mtime)
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
    std::printf("%s: trained steps %lld..%lld of %lld, final loss %.6g; wrote %s\n", kTool,
                static_cast<long long>(startStep + 1), static_cast<long long>(run.trainer().step()),
                static_cast<long long>(run.totalSteps()), lastLoss, run.finalPath().c_str());
  return 0;
}

//===----------------------------------------------------------------------===//
// eval, reconstruct: tokenizer artifacts on folders of images
//===----------------------------------------------------------------------===//

/// A reconstruction function (images [B, 3, R, R] -> the same) with its parameters bound.
struct Reconstructor {
  std::string path, label;
  std::unique_ptr<Artifact> artifact;
  const FunctionSpec *function = nullptr;
  int64_t batch = 0, size = 0;
  bool takesSeed = false;
  NamedTensors weights;

  Reconstructor(const std::string &artifactPath, const std::vector<std::string> &weightFiles,
                const std::string &functionName)
      : path(artifactPath), artifact(Artifact::open(artifactPath)) {
    function = &artifact->function(functionName);
    const TensorSpec *images = nullptr;
    for (const TensorSpec &input : function->inputs) {
      if (input.name == "images")
        images = &input;
      else if (input.name == "seed")
        takesSeed = true;
    }
    if (!images || images->dtype != DType::F32 || images->shape.size() != 4 ||
        images->shape[1] != 3 || images->shape[2] != images->shape[3])
      throw Error(path, "function '" + functionName +
                            "' has no input 'images' of shape [B, 3, R, R] (f32): not a tokenizer's "
                            "reconstruction");
    if (function->outputs.size() != 1 || function->outputs[0].shape != images->shape)
      throw Error(path, "function '" + functionName + "' must have one output shaped like its images");
    batch = images->shape[0];
    size = images->shape[2];
    for (const std::string &file : weightFiles) {
      NamedTensors loaded = readSafetensors(file);
      for (const TensorSpec &input : function->inputs)
        if (Tensor *t = loaded.find(input.name); t && !weights.contains(input.name))
          weights.insert(input.name, loaded.take(input.name));
    }
    for (const TensorSpec &input : function->inputs)
      if (input.name != "images" && input.name != "seed" && !weights.contains(input.name))
        throw Error(path, "parameter '" + input.name + "' of '" + functionName +
                              "' is in none of the weight files given");
    std::string base = path.substr(path.find_last_of('/') + 1);
    label = base.size() > 5 && base.compare(base.size() - 5, 5, ".msdd") == 0
                ? base.substr(0, base.size() - 5)
                : base;
  }

  /// Reconstructs `images` ([batch, 3, size, size]); the weights are passed without copies.
  Tensor run(const Tensor &images, int64_t seed) const {
    Tensor seedValue(DType::I64, {});
    *seedValue.data<int64_t>() = seed;
    std::vector<TensorRef> inputs;
    for (const TensorSpec &input : function->inputs) {
      const Tensor *t = input.name == "images" ? &images
                        : input.name == "seed" ? &seedValue
                                               : weights.find(input.name);
      inputs.push_back({input.name, t->dtype(), t->shape(), const_cast<void *>(t->rawData())});
    }
    const TensorSpec &spec = function->outputs[0];
    Tensor out(DType::F32, spec.shape);
    artifact->callInto(function->name, inputs, {{spec.name, out.dtype(), out.shape(), out.rawData()}});
    return out;
  }
};

/// The images of `directory` (at most `limit`, 0: all), centre-cropped to size x size.
std::vector<Tensor> loadCenterCrops(const std::string &directory, int64_t size, int64_t limit) {
  std::vector<std::string> files = listImages(directory);
  if (files.empty())
    throw Error(directory, "holds no images (*.png, *.jpg, *.jpeg)");
  if (limit > 0 && static_cast<int64_t>(files.size()) > limit)
    files.resize(limit);
  std::vector<Tensor> crops;
  for (const std::string &file : files) {
    Tensor image = readImage(file);
    int64_t h = image.shape()[1], w = image.shape()[2];
    if (h < size || w < size)
      throw Error(file, "is " + std::to_string(w) + "x" + std::to_string(h) +
                            ", smaller than the model's " + std::to_string(size) + "x" +
                            std::to_string(size));
    Tensor crop(DType::F32, {3, size, size});
    const float *src = image.data<float>();
    float *dst = crop.data<float>();
    int64_t y0 = (h - size) / 2, x0 = (w - size) / 2;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < size; ++y)
        std::copy_n(src + (c * h + y0 + y) * w + x0, size, dst + (c * size + y) * size);
    crops.push_back(std::move(crop));
  }
  return crops;
}

/// Images [first, first + batch) of `crops` as one batch, the last image repeated past the end.
Tensor makeBatch(const std::vector<Tensor> &crops, size_t first, int64_t batch) {
  int64_t plane = crops.front().numel();
  Tensor out(DType::F32, {batch, 3, crops.front().shape()[1], crops.front().shape()[2]});
  for (int64_t i = 0; i < batch; ++i) {
    const Tensor &src = crops[std::min(first + i, crops.size() - 1)];
    std::copy_n(src.data<float>(), plane, out.data<float>() + i * plane);
  }
  return out;
}

int runEval(const std::vector<std::string> &argv) {
  ParsedArgs args = parseArgs("eval", argv,
                              {{"weights", true, true},
                               {"data", true, false},
                               {"function", true, false},
                               {"limit", true, false},
                               {"seed", true, false},
                               {"warmup", true, false},
                               {"label", true, false},
                               {"json", true, false}});
  if (args.help) {
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("eval", args);
  std::string hint = "Try 'msdd-run eval --help'.";
  for (const char *required : {"weights", "data"})
    if (!args.has(required))
      throw UsageError(std::string("eval: missing --") + required, hint);
  int64_t limit = integerOption(args, "limit", 0, 0);
  int64_t seed = integerOption(args, "seed", 0, 0);
  int64_t warmup = integerOption(args, "warmup", 1, 0);
  std::string jsonPath = args.value("json");
  if (!jsonPath.empty())
    checkCanCreate(jsonPath);

  Reconstructor model(artifactPath, args.values("weights"),
                      args.has("function") ? args.value("function") : "reconstruct");
  if (args.has("label"))
    model.label = args.value("label");
  std::vector<Tensor> crops = loadCenterCrops(args.value("data"), model.size, limit);

  for (int64_t i = 0; i < warmup; ++i)
    model.run(makeBatch(crops, 0, model.batch), seed);
  double psnrSum = 0, ssimSum = 0;
  std::vector<double> seconds;
  int64_t plane = 3 * model.size * model.size;
  for (size_t first = 0, k = 0; first < crops.size(); first += model.batch, ++k) {
    Tensor batch = makeBatch(crops, first, model.batch);
    auto start = std::chrono::steady_clock::now();
    Tensor out = model.run(batch, seed + static_cast<int64_t>(k));
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    for (int64_t i = 0; i < model.batch && first + i < crops.size(); ++i) {
      const float *ref = batch.data<float>() + i * plane, *rec = out.data<float>() + i * plane;
      psnrSum += psnr(ref, rec, plane);
      ssimSum += ssim(ref, rec, 3, model.size, model.size);
    }
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                    : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  double total = 0;
  for (double t : seconds)
    total += t;
  double n = static_cast<double>(crops.size());

  Json result = Json::object();
  result["model"] = model.label;
  result["artifact"] = artifactPath;
  result["function"] = model.function->name;
  result["images"] = static_cast<int64_t>(crops.size());
  result["image_size"] = model.size;
  result["psnr"] = psnrSum / n;
  result["ssim"] = ssimSum / n;
  result["img_per_s"] = static_cast<double>(model.batch) / median;
  result["batch_size"] = model.batch;
  result["batch_seconds_median"] = median;
  result["seconds_total"] = total;
  result["nfe"] = model.function->nfe;
  result["seed"] = seed;
  std::printf("%-16s %7s %10s %7s %9s %5s\n", "model", "images", "PSNR (dB)", "SSIM", "img/s", "NFE");
  std::printf("%-16s %7lld %10.2f %7.4f %9.1f %5lld\n", model.label.c_str(),
              static_cast<long long>(crops.size()), psnrSum / n, ssimSum / n,
              static_cast<double>(model.batch) / median, static_cast<long long>(model.function->nfe));
  std::printf("%s\n", result.dump().c_str());
  if (!jsonPath.empty()) {
    AtomicFileWriter out(jsonPath);
    out.write(result.dump() + "\n");
    out.commit();
  }
  return 0;
}

int runReconstruct(const std::vector<std::string> &argv) {
  std::vector<std::string> rewritten;
  for (size_t i = 0; i < argv.size(); ++i)
    rewritten.push_back(argv[i] == "-o" ? "--output" : argv[i]);
  ParsedArgs args = parseArgs("reconstruct", rewritten,
                              {{"weights", true, true},
                               {"model", true, true},
                               {"data", true, false},
                               {"output", true, false},
                               {"count", true, false},
                               {"function", true, false},
                               {"seed", true, false}});
  if (args.help) {
    std::fputs(kReconstructHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("reconstruct", args);
  std::string hint = "Try 'msdd-run reconstruct --help'.";
  for (const char *required : {"weights", "data", "output"})
    if (!args.has(required))
      throw UsageError(std::string("reconstruct: missing --") + required, hint);
  int64_t count = integerOption(args, "count", 8, 1);
  int64_t seed = integerOption(args, "seed", 0, 0);
  std::string outputPath = args.value("output");
  checkCanCreate(outputPath);
  std::string functionName = args.has("function") ? args.value("function") : "reconstruct";

  std::vector<std::unique_ptr<Reconstructor>> models;
  models.push_back(std::make_unique<Reconstructor>(artifactPath, args.values("weights"), functionName));
  for (const std::string &spec : args.values("model")) {
    size_t colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
      throw UsageError("reconstruct: --model expects ART.msdd:WEIGHTS.safetensors, got '" + spec + "'", hint);
    models.push_back(std::make_unique<Reconstructor>(spec.substr(0, colon),
                                                     std::vector<std::string>{spec.substr(colon + 1)},
                                                     functionName));
    if (models.back()->size != models.front()->size)
      throw Error(spec.substr(0, colon), "reconstructs " + std::to_string(models.back()->size) +
                                             "x" + std::to_string(models.back()->size) + " images, " +
                                             artifactPath + " " + std::to_string(models.front()->size) +
                                             "x" + std::to_string(models.front()->size));
  }
  int64_t size = models.front()->size;
  std::vector<Tensor> crops = loadCenterCrops(args.value("data"), size, count);
  int64_t rows = static_cast<int64_t>(crops.size()), columns = 1 + static_cast<int64_t>(models.size());
  const int64_t gap = 2;
  int64_t gridH = rows * size + (rows - 1) * gap, gridW = columns * size + (columns - 1) * gap;
  Tensor grid(DType::F32, {3, gridH, gridW});
  std::fill_n(grid.data<float>(), grid.numel(), 1.0f);
  auto place = [&](const float *image, int64_t row, int64_t column) {
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < size; ++y)
        std::copy_n(image + (c * size + y) * size, size,
                    grid.data<float>() + (c * gridH + row * (size + gap) + y) * gridW +
                        column * (size + gap));
  };
  int64_t plane = 3 * size * size;
  for (int64_t r = 0; r < rows; ++r)
    place(crops[r].data<float>(), r, 0);
  for (size_t m = 0; m < models.size(); ++m)
    for (int64_t first = 0, k = 0; first < rows; first += models[m]->batch, ++k) {
      Tensor out = models[m]->run(makeBatch(crops, first, models[m]->batch), seed + k);
      for (int64_t i = 0; i < models[m]->batch && first + i < rows; ++i)
        place(out.data<float>() + i * plane, first + i, 1 + m);
    }
  writePng(outputPath, grid);
  std::string labels;
  for (const auto &model : models)
    labels += " | " + model->label;
  std::printf("%s: wrote %s (%lld rows: original%s)\n", kTool, outputPath.c_str(),
              static_cast<long long>(rows), labels.c_str());
  return 0;
}

int dispatch(int argc, char **argv) {
  const std::string hint = "Try 'msdd-run --help'.";
  if (argc < 2)
    throw UsageError("missing command (infer, info, train, eval or reconstruct)", hint);
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
  throw UsageError("unknown command '" + command + "' (expected infer, info, train, eval or reconstruct)", hint);
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
