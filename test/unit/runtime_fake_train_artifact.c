/*===- runtime_fake_train_artifact.c - A hand-written train_step ----------===//
 *
 * A stand-in for `msdd-compile --train` output (docs/training.md) so the runtime's Trainer
 * and `msdd-run train` can be tested without the compiler: a linear model y = W x on the
 * per-channel means x (3 values) of each image, trained with SGD + momentum on the mean
 * squared error against the image's mean. The `seed` input nudges W[0][0] by a hash of it,
 * so results depend on the per-step seeds too. MSDD_FAKE_TRAIN_VARIANT selects:
 *   0  W f32[3, 3], momentum.W, step, images f32[4, 3, 8, 8], seed; outputs marked "updates";
 *      an `init(seed)` function
 *   1  the same without `init`, without `seed`, and without "updates" (separate outputs)
 *   2  W f32[3, 4] (an affine model: x gets a constant 1): another model's parameters
 *   3  like 0, but the step zeroes its outputs before reading its inputs, as compiled code
 *      may (docs/training.md: an output must not share its input's buffer)
 *
 *===----------------------------------------------------------------------===*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef MSDD_FAKE_TRAIN_VARIANT
#define MSDD_FAKE_TRAIN_VARIANT 0
#endif

#if MSDD_FAKE_TRAIN_VARIANT == 2
#define COLS 4
#define SHAPE_W "[3, 4]"
#else
#define COLS 3
#define SHAPE_W "[3, 3]"
#endif
#define BATCH 4
#define SIDE 8

#if MSDD_FAKE_TRAIN_VARIANT == 1
#define UPDATES(name)
#define SEED_INPUT
#else
#define UPDATES(name) ", \"updates\": \"" name "\""
#define SEED_INPUT ", {\"name\": \"seed\", \"dtype\": \"i64\", \"shape\": []}"
#endif

#define TRAIN_STEP                                                                               \
  "{\"name\": \"train_step\", \"entry\": \"msdd_entry_train_step\","                            \
  " \"inputs\": [{\"name\": \"W\", \"dtype\": \"f32\", \"shape\": " SHAPE_W "},"                \
  "  {\"name\": \"momentum.W\", \"dtype\": \"f32\", \"shape\": " SHAPE_W "},"                   \
  "  {\"name\": \"step\", \"dtype\": \"f32\", \"shape\": []},"                                  \
  "  {\"name\": \"images\", \"dtype\": \"f32\", \"shape\": [4, 3, 8, 8]}" SEED_INPUT "],"       \
  " \"outputs\": [{\"name\": \"W\", \"dtype\": \"f32\", \"shape\": " SHAPE_W UPDATES("W") "},"  \
  "  {\"name\": \"momentum.W\", \"dtype\": \"f32\", \"shape\": " SHAPE_W                       \
  UPDATES("momentum.W") "},"                                                                     \
  "  {\"name\": \"loss\", \"dtype\": \"f32\", \"shape\": []},"                                  \
  "  {\"name\": \"grad_norm\", \"dtype\": \"f32\", \"shape\": []},"                             \
  "  {\"name\": \"lr\", \"dtype\": \"f32\", \"shape\": []}]}"

#define INIT                                                                                     \
  ", {\"name\": \"init\", \"entry\": \"msdd_entry_init\","                                      \
  " \"inputs\": [{\"name\": \"seed\", \"dtype\": \"i64\", \"shape\": []}],"                     \
  " \"outputs\": [{\"name\": \"W\", \"dtype\": \"f32\", \"shape\": " SHAPE_W "}]}"

const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    TRAIN_STEP
#if MSDD_FAKE_TRAIN_VARIANT != 1
    INIT
#endif
    "]}";

typedef struct { float *allocated, *aligned; int64_t offset; } F32x0;
typedef struct { int64_t *allocated, *aligned; int64_t offset; } I64x0;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[2], strides[2]; } F32x2;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[4], strides[4]; } F32x4;

static uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* A uniform draw in [0, 1) from a seed and a counter. */
static double uniform(int64_t seed, uint64_t counter) {
  return (double)(mix(mix((uint64_t)seed) + counter) >> 11) * 0x1.0p-53;
}

static float *at2(const F32x2 *d, int64_t i, int64_t j) {
  return d->aligned + d->offset + i * d->strides[0] + j * d->strides[1];
}

void msdd_entry_train_step(void **descriptors) {
  const F32x2 *w = descriptors[0], *buf = descriptors[1];
  const F32x0 *step = descriptors[2];
  const F32x4 *images = descriptors[3];
#if MSDD_FAKE_TRAIN_VARIANT == 1
  int64_t seed = 0;
  void **outs = descriptors + 4;
#else
  int64_t seed = ((const I64x0 *)descriptors[4])->aligned[((const I64x0 *)descriptors[4])->offset];
  void **outs = descriptors + 5;
#endif
  const F32x2 *wOut = outs[0], *bufOut = outs[1];
  const F32x0 *loss = outs[2], *gradNorm = outs[3], *lr = outs[4];

#if MSDD_FAKE_TRAIN_VARIANT == 3
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < COLS; ++j)
      *at2(wOut, i, j) = *at2(bufOut, i, j) = 0.0f;
#endif

  /* Per-image channel means x[b] (with a trailing 1 for the affine variant), image means m[b]. */
  double x[BATCH][4], m[BATCH];
  for (int64_t b = 0; b < BATCH; ++b) {
    double total = 0;
    for (int64_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (int64_t y = 0; y < SIDE; ++y)
        for (int64_t xx = 0; xx < SIDE; ++xx)
          sum += images->aligned[images->offset + b * images->strides[0] + c * images->strides[1] +
                                 y * images->strides[2] + xx * images->strides[3]];
      x[b][c] = sum / (SIDE * SIDE);
      total += x[b][c];
    }
    x[b][3] = 1.0;
    m[b] = total / 3;
  }

  /* Loss and gradient (everything read before anything is written). */
  double g[3][4] = {{0}}, l = 0;
  for (int64_t b = 0; b < BATCH; ++b)
    for (int64_t i = 0; i < 3; ++i) {
      double yi = 0;
      for (int64_t j = 0; j < COLS; ++j)
        yi += *at2(w, i, j) * x[b][j];
      double r = yi - m[b];
      l += r * r;
      for (int64_t j = 0; j < COLS; ++j)
        g[i][j] += 2.0 * r * x[b][j] / (3.0 * BATCH);
    }
  double norm = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < COLS; ++j)
      norm += g[i][j] * g[i][j];
  float rate = 0.5f / (1.0f + 0.01f * step->aligned[step->offset]);

  /* SGD with momentum 0.9, elementwise: each element's update is its last access. */
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < COLS; ++j) {
      float v = 0.9f * *at2(buf, i, j) + (float)g[i][j];
      float nudge = (i == 0 && j == 0) ? (float)(1e-3 * (uniform(seed, 0) - 0.5)) : 0.0f;
      float updated = *at2(w, i, j) - rate * v + nudge;
      *at2(bufOut, i, j) = v;
      *at2(wOut, i, j) = updated;
    }
  loss->aligned[loss->offset] = (float)(l / (3.0 * BATCH));
  gradNorm->aligned[gradNorm->offset] = (float)sqrt(norm);
  lr->aligned[lr->offset] = rate;
}

#if MSDD_FAKE_TRAIN_VARIANT != 1
/* W = 0.5 I + small seeded noise. */
void msdd_entry_init(void **descriptors) {
  int64_t seed = ((const I64x0 *)descriptors[0])->aligned[((const I64x0 *)descriptors[0])->offset];
  const F32x2 *w = descriptors[1];
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < COLS; ++j)
      *at2(w, i, j) = (i == j ? 0.5f : 0.0f) + (float)(0.1 * (uniform(seed, 1 + i * 4 + j) - 0.5));
}
#endif
