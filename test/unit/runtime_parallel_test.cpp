//===- runtime_parallel_test.cpp - msdd_rt_parallel_for and ThreadPool ----===//
#include "msdd/Runtime/Kernels.h"
#include "msdd/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using msdd::rt::ThreadPool;

namespace {

/// Counts how often each index of [0, n) was visited, and checks chunk sanity.
struct Coverage {
  explicit Coverage(int64_t n) : n(n), hits(new std::atomic<int>[n > 0 ? n : 1]) {
    for (int64_t i = 0; i < n; ++i)
      hits[i] = 0;
  }
  int64_t n;
  std::unique_ptr<std::atomic<int>[]> hits;
  std::atomic<int> badChunks{0};

  static void body(void *ctx, int64_t begin, int64_t end) {
    auto *self = static_cast<Coverage *>(ctx);
    if (begin < 0 || end > self->n || begin >= end)
      ++self->badChunks;
    for (int64_t i = begin; i < end && i < self->n; ++i)
      ++self->hits[i];
  }

  void expectEachOnce(const std::string &what) const {
    EXPECT_EQ(badChunks, 0) << what;
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(hits[i], 1) << what << ": index " << i;
  }
};

const int64_t kSizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 33, 100, 1000, 4097};

} // namespace

TEST(RuntimeParallel, CoversEveryIndexOnceForManyPoolSizes) {
  for (int threads : {1, 2, 3, 4, 8, 17}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.numThreads(), threads);
    for (int64_t n : kSizes)
      for (int repeat = 0; repeat < 3; ++repeat) {
        Coverage coverage(n);
        pool.parallelFor(&Coverage::body, &coverage, n);
        coverage.expectEachOnce("threads " + std::to_string(threads) + ", n " + std::to_string(n));
      }
  }
}

TEST(RuntimeParallel, GlobalEntryPointCoversEveryIndexOnce) {
  for (int64_t n : kSizes) {
    Coverage coverage(n);
    msdd_rt_parallel_for(&Coverage::body, &coverage, n);
    coverage.expectEachOnce("n " + std::to_string(n));
  }
  msdd_rt_parallel_for(&Coverage::body, nullptr, -5); // n <= 0: the body must not run
}

TEST(RuntimeParallel, SplitsIntoContiguousChunksOfAtLeastOne) {
  struct Chunks {
    std::atomic<int> count{0};
    std::atomic<int64_t> minSize{INT64_MAX};
    static void body(void *ctx, int64_t begin, int64_t end) {
      auto *self = static_cast<Chunks *>(ctx);
      ++self->count;
      int64_t size = end - begin, seen = self->minSize;
      while (size < seen && !self->minSize.compare_exchange_weak(seen, size)) {
      }
    }
  };
  ThreadPool pool(4);
  Chunks small;
  pool.parallelFor(&Chunks::body, &small, 3);
  EXPECT_EQ(small.count, 3); // never more chunks than iterations
  EXPECT_EQ(small.minSize, 1);
  Chunks large;
  pool.parallelFor(&Chunks::body, &large, 1000);
  EXPECT_EQ(large.count, 16); // about four per thread
  EXPECT_GE(large.minSize, 1000 / 16);
}

TEST(RuntimeParallel, NestedCallsRunInlineAndCoverEverything) {
  constexpr int64_t kOuter = 13, kInner = 37;
  struct Nested {
    ThreadPool *pool;
    std::unique_ptr<Coverage> inner[kOuter];
    std::atomic<int> otherThread{0};
    static void outer(void *ctx, int64_t begin, int64_t end) {
      auto *self = static_cast<Nested *>(ctx);
      for (int64_t i = begin; i < end; ++i) {
        struct InnerCtx {
          Coverage *coverage;
          std::thread::id caller;
          std::atomic<int> *otherThread;
        } innerCtx{self->inner[i].get(), std::this_thread::get_id(), &self->otherThread};
        auto body = [](void *c, int64_t b, int64_t e) {
          auto *ic = static_cast<InnerCtx *>(c);
          if (std::this_thread::get_id() != ic->caller)
            ++*ic->otherThread;
          Coverage::body(ic->coverage, b, e);
        };
        // Both the pool itself and the global entry point must run nested calls inline.
        if (i % 2)
          self->pool->parallelFor(body, &innerCtx, kInner);
        else
          msdd_rt_parallel_for(body, &innerCtx, kInner);
      }
    }
  };
  for (int threads : {2, 4}) {
    ThreadPool pool(threads);
    Nested nested;
    nested.pool = &pool;
    for (auto &coverage : nested.inner)
      coverage = std::make_unique<Coverage>(kInner);
    pool.parallelFor(&Nested::outer, &nested, kOuter);
    for (auto &coverage : nested.inner)
      coverage->expectEachOnce("nested");
    EXPECT_EQ(nested.otherThread, 0);
  }
}

TEST(RuntimeParallel, ConcurrentDispatchersShareOnePool) {
  ThreadPool pool(4);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int repeat = 0; repeat < 200; ++repeat) {
        Coverage coverage(257);
        pool.parallelFor(&Coverage::body, &coverage, 257);
        for (int64_t i = 0; i < 257; ++i)
          if (coverage.hits[i] != 1)
            ++failures;
      }
    });
  for (std::thread &caller : callers)
    caller.join();
  EXPECT_EQ(failures, 0);
}

TEST(RuntimeParallel, ManySmallDispatchesAreCheap) {
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  auto body = [](void *ctx, int64_t begin, int64_t end) {
    *static_cast<std::atomic<int64_t> *>(ctx) += end - begin;
  };
  constexpr int kDispatches = 20000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kDispatches; ++i)
    pool.parallelFor(body, &total, 64);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(total, int64_t(kDispatches) * 64);
  // Creating threads per call would take far longer; the bound is loose for busy machines.
  EXPECT_LT(seconds, 20.0);
  std::printf("[          ] %.1f us per dispatch (4 threads)\n", seconds / kDispatches * 1e6);
}
