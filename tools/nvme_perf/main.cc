// nvme_perf: drives one NVMe queue pair directly (no bdev layer, no runtime) from one
// thread with zero-copy buffers in the driver's DMA memory, and prints IOPS, MiB/s and
// latency. Compared with bdevperf on the nvme bdev, it shows the bdev layer's cost.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bdevkit/runtime.h"
#include "modules/nvme/driver/controller.h"
#include "modules/nvme/driver/status.h"
#include "modules/nvme/env/pci.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme {
namespace {

constexpr char kUsage[] =
    "usage: nvme_perf -r BDF [-q depth] [-o io_size] [-w workload] [-t seconds] [-n nsid]\n"
    "                 [-M read_percent] [-s seed]\n"
    "  -r  PCI address (0000:00:03.0), or SPDK's form 'trtype:PCIe traddr:0000:00:03.0'\n"
    "  -q  queue depth (default 32)          -o  I/O size in bytes, k/m suffixes (4096)\n"
    "  -w  read, write, randread, randwrite, rw, randrw (randread)\n"
    "  -t  run time in seconds (10)          -n  namespace ID (1)\n"
    "  -M  read percentage for rw/randrw (50)\n"
    "The device must be bound to vfio-pci or uio_pci_generic (see docs/nvme.md).\n";

struct Options {
  std::string traddr;
  uint32_t depth = 32;
  uint32_t io_size = 4096;
  std::string workload = "randread";
  double seconds = 10;
  uint32_t nsid = 1;
  uint32_t read_percent = 50;
  uint64_t seed = 1;
};

bool ParseSize(std::string s, uint32_t* out) {
  uint64_t mult = 1;
  if (!s.empty() && (s.back() == 'k' || s.back() == 'K')) mult = 1024;
  if (!s.empty() && (s.back() == 'm' || s.back() == 'M')) mult = 1024 * 1024;
  if (mult != 1) s.pop_back();
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v == 0 || v * mult > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v * mult);
  return true;
}

bool Parse(int argc, char** argv, Options* o, std::string* err) {
  int c;
  optind = 1;
  while ((c = getopt(argc, argv, "r:q:o:w:t:n:M:s:h")) != -1) {
    std::string a = optarg ? optarg : "";
    switch (c) {
      case 'r': {
        size_t p = a.find("traddr:");
        o->traddr = p == std::string::npos ? a : a.substr(p + 7, a.find(' ', p) - (p + 7));
        break;
      }
      case 'q':
        if (!absl::SimpleAtoi(a, &o->depth) || o->depth == 0 || o->depth > 65535) {
          *err = "-q: queue depth must be 1..65535";
          return false;
        }
        break;
      case 'o':
        if (!ParseSize(a, &o->io_size)) {
          *err = "-o: not a size: " + a;
          return false;
        }
        break;
      case 'w':
        o->workload = a;
        break;
      case 't':
        if (!absl::SimpleAtod(a, &o->seconds) || o->seconds <= 0) {
          *err = "-t: not a positive number of seconds: " + a;
          return false;
        }
        break;
      case 'n':
        if (!absl::SimpleAtoi(a, &o->nsid) || o->nsid == 0) {
          *err = "-n: not a namespace ID: " + a;
          return false;
        }
        break;
      case 'M':
        if (!absl::SimpleAtoi(a, &o->read_percent) || o->read_percent > 100) {
          *err = "-M: read percentage must be 0..100";
          return false;
        }
        break;
      case 's':
        if (!absl::SimpleAtoi(a, &o->seed)) {
          *err = "-s: not a number: " + a;
          return false;
        }
        break;
      default:
        *err = "";
        return false;
    }
  }
  static const char* kWorkloads[] = {"read", "write", "randread", "randwrite", "rw", "randrw"};
  if (std::find_if(std::begin(kWorkloads), std::end(kWorkloads),
                   [&](const char* w) { return o->workload == w; }) == std::end(kWorkloads)) {
    *err = "-w: unknown workload '" + o->workload + "'";
    return false;
  }
  if (o->traddr.empty()) {
    *err = "-r: the controller's PCI address is required";
    return false;
  }
  return true;
}

struct Perf;

struct Task {
  Request req;
  Perf* perf = nullptr;
  void* buf = nullptr;
  uint64_t start = 0;
};

struct Perf {
  Options o;
  IoQpair* qp = nullptr;
  uint32_t block_size = 0;
  uint64_t ns_blocks = 0;
  uint64_t span = 0;  // I/O slots in the namespace
  uint64_t next_seq = 0;
  uint64_t rng = 0;
  bool random = false;
  bool running = true;
  uint64_t ios = 0, errors = 0, inflight = 0;
  uint64_t lat_sum = 0, lat_min = UINT64_MAX, lat_max = 0;

  uint64_t Rand() {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
  }

  void Start(Task& t) {
    const uint64_t slot = random ? Rand() % span : next_seq++ % span;
    bool read;
    if (o.workload == "read" || o.workload == "randread") {
      read = true;
    } else if (o.workload == "write" || o.workload == "randwrite") {
      read = false;
    } else {
      read = Rand() % 100 < o.read_percent;
    }
    const uint64_t lba = slot * (o.io_size / block_size);
    Request& r = t.req;
    r = Request{};
    r.cmd.opcode = read ? io_op::kRead : io_op::kWrite;
    r.cmd.nsid = o.nsid;
    r.cmd.cdw10 = static_cast<uint32_t>(lba);
    r.cmd.cdw11 = static_cast<uint32_t>(lba >> 32);
    r.cmd.cdw12 = o.io_size / block_size - 1;
    r.SetBuffer(t.buf, o.io_size);
    r.to_device = !read;
    r.cb = &Perf::Done;
    r.cb_arg = &t;
    t.start = GetTicks();
    if (int rc = qp->Submit(r); rc != 0) {
      std::fprintf(stderr, "nvme_perf: submit failed: %s\n", std::strerror(-rc));
      running = false;
      return;
    }
    ++inflight;
  }

  static void Done(void* arg, const Completion& cpl) {
    auto& t = *static_cast<Task*>(arg);
    Perf& p = *t.perf;
    --p.inflight;
    const uint64_t lat = GetTicks() - t.start;
    if (!cpl.ok()) {
      if (p.errors++ == 0) {
        std::fprintf(stderr, "nvme_perf: I/O failed: %s\n",
                     StatusName(cpl.sct(), cpl.sc()).c_str());
      }
    } else {
      ++p.ios;
      p.lat_sum += lat;
      p.lat_min = std::min(p.lat_min, lat);
      p.lat_max = std::max(p.lat_max, lat);
    }
    if (p.running) p.Start(t);
  }
};

int Run(int argc, char** argv) {
  Options o;
  std::string err;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (!Parse(argc, argv, &o, &err)) {
    std::fprintf(stderr, "nvme_perf: %s\n%s", err.c_str(), kUsage);
    return 2;
  }
  auto addr = ParsePciAddress(o.traddr);
  if (!addr.ok()) {
    std::fprintf(stderr, "nvme_perf: %s\n", std::string(addr.status().message()).c_str());
    return 2;
  }
  auto dev = OpenPciDevice(PciSysfs::FromEnvironment(), *addr);
  if (!dev.ok()) {
    std::fprintf(stderr, "nvme_perf: %s\n", std::string(dev.status().message()).c_str());
    return 1;
  }
  ControllerOptions copts;
  copts.io_queues = 1;
  copts.io_queue_entries = std::max<uint32_t>(256, o.depth + 1);
  auto ctrl = Controller::Attach(std::move(*dev), copts);
  if (!ctrl.ok()) {
    std::fprintf(stderr, "nvme_perf: %s\n", std::string(ctrl.status().message()).c_str());
    return 1;
  }
  Controller& c = **ctrl;
  const NamespaceData* ns = nullptr;
  for (const NamespaceData& n : c.namespaces()) {
    if (n.nsid == o.nsid) ns = &n;
  }
  if (ns == nullptr) {
    std::fprintf(stderr, "nvme_perf: %s has no active namespace %u\n", o.traddr.c_str(), o.nsid);
    return 1;
  }
  Perf p;
  p.o = o;
  p.block_size = ns->block_size();
  p.ns_blocks = ns->size_blocks;
  if (o.io_size % p.block_size != 0 || o.io_size > c.max_transfer()) {
    std::fprintf(stderr, "nvme_perf: -o %u must be a multiple of the block size %u, at most %u\n",
                 o.io_size, p.block_size, c.max_transfer());
    return 2;
  }
  p.span = p.ns_blocks * p.block_size / o.io_size;
  p.random = o.workload.rfind("rand", 0) == 0;
  p.rng = o.seed * 0x9e3779b97f4a7c15ull + 1;
  auto qp = c.CreateIoQpair(false);
  if (!qp.ok()) {
    std::fprintf(stderr, "nvme_perf: %s\n", std::string(qp.status().message()).c_str());
    return 1;
  }
  p.qp = qp->get();
  // Zero-copy buffers: in the device's DMA memory, so no bounce copies.
  auto mem = c.dma()->Allocate(size_t{o.depth} * o.io_size);
  if (!mem.ok()) {
    std::fprintf(stderr, "nvme_perf: %s\n", std::string(mem.status().message()).c_str());
    return 1;
  }
  std::memset((*mem)->vaddr(), 0x5a, size_t{o.depth} * o.io_size);
  std::vector<Task> tasks(o.depth);
  std::printf("nvme_perf: %s (%s) ns %u: %s, queue depth %u, I/O size %u, %.1f s\n",
              c.address().c_str(), c.access(), o.nsid, o.workload.c_str(), o.depth, o.io_size,
              o.seconds);
  std::fflush(stdout);
  const uint64_t hz = GetTicksPerSecond();
  const uint64_t t0 = GetTicks();
  const uint64_t end = t0 + static_cast<uint64_t>(o.seconds * static_cast<double>(hz));
  for (uint32_t i = 0; i < o.depth && p.running; ++i) {
    tasks[i].perf = &p;
    tasks[i].buf = static_cast<char*>((*mem)->vaddr()) + size_t{i} * o.io_size;
    p.Start(tasks[i]);
  }
  uint64_t now = t0;
  for (uint32_t n = 0; p.running; ++n) {
    p.qp->Poll();
    if ((n & 0x3ff) == 0 && (now = GetTicks()) >= end) p.running = false;
  }
  const uint64_t stop = GetTicks();
  // Drain what is in flight (bounded).
  const uint64_t drain_end = stop + 10 * hz;
  while (p.inflight > 0 && GetTicks() < drain_end) p.qp->Poll();
  const double secs = static_cast<double>(stop - t0) / static_cast<double>(hz);
  const double iops = static_cast<double>(p.ios) / secs;
  const double mibs = iops * o.io_size / (1024.0 * 1024.0);
  auto us = [&](uint64_t ticks) {
    return static_cast<double>(ticks) * 1e6 / static_cast<double>(hz);
  };
  const double avg = p.ios ? us(p.lat_sum) / static_cast<double>(p.ios) : 0;
  std::printf("%-28s %12s %10s %10s %10s %10s\n", "Latency(us)", "IOPS", "MiB/s", "Average", "min",
              "max");
  std::printf("%-28s %12.2f %10.2f %10.2f %10.2f %10.2f\n",
              absl::StrCat(c.address(), " NSID ", o.nsid).c_str(), iops, mibs, avg,
              p.ios ? us(p.lat_min) : 0.0, us(p.lat_max));
  std::printf(
      "nvme_perf: IOPS=%.2f MiB/s=%.2f avg_lat_us=%.2f min_lat_us=%.2f max_lat_us=%.2f "
      "ios=%llu errors=%llu\n",
      iops, mibs, avg, p.ios ? us(p.lat_min) : 0.0, us(p.lat_max),
      static_cast<unsigned long long>(p.ios), static_cast<unsigned long long>(p.errors));
  if (p.inflight > 0) {
    // The device may still write into the buffers: exit without freeing them.
    std::fprintf(stderr, "nvme_perf: %llu I/Os did not complete\n",
                 static_cast<unsigned long long>(p.inflight));
    std::_Exit(1);
  }
  c.DestroyIoQpair(std::move(*qp));
  mem->reset();
  c.Shutdown();
  return p.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace bdevkit::nvme

int main(int argc, char** argv) { return bdevkit::nvme::Run(argc, argv); }
