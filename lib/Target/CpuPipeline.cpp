//===- CpuPipeline.cpp - msdd -> native shared-library artifact ------------===//
//
// The pipeline is target-neutral down to tiled scf.parallel loops on memrefs; only the last
// stage (thread-pool outlining, LLVM, host object code) is CPU-specific.
//
//===----------------------------------------------------------------------===//
#include "msdd/Target/CPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Support/FileUtilities.h"

using namespace mlir;

namespace {

/// The stages of the pipeline, in order; `--stop-after` names one of them.
struct Stage {
  const char *name;
  std::string passes;
};

/// `beforeFusion`: target passes on linalg-on-tensors that elementwise fusion should see.
std::vector<Stage> cpuStages(const msdd::CpuPipelineOptions &options,
                             const char *target = "cpu", const std::string &beforeFusion = "") {
  return {
      {"linalg",
       std::string("msdd-expand-sampler, func.func(msdd-fuse-scale-transitions), "
                   "msdd-record-entry-points{target=") + target +
           "}, msdd-inline-calls, symbol-dce,"
           "func.func(canonicalize, msdd-lower-to-linalg, canonicalize, " +
           beforeFusion + "msdd-fuse-elementwise, canonicalize, cse)"},
      {"tiled", "func.func(msdd-tile-parallel-dims{min-tiles=" +
                    std::to_string(options.minTiles) + "}, canonicalize, cse)"},
      {"bufferized",
       "func.func(msdd-copy-aliased-results, msdd-clone-fills-per-use), eliminate-empty-tensors, one-shot-bufferize{bufferize-function-boundaries allow-return-allocs-from-loops "
       "function-boundary-type-conversion=identity-layout-map}, "
       "buffer-results-to-out-params{hoist-static-allocs=true}, canonicalize, "
       "buffer-deallocation-pipeline, canonicalize, func.func(msdd-dealloc-after-last-use)"},
      {"loops",
       "msdd-linalg-to-runtime-calls, func.func(scf-forall-to-parallel, "
       "convert-linalg-to-loops, canonicalize, cse), msdd-outline-parallel-loops, "
       "canonicalize, cse"},
      {"llvm",
       "lower-affine, expand-strided-metadata, lower-affine, convert-scf-to-cf, "
       "msdd-approximate-math, convert-math-to-llvm, convert-math-to-libm, arith-expand, convert-arith-to-llvm, "
       "finalize-memref-to-llvm{use-generic-functions=true}, convert-func-to-llvm, convert-cf-to-llvm, "
       "convert-index-to-llvm, reconcile-unrealized-casts, msdd-lower-parallel-dispatch, "
       "msdd-emit-entry-points, canonicalize"},
  };
}

} // namespace

void msdd::buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  if (!options.prologue.empty() && failed(parsePassPipeline(options.prologue, pm, llvm::errs())))
    llvm::report_fatal_error("invalid msdd pipeline prologue: " + llvm::Twine(options.prologue));
  for (const Stage &stage : cpuStages(options)) {
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
  std::string beforeFusion =
      cuda.mathMode == "bf16" ? "msdd-round-contraction-operands{element-type=bf16}, " : "";
  for (const Stage &stage : cpuStages(options, "cuda", beforeFusion)) {
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
      "msdd-linalg-to-runtime-calls{device=cuda math-mode=" + cuda.mathMode + "}, "
      "msdd-allocate-device-memory, msdd-map-loops-to-gpu, canonicalize, cse, "
      "gpu-kernel-outlining, msdd-merge-gpu-modules, func.func(gpu-async-region), canonicalize";
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

} // namespace

LogicalResult msdd::writeCpuArtifact(ModuleOp module, StringRef outputPath, std::string &error) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module->getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return failure();
  }
  std::unique_ptr<llvm::TargetMachine> machine = hostTargetMachine(error);
  if (!machine)
    return failure();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple().getTriple());
  // -O2, not -O3: O3's full unrolling of the constant-trip tile loops multiplies code size
  // ~20x and compile time ~15x (53 s -> 3.4 s for a one-layer train step) for no measured gain.
  if (llvm::Error err = makeOptimizingTransformer(/*optLevel=*/2, /*sizeLevel=*/0,
                                                  machine.get())(llvmModule.get())) {
    error = "LLVM optimization failed: " + llvm::toString(std::move(err));
    return failure();
  }

  // Object and shared library go to temporaries beside the output, renamed into place last,
  // so a failure leaves nothing behind.
  llvm::SmallString<128> objectPath, libraryPath;
  if (auto ec = llvm::sys::fs::createTemporaryFile("msdd", "o", objectPath)) {
    error = "cannot create a temporary object file: " + ec.message();
    return failure();
  }
  llvm::FileRemover objectRemover(objectPath);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
    if (ec) {
      error = objectPath.str().str() + ": " + ec.message();
      return failure();
    }
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
      error = "the host target cannot emit object files";
      return failure();
    }
    codegen.run(*llvmModule);
  }

  // The temporary shares the output's directory so that the final rename is atomic.
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
  llvm::ErrorOr<std::string> linker = llvm::sys::findProgramByName(MSDD_LINKER);
  if (!linker) {
    error = std::string("linker '") + MSDD_LINKER + "' not found on PATH";
    return failure();
  }
  SmallVector<StringRef> args{*linker, "-shared", "-o", libraryPath, objectPath, "-lm"};
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
