//===- MergeGpuModules.cpp - One gpu.module of distinct kernels -----------===//
#include "msdd/Conversion/Fingerprint.h"
#include "msdd/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_MERGEGPUMODULES
#include "msdd/Conversion/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

constexpr char kModuleName[] = "msdd_kernels";

struct MergeGpuModulesPass : msdd::impl::MergeGpuModulesBase<MergeGpuModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources(module.getOps<gpu::GPUModuleOp>());
    if (sources.empty())
      return;
    MLIRContext *ctx = &getContext();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto merged = b.create<gpu::GPUModuleOp>(module.getLoc(), kModuleName);
    SymbolTable mergedSymbols(merged);

    llvm::StringMap<StringAttr> byText;
    // (old module, old kernel) -> kernel in the merged module.
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    for (gpu::GPUModuleOp source : sources) {
      for (Operation &op : llvm::make_early_inc_range(source.getBody()->without_terminator())) {
        auto kernel = dyn_cast<gpu::GPUFuncOp>(op);
        if (!kernel) {
          op.emitOpError("in a kernel module is not supported by msdd-merge-gpu-modules");
          return signalPassFailure();
        }
        auto key = std::make_pair(source.getNameAttr(), kernel.getNameAttr());
        StringAttr &survivor = byText[msdd::fingerprint(kernel)];
        if (!survivor) {
          kernel->remove();
          // msdd-map-loops-to-gpu names launches after what they compute.
          std::string name = (source.getName() + "_" + kernel.getName()).str();
          if (auto named = dyn_cast<NameLoc>(kernel.getLoc()))
            name = named.getName().str();
          kernel.setName(name);
          survivor = mergedSymbols.insert(kernel); // renames on a clash
        }
        renamed[key] = survivor;
      }
    }
    WalkResult walk = module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = renamed.find({launch.getKernelModuleName(), launch.getKernelName()});
      if (it == renamed.end()) {
        launch.emitOpError("launches a kernel that is not in any gpu.module");
        return WalkResult::interrupt();
      }
      launch.setKernelAttr(SymbolRefAttr::get(ctx, kModuleName,
                                              {FlatSymbolRefAttr::get(it->second)}));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    for (gpu::GPUModuleOp source : sources)
      source.erase();
    // Outlining drops what a launch's shared buffers need: 16-byte alignment for 16-byte
    // stores (the flash kernel's staging), which the LLVM lowering takes from `llvm.align`.
    StringAttr align = StringAttr::get(ctx, LLVM::LLVMDialect::getAlignAttrName());
    for (auto kernel : merged.getOps<gpu::GPUFuncOp>())
      for (unsigned i = 0; i < kernel.getNumWorkgroupAttributions(); ++i)
        if (!kernel.getWorkgroupAttributionAttr(i, align))
          kernel.setWorkgroupAttributionAttr(i, align, b.getI64IntegerAttr(16));
  }
};

} // namespace
