#include "tools/bdevperf/zipf.h"

#include <cmath>

namespace bdevkit::perf {
namespace {

// (e^t - 1) / t and log(1 + t) / t, both 1 at t = 0, without the cancellation of
// computing them directly near 0.
double ExpM1Over(double t) { return std::fabs(t) > 1e-8 ? std::expm1(t) / t : 1 + t / 2; }
double Log1pOver(double t) { return std::fabs(t) > 1e-8 ? std::log1p(t) / t : 1 - t / 2; }

}  // namespace

ZipfGenerator::ZipfGenerator(uint64_t n, double theta) : n_(static_cast<double>(n)), theta_(theta) {
  h_x1_ = H(1.5) - 1;
  h_n_ = H(n_ + 0.5);
  s_cut_ = 2 - HInverse(H(2.5) - h(2));
}

// H(x) = (x^(1-theta) - 1) / (1 - theta)  (log x when theta = 1).
double ZipfGenerator::H(double x) const {
  const double log_x = std::log(x);
  return ExpM1Over((1 - theta_) * log_x) * log_x;
}

double ZipfGenerator::HInverse(double y) const {
  double t = y * (1 - theta_);
  if (t < -1) t = -1;  // rounding at the far end of the range; keeps log1p defined
  return std::exp(Log1pOver(t) * y);
}

double ZipfGenerator::h(double x) const { return std::exp(-theta_ * std::log(x)); }

}  // namespace bdevkit::perf
