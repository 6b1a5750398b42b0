//===- Random.h - Counter-based random numbers ------------------*- C++ -*-===//
//
// Training randomness (shuffling, crops, flips, per-step seeds) is a pure function of
// (run seed, counters such as epoch, position and step): no generator state to save, so a
// resumed run draws exactly what an uninterrupted one would, whatever was prefetched.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_RUNTIME_RANDOM_H
#define MSDD_RUNTIME_RANDOM_H

#include <cstdint>
#include <initializer_list>

namespace msdd::rt {

/// The SplitMix64 finaliser: a bijection on 64-bit words with good avalanche.
constexpr uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A 64-bit hash of a sequence of words (a key and counters).
constexpr uint64_t counterHash(std::initializer_list<uint64_t> words) {
  uint64_t h = 0x243F6A8885A308D3ull;
  for (uint64_t w : words)
    h = mix64((h ^ w) + 0x9E3779B97F4A7C15ull);
  return h;
}

/// Maps a uniform 64-bit word to [0, n) (multiply-high; bias below 2^-40 for n < 2^24).
inline uint64_t uniformBelow(uint64_t word, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(word) * n) >> 64);
}

/// Streams that keep the uses of one run seed apart.
enum class RandomStream : uint64_t { Shuffle = 1, Augment = 2, StepSeed = 3, EvalSeed = 4 };

} // namespace msdd::rt

#endif // MSDD_RUNTIME_RANDOM_H
