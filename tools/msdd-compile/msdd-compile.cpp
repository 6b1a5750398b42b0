//===- msdd-compile.cpp - msdd IR to a native artifact ---------------------===//
#include "msdd/InitAll.h"
#include "msdd/Models/Tokenizer.h"
#include "msdd/Target/CPU.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("msdd-compile options");
static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<input.mlir | tokenizer-config.json>"), cl::Required,
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output artifact (.msdd) or IR file"),
                                       cl::value_desc("path"), cl::Required, cl::cat(category));
static cl::opt<std::string> target("target",
                                   cl::desc("Target: cpu (the host CPU) or cuda (NVIDIA GPUs: "
                                            "kernels compiled to cubin by ptxas and embedded; "
                                            "--emit=ptx writes their PTX into the -o directory)"),
                                   cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> gpuArch("gpu-arch", cl::desc("CUDA architecture (default sm_90)"),
                                    cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string> mathMode(
    "math-mode",
    cl::desc("Matrix products. cuda (cuBLAS): tf32 (default), f32, tf32x3 (f32 accuracy "
             "on TF32 tensor cores: each product as three TF32 products of split factors) or "
             "bf16 (factors rounded to bf16, f32 accumulation). cpu: f32 (default), or bf16 to reproduce the CUDA bf16 mode's rounding on the CPU "
             "(checks its numerics without a GPU; not faster)"),
    cl::init("tf32"), cl::cat(category));
static cl::opt<bool> flashAttention(
    "flash-attention",
    cl::desc("CUDA, --math-mode bf16, tf32 or tf32x3: attention as one fused kernel on "
             "tensor cores (f16 factors in bf16 mode, TF32 in tf32 mode, split TF32 factors "
             "and three products each in tf32x3 mode) with f32 accumulation, the scores never "
             "stored (default true; false: the scores go through cuBLAS and memory)"),
    cl::init(true), cl::cat(category));
static cl::opt<int64_t> flashQueryTile(
    "flash-query-tile",
    cl::desc("CUDA: query rows per block of the flash-attention kernel, 64 (4 warps) or 128 "
             "(8 warps, half the K/V reads from L2); default: 128 in bf16 mode unless that pads "
             "more rows than 64, 64 in TF32 modes (more registers per thread)"),
    cl::init(0), cl::cat(category));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("What to write: artifact (default), or the IR after a pipeline stage: "
             "linalg, tiled (cpu), bufferized, loops (cpu), kernels (cuda) or llvm; "
             "llvm-ir (cpu: the LLVM IR after LLVM's optimizations, as compiled); "
             "ptx (cuda)"),
    cl::init("artifact"), cl::cat(category));
static cl::opt<bool> timeCompile(
    "time",
    cl::desc("Print where the compile time goes: each pass (summed over its runs) and the LLVM "
             "back end, slowest first (stderr)"),
    cl::cat(category));
static cl::opt<bool> distill(
    "distill",
    cl::desc("With a config: compile the one-step-per-scale student's loss (stage 2, "
             "docs/tokenizer.md) into train_step, like --train; the artifact's decode and "
             "reconstruct take one step per scale. Train it with msdd-run train --init "
             "STAGE1.safetensors (the student, the frozen encoder and the teacher)"),
    cl::cat(category));
static cl::OptionCategory trainCategory("msdd-compile training options (with --train)");
static cl::opt<bool> train("train",
                           cl::desc("Compile @loss into train_step(params, optimizer state, step, "
                                    "batch) (see docs/training.md)"),
                           cl::cat(category));
static cl::opt<std::string> optimizerName("optimizer", cl::desc("adamw (default), adam or sgd"),
                                          cl::init("adamw"), cl::cat(trainCategory));
static cl::opt<double> learningRate("lr", cl::desc("Peak learning rate (default 1e-4)"),
                                    cl::init(1e-4), cl::cat(trainCategory));
static cl::opt<double> beta1("beta1", cl::desc("Adam beta1 (default 0.9)"), cl::init(0.9),
                             cl::cat(trainCategory));
static cl::opt<double> beta2("beta2", cl::desc("Adam beta2 (default 0.95)"), cl::init(0.95),
                             cl::cat(trainCategory));
static cl::opt<double> adamEps("eps", cl::desc("Adam epsilon (default 1e-8)"), cl::init(1e-8),
                               cl::cat(trainCategory));
static cl::opt<double> weightDecay("weight-decay", cl::desc("Weight decay (default 0)"),
                                   cl::init(0.0), cl::cat(trainCategory));
static cl::opt<double> sgdMomentum("momentum", cl::desc("SGD momentum (default 0)"),
                                   cl::init(0.0), cl::cat(trainCategory));
static cl::opt<double> clipNorm("clip-norm", cl::desc("Global gradient-norm clip (0: off)"),
                                cl::init(0.0), cl::cat(trainCategory));
static cl::opt<std::string> schedule("schedule", cl::desc("constant (default), cosine, or wsd (constant, then a linear decay over --decay-steps)"),
                                     cl::init("constant"), cl::cat(trainCategory));
static cl::opt<int64_t> warmupSteps("warmup-steps", cl::desc("Linear warm-up steps"),
                                    cl::init(0), cl::cat(trainCategory));
static cl::opt<int64_t> totalSteps("total-steps", cl::desc("End of the cosine or wsd schedule"),
                                   cl::init(0), cl::cat(trainCategory));
static cl::opt<int64_t> decaySteps("decay-steps",
                                   cl::desc("Steps of the wsd schedule's final linear decay"),
                                   cl::init(0), cl::cat(trainCategory));
static cl::opt<double> emaDecay("ema", cl::desc("EMA decay of the weights (0: off)"),
                                cl::init(0.0), cl::cat(trainCategory));
static cl::opt<int64_t> minTiles("min-tiles",
                                 cl::desc("Tiles per parallel op to aim for (default 64)"),
                                 cl::init(64), cl::cat(category));

/// One line per diagnostic, "file:line:col: error: message": no source excerpt, so scripts
/// and users see exactly one line per problem.
static void printDiagnostic(Diagnostic &diag) {
  std::string loc;
  if (auto fl = dyn_cast<FileLineColLoc>(diag.getLocation()))
    loc = (fl.getFilename().str() + ":" + std::to_string(fl.getLine()) + ":" +
           std::to_string(fl.getColumn()));
  else
    loc = inputPath;
  // An op imported from ONNX names its node (NameLoc), possibly inside an inlined call.
  if (!isa<FileLineColLoc>(diag.getLocation()))
    diag.getLocation()->walk([&](Location l) {
      if (auto name = dyn_cast<NameLoc>(l)) {
        loc += ": " + name.getName().str();
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
  const char *severity = diag.getSeverity() == DiagnosticSeverity::Error     ? "error"
                         : diag.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                                                                             : "note";
  llvm::errs() << loc << ": " << severity << ": " << diag.str() << "\n";
}

static int fail(const Twine &message) {
  llvm::errs() << "msdd-compile: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  msdd::registerAllPasses();
  cl::HideUnrelatedOptions({&category, &trainCategory});
  std::string flagErrors;
  llvm::raw_string_ostream flagErrorStream(flagErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "msdd-compile: compile msdd IR into a native artifact\n\n"
          "  msdd-compile model.mlir -o model.msdd [--target cpu]\n"
          "  msdd-compile models/tiny.json --train -o tiny.msdd   (a tokenizer config)\n\n"
          "Every public function becomes an entry point that msdd-run can call by name.\n"
          "A .json input is a tokenizer config (docs/tokenizer.md): it is built into IR first,\n"
          "and its train section gives --lr, --beta1, --beta2 and --weight-decay unless set.\n",
          &flagErrorStream)) {
    // LLVM's parser may add suggestion lines; one line is enough to act on.
    llvm::StringRef first = llvm::StringRef(flagErrors).split('\n').first;
    first.consume_front(llvm::sys::path::filename(argv[0]));
    first.consume_front(": ");
    first = first.split("  Try:").first;
    llvm::errs() << "msdd-compile: error: " << first << " (see --help)\n";
    return 2;
  }

  if (target != "cpu" && target != "cuda")
    return fail("unknown target '" + target + "' (available: cpu, cuda)");
  static const char *stages[] = {"artifact", "linalg",  "tiled", "bufferized", "loops",
                                 "kernels",  "llvm",    "llvm-ir", "ptx"};
  if (!llvm::is_contained(stages, emit.getValue()))
    return fail("unknown value '" + emit +
                "' for --emit (artifact, linalg, tiled, bufferized, loops, kernels, llvm, "
                "llvm-ir, ptx)");
  bool cuda = target == "cuda";
  if (cuda && (emit == "tiled" || emit == "loops" || emit == "llvm-ir"))
    return fail("--emit=" + emit + " is a CPU stage (cuda: linalg, bufferized, kernels, llvm, ptx)");
  if (!cuda && (emit == "ptx" || emit == "kernels"))
    return fail("--emit=" + emit + " needs --target=cuda");
  if (mathMode != "f32" && mathMode != "tf32" && mathMode != "tf32x3" && mathMode != "bf16")
    return fail("unknown --math-mode '" + mathMode + "' (f32, tf32, tf32x3, bf16)");
  if (!cuda && mathMode.getNumOccurrences() && (mathMode == "tf32" || mathMode == "tf32x3"))
    return fail("--math-mode " + mathMode + " needs --target cuda (cpu: f32 or bf16)");
  if (flashAttention.getNumOccurrences() && flashAttention && mathMode == "f32")
    return fail("--flash-attention needs --math-mode tf32, tf32x3 or bf16 (f32 keeps "
                "attention's products on cuBLAS)");
  if (flashQueryTile.getNumOccurrences() && flashQueryTile != 64 && flashQueryTile != 128)
    return fail("--flash-query-tile must be 64 or 128, not " + std::to_string(flashQueryTile));
  if (flashQueryTile.getNumOccurrences() && (!cuda || mathMode == "f32" || !flashAttention))
    return fail("--flash-query-tile needs --target cuda with the flash-attention kernel "
                "(--math-mode tf32, tf32x3 or bf16)");
  if (cuda && (gpuArch != "sm_90" && gpuArch != "sm_80"))
    return fail("unsupported --gpu-arch '" + gpuArch + "' (sm_90, sm_80)");
  std::string stopAfter =
      (emit == "artifact" || emit == "ptx" || emit == "llvm-ir") ? "" : emit.getValue();
  if (minTiles < 1)
    return fail("--min-tiles must be >= 1");
  if (distill && !llvm::StringRef(inputPath).ends_with(".json"))
    return fail("--distill needs a tokenizer config (.json), not " + inputPath);
  if (distill)
    train = true; // the student's loss compiles like stage 1's

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  msdd::registerAllDialects(registry);
  registerAllToLLVMIRTranslations(registry); // kernels are translated inside the pipeline
  MLIRContext context(registry);
  context.getDiagEngine().registerHandler([](Diagnostic &d) { printDiagnostic(d); });

  std::string error;
  auto file = openInputFile(inputPath, &error);
  if (!file)
    return fail(inputPath + ": " + error);
  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(inputPath).ends_with(".json")) {
    auto config = msdd::parseTokenizerConfig(file->getBuffer(), error);
    if (!config)
      return fail(inputPath + ": " + error);
    // The perceptual term's feature network (frozen weights), for the loss only.
    OwningOpRef<ModuleOp> features;
    if (train) {
      auto loaded = msdd::loadFeatureNetwork(context, *config, inputPath, error);
      if (failed(loaded))
        return fail(error);
      features = std::move(*loaded);
    }
    // Inference artifacts leave out the loss (and its compile time).
    // The sampler runs both CFG branches in one batch-2B call: half the launches on a GPU,
    // larger products and fewer parallel dispatches on the CPU (tiny reconstruct 1.10x).
    msdd::TokenizerLoss loss = distill ? msdd::TokenizerLoss::Distill
                               : train   ? msdd::TokenizerLoss::Stage1
                                         : msdd::TokenizerLoss::None;
    module = msdd::buildTokenizer(&context, *config, loss, /*pairCfg=*/true,
                                  features ? msdd::featureNetworkOf(*features) : func::FuncOp());
    // The config's training hyperparameters, where the command line does not override them.
    auto fromConfig = [](cl::opt<double> &flag, double value) {
      if (!flag.getNumOccurrences())
        flag = value;
    };
    fromConfig(learningRate, config->lr);
    fromConfig(beta1, config->beta1);
    fromConfig(beta2, config->beta2);
    fromConfig(weightDecay, config->weightDecay);
  } else {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return 1; // the parser reported file:line:col
  }

  PassManager pm(&context);
  msdd::CpuPipelineOptions options;
  options.minTiles = minTiles;
  options.bf16Factors = !cuda && mathMode.getNumOccurrences() && mathMode == "bf16";
  options.stopAfter = stopAfter;
  if (train) {
    std::string opts;
    llvm::raw_string_ostream os(opts);
    os << "msdd-autodiff{function=loss}, msdd-build-train-step{optimizer=" << optimizerName
       << " lr=" << learningRate << " beta1=" << beta1 << " beta2=" << beta2 << " eps=" << adamEps
       << " weight-decay=" << weightDecay << " momentum=" << sgdMomentum
       << " clip-norm=" << clipNorm << " schedule=" << schedule
       << " warmup-steps=" << warmupSteps << " total-steps=" << totalSteps
       << " decay-steps=" << decaySteps << " ema=" << emaDecay << "}";
    options.prologue = os.str();
  }
  if (cuda) {
    if (msdd::cudaToolkitPath().empty() && emit != "linalg" && emit != "bufferized" &&
        emit != "kernels")
      return fail("no CUDA toolkit (set CUDA_HOME or install it at /usr/local/cuda): "
                  "kernels are compiled with its ptxas and libdevice");
    msdd::CudaOptions cudaOptions;
    cudaOptions.gpuArch = gpuArch;
    cudaOptions.mathMode = mathMode;
    cudaOptions.emitPtx = emit == "ptx";
    cudaOptions.flashAttention = flashAttention;
    cudaOptions.flashQueryTile = flashQueryTile;
    msdd::buildCudaPipeline(pm, options, cudaOptions);
  }
  else
    msdd::buildCpuPipeline(pm, options);
  // Reported when `timing` goes out of scope, after the back end.
  DefaultTimingManager timing;
  timing.setEnabled(timeCompile);
  timing.setDisplayMode(DefaultTimingManager::DisplayMode::List);
  TimingScope root = timing.getRootScope();
  pm.enableTiming(root);
  if (failed(pm.run(*module)))
    return 1; // the failing pass reported its diagnostic

  if (emit == "ptx") {
    if (failed(msdd::writePtxFiles(*module, outputPath, error)))
      return fail(outputPath + ": " + error);
    return 0;
  }
  if (!stopAfter.empty()) {
    auto out = openOutputFile(outputPath, &error);
    if (!out)
      return fail(outputPath + ": " + error);
    module->print(out->os());
    out->keep();
    return 0;
  }
  if (emit == "llvm-ir") {
    auto out = openOutputFile(outputPath, &error);
    if (!out)
      return fail(outputPath + ": " + error);
    if (failed(msdd::writeOptimizedLlvmIr(*module, out->os(), error)))
      return fail(outputPath + ": " + error);
    out->keep();
    return 0;
  }
  if (failed(msdd::writeCpuArtifact(*module, outputPath, error, &root)))
    return fail(outputPath + ": " + error);
  return 0;
}
