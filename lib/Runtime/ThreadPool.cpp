//===- ThreadPool.cpp -----------------------------------------------------===//
#include "msdd/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace msdd::rt {

namespace {

/// Chunks per thread: enough to even out uneven iterations, few enough to keep overhead low.
constexpr int64_t kChunksPerThread = 4;
/// Polls of the generation counter before a worker sleeps: dispatches usually come in quick
/// succession, and a spinning worker starts without the latency of a futex wake-up.
constexpr int kSpinPolls = 2000;

/// True on pool workers and on a dispatching thread while it runs chunks: parallelFor from
/// such a thread is a nested call and runs inline.
thread_local bool tlsInsideParallelBody = false;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

int threadsFromEnvironment() {
  int fallback = std::max(1u, std::thread::hardware_concurrency());
  const char *text = std::getenv("MSDD_NUM_THREADS");
  if (!text || !*text)
    return fallback;
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > 4096) {
    std::fprintf(stderr, "msdd runtime: warning: ignoring MSDD_NUM_THREADS='%s' (want an integer "
                         "in 1..4096), using %d threads\n", text, fallback);
    return fallback;
  }
  return static_cast<int>(value);
}

} // namespace

struct ThreadPool::Job {
  Body body;
  void *ctx;
  int64_t n;
  int64_t numChunks;
  std::atomic<int64_t> nextChunk{0};
  int workersInside = 0; // guarded by ThreadPool::mutex_
};

ThreadPool::ThreadPool(int numThreads) {
  for (int i = 1; i < numThreads; ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

ThreadPool &ThreadPool::global() {
  // Never destroyed: at exit, static destructors must not join workers that compiled code
  // may still be using.
  static ThreadPool *pool = new ThreadPool(threadsFromEnvironment());
  return *pool;
}

void ThreadPool::runChunks(Job &job) {
  // Chunk c covers [c * base + min(c, extra), ...): sizes differ by at most one.
  int64_t base = job.n / job.numChunks, extra = job.n % job.numChunks;
  auto chunkBegin = [&](int64_t c) { return c * base + std::min(c, extra); };
  while (true) {
    int64_t c = job.nextChunk.fetch_add(1, std::memory_order_relaxed);
    if (c >= job.numChunks)
      return;
    job.body(job.ctx, chunkBegin(c), chunkBegin(c + 1));
  }
}

void ThreadPool::parallelFor(Body body, void *ctx, int64_t n) {
  if (n <= 0)
    return;
  if (n == 1 || workers_.empty() || tlsInsideParallelBody) {
    body(ctx, 0, n);
    return;
  }
  std::unique_lock<std::mutex> dispatching(dispatchMutex_, std::try_to_lock);
  if (!dispatching.owns_lock()) { // another thread owns the workers; do not wait for them
    body(ctx, 0, n);
    return;
  }

  Job job;
  job.body = body;
  job.ctx = ctx;
  job.n = n;
  job.numChunks = std::min<int64_t>(n, kChunksPerThread * numThreads());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();

  tlsInsideParallelBody = true;
  runChunks(job);
  tlsInsideParallelBody = false;

  // Once job_ is cleared no worker can join; wait for those that did to leave.
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = nullptr;
  finished_.wait(lock, [&] { return job.workersInside == 0; });
}

void ThreadPool::workerLoop() {
  tlsInsideParallelBody = true;
  uint64_t seen = 0;
  while (true) {
    for (int i = 0; i < kSpinPolls && generation_.load(std::memory_order_acquire) == seen; ++i)
      cpuRelax();
    Job *job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stopping_ || (job_ && generation_.load(std::memory_order_relaxed) != seen);
      });
      if (stopping_)
        return;
      seen = generation_.load(std::memory_order_relaxed);
      job = job_;
      ++job->workersInside;
    }
    runChunks(*job);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--job->workersInside == 0)
      finished_.notify_all();
  }
}

} // namespace msdd::rt
