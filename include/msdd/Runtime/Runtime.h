/*===- Runtime.h - C API of the MSDD runtime --------------------*- C -*-===//
 *
 * A stable C ABI over msdd::rt::Artifact for other languages (ctypes, cffi, FFI). Handles are
 * opaque. Functions that can fail return NULL or a non-zero status and leave a one-line
 * message, `<file or context>: <problem>`, for msdd_last_error() on the calling thread.
 * Buffers are dense row-major and owned by the caller, outputs included (their shapes are in
 * the manifest). See docs/runtime.md.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MSDD_RUNTIME_RUNTIME_H
#define MSDD_RUNTIME_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct msdd_artifact msdd_artifact;

/* Same order as msdd::rt::DType. MSDD_I1 is one byte per element. */
typedef enum msdd_dtype { MSDD_F32 = 0, MSDD_F64 = 1, MSDD_I32 = 2, MSDD_I64 = 3, MSDD_I1 = 4 } msdd_dtype;

typedef struct msdd_tensor {
  const char *name;
  int32_t dtype; /* a msdd_dtype */
  int32_t rank;
  const int64_t *shape; /* rank entries */
  void *data;
} msdd_tensor;

/* "0.1.0". */
const char *msdd_runtime_version(void);

/* The message of the calling thread's last failure; "" if none. Valid until its next call. */
const char *msdd_last_error(void);

/* NULL on failure. */
msdd_artifact *msdd_artifact_open(const char *path);
/* Accepts NULL. */
void msdd_artifact_close(msdd_artifact *artifact);

/* The manifest as compact JSON (names, dtypes and shapes of every function's tensors).
 * Owned by the artifact. */
const char *msdd_artifact_manifest(const msdd_artifact *artifact);
int64_t msdd_artifact_num_functions(const msdd_artifact *artifact);
/* NULL if index is out of range. Owned by the artifact. */
const char *msdd_artifact_function_name(const msdd_artifact *artifact, int64_t index);

/* Runs `function` with inputs and outputs matched by name; every dtype and shape must equal
 * the manifest's. Returns 0 on success, -1 on failure (nothing is written then). Safe to
 * call from several threads at once. */
int32_t msdd_artifact_call(const msdd_artifact *artifact, const char *function,
                           const msdd_tensor *inputs, int64_t num_inputs,
                           const msdd_tensor *outputs, int64_t num_outputs);

#ifdef __cplusplus
}
#endif

#endif /* MSDD_RUNTIME_RUNTIME_H */
