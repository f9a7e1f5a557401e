#include "tools/bdevperf/compare_svg.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bdevkit::perf {
namespace {

constexpr double kWidth = 960, kHeight = 440;
// The CDF panel and the bars panel, in SVG user units.
constexpr double kCdfLeft = 70, kCdfRight = 560, kTop = 60, kBottom = 380;
constexpr double kBarsLeft = 660, kBarsRight = 940;
constexpr std::array<const char*, 8> kColors = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string Text(double x, double y, const std::string& text, const char* anchor = "start",
                 int size = 12, const char* extra = "") {
  return absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"%d\" "
      "text-anchor=\"%s\"%s>%s</text>\n",
      x, y, size, anchor, extra, XmlEscape(text));
}

std::string Line(double x1, double y1, double x2, double y2, const char* color, double width,
                 const char* dash = "") {
  return absl::StrFormat(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
      "stroke-width=\"%.1f\"%s/>\n",
      x1, y1, x2, y2, color, width, dash);
}

// "1.2M", "850k", "12": short IOPS labels.
std::string ShortCount(double v) {
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e3) return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

// "12.3us", "4.56ms", "1.20s": a latency label.
std::string LatencyLabel(double us) {
  if (us >= 1e6) return absl::StrFormat("%.2fs", us / 1e6);
  if (us >= 1e3) return absl::StrFormat("%.2fms", us / 1e3);
  return absl::StrFormat("%.1fus", us);
}

std::string DecadeLabel(int decade) {
  const double us = std::pow(10.0, decade);
  if (us >= 1e6) return absl::StrFormat("%gs", us / 1e6);
  if (us >= 1e3) return absl::StrFormat("%gms", us / 1e3);
  return absl::StrFormat("%gus", us);
}

void DrawCdf(const std::vector<const CompareRow*>& rows, std::string& out) {
  // The x axis spans whole decades around every bucket of every bdev.
  double lo = 1e300, hi = 0;
  for (const CompareRow* r : rows) {
    r->histogram.ForEachBucket([&](uint64_t low, uint64_t high, uint64_t) {
      lo = std::min(lo, std::max(TicksToUs(low, r->ticks_per_second), 1e-3));
      hi = std::max(
          hi, (static_cast<double>(high) + 1) * 1e6 / static_cast<double>(r->ticks_per_second));
    });
  }
  if (hi <= 0) {
    lo = 1;
    hi = 10;
  }
  const int d_lo = static_cast<int>(std::floor(std::log10(lo)));
  int d_hi = static_cast<int>(std::ceil(std::log10(hi)));
  if (d_hi <= d_lo) d_hi = d_lo + 1;
  auto x_of = [&](double us) {
    const double f = (std::log10(std::max(us, 1e-3)) - d_lo) / (d_hi - d_lo);
    return kCdfLeft + std::clamp(f, 0.0, 1.0) * (kCdfRight - kCdfLeft);
  };
  auto y_of = [&](double fraction) { return kBottom - fraction * (kBottom - kTop); };

  out += Text((kCdfLeft + kCdfRight) / 2, kTop - 12, "Latency CDF (log scale)", "middle", 14);
  for (int d = d_lo; d <= d_hi; ++d) {
    const double x = x_of(std::pow(10.0, d));
    out += Line(x, kTop, x, kBottom, "#dddddd", 1);
    out += Text(x, kBottom + 18, DecadeLabel(d), "middle", 11);
  }
  for (int pct = 0; pct <= 100; pct += 25) {
    const double y = y_of(pct / 100.0);
    out += Line(kCdfLeft, y, kCdfRight, y, "#dddddd", 1);
    out += Text(kCdfLeft - 6, y + 4, absl::StrCat(pct, "%"), "end", 11);
  }
  // p99 and p99.9 guides: where the tails are read off.
  for (double f : {0.99, 0.999}) {
    out += Line(kCdfLeft, y_of(f), kCdfRight, y_of(f), "#999999", 1, " stroke-dasharray=\"4 3\"");
  }
  out += Line(kCdfLeft, kBottom, kCdfRight, kBottom, "#000000", 1);
  out += Line(kCdfLeft, kTop, kCdfLeft, kBottom, "#000000", 1);
  out += Text((kCdfLeft + kCdfRight) / 2, kBottom + 38, "latency", "middle", 12);

  for (size_t i = 0; i < rows.size(); ++i) {
    const CompareRow& r = *rows[i];
    const double total = static_cast<double>(r.histogram.count());
    if (total == 0) continue;
    std::string points;
    uint64_t so_far = 0;
    bool first = true;
    r.histogram.ForEachBucket([&](uint64_t low, uint64_t high, uint64_t count) {
      if (first) {
        absl::StrAppendFormat(&points, "%.1f,%.1f ", x_of(TicksToUs(low, r.ticks_per_second)),
                              y_of(0));
        first = false;
      }
      so_far += count;
      const double end_us =
          (static_cast<double>(high) + 1) * 1e6 / static_cast<double>(r.ticks_per_second);
      absl::StrAppendFormat(&points, "%.1f,%.1f ", x_of(end_us),
                            y_of(static_cast<double>(so_far) / total));
    });
    out += absl::StrFormat(
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n",
        kColors[i % kColors.size()], points);
    // Legend, top left inside the panel.
    const double ly = kTop + 16 + 18 * static_cast<double>(i);
    out += Line(kCdfLeft + 10, ly - 4, kCdfLeft + 34, ly - 4, kColors[i % kColors.size()], 3);
    out += Text(kCdfLeft + 40, ly, absl::StrCat(r.bdev, "  p99 ", LatencyLabel(r.p99_us)));
  }
}

void DrawBars(const std::vector<const CompareRow*>& rows, std::string& out) {
  double max_iops = 0, min_iops = 1e300;
  for (const CompareRow* r : rows) {
    max_iops = std::max(max_iops, r->iops);
    min_iops = std::min(min_iops, std::max(r->iops, 1.0));
  }
  if (max_iops <= 0) max_iops = 1;
  // Backends differ by orders of magnitude (null vs a disk): beyond a factor of 20 a
  // linear scale would leave the slow ones as invisible slivers, so go logarithmic.
  const bool log_scale = max_iops / min_iops > 20;
  const double top = kTop + 20, height = kBottom - top;
  int d_lo = 0, d_hi = 1;
  if (log_scale) {
    d_lo = static_cast<int>(std::floor(std::log10(min_iops)));
    d_hi = static_cast<int>(std::ceil(std::log10(max_iops)));
    if (d_hi <= d_lo) d_hi = d_lo + 1;
  }
  auto bar_height = [&](double iops) {
    if (!log_scale) return iops / max_iops * height;
    const double f = (std::log10(std::max(iops, 1.0)) - d_lo) / (d_hi - d_lo);
    return std::clamp(f, 0.0, 1.0) * height;
  };
  out += Text((kBarsLeft + kBarsRight) / 2, kTop - 12, log_scale ? "IOPS (log scale)" : "IOPS",
              "middle", 14);
  if (log_scale) {
    for (int d = d_lo; d <= d_hi; ++d) {
      const double y = kBottom - bar_height(std::pow(10.0, d));
      out += Line(kBarsLeft, y, kBarsRight, y, "#dddddd", 1);
      out += Text(kBarsLeft - 6, y + 4, ShortCount(std::pow(10.0, d)), "end", 11);
    }
  }
  const double slot =
      (kBarsRight - kBarsLeft) / static_cast<double>(std::max<size_t>(rows.size(), 1));
  const double bar = slot * 0.6;
  out += Line(kBarsLeft, kBottom, kBarsRight, kBottom, "#000000", 1);
  for (size_t i = 0; i < rows.size(); ++i) {
    const CompareRow& r = *rows[i];
    const double h = bar_height(r.iops);
    const double x = kBarsLeft + slot * static_cast<double>(i) + (slot - bar) / 2;
    out += absl::StrFormat(
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x,
        kBottom - h, bar, h, kColors[i % kColors.size()]);
    out += Text(x + bar / 2, kBottom - h - 5, ShortCount(r.iops), "middle", 11);
    out += Text(x + bar / 2, kBottom + 18, r.bdev, "middle", 11);
  }
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string CompareSvg(const std::vector<CompareRow>& rows, const std::string& title) {
  std::vector<const CompareRow*> ran;
  for (const CompareRow& r : rows) {
    if (r.ran) ran.push_back(&r);
  }
  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\">\n",
      kWidth, kHeight, kWidth, kHeight);
  absl::StrAppend(&out, "<title>", XmlEscape("bdevperf compare: " + title), "</title>\n");
  absl::StrAppendFormat(&out,
                        "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
                        kWidth, kHeight);
  out += Text(kWidth / 2, 24, "bdevperf compare: " + title, "middle", 16, " font-weight=\"bold\"");
  DrawCdf(ran, out);
  DrawBars(ran, out);
  out += "</svg>\n";
  return out;
}

}  // namespace bdevkit::perf
