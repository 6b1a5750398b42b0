//===- Artifact.h - Loading and calling compiled .msdd artifacts -*- C++ -*-===//
//
// An artifact is a shared object with a JSON manifest and one entry point per function
// (docs/artifact-abi.md). Artifact checks every call against the manifest before entering
// compiled code, which does no checking of its own.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_ARTIFACT_H
#define MSDD_RUNTIME_ARTIFACT_H

#include "msdd/Runtime/Json.h"
#include "msdd/Runtime/Tensor.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace msdd::rt {

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  /// Outputs only: the input whose new value this output is (manifest "updates"), or empty.
  /// It still needs a buffer of its own (docs/training.md).
  std::string updates;
};

struct FunctionSpec {
  std::string name;
  std::string entry; // symbol: void entry(void **descriptors)
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  /// Network evaluations per image (manifest "nfe", from the function attribute msdd.nfe),
  /// or -1 when the manifest does not say.
  int64_t nfe = -1;
};

/// A caller-owned dense row-major buffer, for calls without copies (the C API).
struct TensorRef {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  void *data;
};

class Artifact {
public:
  /// dlopen()s the artifact and reads its manifest. Throws Error(path, ...) if the file is
  /// missing, is not an ELF shared object, cannot be loaded, lacks `msdd_manifest` or an
  /// entry symbol, or its manifest is malformed or of an unsupported version/target.
  static std::unique_ptr<Artifact> open(const std::string &path);
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const std::string &path() const { return path_; }
  const std::vector<FunctionSpec> &functions() const { return functions_; }
  /// nullptr if there is no such function.
  const FunctionSpec *findFunction(const std::string &name) const;
  /// The function called `name`; throws Error listing the available ones if absent.
  const FunctionSpec &function(const std::string &name) const;
  /// The parsed manifest, as stored in the artifact.
  const Json &manifest() const { return manifest_; }
  /// True for artifacts compiled with --target cuda (they run on the GPU).
  bool isCuda() const { return cuda_; }

  /// Runs a function. `inputs` must hold exactly the function's inputs by name, with the
  /// manifest's dtypes and shapes; returns freshly allocated outputs in manifest order.
  /// Throws Error naming the artifact, function, tensor, expected and actual type otherwise.
  NamedTensors call(const std::string &functionName, const NamedTensors &inputs) const;

  /// Same checks as call(), on caller-owned buffers; `outputs` are written in place.
  /// Buffers that are not 64-byte aligned are staged through aligned copies.
  void callInto(const std::string &functionName, const std::vector<TensorRef> &inputs,
                const std::vector<TensorRef> &outputs) const;

  /// Promises that these buffers (parameters, typically) keep their contents until the
  /// artifact is closed or they are given here again: a CUDA artifact copies them to the
  /// device now, and later calls that pass the same buffers use those copies. CPU artifacts
  /// need nothing.
  void keepResident(const std::vector<TensorRef> &constants) const;

  /// Calls a function whose outputs named in `carried` replace its inputs of the same names
  /// at the next call (a training step's parameters and optimizer state). A CUDA artifact
  /// keeps them on the device from call to call: a call reads the values the previous one
  /// left there and copies none of them to or from the host, except that `upload` first
  /// copies the host values in `inputs` to the device (at the first call, and whenever the
  /// caller has changed them). downloadCarried() copies the device values back. CPU
  /// artifacts run callInto: the carried outputs are written to `outputs`.
  void callCarried(const std::string &functionName, const std::vector<TensorRef> &inputs,
                   const std::vector<TensorRef> &outputs, const std::vector<std::string> &carried,
                   bool upload) const;
  /// Copies the device values of callCarried's carried tensors into `hosts` (any of them, by
  /// name). Nothing to do for CPU artifacts or before the first callCarried.
  void downloadCarried(const std::string &functionName, const std::vector<TensorRef> &hosts) const;

  /// Whether calls of `function` now replay a CUDA graph: from the second call on (the first
  /// runs op by op and loads everything), unless graphs are off (Cuda.h) or the capture
  /// failed (said once on stderr; the calls then run op by op).
  bool replaysGraph(const std::string &function) const;

private:
  using EntryFn = void (*)(void **);
  Artifact(std::string path, void *handle) : path_(std::move(path)), handle_(handle) {}
  void parseManifest(const char *text);
  /// Calls fn's entry point with one descriptor (int64 words) per input and output.
  void enter(const FunctionSpec &fn, std::vector<std::vector<int64_t>> &descriptors) const;

  /// Where a CUDA call's tensors are on the device: a buffer per input and per output, or
  /// null for one staged through a buffer of the call's own (copied in before the call, out
  /// after it); then the device-to-device copies (to, from, bytes) that end the call.
  struct DeviceBinding {
    std::vector<void *> inputs, outputs;
    std::vector<std::tuple<void *, const void *, size_t>> copies;
    bool operator==(const DeviceBinding &other) const {
      return inputs == other.inputs && outputs == other.outputs && copies == other.copies;
    }
  };
  /// The binding of a call whose only device buffers are keepResident's copies.
  DeviceBinding residentBinding(const FunctionSpec &fn, const std::vector<TensorRef> &inputs) const;
  void callOnDevice(const FunctionSpec &fn, const std::vector<TensorRef> &inputs,
                    const std::vector<TensorRef> &outputs, const DeviceBinding &binding) const;
  /// Through fn's graph from its second call on (when graphs are on), else op by op.
  void callBound(const FunctionSpec &fn, const std::vector<TensorRef> &inputs,
                 const std::vector<TensorRef> &outputs, const DeviceBinding &binding) const;

  /// One function's graph. Replays reuse its device addresses, so what the binding stages
  /// goes through staging buffers of its own; another binding means a new capture.
  struct GraphCall {
    int64_t calls = 0;
    bool unusable = false;
    void *graph = nullptr;
    DeviceBinding binding;
    std::vector<std::pair<size_t, void *>> stagedInputs, stagedOutputs; // spec index, buffer
  };
  /// Runs fn through its graph; false when it cannot (the caller runs it op by op).
  bool callWithGraph(const FunctionSpec &fn, GraphCall &graph,
                     const std::vector<TensorRef> &inputs,
                     const std::vector<TensorRef> &outputs, const DeviceBinding &binding) const;

  /// callCarried's device buffers for one function: per carried tensor, its input and
  /// output index, the buffer holding its value and the one the call writes its update to.
  struct CarriedState {
    std::vector<size_t> inputs, outputs;
    std::vector<void *> values, updates;
  };
  static void releaseGraph(GraphCall &graph);

  std::string path_;
  void *handle_;
  Json manifest_;
  std::vector<FunctionSpec> functions_;
  std::vector<EntryFn> entries_; // parallel to functions_
  bool cuda_ = false;
  /// keepResident's device copies by host address.
  mutable std::mutex residentMutex_;
  mutable std::map<const void *, std::pair<size_t, void *>> resident_;
  /// By function index; calls that use graphs are serialized (they share the staging).
  mutable std::recursive_mutex graphMutex_;
  mutable std::map<size_t, GraphCall> graphs_;
  mutable std::map<size_t, CarriedState> carried_; // by function index, under graphMutex_
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_ARTIFACT_H
