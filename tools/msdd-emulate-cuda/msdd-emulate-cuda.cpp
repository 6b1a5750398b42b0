//===- msdd-emulate-cuda.cpp - Run a CUDA compile's kernels on the CPU -----===//
//
// Runs one function of the CUDA pipeline's IR at its kernels stage (msdd-compile --target
// cuda --emit=kernels) on the CPU, with the same inputs and outputs as `msdd-run infer`, so
// that machines without a GPU can compare the generated kernels with the CPU backend.
//
//===----------------------------------------------------------------------===//
#include "msdd/Emulation/CudaEmulator.h"
#include "msdd/InitAll.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Npz.h"
#include "msdd/Runtime/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;
namespace rt = ::msdd::rt;

static cl::OptionCategory category("msdd-emulate-cuda options");
static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<kernels.mlir>"), cl::Required,
                                      cl::cat(category));
static cl::opt<std::string> functionName("function", cl::desc("The host function to run"),
                                         cl::Required, cl::cat(category));
static cl::opt<std::string> inputsPath("inputs", cl::desc("Input arrays (.npz or .safetensors), "
                                                          "matched to the function's inputs by name"),
                                       cl::value_desc("path"), cl::cat(category));
static cl::list<std::string> weightsPaths("weights",
                                          cl::desc("More inputs by name (.safetensors or .npz); "
                                                   "may be repeated"),
                                          cl::value_desc("path"), cl::cat(category));
static cl::opt<std::string> outputsPath("outputs",
                                        cl::desc("Where to write the outputs (.npz, or "
                                                 ".safetensors if the name ends so)"),
                                        cl::value_desc("path"), cl::Required, cl::cat(category));
static cl::opt<bool> checkRaces("check-races",
                                cl::desc("Also stop at data races: two threads of a launch "
                                         "touching the same bytes, one writing, without a "
                                         "barrier between them or from different blocks "
                                         "(slower)"),
                                cl::cat(category));
static cl::opt<bool> memoryStats(
    "memory-stats",
    cl::desc("Print each kernel's memory traffic per warp-wide access: shared-memory "
             "wavefronts against those without bank conflicts, device-memory 32-byte sectors "
             "against those of coalesced accesses (with --json: in its line; slower)"),
    cl::cat(category));
static cl::opt<bool> json("json", cl::desc("Print one JSON line: function, launches, threads, "
                                           "collectives, matrix products, wall time"),
                          cl::cat(category));

static int fail(const std::string &message) {
  llvm::errs() << "msdd-emulate-cuda: error: " << message << "\n";
  return 1;
}

static rt::NamedTensors readTensors(const std::string &path) {
  return llvm::StringRef(path).ends_with(".safetensors") ? rt::readSafetensors(path)
                                                          : rt::readNpz(path);
}

/// The input count and output names the artifact's manifest gives `function`, if the module
/// has one.
static std::vector<std::string> outputNames(ModuleOp module, const std::string &function,
                                            size_t &numInputs) {
  std::vector<std::string> names;
  auto manifest = module->getAttrOfType<StringAttr>("msdd.manifest");
  if (!manifest)
    return names;
  rt::Json doc = rt::Json::parse(manifest.getValue().str(), "msdd.manifest");
  const rt::Json *functions = doc.find("functions");
  if (!functions)
    return names;
  for (const rt::Json &fn : functions->asArray()) {
    const rt::Json *name = fn.find("name"), *outputs = fn.find("outputs");
    if (name && outputs && name->asString() == function && fn.find("inputs"))
      numInputs = fn.find("inputs")->asArray().size();
    if (name && outputs && name->asString() == function)
      for (const rt::Json &out : outputs->asArray())
        names.push_back(out.find("name") ? out.find("name")->asString() : "");
  }
  return names;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  std::string flagErrors;
  llvm::raw_string_ostream flagErrorStream(flagErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "msdd-emulate-cuda: run a CUDA compile's kernels on the CPU\n\n"
          "  msdd-compile model.json --target cuda --emit=kernels -o kernels.mlir\n"
          "  msdd-emulate-cuda kernels.mlir --function decode --inputs in.npz \\\n"
          "      --weights weights.safetensors --outputs out.npz\n\n"
          "Every block's threads run as fibers that meet at warp shuffles, mma.sync and\n"
          "barriers; cuBLAS calls become float64 products of the operands cuBLAS would read.\n"
          "Stops with an error on out-of-bounds indices, loads outside live buffers,\n"
          "divergent collectives, deadlocks and layouts cuBLAS cannot address. Slow: for\n"
          "checking kernels on small models, not for running them.\n",
          &flagErrorStream)) {
    llvm::StringRef first = llvm::StringRef(flagErrors).split('\n').first;
    first.consume_front(llvm::sys::path::filename(argv[0]));
    first.consume_front(": ");
    llvm::errs() << "msdd-emulate-cuda: error: " << first << " (see --help)\n";
    return 2;
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  mlir::msdd::registerAllDialects(registry);
  MLIRContext context(registry);
  std::string error;
  auto file = openInputFile(inputPath, &error);
  if (!file)
    return fail(inputPath + ": " + error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1; // the parser reported file:line:col

  try {
    ::msdd::emulation::CudaEmulator emulator(*module);
    emulator.setCheckRaces(checkRaces);
    emulator.setMemoryStats(memoryStats);
    std::vector<::msdd::emulation::CudaEmulator::Argument> arguments;
    try {
      arguments = emulator.arguments(functionName);
    } catch (const std::exception &e) {
      return fail(inputPath + ": " + e.what());
    }
    rt::NamedTensors given;
    std::vector<std::string> sources;
    if (!inputsPath.empty())
      sources.push_back(inputsPath);
    sources.insert(sources.end(), weightsPaths.begin(), weightsPaths.end());
    for (const std::string &path : sources)
      for (auto &[name, tensor] : readTensors(path)) {
        rt::Tensor copy = tensor.clone();
        if (!given.insert(name, std::move(copy)))
          return fail(path + ": input '" + name + "' is given twice");
      }
    // Bufferized functions take their outputs as trailing arguments.
    size_t numInputs = arguments.size();
    std::vector<std::string> names = outputNames(*module, functionName, numInputs);
    std::vector<const rt::Tensor *> inputs;
    for (const auto &arg : llvm::ArrayRef(arguments).take_front(numInputs)) {
      const rt::Tensor *t = given.find(arg.name);
      if (!t)
        return fail("@" + functionName + " needs input '" + arg.name + "' (" +
                    rt::typeToString(arg.dtype, arg.shape) + "), which no input file holds");
      inputs.push_back(t);
    }
    auto start = std::chrono::steady_clock::now();
    std::vector<rt::Tensor> results;
    try {
      results = emulator.call(functionName, inputs);
    } catch (const std::exception &e) {
      return fail(inputPath + ": " + e.what());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rt::NamedTensors outputs;
    for (size_t k = 0; k < results.size(); ++k)
      outputs.insert(k < names.size() ? names[k] : "result" + std::to_string(k), std::move(results[k]));
    if (llvm::StringRef(outputsPath).ends_with(".safetensors"))
      rt::writeSafetensors(outputsPath, outputs);
    else
      rt::writeNpz(outputsPath, outputs);
    if (json) {
      const auto &s = emulator.stats();
      rt::Json line = rt::Json::object();
      line["function"] = functionName.getValue();
      line["launches"] = s.launches;
      line["threads"] = s.threads;
      line["collectives"] = s.collectives;
      line["matmuls"] = s.matmuls;
      line["seconds"] = seconds;
      if (memoryStats) {
        rt::Json kernels = rt::Json::object();
        for (const auto &[kernel, m] : s.memory) {
          rt::Json entry = rt::Json::object();
          entry["shared_accesses"] = m.sharedAccesses;
          entry["wavefronts"] = m.wavefronts;
          entry["ideal_wavefronts"] = m.idealWavefronts;
          entry["device_accesses"] = m.deviceAccesses;
          entry["sectors"] = m.sectors;
          entry["ideal_sectors"] = m.idealSectors;
          kernels[kernel] = std::move(entry);
        }
        line["memory"] = std::move(kernels);
      }
      llvm::outs() << line.dump() << "\n";
    } else if (memoryStats) {
      for (const auto &[kernel, m] : emulator.stats().memory) {
        if (m.sharedAccesses)
          llvm::outs() << "shared memory of @" << kernel << ": " << m.sharedAccesses
                       << " warp accesses, " << m.wavefronts << " wavefronts ("
                       << m.idealWavefronts << " without bank conflicts: "
                       << llvm::format("%.2f", double(m.wavefronts) / m.idealWavefronts) << "x)\n";
        if (m.deviceAccesses)
          llvm::outs() << "device memory of @" << kernel << ": " << m.deviceAccesses
                       << " warp accesses, " << m.sectors << " sectors (" << m.idealSectors
                       << " coalesced: "
                       << llvm::format("%.2f", double(m.sectors) / m.idealSectors) << "x)\n";
      }
    }
  } catch (const std::exception &e) {
    return fail(e.what()); // reading or writing tensors: the message names the file
  }
  return 0;
}
