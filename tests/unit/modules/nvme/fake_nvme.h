// A test double for the user-space NVMe driver: an in-memory model of an NVMe
// controller that reads the driver's registers (plain memory standing in for BAR0),
// fetches commands from the driver's SQ rings, moves data through PRPs (translating
// the fake IOVAs back) and posts completions with phase tags. It implements what the
// driver uses: the enable/disable/shutdown handshake, Identify (controller, namespace,
// active list, descriptors), Set Features (queues), create/delete I/O queues, abort,
// read, write, flush, write zeroes, dataset management.
//
// Either stepped by the test (Step(): deterministic, for queue pair tests) or run by
// its own thread (Start(): for the controller's blocking handshakes).
#ifndef BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_NVME_H_
#define BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_NVME_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "modules/nvme/driver/mmio.h"
#include "modules/nvme/driver/spec.h"
#include "modules/nvme/env/dma_memory.h"
#include "modules/nvme/env/pci_device.h"

namespace bdevkit::nvme::testing {

// IOVAs far from the virtual addresses (so an untranslated address is caught), one
// segment per 4 KiB page. With `scatter`, consecutive pages get IOVAs that are not
// contiguous, so every PRP entry must come from its own page.
class FakeMapper : public IovaMapper {
 public:
  explicit FakeMapper(bool scatter = false) : scatter_(scatter) {}
  absl::StatusOr<MappedRange> Map(void* vaddr, size_t length, size_t page_size) override;
  void Unmap(const MappedRange& range) override;
  bool requires_hugepages() const override { return false; }
  const char* name() const override { return "fake"; }

  // The host address of an IOVA, nullptr if unmapped. Any thread.
  void* ToHost(uint64_t iova) const;

 private:
  const bool scatter_;
  mutable std::mutex mu_;
  uint64_t next_ = 0x7000'0000'0000ull;
  std::map<uint64_t, uintptr_t> pages_;  // IOVA page -> host page
};

struct FakeNamespace {
  uint32_t nsid = 1;
  uint32_t block_size = 512;
  uint64_t blocks = 2048;
  std::vector<uint8_t> data;  // filled in by AddNamespace
  uint8_t uuid_seed = 0;
};

class FakeNvme {
 public:
  struct Options {
    uint32_t mqes = 1024;  // CAP.MQES + 1
    uint32_t dstrd = 0;
    uint32_t timeout_500ms = 2;           // CAP.TO
    uint8_t mdts = 5;                     // 128 KiB
    uint32_t max_queues = 8;              // granted by Set Features
    uint16_t oncs = (1 << 2) | (1 << 3);  // DSM, write zeroes
    bool never_ready = false;             // CSTS.RDY never follows CC.EN (timeout test)
  };

  FakeNvme();
  explicit FakeNvme(Options options);
  ~FakeNvme();

  void AddNamespace(uint32_t nsid, uint32_t block_size, uint64_t blocks);
  FakeNamespace& ns(uint32_t nsid);

  Mmio bar() { return Mmio(bar_.data(), bar_.size() * 4); }
  FakeMapper& mapper() { return *mapper_; }
  // A DmaSpace whose mapper is this fake's (for queue pairs made by hand).
  std::unique_ptr<DmaSpace> MakeDmaSpace(bool scatter = false);
  // A PciDevice over this fake, for Controller::Attach. The fake must outlive it.
  std::unique_ptr<PciDevice> MakeDevice(const std::string& address = "0000:00:03.0");

  // One pass: register changes, then every SQ's new commands. Returns commands fetched.
  uint32_t Step();
  void Start();  // a thread calling Step() until Stop()
  void Stop();

  // Creates an I/O queue pair directly, as Create I/O CQ/SQ would (qpair tests).
  void CreateIoQueues(uint16_t qid, uint64_t sq_iova, uint64_t cq_iova, uint32_t entries);
  // Drops every queue and clears CSTS.RDY, as CC.EN 1->0 would (reset tests).
  void DropAllQueues();

  // Completions are held (commands fetched but not completed) until released.
  void set_hold(bool hold);
  // Posts up to n held completions (0 = all), oldest first. Returns how many.
  uint32_t ReleaseHeld(uint32_t n = 0);
  uint32_t held() const;
  // The next I/O command fails with this status (once).
  void InjectStatus(uint8_t sct, uint8_t sc);
  void SetFatal();  // CSTS.CFS

  // What the fake saw.
  uint32_t SqTailDoorbellWrites(uint16_t qid) const;
  std::vector<uint16_t> cids_seen() const;  // CIDs of fetched I/O commands, in order
  std::vector<std::string> errors() const;  // protocol violations the fake noticed
  uint32_t cc() const { return Reg(reg::kCc); }
  uint64_t commands(uint8_t opcode) const;  // I/O commands of an opcode executed
  uint32_t shutdowns() const { return shutdowns_; }

 private:
  struct Queue {
    uint16_t qid = 0;
    uint64_t sq_iova = 0, cq_iova = 0;
    uint32_t entries = 0;
    uint32_t sq_head = 0, cq_tail = 0;
    uint16_t phase = 1;
    uint32_t last_tail_seen = 0;
    uint32_t tail_changes = 0;
    std::deque<Completion> pending;  // waiting for CQ room
  };
  struct Held {
    uint16_t qid;
    Completion cpl;
  };

  uint32_t Reg(uint32_t off) const;
  void SetReg(uint32_t off, uint32_t v);
  void HandleRegisters();
  uint32_t ProcessQueue(Queue& q);
  Completion Execute(Queue& q, const Command& cmd);
  Completion Admin(const Command& cmd);
  Completion Io(const Command& cmd);
  bool CopyData(const Command& cmd, uint8_t* buf, size_t len, bool to_host);
  void Post(Queue& q, Completion cpl);
  void FlushPending(Queue& q);
  void Error(std::string what);

  const Options options_;
  std::vector<uint32_t> bar_;
  std::unique_ptr<FakeMapper> mapper_;
  mutable std::recursive_mutex mu_;
  std::map<uint16_t, Queue> queues_;
  std::map<uint32_t, FakeNamespace> namespaces_;
  bool enabled_ = false;
  bool hold_ = false;
  std::deque<Held> held_;
  bool inject_ = false;
  uint8_t inject_sct_ = 0, inject_sc_ = 0;
  std::vector<uint16_t> cids_seen_;
  std::vector<std::string> errors_;
  std::map<uint8_t, uint64_t> io_counts_;
  uint32_t granted_ = 0;
  uint32_t shutdowns_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace bdevkit::nvme::testing

#endif  // BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_NVME_H_
