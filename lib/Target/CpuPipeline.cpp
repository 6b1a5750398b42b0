//===- CpuPipeline.cpp - msdd -> native shared-library artifact ------------===//
//
// The pipeline is target-neutral down to tiled scf.parallel loops on memrefs; only the last
// stage (thread-pool outlining, LLVM, host object code) is CPU-specific.
//
//===----------------------------------------------------------------------===//
#include "msdd/Target/CPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <atomic>
#include <cstdlib>
#include <thread>
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Support/FileUtilities.h"

using namespace mlir;

namespace {

/// The stages of the pipeline, in order; `--stop-after` names one of them.
struct Stage {
  const char *name;
  std::string passes;
};

/// `beforeFusion`: target passes on linalg-on-tensors that elementwise fusion should see;
/// `afterBias`: the same, after the biases are sunk into the products' consumers.
/// `lowering`: msdd-lower-to-linalg's options, e.g. "{flash-attention=true}".
std::vector<Stage> cpuStages(const msdd::CpuPipelineOptions &options,
                             const char *target = "cpu", const std::string &beforeFusion = "",
                             const std::string &lowering = "",
                             const std::string &afterBias = "") {
  return {
      {"linalg",
       std::string("msdd-expand-sampler, func.func(msdd-fuse-scale-transitions), "
                   "msdd-record-entry-points{target=") + target +
           "}, msdd-inline-calls, symbol-dce,"
           "func.func(canonicalize, msdd-lower-to-linalg" + lowering +
           ", canonicalize, " + beforeFusion + "msdd-sink-bias-into-consumers, msdd-merge-sibling-products, " + afterBias + "msdd-fuse-elementwise, canonicalize, cse), "
           "msdd-hoist-call-invariant-code, func.func(canonicalize, cse, msdd-concatenate-in-place)"},
      {"tiled", "func.func(msdd-tile-parallel-dims{min-tiles=" +
                    std::to_string(options.minTiles) + "}, canonicalize, cse)"},
      {"bufferized",
       "func.func(msdd-copy-aliased-results, msdd-clone-fills-per-use), eliminate-empty-tensors, one-shot-bufferize{bufferize-function-boundaries allow-return-allocs-from-loops "
       "function-boundary-type-conversion=identity-layout-map}, "
       "buffer-results-to-out-params{hoist-static-allocs=true}, canonicalize, "
       "buffer-deallocation-pipeline, canonicalize, func.func(msdd-dealloc-after-last-use)"},
      {"loops",
       "msdd-linalg-to-runtime-calls, func.func(scf-forall-to-parallel, msdd-lower-reductions-to-loops, "
       "convert-linalg-to-loops, canonicalize, cse), msdd-outline-parallel-loops, "
       "canonicalize, cse"},
      {"llvm",
       "lower-affine, expand-strided-metadata, lower-affine, convert-scf-to-cf, "
       "msdd-approximate-math, convert-math-to-llvm, convert-math-to-libm, " +
           std::string(options.bf16Factors ? "arith-expand{include-bf16=true}, " : "") +
           "convert-arith-to-llvm, "
       "finalize-memref-to-llvm{use-generic-functions=true}, convert-func-to-llvm, convert-cf-to-llvm, "
       "convert-index-to-llvm, reconcile-unrealized-casts, msdd-lower-parallel-dispatch, "
       "msdd-emit-entry-points, canonicalize"},
  };
}

} // namespace

/// cuBLAS and the CPU's BLAS read a factor transposed in place: a transposed copy (one side
/// of it strided, uncoalesced on a GPU) is never needed. Before the bf16 rounding, which
/// then rounds the factor as it is stored, in its producer.
constexpr char kFoldTransposes[] = "msdd-fold-transposes-into-products, ";
/// bf16 factors, rounded in the kernels that produce them.
constexpr char kRoundToBf16[] = "msdd-round-contraction-operands{element-type=bf16}, ";

void msdd::buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  if (!options.prologue.empty() && failed(parsePassPipeline(options.prologue, pm, llvm::errs())))
    llvm::report_fatal_error("invalid msdd pipeline prologue: " + llvm::Twine(options.prologue));
  // BLAS reads transposed factors in place. With bf16 factors the CPU builds the CUDA bf16
  // mode's graph, whose numerics it stands for.
  std::string beforeFusion = kFoldTransposes;
  if (options.bf16Factors)
    beforeFusion += kRoundToBf16;
  std::string afterBias = options.bf16Factors ? "msdd-round-contraction-results, " : "";
  for (const Stage &stage : cpuStages(options, "cpu", beforeFusion, "", afterBias)) {
    // The pipeline text is ours: a parse failure is a programming error.
    if (failed(parsePassPipeline(stage.passes, pm, llvm::errs())))
      llvm::report_fatal_error("invalid msdd CPU pipeline stage " + llvm::Twine(stage.name));
    if (options.stopAfter == stage.name)
      return;
  }
}

void msdd::buildCudaPipeline(OpPassManager &pm, const CpuPipelineOptions &options,
                             const CudaOptions &cuda) {
  if (!options.prologue.empty() && failed(parsePassPipeline(options.prologue, pm, llvm::errs())))
    llvm::report_fatal_error("invalid msdd pipeline prologue: " + llvm::Twine(options.prologue));
  // The target-neutral stages are the CPU pipeline's, without the CPU's tiling: on the GPU
  // every point of an op's parallel space is a thread (msdd-map-loops-to-gpu).
  // bf16 factors are rounded where they are produced, not in passes of their own.
  bool bf16 = cuda.mathMode == "bf16";
  std::string beforeFusion = kFoldTransposes;
  if (bf16)
    beforeFusion += kRoundToBf16;
  // Flash attention on the tensor cores of the mode's products: f16 factors in bf16 mode
  // (three more mantissa bits than bf16 at the same rate), TF32 in TF32 mode, split f32
  // factors in 3xTF32 mode. f32 mode keeps f32 products throughout.
  std::string linalgOptions;
  if (cuda.flashAttention && cuda.mathMode != "f32")
    linalgOptions = bf16 ? "{flash-attention=true}"
                         : "{flash-attention=true flash-attention-factors=" + cuda.mathMode + "}";
  // 3xTF32 splits the products after the biases are sunk and the sibling products merged,
  // which both look for products of f32 factors; the three TF32 products are then cuBLAS's.
  bool tf32x3 = cuda.mathMode == "tf32x3";
  std::string afterBias = bf16     ? "msdd-round-contraction-results, "
                          : tf32x3 ? "msdd-split-contraction-operands, "
                                   : "";
  for (const Stage &stage : cpuStages(options, "cuda", beforeFusion, linalgOptions, afterBias)) {
    if (StringRef(stage.name) == "tiled")
      continue;
    if (StringRef(stage.name) == "loops")
      break;
    if (failed(parsePassPipeline(stage.passes, pm, llvm::errs())))
      llvm::report_fatal_error("invalid msdd pipeline stage " + llvm::Twine(stage.name));
    if (options.stopAfter == stage.name)
      return;
  }
  std::string toolkit = cudaToolkitPath();
  // Upstream's gpu-lower-to-nvvm-pipeline, spelled out so that libdevice (for the f64 math
  // the polynomial approximations do not cover) is linked into every kernel module.
  std::string libdevice;
  if (!toolkit.empty()) {
    llvm::SmallString<128> path(toolkit);
    llvm::sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::exists(path))
      libdevice = " l=" + path.str().str();
  }
  std::string kernels =
      "msdd-linalg-to-runtime-calls{device=cuda math-mode=" +
      std::string(tf32x3 ? "tf32" : cuda.mathMode) + "}, "
      "msdd-allocate-device-memory, msdd-lower-flash-attention-to-gpu{query-tile=" +
      std::to_string(cuda.flashQueryTile) + "}, msdd-map-loops-to-gpu, "
      "canonicalize, cse, "
      "gpu-launch-sink-index-computations, gpu-kernel-outlining, msdd-merge-gpu-modules, "
      "func.func(gpu-async-region), canonicalize";
  if (failed(parsePassPipeline(kernels, pm, llvm::errs())))
    llvm::report_fatal_error("invalid msdd CUDA pipeline (kernels)");
  if (options.stopAfter == "kernels")
    return;
  std::string format = cuda.emitPtx ? "isa" : "bin";
  std::string lowering =
      "msdd-approximate-math, convert-nvgpu-to-nvvm, convert-vector-to-scf, "
      "convert-scf-to-cf, convert-nvvm-to-llvm, "
      "nvvm-attach-target{chip=" + cuda.gpuArch + " O=3" + libdevice + "}, "
      "gpu.module(lower-affine, expand-strided-metadata, convert-gpu-to-nvvm, canonicalize, cse, "
      "reconcile-unrealized-casts), "
      "lower-affine, expand-strided-metadata, lower-affine, convert-math-to-llvm, "
      "convert-math-to-libm, arith-expand, convert-arith-to-llvm, "
      "finalize-memref-to-llvm{use-generic-functions=true}, convert-func-to-llvm, "
      "convert-cf-to-llvm, convert-index-to-llvm, gpu-to-llvm, reconcile-unrealized-casts, "
      "msdd-emit-entry-points, "
      "gpu-module-to-binary{format=" + format + (toolkit.empty() ? "" : " toolkit=" + toolkit) +
      "}, canonicalize";
  if (failed(parsePassPipeline(lowering, pm, llvm::errs())))
    llvm::report_fatal_error("invalid msdd CUDA pipeline (lowering)");
}

std::string msdd::cudaToolkitPath() {
  // CUDA_HOME, when set, is the only place looked at: a wrong one should not silently fall
  // back to another toolkit.
  const char *home = std::getenv("CUDA_HOME");
  std::string root = home ? home : "/usr/local/cuda";
  return llvm::sys::fs::is_directory(root) ? root : "";
}

LogicalResult msdd::writePtxFiles(ModuleOp module, StringRef directory, std::string &error) {
  if (auto ec = llvm::sys::fs::create_directories(directory)) {
    error = "cannot create directory '" + directory.str() + "': " + ec.message();
    return failure();
  }
  bool any = false;
  WalkResult result = module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      // The NVPTX back end's assembly ends in a NUL that ptxas rejects.
      StringRef ptx = object.getObject().getValue().rtrim('\0');
      llvm::SmallString<128> path(directory);
      llvm::sys::path::append(path, binary.getSymName() + ".ptx");
      std::error_code ec;
      llvm::raw_fd_ostream os(path, ec);
      if (ec) {
        error = path.str().str() + ": " + ec.message();
        return WalkResult::interrupt();
      }
      os << ptx;
      any = true;
    }
    return WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  if (!any) {
    error = "the module has no GPU kernels";
    return failure();
  }
  return success();
}

void msdd::registerCpuPipeline() {
  PassPipelineRegistration<>(
      "msdd-cpu-pipeline", "Lower msdd IR to the LLVM dialect with CPU entry points",
      [](OpPassManager &pm) { buildCpuPipeline(pm, CpuPipelineOptions{}); });
}

namespace {

/// Host target machine: the CPU that compiles is the CPU that runs (AVX2/AVX-512 if present).
std::unique_ptr<llvm::TargetMachine> hostTargetMachine(std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getProcessTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::SubtargetFeatures features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.first(), feature.second);
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features.getString(), options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

/// LLVM -O2 for the host. The loops of parallel tiles
/// (`__msdd_par_*`) are not unrolled: the unroller runs before the loop vectorizer and fully
/// unrolls a tile's constant-trip inner loops (a 32-element row of a head), which leaves the
/// vectorizer scalar code and makes its dependence analysis quadratic in the unrolled
/// accesses. A transpose-copy tile became 8000 scalar instructions in 24 s instead of a
/// 16-wide vector loop in 0.02 s, and a 64x64 training config did not finish compiling.
/// Serial loops keep it: their short reductions gain from it. (-O3's extra unrolling is off
/// for the same reason.)
///
/// The host code of CUDA artifacts (`level` O0) is a few long straight-line functions of
/// launches, copies and cuBLAS calls: nothing to optimize (CUDA graphs replay it without
/// running it), and blocks so long that LLVM's -O1 and -O2 spend minutes renumbering their
/// instructions (the micro tokenizer's train step: 260 s at -O2, 2 s at -O0).
void optimize(llvm::Module &module, llvm::TargetMachine &machine,
              llvm::OptimizationLevel level = llvm::OptimizationLevel::O2) {
  llvm::LLVMContext &context = module.getContext();
  llvm::MDNode *noUnroll =
      llvm::MDNode::get(context, llvm::MDString::get(context, "llvm.loop.unroll.disable"));
  for (llvm::Function &fn : module) {
    if (fn.isDeclaration() || !fn.getName().starts_with("__msdd_par_"))
      continue;
    llvm::DominatorTree dominators(fn);
    llvm::LoopInfo loopInfo(dominators);
    for (llvm::Loop *loop : loopInfo.getLoopsInPreorder())
      loop->setLoopID(llvm::makePostTransformationMetadata(context, loop->getLoopID(), {}, {noUnroll}));
  }
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  if (level == llvm::OptimizationLevel::O0)
    builder.buildO0DefaultPipeline(level).run(module, modules);
  else
    builder.buildPerModuleDefaultPipeline(level).run(module, modules);
}

/// LLVM -O2, then host object code into `objectPath`.
LogicalResult optimizeAndEmit(llvm::Module &module, llvm::TargetMachine &machine,
                              StringRef objectPath, std::string &error, bool launchesOnly) {
  if (launchesOnly)
    machine.setOptLevel(llvm::CodeGenOptLevel::None);
  optimize(module, machine, launchesOnly ? llvm::OptimizationLevel::O0 : llvm::OptimizationLevel::O2);
  std::error_code ec;
  llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = objectPath.str() + ": " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    error = "the host target cannot emit object files";
    return failure();
  }
  codegen.run(module);
  return success();
}

/// Threads for the back end: one per core (MSDD_COMPILE_THREADS overrides), at most 8, and
/// at least ~16 defined functions per part (splitting costs a bitcode round trip).
unsigned backendThreads(const llvm::Module &module) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  if (const char *env = std::getenv("MSDD_COMPILE_THREADS"))
    threads = std::max(1, std::atoi(env));
  size_t functions = 0;
  for (const llvm::Function &fn : module)
    functions += !fn.isDeclaration();
  return static_cast<unsigned>(std::min<size_t>({threads, 8, std::max<size_t>(functions / 16, 1)}));
}

/// The LLVM IR of an LLVM-dialect module, with the host's data layout and triple, and the
/// host target machine in `machine`. Null (and `error` set) on failure.
std::unique_ptr<llvm::Module> translateForHost(ModuleOp module, llvm::LLVMContext &context,
                                               std::unique_ptr<llvm::TargetMachine> &machine,
                                               std::string &error) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module->getContext()->appendDialectRegistry(registry);
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, context);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return nullptr;
  }
  machine = hostTargetMachine(error);
  if (!machine)
    return nullptr;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple().getTriple());
  return llvmModule;
}

} // namespace

LogicalResult msdd::writeOptimizedLlvmIr(ModuleOp module, llvm::raw_ostream &os,
                                         std::string &error) {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::unique_ptr<llvm::Module> llvmModule = translateForHost(module, llvmContext, machine, error);
  if (!llvmModule)
    return failure();
  optimize(*llvmModule, *machine);
  llvmModule->print(os, nullptr);
  return success();
}

LogicalResult msdd::writeCpuArtifact(ModuleOp module, StringRef outputPath, std::string &error,
                                     TimingScope *timing) {
  // Each stage of the back end as a scope of the caller's timing report (msdd-compile --time).
  TimingScope stage;
  auto startStage = [&](StringRef name) {
    stage.stop();
    if (timing)
      stage = timing->nest(name);
  };
  startStage("LLVM IR translation");
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::unique_ptr<llvm::Module> llvmModule = translateForHost(module, llvmContext, machine, error);
  if (!llvmModule)
    return failure();
  // CUDA artifacts: the host code only launches kernels (see optimize).
  bool launchesOnly = !module.getOps<gpu::BinaryOp>().empty();
  startStage(launchesOnly ? "LLVM -O0 code generation (CUDA host code)"
                          : "LLVM -O2 optimization and code generation");

  // The back end is most of the compile time and runs one module on one thread: the module is
  // split (functions with the private helpers they use stay together) and the parts are
  // optimized and compiled in parallel, each in its own LLVMContext. Object files go to
  // temporaries, linked into the library below.
  std::vector<llvm::SmallString<0>> bitcode;
  unsigned threadCount = backendThreads(*llvmModule);
  // More parts than threads, taken from a queue, even out parts of different sizes.
  unsigned parts = threadCount > 1 ? 4 * threadCount : 1;
  if (parts > 1) {
    llvm::SplitModule(
        *llvmModule, parts,
        [&](std::unique_ptr<llvm::Module> part) {
          llvm::raw_svector_ostream os(bitcode.emplace_back());
          llvm::WriteBitcodeToFile(*part, os);
        },
        /*PreserveLocals=*/true);
  }
  size_t objects = std::max<size_t>(bitcode.size(), 1);
  std::vector<llvm::SmallString<128>> objectPaths(objects);
  std::vector<std::unique_ptr<llvm::FileRemover>> objectRemovers;
  for (llvm::SmallString<128> &path : objectPaths) {
    if (auto ec = llvm::sys::fs::createTemporaryFile("msdd", "o", path)) {
      error = "cannot create a temporary object file: " + ec.message();
      return failure();
    }
    objectRemovers.push_back(std::make_unique<llvm::FileRemover>(path));
  }
  if (bitcode.empty()) {
    if (failed(optimizeAndEmit(*llvmModule, *machine, objectPaths[0], error, launchesOnly)))
      return failure();
  } else {
    std::vector<std::string> errors(objects);
    std::vector<std::thread> threads;
    std::atomic<size_t> next{0};
    auto compilePart = [&](size_t i) {
        llvm::LLVMContext context;
        auto part = llvm::parseBitcodeFile(
            llvm::MemoryBufferRef(llvm::StringRef(bitcode[i].data(), bitcode[i].size()), "part"),
            context);
        if (!part) {
          errors[i] = "cannot read a split module back: " + llvm::toString(part.takeError());
          return;
        }
        // A machine of its own, like the main one (target registration is not repeated).
        std::unique_ptr<llvm::TargetMachine> partMachine(machine->getTarget().createTargetMachine(
            machine->getTargetTriple().str(), machine->getTargetCPU(),
            machine->getTargetFeatureString(), machine->Options, llvm::Reloc::PIC_, std::nullopt,
            llvm::CodeGenOptLevel::Aggressive));
        (void)optimizeAndEmit(**part, *partMachine, objectPaths[i], errors[i], launchesOnly);
    };
    for (unsigned t = 0; t < threadCount; ++t)
      threads.emplace_back([&] {
        for (size_t i; (i = next++) < objects;)
          compilePart(i);
      });
    for (std::thread &thread : threads)
      thread.join();
    for (const std::string &partError : errors)
      if (!partError.empty()) {
        error = partError;
        return failure();
      }
  }

  // The temporary shares the output's directory so that the final rename is atomic.
  llvm::SmallString<128> libraryPath;
  llvm::SmallString<128> outputDir = outputPath;
  llvm::sys::path::remove_filename(outputDir);
  if (outputDir.empty())
    outputDir = ".";
  if (!llvm::sys::fs::is_directory(outputDir)) {
    error = "directory '" + outputDir.str().str() + "' does not exist";
    return failure();
  }
  int fd;
  if (auto ec = llvm::sys::fs::createUniqueFile(outputPath + ".tmp-%%%%%%", fd, libraryPath)) {
    error = "cannot write into '" + outputDir.str().str() + "': " + ec.message();
    return failure();
  }
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  llvm::FileRemover libraryRemover(libraryPath);
  llvm::SmallString<128> linkLog;
  if (auto ec = llvm::sys::fs::createTemporaryFile("msdd-link", "log", linkLog)) {
    error = "cannot create a temporary file: " + ec.message();
    return failure();
  }
  llvm::FileRemover linkLogRemover(linkLog);
  startStage("linking");
  llvm::ErrorOr<std::string> linker = llvm::sys::findProgramByName(MSDD_LINKER);
  if (!linker) {
    error = std::string("linker '") + MSDD_LINKER + "' not found on PATH";
    return failure();
  }
  SmallVector<StringRef> args{*linker, "-shared", "-o", libraryPath};
  for (const llvm::SmallString<128> &path : objectPaths)
    args.push_back(path);
  args.push_back("-lm");
  std::string linkError;
  std::optional<StringRef> redirects[] = {std::nullopt, linkLog.str(), linkLog.str()};
  int rc = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, redirects, 0, 0, &linkError);
  if (rc != 0) {
    // The linker's first line says what went wrong; keep the error on one line.
    std::string firstLine;
    if (auto log = llvm::MemoryBuffer::getFile(linkLog))
      firstLine = (*log)->getBuffer().split('\n').first.str();
    error = "linking failed (" + *linker + " exited with " + std::to_string(rc) + ")" +
            (firstLine.empty() ? (linkError.empty() ? "" : ": " + linkError) : ": " + firstLine);
    return failure();
  }
  if (auto ec = llvm::sys::fs::rename(libraryPath, outputPath)) {
    error = "cannot write " + outputPath.str() + ": " + ec.message();
    return failure();
  }
  libraryRemover.releaseFile();
  return success();
}
