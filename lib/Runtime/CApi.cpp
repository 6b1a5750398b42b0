//===- CApi.cpp - The C ABI of include/msdd/Runtime/Runtime.h -------------===//
//
// Exceptions never cross the C boundary: every entry point catches them and records the
// message for msdd_last_error().
//
//===----------------------------------------------------------------------===//
#include "msdd/Runtime/Runtime.h"

#include "msdd/Runtime/Artifact.h"
#include "msdd/Runtime/Error.h"

#include <new>

using namespace msdd::rt;

struct msdd_artifact {
  std::unique_ptr<Artifact> artifact;
  std::string manifest; // compact JSON, owned for the C caller
};

namespace {

constexpr char kVersion[] = "0.1.0";

thread_local std::string tlsLastError;

/// Runs `body`, turning any exception into `onError` plus a recorded message.
template <typename Body, typename Result> Result guarded(Body body, Result onError) {
  try {
    tlsLastError.clear();
    return body();
  } catch (const std::bad_alloc &) {
    tlsLastError = "msdd runtime: out of memory";
  } catch (const std::exception &error) {
    tlsLastError = error.what();
  }
  return onError;
}

std::vector<TensorRef> toRefs(const msdd_tensor *tensors, int64_t count, const char *role) {
  if (count < 0 || (count > 0 && !tensors))
    throw Error("msdd_artifact_call", std::string("invalid ") + role + " array");
  std::vector<TensorRef> refs;
  for (int64_t i = 0; i < count; ++i) {
    const msdd_tensor &t = tensors[i];
    if (!t.name || t.dtype < MSDD_F32 || t.dtype > MSDD_I1 || t.rank < 0 || (t.rank > 0 && !t.shape))
      throw Error("msdd_artifact_call",
                  std::string(role) + " " + std::to_string(i) + " has no name, an unknown dtype or "
                                                                  "an invalid shape");
    refs.push_back({t.name, static_cast<DType>(t.dtype),
                    std::vector<int64_t>(t.shape, t.shape + t.rank), t.data});
  }
  return refs;
}

} // namespace

extern "C" {

const char *msdd_runtime_version(void) { return kVersion; }

const char *msdd_last_error(void) { return tlsLastError.c_str(); }

msdd_artifact *msdd_artifact_open(const char *path) {
  return guarded(
      [&]() -> msdd_artifact * {
        if (!path)
          throw Error("msdd_artifact_open", "path is NULL");
        auto handle = std::make_unique<msdd_artifact>();
        handle->artifact = Artifact::open(path);
        handle->manifest = handle->artifact->manifest().dump();
        return handle.release();
      },
      static_cast<msdd_artifact *>(nullptr));
}

void msdd_artifact_close(msdd_artifact *artifact) { delete artifact; }

const char *msdd_artifact_manifest(const msdd_artifact *artifact) {
  return artifact ? artifact->manifest.c_str() : nullptr;
}

int64_t msdd_artifact_num_functions(const msdd_artifact *artifact) {
  return artifact ? static_cast<int64_t>(artifact->artifact->functions().size()) : 0;
}

const char *msdd_artifact_function_name(const msdd_artifact *artifact, int64_t index) {
  if (!artifact || index < 0 || index >= msdd_artifact_num_functions(artifact))
    return nullptr;
  return artifact->artifact->functions()[static_cast<size_t>(index)].name.c_str();
}

int32_t msdd_artifact_call(const msdd_artifact *artifact, const char *function,
                           const msdd_tensor *inputs, int64_t num_inputs,
                           const msdd_tensor *outputs, int64_t num_outputs) {
  return guarded(
      [&]() -> int32_t {
        if (!artifact || !function)
          throw Error("msdd_artifact_call", "artifact or function is NULL");
        artifact->artifact->callInto(function, toRefs(inputs, num_inputs, "input"),
                                     toRefs(outputs, num_outputs, "output"));
        return 0;
      },
      int32_t(-1));
}

} // extern "C"
