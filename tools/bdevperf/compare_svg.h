// Compare mode's plot: one self-contained SVG file (no scripts, fonts, stylesheets or
// links) with the latency CDF of each bdev on a log axis (left) and their IOPS as
// bars (right). Written by hand from the rows: a handful of <polyline>, <rect> and
// <text> elements.
#ifndef BDEVKIT_TOOLS_BDEVPERF_COMPARE_SVG_H_
#define BDEVKIT_TOOLS_BDEVPERF_COMPARE_SVG_H_

#include <string>
#include <vector>

#include "tools/bdevperf/compare.h"

namespace bdevkit::perf {

// `title` goes on top (the workload). Rows that did not run are left out.
std::string CompareSvg(const std::vector<CompareRow>& rows, const std::string& title);

// Escapes text for SVG/XML (& < > " ').
std::string XmlEscape(const std::string& text);

}  // namespace bdevkit::perf

#endif  // BDEVKIT_TOOLS_BDEVPERF_COMPARE_SVG_H_
