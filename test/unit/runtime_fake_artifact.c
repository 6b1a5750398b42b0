/*===- runtime_fake_artifact.c - Hand-written stand-ins for .msdd files ---===//
 *
 * Built as shared objects with the .msdd suffix so the runtime tests can exercise loading,
 * validation and the calling convention (docs/artifact-abi.md) without the compiler. Like a
 * real artifact it leaves the runtime's kernels undefined. MSDD_FAKE_VARIANT selects a
 * defect: 0 none, 1 malformed manifest JSON, 2 no manifest symbol, 3 an older manifest version,
 * 4 a manifest entry without its symbol, 5 a manifest with a wrong-typed field.
 *
 *===----------------------------------------------------------------------===*/
#include "msdd/Runtime/Kernels.h"

#include <stdint.h>

#ifndef MSDD_FAKE_VARIANT
#define MSDD_FAKE_VARIANT 0
#endif

typedef struct { float *allocated, *aligned; int64_t offset, sizes[2], strides[2]; } F32x2;
typedef struct { void *allocated, *aligned; int64_t offset, sizes[1], strides[1]; } Any1;
typedef struct { void *allocated, *aligned; int64_t offset; } Any0;

#define FUNCTIONS                                                                                \
  "{\"name\": \"add\", \"entry\": \"msdd_entry_add\","                                          \
  " \"inputs\": [{\"name\": \"a\", \"dtype\": \"f32\", \"shape\": [2, 3]},"                     \
  "              {\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [2, 3]}],"                    \
  " \"outputs\": [{\"name\": \"sum\", \"dtype\": \"f32\", \"shape\": [2, 3]}]},"                \
  "{\"name\": \"stats\", \"entry\": \"msdd_entry_stats\","                                      \
  " \"inputs\": [{\"name\": \"x\", \"dtype\": \"i64\", \"shape\": [4]},"                        \
  "              {\"name\": \"mask\", \"dtype\": \"i1\", \"shape\": [4]},"                      \
  "              {\"name\": \"scale\", \"dtype\": \"f64\", \"shape\": []}],"                    \
  " \"outputs\": [{\"name\": \"masked_sum\", \"dtype\": \"f64\", \"shape\": []},"               \
  "               {\"name\": \"count\", \"dtype\": \"i32\", \"shape\": [1]}]},"                 \
  "{\"name\": \"project\", \"entry\": \"msdd_entry_project\","                                  \
  " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [2, 3]},"                     \
  "              {\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [4, 3]}],"                    \
  " \"outputs\": [{\"name\": \"y\", \"dtype\": \"f32\", \"shape\": [2, 4]}]}"

#if MSDD_FAKE_VARIANT == 0
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    FUNCTIONS "]}";
#elif MSDD_FAKE_VARIANT == 1
const char msdd_manifest[] = "{\"format\": \"msdd-artifact\", \"version\": 2,, }";
#elif MSDD_FAKE_VARIANT == 3
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 1, \"target\": \"cpu\", \"functions\": []}";
#elif MSDD_FAKE_VARIANT == 4
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    "{\"name\": \"ghost\", \"entry\": \"msdd_entry_ghost\", \"inputs\": [], \"outputs\": []}]}";
#elif MSDD_FAKE_VARIANT == 5
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    "{\"name\": \"f\", \"entry\": \"msdd_entry_add\", \"inputs\": [{\"name\": \"a\","
    " \"dtype\": \"f16\", \"shape\": [2]}], \"outputs\": []}]}";
#endif

struct AddContext {
  const F32x2 *a, *b, *sum;
};

static void addRows(void *ctx, int64_t begin, int64_t end) {
  const struct AddContext *c = (const struct AddContext *)ctx;
  for (int64_t i = begin; i < end; ++i)
    for (int64_t j = 0; j < c->sum->sizes[1]; ++j) {
      const float *a = c->a->aligned + c->a->offset + i * c->a->strides[0] + j * c->a->strides[1];
      const float *b = c->b->aligned + c->b->offset + i * c->b->strides[0] + j * c->b->strides[1];
      c->sum->aligned[c->sum->offset + i * c->sum->strides[0] + j * c->sum->strides[1]] = *a + *b;
    }
}

/* sum = a + b, rows in parallel through the runtime's pool. */
void msdd_entry_add(void **descriptors) {
  struct AddContext c = {descriptors[0], descriptors[1], descriptors[2]};
  msdd_rt_parallel_for(addRows, &c, c.sum->sizes[0]);
}

/* masked_sum = scale * sum(x[i] where mask[i]); count = number of set mask entries. */
void msdd_entry_stats(void **descriptors) {
  const Any1 *x = descriptors[0], *mask = descriptors[1];
  const Any0 *scale = descriptors[2], *maskedSum = descriptors[3];
  const Any1 *count = descriptors[4];
  double total = 0;
  int32_t n = 0;
  for (int64_t i = 0; i < x->sizes[0]; ++i) {
    if (((const uint8_t *)mask->aligned)[mask->offset + i * mask->strides[0]]) {
      total += (double)((const int64_t *)x->aligned)[x->offset + i * x->strides[0]];
      ++n;
    }
  }
  ((double *)maskedSum->aligned)[maskedSum->offset] =
      total * ((const double *)scale->aligned)[scale->offset];
  ((int32_t *)count->aligned)[count->offset] = n;
}

/* y = x w^T through the runtime's BLAS kernel (overwriting y). */
void msdd_entry_project(void **descriptors) {
  _mlir_ciface_msdd_rt_matmul_f32(descriptors[0], descriptors[1], descriptors[2], 1, 0);
}
