//===- msdd-translate.cpp - Model formats to msdd IR -----------------------===//
//
//   msdd-translate --import-onnx MODEL.onnx -o MODEL.mlir [--inline-weights]
//
// writes MODEL.mlir and, unless --inline-weights, MODEL.safetensors beside it with the
// initializers that became function parameters. Both are written atomically: after any
// error neither exists (existing files are left as they were). Exit status: 0 on success,
// 1 on an error (`msdd-translate: error: <file>: <problem>`), 2 on a usage error.
//
//===----------------------------------------------------------------------===//
#include "msdd/Frontend/ONNX.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Safetensors.h"

#include "msdd/Models/Tokenizer.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("msdd-translate options");
static cl::opt<bool> importOnnxFlag("import-onnx",
                                    cl::desc("Import an ONNX model (opsets up to 17)"),
                                    cl::cat(category));
static cl::opt<bool> fromConfig(
    "from-config",
    cl::desc("Build the tokenizer of a JSON config (models/*.json, docs/tokenizer.md)"),
    cl::cat(category));
static cl::opt<bool> pairCfg(
    "pair-cfg",
    cl::desc("With --from-config: the sampler evaluates both CFG branches in one batch-2B "
             "denoiser call (what msdd-compile builds)"),
    cl::cat(category));
static cl::opt<bool> distillLoss(
    "distill",
    cl::desc("With --from-config: the loss is stage 2's (the one-step student's) instead of "
             "stage 1's"),
    cl::cat(category));
static cl::opt<bool> listOnnxOps("list-onnx-ops",
                                 cl::desc("Print the ONNX op types the importer supports"),
                                 cl::cat(category));
static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx>"), cl::cat(category));
static cl::opt<std::string> outputPath(
    "o", cl::desc("Output IR (.mlir); the weights go to the same path with .safetensors"),
    cl::value_desc("path"), cl::cat(category));
static cl::opt<bool> inlineWeights(
    "inline-weights",
    cl::desc("Embed the initializers as constants instead of writing a .safetensors file"),
    cl::cat(category));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Static shape for a graph input with dynamic dimensions: NAME=D0xD1x... "
             "(repeatable; NAME= for a scalar)"),
    cl::value_desc("name=shape"), cl::cat(category));

static int fail(const std::string &file, const std::string &problem) {
  std::string p = problem;
  for (char &c : p)
    if (c == '\n')
      c = ' ';
  llvm::errs() << "msdd-translate: error: " << file << ": " << p << "\n";
  return 1;
}

static int usage(const std::string &problem) {
  llvm::errs() << "msdd-translate: error: " << problem << " (see --help)\n";
  return 2;
}

/// --from-config: the tokenizer of a config as IR, written atomically.
static int translateConfig() {
  std::string error;
  auto file = mlir::openInputFile(inputPath, &error);
  if (!file) {
    llvm::errs() << "msdd-translate: error: " << inputPath << ": " << error << "\n";
    return 1;
  }
  auto config = mlir::msdd::parseTokenizerConfig(file->getBuffer(), error);
  if (!config) {
    llvm::errs() << "msdd-translate: error: " << inputPath << ": " << error << "\n";
    return 1;
  }
  MLIRContext context;
  auto features = mlir::msdd::loadFeatureNetwork(context, *config, inputPath, error);
  if (failed(features)) {
    llvm::errs() << "msdd-translate: error: " << error << "\n";
    return 1;
  }
  OwningOpRef<ModuleOp> module = mlir::msdd::buildTokenizer(
      &context, *config,
      distillLoss ? mlir::msdd::TokenizerLoss::Distill : mlir::msdd::TokenizerLoss::Stage1, pairCfg,
      *features ? mlir::msdd::featureNetworkOf(**features) : mlir::func::FuncOp());
  auto out = mlir::openOutputFile(outputPath, &error);
  if (!out) {
    llvm::errs() << "msdd-translate: error: " << outputPath << ": " << error << "\n";
    return 1;
  }
  module->print(out->os());
  out->keep();
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  std::string flagErrors;
  llvm::raw_string_ostream flagErrorStream(flagErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "msdd-translate: translate models into msdd IR\n\n"
          "  msdd-translate --import-onnx model.onnx -o model.mlir [--inline-weights]\n"
          "  msdd-translate --from-config models/tiny.json -o tiny.mlir\n\n"
          "--from-config writes the tokenizer's functions (init, encode, denoise_s<k>, decode,\n"
          "reconstruct, loss) as msdd IR.\n\n"
          "--import-onnx writes model.mlir, one public function named after the graph, and (unless\n"
          "--inline-weights) model.safetensors with its parameters: the float initializers of\n"
          "more than one element (other initializers become constants). Inputs, parameters\n"
          "and outputs keep their ONNX names:\n\n"
          "  msdd-compile model.mlir -o model.msdd\n"
          "  msdd-run infer model.msdd --weights model.safetensors --inputs in.npz "
          "--outputs out.npz\n",
          &flagErrorStream)) {
    llvm::StringRef first = llvm::StringRef(flagErrors).split('\n').first;
    first.consume_front(llvm::sys::path::filename(argv[0]));
    first.consume_front(": ");
    first = first.split("  Try:").first;
    return usage(first.str());
  }
  if (listOnnxOps) {
    for (const std::string &op : mlir::msdd::supportedOnnxOps())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (importOnnxFlag == fromConfig)
    return usage("choose one translation: --import-onnx or --from-config");
  if (inputPath.empty())
    return usage("no input model given");
  if (outputPath.empty())
    return usage("no output given: -o MODEL.mlir");
  if (fromConfig)
    return translateConfig();

  mlir::msdd::ImportOptions options;
  options.inlineWeights = inlineWeights;
  for (const std::string &spec : inputShapes) {
    auto [name, dims] = llvm::StringRef(spec).split('=');
    if (name.empty() || !llvm::StringRef(spec).contains('='))
      return usage("--input-shape expects NAME=D0xD1x..., got '" + spec + "'");
    std::vector<int64_t> shape;
    if (!dims.empty()) {
      llvm::SmallVector<llvm::StringRef> parts;
      dims.split(parts, 'x');
      for (llvm::StringRef p : parts) {
        int64_t d;
        if (p.getAsInteger(10, d) || d < 0)
          return usage("--input-shape '" + spec + "': '" + p.str() + "' is not a dimension");
        shape.push_back(d);
      }
    }
    options.inputShapes[name.str()] = shape;
  }

  std::string out = outputPath;
  if (out == "-")
    return usage("-o needs a file path (the weights are written beside it)");
  llvm::SmallString<256> weightsPath(out);
  llvm::sys::path::replace_extension(weightsPath, ".safetensors");
  if (!inlineWeights && weightsPath.str() == out)
    return usage("-o '" + out + "' would be overwritten by its own weights; use a .mlir path");

  try {
    ::msdd::rt::checkCanCreate(out);
    if (!inlineWeights)
      ::msdd::rt::checkCanCreate(weightsPath.str().str());
  } catch (const ::msdd::rt::Error &e) {
    llvm::errs() << "msdd-translate: error: " << e.what() << "\n";
    return 1;
  }

  MLIRContext context;
  std::vector<mlir::msdd::OnnxWeight> weights;
  std::string error;
  auto module = mlir::msdd::importOnnx(context, inputPath, options, weights, error);
  if (failed(module))
    return fail(inputPath, error);

  std::string text;
  {
    llvm::raw_string_ostream os(text);
    (**module)->print(os);
  }
  try {
    ::msdd::rt::AtomicFileWriter ir(out);
    ir.write(text);
    if (!inlineWeights) {
      ::msdd::rt::NamedTensors tensors;
      for (mlir::msdd::OnnxWeight &w : weights) {
        ::msdd::rt::DType dtype;
        ::msdd::rt::parseDType(w.dtype, dtype);
        ::msdd::rt::Tensor t(dtype, w.shape);
        if (t.nbytes() != w.data.size())
          return fail(inputPath, "internal error: weight '" + w.name + "' has the wrong size");
        if (!w.data.empty())
          std::memcpy(t.rawData(), w.data.data(), w.data.size());
        w.data = {};
        tensors.insert(w.name, std::move(t));
      }
      ::msdd::rt::writeSafetensors(weightsPath.str().str(), tensors, {{"source", "onnx"}});
    }
    try {
      ir.commit();
    } catch (...) {
      if (!inlineWeights)
        llvm::sys::fs::remove(weightsPath);
      throw;
    }
  } catch (const ::msdd::rt::Error &e) {
    llvm::errs() << "msdd-translate: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
