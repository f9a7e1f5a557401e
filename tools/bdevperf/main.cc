// bdevperf: drives bdevs from a config file with a fixed workload and prints SPDK's
// result table. See README.md in this folder.
#include <cstdio>
#include <string>

#include "tools/bdevperf/app.h"
#include "tools/bdevperf/options.h"

int main(int argc, char** argv) {
  auto options = bdevkit::perf::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "bdevperf: %s\n", std::string(options.status().message()).c_str());
    return 1;
  }
  if (options->help) {
    std::fputs(bdevkit::perf::Usage(argv[0]).c_str(), stdout);
    return 0;
  }
  return bdevkit::perf::RunBdevperf(*options);
}
