//===- Schedule.h - The multi-scale sampler's time windows ------*- C++ -*-===//
//
// The coarse-to-fine schedule of ../shared/DESIGN.md: [1, 0] split into S uniform windows,
// window starts rectified for the upsampling + block-noise transition, a global time tau that
// runs 1 -> 0 with each window's share proportional to its length.
//
//===----------------------------------------------------------------------===//
#ifndef MSDD_MODELS_SCHEDULE_H
#define MSDD_MODELS_SCHEDULE_H

#include <vector>

namespace msdd {

struct MultiscaleSchedule {
  /// Per scale: flow time at the window's start (rectified for s >= 1) and end.
  std::vector<double> windowStart, windowEnd;
  /// Per scale: the global time tau at the window's start and end.
  std::vector<double> tauStart, tauEnd;
  /// Per transition s -> s+1 (S - 1 entries): x <- alpha up(x) + beta n.
  std::vector<double> alpha, beta;
};

/// The schedule for `scales` windows and block-noise parameter `gamma` (1/3 in the paper).
/// Requires scales >= 1 and 0 < gamma.
MultiscaleSchedule computeMultiscaleSchedule(int scales, double gamma);

/// tau at local flow time `t` inside window `scale` (linear in t over the window).
double globalTime(const MultiscaleSchedule &schedule, int scale, double t);

} // namespace msdd

#endif // MSDD_MODELS_SCHEDULE_H
