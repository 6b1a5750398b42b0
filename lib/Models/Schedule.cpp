//===- Schedule.cpp - The multi-scale sampler's time windows ---------------===//
#include "msdd/Models/Schedule.h"

#include <cassert>
#include <cmath>

using namespace msdd;

MultiscaleSchedule msdd::computeMultiscaleSchedule(int scales, double gamma) {
  assert(scales >= 1 && gamma > 0 && "a schedule needs a scale and a positive gamma");
  MultiscaleSchedule s;
  for (int k = 0; k < scales; ++k) {
    double start = 1.0 - double(k) / scales, end = 1.0 - double(k + 1) / scales;
    if (k > 0) {
      // Upsampling keeps the signal and averages noise over 2x2 blocks; alpha and beta put
      // alpha up(x) + beta n back on the flow path at the rectified start 1 - alpha o.
      double o = 1.0 - start;
      double alpha = 1.0 / (std::sqrt(1.0 + 1.0 / gamma) * (1.0 - o) + o);
      double beta = alpha * (1.0 - o) / std::sqrt(gamma);
      s.alpha.push_back(alpha);
      s.beta.push_back(beta);
      start = 1.0 - alpha * o;
    }
    s.windowStart.push_back(start);
    s.windowEnd.push_back(end);
  }
  double total = 0;
  for (int k = 0; k < scales; ++k)
    total += s.windowStart[k] - s.windowEnd[k];
  double tau = 1.0;
  for (int k = 0; k < scales; ++k) {
    s.tauStart.push_back(tau);
    tau -= (s.windowStart[k] - s.windowEnd[k]) / total;
    s.tauEnd.push_back(k + 1 == scales ? 0.0 : tau);
  }
  return s;
}

double msdd::globalTime(const MultiscaleSchedule &s, int scale, double t) {
  double u = (t - s.windowEnd[scale]) / (s.windowStart[scale] - s.windowEnd[scale]);
  return s.tauEnd[scale] + u * (s.tauStart[scale] - s.tauEnd[scale]);
}
