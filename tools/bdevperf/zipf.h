// Zipf-distributed draws over [0, n): value k (0-based) comes up with probability
// proportional to 1 / (k + 1)^theta, so a few low offsets are hot and the tail is
// cold (-F theta; theta > 0, 1 included). Rejection-inversion sampling (Hörmann and
// Derflinger, 1996): constant set-up, nothing allocated, a few exp/log per draw and
// on average barely more than one try, whatever n is.
#ifndef BDEVKIT_TOOLS_BDEVPERF_ZIPF_H_
#define BDEVKIT_TOOLS_BDEVPERF_ZIPF_H_

#include <cstdint>

namespace bdevkit::perf {

class ZipfGenerator {
 public:
  ZipfGenerator() = default;
  // n >= 1, theta > 0.
  ZipfGenerator(uint64_t n, double theta);

  // `uniform` returns uniformly distributed 64-bit values (called once or more).
  template <typename Uniform64>
  uint64_t Next(Uniform64&& uniform) const {
    for (;;) {
      const double u01 = static_cast<double>(uniform() >> 11) * 0x1p-53;
      const double u = h_n_ + u01 * (h_x1_ - h_n_);
      const double x = HInverse(u);
      double k = static_cast<double>(static_cast<uint64_t>(x + 0.5));
      if (k < 1) k = 1;
      if (k > n_) k = n_;
      if (k - x <= s_cut_ || u >= H(k + 0.5) - h(k)) return static_cast<uint64_t>(k) - 1;
    }
  }

  uint64_t n() const { return static_cast<uint64_t>(n_); }
  double theta() const { return theta_; }

 private:
  // H is an antiderivative of h(x) = x^-theta, written so that theta = 1 (log x) and
  // theta near 1 stay exact; HInverse is its inverse.
  double H(double x) const;
  double HInverse(double y) const;
  double h(double x) const;

  double n_ = 1;
  double theta_ = 1;
  double h_x1_ = 0;   // H(1.5) - 1
  double h_n_ = 0;    // H(n + 0.5)
  double s_cut_ = 0;  // k - x below this is always accepted
};

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_ZIPF_H_
