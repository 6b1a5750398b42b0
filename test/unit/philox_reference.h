//===- philox_reference.h - msdd.random_normal's numbers in plain C++ ------===//
#ifndef MSDD_TEST_UNIT_PHILOX_REFERENCE_H
#define MSDD_TEST_UNIT_PHILOX_REFERENCE_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace msdd::test {

/// Element `i` of msdd.random_normal(seed, step) {stream}: Philox 4x32-10 and Box-Muller as
/// the op's description specifies, in double precision.
inline double philoxNormal(uint64_t seed, uint32_t step, uint32_t stream, uint64_t i) {
  uint64_t pair = i >> 1;
  uint32_t c[4] = {uint32_t(pair), uint32_t(pair >> 32), step, stream};
  uint32_t k[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    uint32_t n[4] = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k[1],
                     uint32_t(p0)};
    std::copy(n, n + 4, c);
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  double u1 = ((c[0] >> 8) + 1.0) / 16777216.0, u2 = (c[1] >> 8) / 16777216.0;
  double r = std::sqrt(-2.0 * std::log(u1));
  return r * ((i & 1) ? std::sin(2 * M_PI * u2) : std::cos(2 * M_PI * u2));
}

} // namespace msdd::test

#endif // MSDD_TEST_UNIT_PHILOX_REFERENCE_H
