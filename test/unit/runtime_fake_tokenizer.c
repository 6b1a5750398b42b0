/*===- runtime_fake_tokenizer.c - Stand-ins for tokenizer artifacts -------===//
 *
 * Hand-written .msdd files for the msdd-run eval / reconstruct tests, with results the tests
 * know in advance. MSDD_FAKE_TOKENIZER_VARIANT selects:
 *   0  a tokenizer on f32[2, 3, 16, 16] images:
 *        reconstruct(images, seed, scale) -> images * scale          (no "nfe")
 *        encode(images, scale) -> latent = images * scale
 *        decode(latent, seed, bias) -> images = latent + bias         ("nfe": 3)
 *   1  the same with a malformed "nfe" (-2) on decode
 *   2  a feature network: features(x f32[4, 3, 16, 16]) -> f32[4, 6, 1, 1], per channel the
 *      mean and the mean of squares of the image (so the features of a uniformly scaled image
 *      are known)
 *
 *===----------------------------------------------------------------------===*/
#include <stdint.h>

#ifndef MSDD_FAKE_TOKENIZER_VARIANT
#define MSDD_FAKE_TOKENIZER_VARIANT 0
#endif

typedef struct { float *allocated, *aligned; int64_t offset, sizes[4], strides[4]; } F32x4;
typedef struct { float *allocated, *aligned; int64_t offset; } F32x0;

#define IMAGES(name) "{\"name\": \"" name "\", \"dtype\": \"f32\", \"shape\": [2, 3, 16, 16]}"
#define SCALAR(name, type) "{\"name\": \"" name "\", \"dtype\": \"" type "\", \"shape\": []}"

#if MSDD_FAKE_TOKENIZER_VARIANT == 1
#define DECODE_NFE "-2"
#else
#define DECODE_NFE "3"
#endif

#if MSDD_FAKE_TOKENIZER_VARIANT == 2
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    "{\"name\": \"features\", \"entry\": \"msdd_entry_features\","
    " \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [4, 3, 16, 16]}],"
    " \"outputs\": [{\"name\": \"y\", \"dtype\": \"f32\", \"shape\": [4, 6, 1, 1]}]}]}";
#else
const char msdd_manifest[] =
    "{\"format\": \"msdd-artifact\", \"version\": 2, \"target\": \"cpu\", \"functions\": ["
    "{\"name\": \"reconstruct\", \"entry\": \"msdd_entry_reconstruct\","
    " \"inputs\": [" IMAGES("images") ", " SCALAR("seed", "i64") ", " SCALAR("scale", "f32") "],"
    " \"outputs\": [" IMAGES("images") "]},"
    "{\"name\": \"encode\", \"entry\": \"msdd_entry_encode\","
    " \"inputs\": [" IMAGES("images") ", " SCALAR("scale", "f32") "],"
    " \"outputs\": [" IMAGES("latent") "]},"
    "{\"name\": \"decode\", \"entry\": \"msdd_entry_decode\", \"nfe\": " DECODE_NFE ","
    " \"inputs\": [" IMAGES("latent") ", " SCALAR("seed", "i64") ", " SCALAR("bias", "f32") "],"
    " \"outputs\": [" IMAGES("images") "]}]}";
#endif

static int64_t count4(const F32x4 *t) {
  return t->sizes[0] * t->sizes[1] * t->sizes[2] * t->sizes[3];
}

/* out = in * a + b over dense buffers. */
static void affine(const F32x4 *in, float a, float b, const F32x4 *out) {
  const float *src = in->aligned + in->offset;
  float *dst = out->aligned + out->offset;
  for (int64_t i = 0; i < count4(out); ++i)
    dst[i] = src[i] * a + b;
}

static float scalar(void *descriptor) {
  const F32x0 *s = descriptor;
  return s->aligned[s->offset];
}

void msdd_entry_reconstruct(void **d) { affine(d[0], scalar(d[2]), 0.0f, d[3]); }
void msdd_entry_encode(void **d) { affine(d[0], scalar(d[1]), 0.0f, d[2]); }
void msdd_entry_decode(void **d) { affine(d[0], 1.0f, scalar(d[2]), d[3]); }

void msdd_entry_features(void **d) {
  const F32x4 *x = d[0], *y = d[1];
  const int64_t plane = x->sizes[2] * x->sizes[3];
  for (int64_t b = 0; b < x->sizes[0]; ++b)
    for (int64_t c = 0; c < 3; ++c) {
      const float *p = x->aligned + x->offset + (b * 3 + c) * plane;
      double sum = 0, squares = 0;
      for (int64_t i = 0; i < plane; ++i) {
        sum += p[i];
        squares += (double)p[i] * p[i];
      }
      float *out = y->aligned + y->offset + b * 6;
      out[c] = (float)(sum / plane);
      out[3 + c] = (float)(squares / plane);
    }
}
