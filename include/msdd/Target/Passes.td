//===- Passes.td - MSDD artifact emission passes -----------*- tablegen -*-===//
#ifndef MSDD_TARGET_PASSES
#define MSDD_TARGET_PASSES

include "mlir/Pass/PassBase.td"

def RecordEntryPoints : Pass<"msdd-record-entry-points", "ModuleOp"> {
  let summary = "Record the public functions' signatures as the artifact manifest";
  let description = [{
    Runs on msdd/tensor IR before bufferization. Every public function must take and return
    statically shaped tensors; its names (`msdd.name` argument/result attributes, else
    `arg<i>` / `result<i>`), dtypes and shapes are written as JSON into the module attribute
    `msdd.manifest`, and the function is marked `llvm.emit_c_interface`. `target` is
    recorded too: the runtime stages a `cuda` artifact's tensors through device memory.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "the artifact's target: cpu or cuda">,
  ];
}

def EmitEntryPoints : Pass<"msdd-emit-entry-points", "ModuleOp"> {
  let summary = "Emit the manifest global and the packed msdd_entry_* wrappers";
  let description = [{
    Runs on the LLVM dialect. Emits `msdd_manifest` (NUL-terminated JSON) and, for each
    function of the manifest, `void msdd_entry_<name>(void **descriptors)` that calls its
    `_mlir_ciface_` wrapper with the descriptors in order (see docs/artifact-abi.md).

    The runtime enters an artifact only through these, so a wrapper called only by its entry
    point, and a function called only by its wrapper, become internal and `always_inline`.
    The calls this removes pass every field of every descriptor as an argument (about 1400
    for a tokenizer's training step), and LLVM's instruction selection is quadratic in a
    call's arguments: that call alone took a third of the micro tokenizer's back end.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // MSDD_TARGET_PASSES
