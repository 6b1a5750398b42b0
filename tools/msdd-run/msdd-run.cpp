//===- msdd-run.cpp - Run compiled MSDD artifacts --------------------------===//
//
// Exit status: 0 on success, 1 on a runtime error (`msdd-run: error: <file>: <problem>`),
// 2 on a usage error. Outputs are written atomically, so a failed run leaves no file.
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Artifact.h"
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

Trains with the train_step function of ART.msdd (compiled with msdd-compile --train) on the
PNG/JPEG images in DIR, carrying the parameters and optimizer state from step to step.
Writes into the run folder RUN_DIR:
  log.jsonl                           one JSON object per logged step
  checkpoints/step-XXXXXXXX.safetensors  parameters, optimizer state, step, loader and RNG
                                      state, config (written atomically, the last N kept)
  final.safetensors                   the parameters after the last step (for infer --weights)
Progress goes to stderr: one live line on a terminal, otherwise a line per logged step.

options:
  --data DIR               folder of training images (*.png, *.jpg, *.jpeg), sorted by name
  --steps N                total number of steps (a resumed run continues up to N)
  --init W.safetensors     initial parameters (default: the artifact's init function, given
                           the seed)
  --out RUN_DIR            the run folder (default: runs/<artifact name>)
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
    std::string nfe = function.nfe >= 0 ? ", nfe " + std::to_string(function.nfe) : "";
    std::printf("function %s (entry %s%s)\n", function.name.c_str(), function.entry.c_str(),
                nfe.c_str());
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
                               {"function", true, false}});
  if (args.help) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  std::string artifactPath = artifactArgument("train", args);
  std::string hint = "Try 'msdd-run train --help'.";
  bool resume = args.has("resume");
  if (!resume)
    for (const char *required : {"data", "steps"})
      if (!args.has(required))
        throw UsageError(std::string("train: missing --") + required, hint);
  if (resume && args.has("init"))
    throw UsageError("train: --init and --resume exclude each other (a resumed run continues "
                     "from its checkpoint)", hint);

  TrainOptions options;
  options.artifactPath = artifactPath;
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
    std::string stem = artifactPath.substr(artifactPath.rfind('/') + 1);
    if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".msdd") == 0)
      stem.resize(stem.size() - 5);
    options.runDir = "runs/" + stem;
  }
  while (options.runDir.size() > 1 && options.runDir.back() == '/')
    options.runDir.pop_back();

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

int dispatch(int argc, char **argv) {
  const std::string hint = "Try 'msdd-run --help'.";
  if (argc < 2)
    throw UsageError("missing command (infer, info or train)", hint);
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
  if (!command.empty() && command[0] == '-')
    throw UsageError("unknown option '" + command + "'", hint);
  throw UsageError("unknown command '" + command + "' (expected infer, info or train)", hint);
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
