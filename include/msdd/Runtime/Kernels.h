/*===- Kernels.h - Functions that compiled artifacts call -------*- C -*-===//
 *
 * libmsdd_runtime.so exports these with C linkage; artifacts leave them undefined and the
 * dynamic loader binds them when the artifact is opened (docs/artifact-abi.md). The matrix
 * products follow MLIR's C interface: `_mlir_ciface_<name>` takes pointers to strided memref
 * descriptors.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MSDD_RUNTIME_KERNELS_H
#define MSDD_RUNTIME_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MLIR's descriptor of a rank-2 / rank-3 f32 memref. Element (i, j) lives at
 * aligned[offset + i * strides[0] + j * strides[1]]. */
typedef struct msdd_memref2d_f32 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} msdd_memref2d_f32;

typedef struct msdd_memref3d_f32 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} msdd_memref3d_f32;

typedef struct msdd_memref2d_f64 {
  double *allocated;
  double *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} msdd_memref2d_f64;

typedef struct msdd_memref3d_f64 {
  double *allocated;
  double *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} msdd_memref3d_f64;

/* Splits [0, n) into contiguous chunks and runs body(ctx, begin, end) on each, over the
 * runtime's thread pool (MSDD_NUM_THREADS threads, default: all cores); returns when all are
 * done. n <= 0 returns at once; n == 1 and calls from inside a body run inline. */
void msdd_rt_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx,
                          int64_t n);

/* C[M,N] += A[M,K] * op(B), op(B) = B[K,N], or B[N,K]^T if transposeB != 0; with
 * accumulate == 0, C = A * op(B) (C is not read: the zero fill before a product is dropped).
 * Operands may be arbitrary strided views. */
void _mlir_ciface_msdd_rt_matmul_f32(msdd_memref2d_f32 *A, msdd_memref2d_f32 *B,
                                     msdd_memref2d_f32 *C, int64_t transposeB,
                                     int64_t accumulate);

/* The same per batch: C[b] (+)= A[b] * op(B[b]). */
void _mlir_ciface_msdd_rt_batch_matmul_f32(msdd_memref3d_f32 *A, msdd_memref3d_f32 *B,
                                           msdd_memref3d_f32 *C, int64_t transposeB,
                                           int64_t accumulate);

/* The f64 forms (gradient checks and references run in double precision). */
void _mlir_ciface_msdd_rt_matmul_f64(msdd_memref2d_f64 *A, msdd_memref2d_f64 *B,
                                     msdd_memref2d_f64 *C, int64_t transposeB,
                                     int64_t accumulate);
void _mlir_ciface_msdd_rt_batch_matmul_f64(msdd_memref3d_f64 *A, msdd_memref3d_f64 *B,
                                           msdd_memref3d_f64 *C, int64_t transposeB,
                                           int64_t accumulate);

/* bf16 operands (CUDA artifacts compiled with --math-mode bf16): 16-bit words. */
typedef struct msdd_memref2d_bf16 {
  uint16_t *allocated;
  uint16_t *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} msdd_memref2d_bf16;

typedef struct msdd_memref3d_bf16 {
  uint16_t *allocated;
  uint16_t *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} msdd_memref3d_bf16;

/* CPU artifacts compiled with --math-mode bf16: bf16 factors (any strided views) and an f32
 * accumulator. The factors are widened exactly to f32 and multiplied by the f32 kernels, so
 * the results are those of bf16 tensor cores with f32 accumulation, up to summation order:
 * the CUDA bf16 mode's numerics, checkable on machines without a GPU. */
void _mlir_ciface_msdd_rt_matmul_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                      msdd_memref2d_f32 *C, int64_t transposeB,
                                      int64_t accumulate);
void _mlir_ciface_msdd_rt_batch_matmul_bf16(msdd_memref3d_bf16 *A, msdd_memref3d_bf16 *B,
                                            msdd_memref3d_f32 *C, int64_t transposeB,
                                            int64_t accumulate);
/* C = round_bf16(A * op(B)): the product accumulated in f32 and rounded once, to nearest
 * even, into a bf16 C (msdd-round-contraction-results). accumulate must be 0. */
void _mlir_ciface_msdd_rt_matmul_bf16_to_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                              msdd_memref2d_bf16 *C, int64_t transposeB,
                                              int64_t accumulate);

/* CUDA artifacts: the same products on device buffers through cuBLAS (Cuda.cpp), on the
 * calling thread's stream. accumulate: 1 for C += A op(B), 0 for C = A op(B) (C is not
 * read). mathMode: 0 f32, 1 TF32 tensor cores (f32 accumulation); f64 ignores it. The _bf16
 * forms take bf16 factors and an f32 accumulator (bf16 tensor cores). */
void _mlir_ciface_msdd_rt_cuda_matmul_f32(msdd_memref2d_f32 *A, msdd_memref2d_f32 *B,
                                          msdd_memref2d_f32 *C, int64_t transposeB,
                                          int64_t accumulate,
                                          int64_t mathMode);
void _mlir_ciface_msdd_rt_cuda_batch_matmul_f32(msdd_memref3d_f32 *A, msdd_memref3d_f32 *B,
                                                msdd_memref3d_f32 *C, int64_t transposeB,
                                                int64_t accumulate,
                                                int64_t mathMode);
void _mlir_ciface_msdd_rt_cuda_matmul_f64(msdd_memref2d_f64 *A, msdd_memref2d_f64 *B,
                                          msdd_memref2d_f64 *C, int64_t transposeB,
                                          int64_t accumulate,
                                          int64_t mathMode);
void _mlir_ciface_msdd_rt_cuda_batch_matmul_f64(msdd_memref3d_f64 *A, msdd_memref3d_f64 *B,
                                                msdd_memref3d_f64 *C, int64_t transposeB,
                                                int64_t accumulate,
                                                int64_t mathMode);

void _mlir_ciface_msdd_rt_cuda_matmul_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                           msdd_memref2d_f32 *C, int64_t transposeB,
                                           int64_t accumulate);
void _mlir_ciface_msdd_rt_cuda_batch_matmul_bf16(msdd_memref3d_bf16 *A, msdd_memref3d_bf16 *B,
                                                 msdd_memref3d_f32 *C, int64_t transposeB,
                                                 int64_t accumulate);
/* The CPU form's contract on cuBLAS: bf16 D, f32 compute, beta = 0. */
void _mlir_ciface_msdd_rt_cuda_matmul_bf16_to_bf16(msdd_memref2d_bf16 *A, msdd_memref2d_bf16 *B,
                                                   msdd_memref2d_bf16 *C, int64_t transposeB,
                                                   int64_t accumulate);

/* Memory for compiled code's temporaries (MLIR's generic allocation functions): freed
 * blocks are cached per size and reused by later calls. Blocks are 64-byte aligned. */
void *_mlir_memref_to_llvm_alloc(size_t size);
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size);
void _mlir_memref_to_llvm_free(void *pointer);

/* MLIR's unranked memref: a rank and a pointer to a ranked descriptor. */
typedef struct msdd_unranked_memref {
  int64_t rank;
  void *descriptor;
} msdd_unranked_memref;

/* Strided copy between two memrefs of the same shape; what `memref.copy` of non-contiguous
 * views lowers to (the symbol name is MLIR's). */
void memrefCopy(int64_t elementSize, msdd_unranked_memref *source,
                msdd_unranked_memref *destination);

#ifdef __cplusplus
}
#endif

#endif /* MSDD_RUNTIME_KERNELS_H */
