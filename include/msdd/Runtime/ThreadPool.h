//===- ThreadPool.h - The pool behind msdd_rt_parallel_for ------*- C++ -*-===//
//
// Compiled code dispatches many small parallel loops per second, so workers are persistent
// and a dispatch costs one wake-up, not a thread creation. The calling thread works too: a
// pool of N threads has N - 1 workers.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_THREADPOOL_H
#define MSDD_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace msdd::rt {

class ThreadPool {
public:
  using Body = void (*)(void *ctx, int64_t begin, int64_t end);

  /// `numThreads` counts the calling thread; values below 1 mean 1.
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// The process-wide pool: MSDD_NUM_THREADS threads, default hardware_concurrency().
  static ThreadPool &global();

  int numThreads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs body over contiguous chunks covering [0, n) (about 4 per thread, at least one
  /// iteration each) and returns when all are done. Runs inline when n == 1, when the pool
  /// has one thread, when called from inside a body (nested), or when another thread is
  /// already dispatching on this pool.
  void parallelFor(Body body, void *ctx, int64_t n);

private:
  struct Job;
  void workerLoop();
  static void runChunks(Job &job);

  std::vector<std::thread> workers_;
  std::mutex dispatchMutex_; // one dispatching thread at a time
  std::mutex mutex_;         // guards the fields below
  std::condition_variable wake_;
  std::condition_variable finished_;
  Job *job_ = nullptr;
  std::atomic<uint64_t> generation_{0}; // bumped per dispatch; spinning workers poll it
  bool stopping_ = false;
};

} // namespace msdd::rt

#endif // MSDD_RUNTIME_THREADPOOL_H
