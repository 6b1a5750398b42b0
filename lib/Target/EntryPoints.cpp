//===- EntryPoints.cpp - The artifact's manifest and packed entry points ---===//
//
// The manifest is recorded while functions still have tensor signatures (names, dtypes and
// shapes are lost in memref descriptors) and emitted at the end, on the LLVM dialect.
//
//===----------------------------------------------------------------------===//
#include "msdd/Target/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

namespace mlir::msdd {
#define GEN_PASS_DEF_RECORDENTRYPOINTS
#define GEN_PASS_DEF_EMITENTRYPOINTS
#include "msdd/Target/Passes.h.inc"
} // namespace mlir::msdd

using namespace mlir;

namespace {

constexpr StringLiteral kManifestAttr = "msdd.manifest";
constexpr StringLiteral kNameAttr = "msdd.name";
/// Network evaluations per image of a decoding function (an i64 function attribute), recorded
/// as the function's manifest entry "nfe" for msdd-run eval.
constexpr StringLiteral kNfeAttr = "msdd.nfe";

/// "f32", "i64", ... or "" for element types the runtime does not know.
std::string dtypeName(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF64())
    return "f64";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  if (t.isInteger(1))
    return "i1";
  return "";
}

FailureOr<llvm::json::Object> describe(Operation *fn, Type type, DictionaryAttr attrs,
                                       StringRef role, unsigned index) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  std::string dtype = tensor ? dtypeName(tensor.getElementType()) : "";
  if (!tensor || !tensor.hasStaticShape() || dtype.empty())
    return fn->emitError() << role << " " << index << " has type " << type
                           << "; entry points take and return statically shaped tensors of "
                           << "f32, f64, i32, i64 or i1",
           failure();
  std::string name = (role + Twine(index)).str();
  if (attrs)
    if (auto n = attrs.getAs<StringAttr>(kNameAttr))
      name = n.str();
  llvm::json::Array shape;
  for (int64_t d : tensor.getShape())
    shape.push_back(d);
  return llvm::json::Object{{"name", name}, {"dtype", dtype}, {"shape", std::move(shape)}};
}

struct RecordEntryPointsPass : msdd::impl::RecordEntryPointsBase<RecordEntryPointsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (target != "cpu" && target != "cuda") {
      module.emitError() << "msdd-record-entry-points: unknown target '" << target
                         << "' (cpu, cuda)";
      return signalPassFailure();
    }
    llvm::json::Array functions;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isDeclaration())
        continue;
      llvm::json::Array inputs, outputs;
      llvm::StringSet<> inputNames, outputNames;
      auto add = [&](llvm::json::Array &list, Type t, DictionaryAttr attrs, StringRef role,
                     unsigned i) -> LogicalResult {
        FailureOr<llvm::json::Object> d = describe(fn, t, attrs, role, i);
        if (failed(d))
          return failure();
        std::string name = d->getString("name")->str();
        bool isInput = role == "arg";
        // An output may share its input's name only as its in-place update.
        auto updates = attrs ? attrs.getAs<StringAttr>("msdd.updates") : StringAttr();
        if (updates) {
          if (!inputNames.contains(updates.getValue()))
            return fn.emitError() << "result '" << name << "' updates '" << updates.getValue()
                                  << "', which is not an argument";
          (*d)["updates"] = updates.str();
        }
        bool clash = isInput ? !inputNames.insert(name).second
                             : !outputNames.insert(name).second ||
                                   (inputNames.contains(name) && !updates);
        if (clash)
          return fn.emitError() << "two arguments or results are named '" << name << "'";
        list.push_back(std::move(*d));
        return success();
      };
      for (auto [i, t] : llvm::enumerate(fn.getArgumentTypes()))
        if (failed(add(inputs, t, fn.getArgAttrDict(i), "arg", i)))
          return signalPassFailure();
      for (auto [i, t] : llvm::enumerate(fn.getResultTypes()))
        if (failed(add(outputs, t, fn.getResultAttrDict(i), "result", i)))
          return signalPassFailure();
      llvm::json::Object entry{{"name", fn.getSymName()},
                               {"entry", ("msdd_entry_" + fn.getSymName()).str()},
                               {"inputs", std::move(inputs)},
                               {"outputs", std::move(outputs)}};
      if (Attribute nfe = fn->getAttr(kNfeAttr)) {
        auto value = dyn_cast<IntegerAttr>(nfe);
        if (!value || !value.getType().isInteger(64) || value.getInt() < 0)
          return fn.emitError() << kNfeAttr << " must be a non-negative i64, got " << nfe,
                 signalPassFailure();
        entry["nfe"] = value.getInt();
      }
      functions.push_back(std::move(entry));
      fn->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
    }
    llvm::json::Object manifest{{"format", "msdd-artifact"},
                                {"version", 2}, // the runtime's kVersion (lib/Runtime/Artifact.cpp)
                                {"target", target},
                                {"functions", std::move(functions)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(manifest));
    module->setAttr(kManifestAttr, StringAttr::get(&getContext(), os.str()));
  }
};

struct EmitEntryPointsPass : msdd::impl::EmitEntryPointsBase<EmitEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto text = module->getAttrOfType<StringAttr>(kManifestAttr);
    if (!text) {
      module.emitError("no msdd.manifest: run msdd-record-entry-points before bufferization");
      return signalPassFailure();
    }
    llvm::Expected<llvm::json::Value> manifest = llvm::json::parse(text.getValue());
    if (!manifest) {
      module.emitError() << "malformed msdd.manifest: " << llvm::toString(manifest.takeError());
      return signalPassFailure();
    }

    // msdd.* argument and function attributes have served their purpose; LLVM IR has no
    // place for them.
    module.walk([](LLVM::LLVMFuncOp fn) {
      for (NamedAttribute attr : llvm::to_vector(fn->getDiscardableAttrs()))
        if (attr.getName().strref().starts_with("msdd."))
          fn->removeDiscardableAttr(attr.getName());
      for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
        for (NamedAttribute attr : llvm::to_vector(fn.getArgAttrDict(i) ? fn.getArgAttrDict(i).getValue() : ArrayRef<NamedAttribute>{}))
          if (attr.getName().strref().starts_with("msdd."))
            fn.removeArgAttr(i, attr.getName());
    });

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    std::string bytes = text.getValue().str();
    bytes.push_back('\0');
    auto arrayType = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), bytes.size());
    b.create<LLVM::GlobalOp>(loc, arrayType, /*isConstant=*/true, LLVM::Linkage::External,
                             "msdd_manifest", b.getStringAttr(bytes));

    auto ptr = LLVM::LLVMPointerType::get(ctx);
    // (callee, the caller it is inlined into if that is its only caller)
    SmallVector<std::pair<LLVM::LLVMFuncOp, LLVM::LLVMFuncOp>> wrappers;
    auto voidTy = LLVM::LLVMVoidType::get(ctx);
    for (const llvm::json::Value &f : *manifest->getAsObject()->getArray("functions")) {
      const llvm::json::Object &fn = *f.getAsObject();
      std::string name = fn.getString("name")->str();
      size_t count = fn.getArray("inputs")->size() + fn.getArray("outputs")->size();
      auto target = module.lookupSymbol<LLVM::LLVMFuncOp>("_mlir_ciface_" + name);
      if (!target || target.getNumArguments() != count) {
        module.emitError() << "no C-interface wrapper with " << count << " arguments for '"
                           << name << "'";
        return signalPassFailure();
      }
      auto entry = b.create<LLVM::LLVMFuncOp>(loc, fn.getString("entry")->str(),
                                              LLVM::LLVMFunctionType::get(voidTy, {ptr}));
      Block *block = entry.addEntryBlock(b);
      OpBuilder eb = OpBuilder::atBlockBegin(block);
      SmallVector<Value> args;
      for (size_t i = 0; i < count; ++i) {
        Value slot = eb.create<LLVM::GEPOp>(loc, ptr, ptr, block->getArgument(0),
                                            ArrayRef<LLVM::GEPArg>{(int32_t)i});
        args.push_back(eb.create<LLVM::LoadOp>(loc, ptr, slot));
      }
      eb.create<LLVM::CallOp>(loc, target, args);
      eb.create<LLVM::ReturnOp>(loc, ValueRange{});
      b.setInsertionPointToEnd(module.getBody());
      wrappers.emplace_back(target, entry);
      if (auto body = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
        wrappers.emplace_back(body, target);
    }
    SymbolTableCollection tables;
    SymbolUserMap users(tables, module);
    for (auto [callee, caller] : wrappers)
      inlineIntoSoleCaller(callee, caller, users);
  }

  /// The runtime enters an artifact only through its msdd_entry_* functions, so a function
  /// whose one call is in `caller` need not be a symbol of its own: it becomes internal and
  /// always inlined there. The calls it saves pass every descriptor field as an argument
  /// (about 1400 for the micro tokenizer's training step), and instruction selection is
  /// quadratic in a call's arguments: that one call in _mlir_ciface_train_step took 20 s of
  /// the back end's 60.
  static void inlineIntoSoleCaller(LLVM::LLVMFuncOp callee, LLVM::LLVMFuncOp caller,
                                   SymbolUserMap &users) {
    ArrayRef<Operation *> calls = users.getUsers(callee);
    if (calls.size() != 1 || calls[0]->getParentOfType<LLVM::LLVMFuncOp>() != caller)
      return;
    callee.setLinkage(LLVM::Linkage::Internal);
    callee.setAlwaysInline(true);
  }
};

} // namespace
