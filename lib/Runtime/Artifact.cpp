//===- Artifact.cpp - Loading and calling .msdd artifacts -----------------===//
#include "msdd/Runtime/Artifact.h"

#include "msdd/Runtime/Cuda.h"
#include "msdd/Runtime/Error.h"
#include "msdd/Runtime/File.h"
#include "msdd/Runtime/Kernels.h"

#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <mutex>

namespace msdd::rt {

namespace {

constexpr char kManifestSymbol[] = "msdd_manifest";
constexpr char kFormat[] = "msdd-artifact";
/// The manifest's version, raised whenever the calls between compiled code and the runtime
/// change, so that an artifact of an older compiler is refused instead of miscalled.
/// 2: the CPU matrix-product kernels take `accumulate`.
constexpr int64_t kVersion = 2;

/// Artifacts leave the runtime's kernels undefined and rely on the dynamic loader to find
/// them in the global scope. A host that loaded libmsdd_runtime.so with RTLD_LOCAL (Python's
/// ctypes does) would hide them, so promote the runtime to global scope once.
void makeRuntimeSymbolsGlobal() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&msdd_rt_parallel_for), &info) && info.dli_fname)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  });
}

/// Checks the file before dlopen: dlopen's messages for non-ELF files are cryptic ("invalid
/// ELF header"), and a truncated ELF file crashes it with SIGBUS when it maps a segment that
/// ends past the end of the file.
void checkSharedObject(const std::string &path) {
  MappedFile file(path);
  if (file.size() < EI_NIDENT || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
    throw Error(path, "not an ELF shared object (is it an .msdd artifact?)");
  if (file.data()[EI_CLASS] != ELFCLASS64 || file.data()[EI_DATA] != ELFDATA2LSB)
    throw Error(path, "not a 64-bit little-endian ELF file (built for another machine?)");
  Elf64_Ehdr header;
  if (file.size() < sizeof header)
    throw Error(path, "truncated ELF file (" + std::to_string(file.size()) + " bytes)");
  std::memcpy(&header, file.data(), sizeof header);
  if (header.e_type != ET_DYN)
    throw Error(path, "an ELF file but not a shared object (is it an .msdd artifact?)");
  uint64_t tableEnd = header.e_phoff + uint64_t(header.e_phnum) * sizeof(Elf64_Phdr);
  if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > file.size() ||
      tableEnd > file.size())
    throw Error(path, "truncated or corrupt ELF file (bad program header table)");
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, file.data() + header.e_phoff + i * sizeof segment, sizeof segment);
    if (segment.p_type == PT_LOAD &&
        (segment.p_offset > file.size() || segment.p_filesz > file.size() - segment.p_offset))
      throw Error(path, "truncated ELF file (a segment ends at byte " +
                            std::to_string(segment.p_offset + segment.p_filesz) + ", the file has " +
                            std::to_string(file.size()) + ")");
  }
}

std::string joinNames(const std::vector<std::string> &names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i)
    text += (i ? ", " : "") + names[i];
  return text.empty() ? "none" : text;
}

/// Validates one manifest value; errors read `<artifact>: bad manifest: <where>: <problem>`.
class ManifestReader {
public:
  explicit ManifestReader(const std::string &path) : path_(path) {}

  [[noreturn]] void fail(const std::string &where, const std::string &problem) const {
    throw Error(path_, "bad manifest: " + where + ": " + problem);
  }

  const Json &member(const Json &object, const std::string &where, const char *key,
                     Json::Kind kind) const {
    if (!object.isObject())
      fail(where, std::string("expected an object, got ") + object.kindName());
    const Json *value = object.find(key);
    if (!value)
      fail(where, std::string("missing \"") + key + "\"");
    if (value->kind() != kind)
      fail(where + "." + key, std::string("expected ") + Json::kindName(kind) + ", got " +
                                  value->kindName());
    return *value;
  }

  std::vector<TensorSpec> tensors(const Json &function, const std::string &where,
                                  const char *key) const {
    std::vector<TensorSpec> specs;
    std::vector<std::string> seen;
    const Json::Array &list = member(function, where, key, Json::Kind::Array).asArray();
    for (size_t i = 0; i < list.size(); ++i) {
      std::string at = where + "." + key + "[" + std::to_string(i) + "]";
      TensorSpec spec;
      spec.name = member(list[i], at, "name", Json::Kind::String).asString();
      const std::string &dtype = member(list[i], at, "dtype", Json::Kind::String).asString();
      if (!parseDType(dtype, spec.dtype))
        fail(at, "dtype '" + dtype + "' is not one of f32, f64, i32, i64, i1");
      for (const Json &dim : member(list[i], at, "shape", Json::Kind::Array).asArray()) {
        if (!dim.isInteger() || dim.asInt() < 0)
          fail(at, "shape entry " + dim.dump() + " is not a static size");
        spec.shape.push_back(dim.asInt());
      }
      if (!denseByteSize(spec.dtype, spec.shape))
        fail(at, "shape " + shapeToString(spec.shape) + " is too large");
      if (const Json *updates = list[i].find("updates")) {
        if (!updates->isString())
          fail(at + ".updates", std::string("expected string, got ") + updates->kindName());
        spec.updates = updates->asString();
      }
      for (const std::string &other : seen)
        if (other == spec.name)
          fail(at, "name '" + spec.name + "' appears twice");
      seen.push_back(spec.name);
      specs.push_back(std::move(spec));
    }
    return specs;
  }

private:
  const std::string &path_;
};

/// Checks `given` against `specs` by name; `role` is "input" or "output".
void checkTensors(const std::string &path, const FunctionSpec &function, const char *role,
                  const std::vector<TensorSpec> &specs, const std::vector<TensorRef> &given) {
  auto fail = [&](const std::string &problem) {
    return Error(path, "function '" + function.name + "': " + problem);
  };
  std::vector<std::string> expectedNames;
  for (const TensorSpec &spec : specs)
    expectedNames.push_back(spec.name);
  for (size_t i = 0; i < given.size(); ++i) {
    const TensorRef &ref = given[i];
    const TensorSpec *spec = nullptr;
    for (const TensorSpec &candidate : specs)
      if (candidate.name == ref.name)
        spec = &candidate;
    if (!spec)
      throw fail(std::string("unexpected ") + role + " '" + ref.name + "' (its " + role +
                 "s are: " + joinNames(expectedNames) + ")");
    for (size_t j = 0; j < i; ++j)
      if (given[j].name == ref.name)
        throw fail(std::string(role) + " '" + ref.name + "' given twice");
    if (ref.dtype != spec->dtype)
      throw fail(std::string(role) + " '" + ref.name + "' has dtype " + dtypeName(ref.dtype) +
                 ", expected " + dtypeName(spec->dtype));
    if (ref.shape != spec->shape)
      throw fail(std::string(role) + " '" + ref.name + "' has shape " + shapeToString(ref.shape) +
                 ", expected " + shapeToString(spec->shape));
    if (!ref.data && shapeNumel(ref.shape) != 0)
      throw fail(std::string(role) + " '" + ref.name + "' has no data");
  }
  for (const TensorSpec &spec : specs) {
    bool present = false;
    for (const TensorRef &ref : given)
      present |= ref.name == spec.name;
    if (!present)
      throw fail(std::string("missing ") + role + " '" + spec.name + "' (" +
                 typeToString(spec.dtype, spec.shape) + ")");
  }
}

/// MLIR's strided memref descriptor of a dense row-major buffer, as int64 words:
/// {allocated, aligned, offset, sizes[r], strides[r]}.
std::vector<int64_t> makeDescriptor(void *data, const std::vector<int64_t> &shape) {
  std::vector<int64_t> words(3 + 2 * shape.size());
  static_assert(sizeof(void *) == sizeof(int64_t), "descriptors assume 64-bit pointers");
  std::memcpy(&words[0], &data, sizeof data);
  std::memcpy(&words[1], &data, sizeof data);
  words[2] = 0;
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + shape.size() + i] = stride;
    stride *= shape[i];
  }
  return words;
}

bool isAligned(const void *p) { return reinterpret_cast<uintptr_t>(p) % Tensor::kAlignment == 0; }

} // namespace

std::unique_ptr<Artifact> Artifact::open(const std::string &path) {
  checkSharedObject(path);
  makeRuntimeSymbolsGlobal();
  // Without a slash dlopen would search the library path instead of the current directory.
  std::string loadPath = path.find('/') == std::string::npos ? "./" + path : path;
  void *handle = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::string message = dlerror();
    if (message.compare(0, loadPath.size() + 2, loadPath + ": ") == 0)
      message.erase(0, loadPath.size() + 2); // our prefix names the file already
    throw Error(path, "cannot load: " + message);
  }
  std::unique_ptr<Artifact> artifact(new Artifact(path, handle));
  const char *manifest = static_cast<const char *>(dlsym(handle, kManifestSymbol));
  if (!manifest)
    throw Error(path, "no msdd_manifest symbol (not an MSDD artifact)");
  artifact->parseManifest(manifest);
  return artifact;
}

Artifact::~Artifact() {
  if (cuda_) {
    for (auto &entry : graphs_)
      releaseGraph(entry.second);
    for (const auto &entry : resident_)
      cuda::release(entry.second.second);
    for (auto &entry : carried_) {
      for (void *p : entry.second.values)
        cuda::release(p);
      for (void *p : entry.second.updates)
        cuda::release(p);
    }
    // The kernel images are in the library's data: their modules go before it does.
    if (const char *manifest = static_cast<const char *>(dlsym(handle_, kManifestSymbol))) {
      Dl_info info;
      if (dladdr(manifest, &info) && info.dli_fbase)
        cuda::forgetModules(info.dli_fbase);
    }
  }
  if (handle_)
    dlclose(handle_);
}

void Artifact::parseManifest(const char *text) {
  try {
    manifest_ = Json::parse(text, "manifest");
  } catch (const Error &error) {
    throw Error(path_, std::string("bad ") + error.what());
  }
  ManifestReader reader(path_);
  const std::string top = "top level";
  const std::string &format = reader.member(manifest_, top, "format", Json::Kind::String).asString();
  if (format != kFormat)
    reader.fail("format", "\"" + format + "\" is not \"" + kFormat + "\"");
  const Json &version = reader.member(manifest_, top, "version", Json::Kind::Number);
  if (!version.isInteger() || version.asInt() != kVersion)
    throw Error(path_, "manifest version " + version.dump() + " is not supported (this runtime "
                       "reads version " + std::to_string(kVersion) + ")");
  const std::string &target = reader.member(manifest_, top, "target", Json::Kind::String).asString();
  if (target != "cpu" && target != "cuda")
    throw Error(path_, "artifact is for target '" + target + "', this runtime runs 'cpu' and "
                       "'cuda' artifacts");
  // A CUDA artifact opens anywhere (info reads its manifest); calls need the device.
  cuda_ = target == "cuda";

  const Json::Array &list = reader.member(manifest_, top, "functions", Json::Kind::Array).asArray();
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = "functions[" + std::to_string(i) + "]";
    FunctionSpec function;
    function.name = reader.member(list[i], at, "name", Json::Kind::String).asString();
    function.entry = reader.member(list[i], at, "entry", Json::Kind::String).asString();
    function.inputs = reader.tensors(list[i], at, "inputs");
    function.outputs = reader.tensors(list[i], at, "outputs");
    if (const Json *nfe = list[i].find("nfe")) {
      if (!nfe->isInteger() || nfe->asInt() < 0)
        reader.fail(at + ".nfe", "expected a non-negative integer, got " + nfe->dump());
      function.nfe = nfe->asInt();
    }
    for (size_t k = 0; k < function.inputs.size(); ++k)
      if (!function.inputs[k].updates.empty())
        reader.fail(at + ".inputs[" + std::to_string(k) + "]", "only outputs may have \"updates\"");
    for (size_t k = 0; k < function.outputs.size(); ++k) {
      const TensorSpec &output = function.outputs[k];
      if (output.updates.empty())
        continue;
      const TensorSpec *input = nullptr;
      for (const TensorSpec &candidate : function.inputs)
        if (candidate.name == output.updates)
          input = &candidate;
      std::string where = at + ".outputs[" + std::to_string(k) + "]";
      if (!input)
        reader.fail(where, "updates '" + output.updates + "', which is not an input");
      if (input->dtype != output.dtype || input->shape != output.shape)
        reader.fail(where, "updates '" + output.updates + "' of type " +
                               typeToString(input->dtype, input->shape) + " but is " +
                               typeToString(output.dtype, output.shape));
    }
    if (findFunction(function.name))
      reader.fail(at, "function name '" + function.name + "' appears twice");
    void *entry = dlsym(handle_, function.entry.c_str());
    if (!entry)
      throw Error(path_, "entry symbol '" + function.entry + "' of function '" + function.name +
                             "' is missing");
    functions_.push_back(std::move(function));
    entries_.push_back(reinterpret_cast<EntryFn>(entry));
  }
}

const FunctionSpec *Artifact::findFunction(const std::string &name) const {
  for (const FunctionSpec &function : functions_)
    if (function.name == name)
      return &function;
  return nullptr;
}

const FunctionSpec &Artifact::function(const std::string &name) const {
  if (const FunctionSpec *function = findFunction(name))
    return *function;
  std::vector<std::string> names;
  for (const FunctionSpec &function : functions_)
    names.push_back(function.name);
  throw Error(path_, "no function '" + name + "' (available: " + joinNames(names) + ")");
}

NamedTensors Artifact::call(const std::string &functionName, const NamedTensors &inputs) const {
  const FunctionSpec &fn = function(functionName);
  std::vector<TensorRef> inputRefs, outputRefs;
  for (const auto &[name, tensor] : inputs)
    inputRefs.push_back({name, tensor.dtype(), tensor.shape(), const_cast<void *>(tensor.rawData())});
  NamedTensors outputs;
  for (const TensorSpec &spec : fn.outputs) {
    Tensor tensor(spec.dtype, spec.shape);
    outputRefs.push_back({spec.name, spec.dtype, spec.shape, tensor.rawData()});
    outputs.insert(spec.name, std::move(tensor)); // the buffer does not move
  }
  callInto(functionName, inputRefs, outputRefs);
  return outputs;
}

void Artifact::callInto(const std::string &functionName, const std::vector<TensorRef> &inputs,
                        const std::vector<TensorRef> &outputs) const {
  const FunctionSpec &fn = function(functionName);
  if (cuda_)
    cuda::requireDevice(path_); // before the inputs: nothing else matters without a GPU
  checkTensors(path_, fn, "input", fn.inputs, inputs);
  checkTensors(path_, fn, "output", fn.outputs, outputs);

  if (cuda_) {
    cuda::CallContext context(path_ + ": function '" + fn.name + "'");
    return callBound(fn, inputs, outputs, residentBinding(fn, inputs));
  }

  // Descriptors in manifest order, inputs first. Misaligned buffers are staged.
  std::vector<Tensor> staged;
  std::vector<std::pair<const TensorRef *, const Tensor *>> copyBack;
  std::vector<std::vector<int64_t>> descriptors;
  auto add = [&](const TensorSpec &spec, const std::vector<TensorRef> &refs, bool isOutput) {
    const TensorRef *ref = nullptr;
    for (const TensorRef &candidate : refs)
      if (candidate.name == spec.name)
        ref = &candidate;
    void *data = ref->data;
    if (!isAligned(data)) {
      staged.emplace_back(spec.dtype, spec.shape);
      Tensor &copy = staged.back();
      if (isOutput)
        copyBack.emplace_back(ref, &copy);
      else if (copy.nbytes())
        std::memcpy(copy.rawData(), data, copy.nbytes());
      data = copy.rawData();
    }
    descriptors.push_back(makeDescriptor(data, spec.shape));
  };
  staged.reserve(fn.inputs.size() + fn.outputs.size()); // keeps &staged.back() stable
  for (const TensorSpec &spec : fn.inputs)
    add(spec, inputs, false);
  for (const TensorSpec &spec : fn.outputs)
    add(spec, outputs, true);

  enter(fn, descriptors);

  for (const auto &[ref, copy] : copyBack)
    if (copy->nbytes())
      std::memcpy(ref->data, copy->rawData(), copy->nbytes());
}

void Artifact::enter(const FunctionSpec &fn,
                     std::vector<std::vector<int64_t>> &descriptors) const {
  std::vector<void *> pointers;
  for (std::vector<int64_t> &descriptor : descriptors)
    pointers.push_back(descriptor.data());
  entries_[static_cast<size_t>(&fn - functions_.data())](pointers.data());
}

void Artifact::keepResident(const std::vector<TensorRef> &constants) const {
  if (!cuda_)
    return;
  cuda::requireDevice(path_);
  cuda::CallContext context(path_ + ": resident weights");
  std::lock_guard<std::mutex> lock(residentMutex_);
  for (const TensorRef &ref : constants) {
    size_t bytes = static_cast<size_t>(shapeNumel(ref.shape)) * dtypeSize(ref.dtype);
    auto &slot = resident_[ref.data];
    if (!slot.second || slot.first != bytes) {
      cuda::release(slot.second);
      slot = {bytes, cuda::allocate(bytes)};
    }
    // Again when called again: a buffer at a known address may hold new contents.
    cuda::copyToDevice(slot.second, ref.data, bytes);
  }
  cuda::synchronize();
}

/// The ref named like `spec` (checkTensors has made sure there is one).
static const TensorRef &refFor(const TensorSpec &spec, const std::vector<TensorRef> &refs) {
  for (const TensorRef &candidate : refs)
    if (candidate.name == spec.name)
      return candidate;
  throw Error(spec.name, "missing tensor");
}

static size_t byteSize(const TensorSpec &spec) {
  return static_cast<size_t>(shapeNumel(spec.shape)) * dtypeSize(spec.dtype);
}

bool Artifact::replaysGraph(const std::string &functionName) const {
  const FunctionSpec &fn = function(functionName);
  std::lock_guard<std::recursive_mutex> lock(graphMutex_);
  auto it = graphs_.find(static_cast<size_t>(&fn - functions_.data()));
  return it != graphs_.end() && it->second.graph;
}

void Artifact::releaseGraph(GraphCall &graph) {
  cuda::destroyGraph(graph.graph);
  for (auto &staged : graph.stagedInputs)
    cuda::release(staged.second);
  for (auto &staged : graph.stagedOutputs)
    cuda::release(staged.second);
  GraphCall fresh;
  fresh.calls = graph.calls;
  fresh.unusable = graph.unusable;
  graph = std::move(fresh);
}

Artifact::DeviceBinding Artifact::residentBinding(const FunctionSpec &fn,
                                                  const std::vector<TensorRef> &inputs) const {
  DeviceBinding binding;
  binding.outputs.assign(fn.outputs.size(), nullptr);
  std::lock_guard<std::mutex> lock(residentMutex_);
  for (const TensorSpec &spec : fn.inputs) {
    auto it = resident_.find(refFor(spec, inputs).data);
    bool usable = it != resident_.end() && it->second.first == byteSize(spec);
    binding.inputs.push_back(usable ? it->second.second : nullptr);
  }
  return binding;
}

bool Artifact::callWithGraph(const FunctionSpec &fn, GraphCall &graph,
                             const std::vector<TensorRef> &inputs,
                             const std::vector<TensorRef> &outputs,
                             const DeviceBinding &binding) const {
  if (!graph.graph || !(binding == graph.binding)) {
    releaseGraph(graph);
    std::vector<std::vector<int64_t>> descriptors;
    for (size_t i = 0; i < fn.inputs.size(); ++i) {
      void *device = binding.inputs[i];
      if (!device) {
        device = cuda::allocate(byteSize(fn.inputs[i]));
        graph.stagedInputs.emplace_back(i, device);
      }
      descriptors.push_back(makeDescriptor(device, fn.inputs[i].shape));
    }
    for (size_t i = 0; i < fn.outputs.size(); ++i) {
      void *device = binding.outputs[i];
      if (!device) {
        device = cuda::allocate(byteSize(fn.outputs[i]));
        graph.stagedOutputs.emplace_back(i, device);
      }
      descriptors.push_back(makeDescriptor(device, fn.outputs[i].shape));
    }
    // The op-by-op calls' cached memory goes back first: graphs allocate from their own pool.
    cuda::trimMemory();
    std::string why;
    graph.graph = cuda::captureGraph(
        [&] {
          enter(fn, descriptors);
          for (const auto &[to, from, bytes] : binding.copies)
            cuda::copyOnDevice(to, from, bytes);
        },
        why);
    if (!graph.graph) {
      releaseGraph(graph);
      graph.unusable = true;
      std::fprintf(stderr, "msdd: %s: '%s' runs without a CUDA graph (%s)\n", path_.c_str(),
                   fn.name.c_str(), why.c_str());
      return false;
    }
    graph.binding = binding;
  }
  for (const auto &[index, device] : graph.stagedInputs)
    cuda::copyToDevice(device, refFor(fn.inputs[index], inputs).data, byteSize(fn.inputs[index]));
  cuda::launchGraph(graph.graph);
  for (const auto &[index, device] : graph.stagedOutputs)
    cuda::copyToHost(refFor(fn.outputs[index], outputs).data, device, byteSize(fn.outputs[index]));
  cuda::synchronize();
  return true;
}

void Artifact::callBound(const FunctionSpec &fn, const std::vector<TensorRef> &inputs,
                         const std::vector<TensorRef> &outputs,
                         const DeviceBinding &binding) const {
  if (cuda::graphsEnabled()) {
    std::lock_guard<std::recursive_mutex> lock(graphMutex_);
    GraphCall &graph = graphs_[static_cast<size_t>(&fn - functions_.data())];
    // The first call runs op by op: it loads the kernels and sets up cuBLAS.
    if (graph.calls++ > 0 && !graph.unusable &&
        callWithGraph(fn, graph, inputs, outputs, binding))
      return;
  }
  callOnDevice(fn, inputs, outputs, binding);
}

void Artifact::callOnDevice(const FunctionSpec &fn, const std::vector<TensorRef> &inputs,
                            const std::vector<TensorRef> &outputs,
                            const DeviceBinding &binding) const {
  // Compiled CUDA code takes device buffers: inputs go over first, outputs come back after.
  struct DeviceBuffers {
    std::vector<void *> pointers;
    ~DeviceBuffers() {
      for (void *p : pointers)
        cuda::release(p);
    }
  } buffers;
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<std::pair<const TensorRef *, void *>> results;
  for (size_t i = 0; i < fn.inputs.size(); ++i) {
    const TensorSpec &spec = fn.inputs[i];
    void *device = binding.inputs[i];
    if (!device) {
      device = cuda::allocate(byteSize(spec));
      buffers.pointers.push_back(device);
      cuda::copyToDevice(device, refFor(spec, inputs).data, byteSize(spec));
    }
    descriptors.push_back(makeDescriptor(device, spec.shape));
  }
  for (size_t i = 0; i < fn.outputs.size(); ++i) {
    const TensorSpec &spec = fn.outputs[i];
    void *device = binding.outputs[i];
    if (!device) {
      device = cuda::allocate(byteSize(spec));
      buffers.pointers.push_back(device);
      results.emplace_back(&refFor(spec, outputs), device);
    }
    descriptors.push_back(makeDescriptor(device, spec.shape));
  }
  enter(fn, descriptors);
  for (const auto &[to, from, bytes] : binding.copies)
    cuda::copyOnDevice(to, from, bytes);
  for (const auto &[ref, device] : results)
    cuda::copyToHost(ref->data, device,
                     static_cast<size_t>(shapeNumel(ref->shape)) * dtypeSize(ref->dtype));
  cuda::synchronize();
}

void Artifact::callCarried(const std::string &functionName, const std::vector<TensorRef> &inputs,
                           const std::vector<TensorRef> &outputs,
                           const std::vector<std::string> &carried, bool upload) const {
  if (!cuda_)
    return callInto(functionName, inputs, outputs);
  const FunctionSpec &fn = function(functionName);
  cuda::requireDevice(path_);
  cuda::CallContext context(path_ + ": function '" + fn.name + "'");
  checkTensors(path_, fn, "input", fn.inputs, inputs);
  checkTensors(path_, fn, "output", fn.outputs, outputs);
  auto indexOf = [&](const std::vector<TensorSpec> &specs, const std::string &name) {
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].name == name)
        return i;
    throw Error(path_, "function '" + fn.name + "' has no input and output '" + name +
                           "' to carry from call to call");
  };
  std::lock_guard<std::recursive_mutex> lock(graphMutex_);
  CarriedState &state = carried_[static_cast<size_t>(&fn - functions_.data())];
  bool same = state.inputs.size() == carried.size();
  for (size_t k = 0; same && k < carried.size(); ++k)
    same = fn.inputs[state.inputs[k]].name == carried[k];
  if (!same) {
    for (void *p : state.values)
      cuda::release(p);
    for (void *p : state.updates)
      cuda::release(p);
    state = CarriedState();
    for (const std::string &name : carried) {
      size_t in = indexOf(fn.inputs, name), out = indexOf(fn.outputs, name);
      if (fn.inputs[in].dtype != fn.outputs[out].dtype || fn.inputs[in].shape != fn.outputs[out].shape)
        throw Error(path_, "function '" + fn.name + "': output '" + name +
                               "' differs in type from the input it would replace");
      state.inputs.push_back(in);
      state.outputs.push_back(out);
      state.values.push_back(cuda::allocate(byteSize(fn.inputs[in])));
      state.updates.push_back(cuda::allocate(byteSize(fn.inputs[in])));
    }
    upload = true;
  }
  DeviceBinding binding = residentBinding(fn, inputs);
  for (size_t k = 0; k < carried.size(); ++k) {
    size_t bytes = byteSize(fn.inputs[state.inputs[k]]);
    if (upload)
      cuda::copyToDevice(state.values[k], refFor(fn.inputs[state.inputs[k]], inputs).data, bytes);
    binding.inputs[state.inputs[k]] = state.values[k];
    binding.outputs[state.outputs[k]] = state.updates[k];
    // The update becomes the value the next call reads (an output must not share its
    // input's buffer, docs/training.md).
    binding.copies.emplace_back(state.values[k], state.updates[k], bytes);
  }
  callBound(fn, inputs, outputs, binding);
}

void Artifact::downloadCarried(const std::string &functionName,
                               const std::vector<TensorRef> &hosts) const {
  if (!cuda_)
    return;
  const FunctionSpec &fn = function(functionName);
  std::lock_guard<std::recursive_mutex> lock(graphMutex_);
  auto it = carried_.find(static_cast<size_t>(&fn - functions_.data()));
  if (it == carried_.end())
    return;
  const CarriedState &state = it->second;
  for (const TensorRef &host : hosts)
    for (size_t k = 0; k < state.inputs.size(); ++k) {
      const TensorSpec &spec = fn.inputs[state.inputs[k]];
      if (spec.name != host.name)
        continue;
      if (host.dtype != spec.dtype || host.shape != spec.shape)
        throw Error(path_, "function '" + fn.name + "': '" + spec.name + "' is " +
                               typeToString(spec.dtype, spec.shape) + ", not " +
                               typeToString(host.dtype, host.shape));
      cuda::copyToHost(host.data, state.values[k], byteSize(spec));
    }
  cuda::synchronize();
}

} // namespace msdd::rt
