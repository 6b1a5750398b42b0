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

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <new>
#include <string>
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
    if (spec->takesValue) {
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

int dispatch(int argc, char **argv) {
  const std::string hint = "Try 'msdd-run --help'.";
  if (argc < 2)
    throw UsageError("missing command (infer or info)", hint);
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
  if (!command.empty() && command[0] == '-')
    throw UsageError("unknown option '" + command + "'", hint);
  throw UsageError("unknown command '" + command + "' (expected infer or info)", hint);
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
