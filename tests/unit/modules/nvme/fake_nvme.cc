#include "tests/unit/modules/nvme/fake_nvme.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace bdevkit::nvme::testing {
namespace {

constexpr uint64_t kPage = 4096;

// Forwards to a FakeMapper owned by the fake, so the fake can translate IOVAs the
// DmaSpace handed out.
class ForwardingMapper : public IovaMapper {
 public:
  explicit ForwardingMapper(FakeMapper& to) : to_(to) {}
  absl::StatusOr<MappedRange> Map(void* vaddr, size_t length, size_t page_size) override {
    return to_.Map(vaddr, length, page_size);
  }
  void Unmap(const MappedRange& range) override { to_.Unmap(range); }
  bool requires_hugepages() const override { return false; }
  const char* name() const override { return "fake"; }

 private:
  FakeMapper& to_;
};

class FakeDevice : public PciDevice {
 public:
  FakeDevice(std::string address, Mmio bar, std::unique_ptr<DmaSpace> dma)
      : address_(std::move(address)), bar_(bar), dma_(std::move(dma)) {}
  const std::string& address() const override { return address_; }
  const char* access() const override { return "fake"; }
  Mmio bar0() const override { return bar_; }
  DmaSpace& dma() override { return *dma_; }

 private:
  std::string address_;
  Mmio bar_;
  std::unique_ptr<DmaSpace> dma_;
};

template <typename T>
void Put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(v));
}

void PutText(uint8_t* p, size_t n, const std::string& s) {
  std::memset(p, ' ', n);
  std::memcpy(p, s.data(), std::min(n, s.size()));
}

}  // namespace

// ---- FakeMapper ---------------------------------------------------------------------

absl::StatusOr<MappedRange> FakeMapper::Map(void* vaddr, size_t length, size_t page_size) {
  std::lock_guard lock(mu_);
  MappedRange r;
  r.vaddr = reinterpret_cast<uintptr_t>(vaddr);
  r.length = length;
  r.segment_size = kPage;
  for (size_t off = 0; off < length; off += kPage) {
    uint64_t iova = next_;
    next_ += scatter_ ? 3 * kPage : kPage;  // gaps: no two pages contiguous
    pages_[iova] = r.vaddr + off;
    r.segment_iova.push_back(iova);
  }
  next_ += kPage;  // ranges never touch
  return r;
}

void FakeMapper::Unmap(const MappedRange& range) {
  std::lock_guard lock(mu_);
  for (uint64_t iova : range.segment_iova) pages_.erase(iova);
}

void* FakeMapper::ToHost(uint64_t iova) const {
  std::lock_guard lock(mu_);
  auto it = pages_.find(iova & ~(kPage - 1));
  if (it == pages_.end()) return nullptr;
  return reinterpret_cast<void*>(it->second + (iova & (kPage - 1)));
}

// ---- FakeNvme -----------------------------------------------------------------------

FakeNvme::FakeNvme() : FakeNvme(Options{}) {}

FakeNvme::FakeNvme(Options options)
    : options_(options), bar_(0x4000 / 4, 0), mapper_(std::make_unique<FakeMapper>()) {
  uint64_t cap = (options_.mqes - 1) | (1ull << 16) /* CQR */ |
                 (uint64_t{options_.timeout_500ms} << 24) | (uint64_t{options_.dstrd} << 32) |
                 (1ull << 37) /* NVM command set */;
  SetReg(reg::kCap, static_cast<uint32_t>(cap));
  SetReg(reg::kCap + 4, static_cast<uint32_t>(cap >> 32));
  SetReg(reg::kVs, 0x10400);
}

FakeNvme::~FakeNvme() { Stop(); }

void FakeNvme::AddNamespace(uint32_t nsid, uint32_t block_size, uint64_t blocks) {
  std::lock_guard lock(mu_);
  FakeNamespace n;
  n.nsid = nsid;
  n.block_size = block_size;
  n.blocks = blocks;
  n.data.assign(block_size * blocks, 0);
  n.uuid_seed = static_cast<uint8_t>(nsid);
  namespaces_[nsid] = std::move(n);
}

FakeNamespace& FakeNvme::ns(uint32_t nsid) { return namespaces_.at(nsid); }

std::unique_ptr<DmaSpace> FakeNvme::MakeDmaSpace(bool scatter) {
  if (scatter) mapper_ = std::make_unique<FakeMapper>(true);
  DmaSpaceOptions o;
  o.prefer_hugepages = false;
  return std::make_unique<DmaSpace>(std::make_unique<ForwardingMapper>(*mapper_), o);
}

std::unique_ptr<PciDevice> FakeNvme::MakeDevice(const std::string& address) {
  return std::make_unique<FakeDevice>(address, bar(), MakeDmaSpace());
}

uint32_t FakeNvme::Reg(uint32_t off) const {
  return __atomic_load_n(&bar_[off / 4], __ATOMIC_ACQUIRE);
}

void FakeNvme::SetReg(uint32_t off, uint32_t v) {
  __atomic_store_n(&bar_[off / 4], v, __ATOMIC_RELEASE);
}

void FakeNvme::Error(std::string what) { errors_.push_back(std::move(what)); }

void FakeNvme::HandleRegisters() {
  const uint32_t cc = Reg(reg::kCc);
  uint32_t csts = Reg(reg::kCsts);
  if (!enabled_ && (cc & cc::kEnable) != 0 && !options_.never_ready) {
    const uint32_t aqa = Reg(reg::kAqa);
    Queue admin;
    admin.qid = 0;
    admin.entries = (aqa & 0xfff) + 1;
    admin.sq_iova = Reg(reg::kAsq) | (uint64_t{Reg(reg::kAsq + 4)} << 32);
    admin.cq_iova = Reg(reg::kAcq) | (uint64_t{Reg(reg::kAcq + 4)} << 32);
    if (((cc >> cc::kIosqesShift) & 0xf) != 6 || ((cc >> cc::kIocqesShift) & 0xf) != 4) {
      Error("CC.IOSQES/IOCQES not 6/4");
    }
    queues_.clear();
    queues_[0] = admin;
    SetReg(SqTailDoorbell(0, options_.dstrd), 0);
    SetReg(CqHeadDoorbell(0, options_.dstrd), 0);
    enabled_ = true;
    granted_ = 0;
    csts = (csts & ~csts::kShstMask) | csts::kReady;
  } else if (enabled_ && (cc & cc::kEnable) == 0) {
    queues_.clear();
    held_.clear();
    enabled_ = false;
    csts &= ~(csts::kReady | csts::kShstMask);
  }
  if ((cc & cc::kShnMask) == cc::kShnNormal && (csts & csts::kShstMask) != csts::kShstComplete) {
    ++shutdowns_;
    csts = (csts & ~csts::kShstMask) | csts::kShstComplete;
  }
  SetReg(reg::kCsts, csts);
}

uint32_t FakeNvme::Step() {
  std::lock_guard lock(mu_);
  HandleRegisters();
  uint32_t n = 0;
  // Admin first; a command may create or delete queues, so iterate over a copy of ids.
  std::vector<uint16_t> ids;
  for (auto& [qid, q] : queues_) ids.push_back(qid);
  for (uint16_t qid : ids) {
    auto it = queues_.find(qid);
    if (it == queues_.end()) continue;
    FlushPending(it->second);
    n += ProcessQueue(it->second);
  }
  return n;
}

void FakeNvme::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      if (Step() == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
}

void FakeNvme::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

uint32_t FakeNvme::ProcessQueue(Queue& q) {
  if (q.sq_iova == 0) return 0;
  const uint32_t tail = Reg(SqTailDoorbell(q.qid, options_.dstrd));
  if (tail != q.last_tail_seen) {
    ++q.tail_changes;
    q.last_tail_seen = tail;
  }
  if (tail >= q.entries) {
    Error(absl::StrCat("SQ ", q.qid, " tail doorbell ", tail, " beyond ", q.entries, " entries"));
    return 0;
  }
  uint32_t n = 0;
  while (q.sq_head != tail) {
    auto* slot = static_cast<Command*>(mapper_->ToHost(q.sq_iova + q.sq_head * 64ull));
    if (slot == nullptr) {
      Error(absl::StrCat("SQ ", q.qid, " ring not mapped"));
      return n;
    }
    Command cmd;
    std::memcpy(&cmd, slot, sizeof(cmd));
    q.sq_head = (q.sq_head + 1) % q.entries;
    ++n;
    const uint16_t qid = q.qid;
    Completion cpl = Execute(q, cmd);
    cpl.cid = cmd.cid;
    auto it = queues_.find(qid);  // Execute may have deleted queues
    if (it == queues_.end()) continue;
    if (qid != 0 && hold_) {
      held_.push_back({qid, cpl});
    } else {
      Post(it->second, cpl);
    }
  }
  return n;
}

void FakeNvme::Post(Queue& q, Completion cpl) {
  q.pending.push_back(cpl);
  FlushPending(q);
}

void FakeNvme::FlushPending(Queue& q) {
  while (!q.pending.empty()) {
    const uint32_t head = Reg(CqHeadDoorbell(q.qid, options_.dstrd));
    if ((q.cq_tail + 1) % q.entries == head) return;  // CQ full: wait for the host
    Completion c = q.pending.front();
    q.pending.pop_front();
    auto* e = static_cast<Completion*>(mapper_->ToHost(q.cq_iova + q.cq_tail * 16ull));
    if (e == nullptr) {
      Error(absl::StrCat("CQ ", q.qid, " ring not mapped"));
      return;
    }
    e->cdw0 = c.cdw0;
    e->rsvd = 0;
    e->sq_head = static_cast<uint16_t>(q.sq_head);
    e->sq_id = q.qid;
    e->cid = c.cid;
    // The status (with the phase tag) last, as a device's posted write would land.
    __atomic_store_n(&e->status, static_cast<uint16_t>((c.status & ~1u) | q.phase),
                     __ATOMIC_RELEASE);
    if (++q.cq_tail == q.entries) {
      q.cq_tail = 0;
      q.phase ^= 1;
    }
  }
}

Completion FakeNvme::Execute(Queue& q, const Command& cmd) {
  if (q.qid == 0) return Admin(cmd);
  cids_seen_.push_back(cmd.cid);
  if ((cmd.flags & 0xc0) != 0) Error("PSDT is not PRP");
  if (inject_) {
    inject_ = false;
    Completion c{};
    c.status = MakeStatus(inject_sct_, inject_sc_);
    return c;
  }
  return Io(cmd);
}

bool FakeNvme::CopyData(const Command& cmd, uint8_t* buf, size_t len, bool to_host) {
  if ((cmd.prp1 & 3) != 0) {
    Error("PRP1 not dword aligned");
    return false;
  }
  std::vector<uint64_t> pages;  // page-start IOVAs after the first
  const size_t first_len = std::min<size_t>(len, kPage - (cmd.prp1 & (kPage - 1)));
  const size_t rest = len - first_len;
  const size_t more = (rest + kPage - 1) / kPage;
  if (more == 1) {
    pages.push_back(cmd.prp2);
  } else if (more > 1) {
    if ((cmd.prp2 & 7) != 0) Error("PRP list not qword aligned");
    if ((cmd.prp2 & (kPage - 1)) + more * 8 > kPage) Error("PRP list crosses a page");
    auto* list = static_cast<uint64_t*>(mapper_->ToHost(cmd.prp2));
    if (list == nullptr) {
      Error("PRP list not mapped");
      return false;
    }
    pages.assign(list, list + more);
  }
  auto copy = [&](uint64_t iova, uint8_t* at, size_t n) {
    void* host = mapper_->ToHost(iova);
    if (host == nullptr) {
      Error(absl::StrCat("PRP entry 0x", absl::Hex(iova), " not mapped"));
      return false;
    }
    if (to_host) {
      std::memcpy(host, at, n);
    } else {
      std::memcpy(at, host, n);
    }
    return true;
  };
  if (!copy(cmd.prp1, buf, first_len)) return false;
  size_t done = first_len;
  for (uint64_t p : pages) {
    if ((p & (kPage - 1)) != 0) Error("PRP entry not page aligned");
    size_t n = std::min<size_t>(kPage, len - done);
    if (!copy(p, buf + done, n)) return false;
    done += n;
  }
  return true;
}

Completion FakeNvme::Admin(const Command& cmd) {
  Completion c{};
  auto status = [&](uint8_t sc) {
    c.status = MakeStatus(sct::kGeneric, sc);
    return c;
  };
  switch (cmd.opcode) {
    case admin_op::kIdentify: {
      std::vector<uint8_t> d(4096, 0);
      const uint32_t cns_value = cmd.cdw10 & 0xff;
      if (cns_value == cns::kController) {
        Put<uint16_t>(&d[0], 0x1b36);
        PutText(&d[4], 20, "FAKE0001");
        PutText(&d[24], 40, "bdevkit fake NVMe");
        PutText(&d[64], 8, "1.0");
        d[77] = options_.mdts;
        Put<uint16_t>(&d[78], 7);  // cntlid
        Put<uint32_t>(&d[80], 0x10400);
        d[258] = 3;  // ACL: 4 aborts
        d[512] = 0x66;
        d[513] = 0x44;
        Put<uint32_t>(&d[516], namespaces_.empty() ? 0 : namespaces_.rbegin()->first);
        Put<uint16_t>(&d[520], options_.oncs);
        d[525] = 1;
        PutText(&d[768], 256, "nqn.2019-08.org.qemu:fake");
        std::fill(d.begin() + 768 + 25, d.begin() + 1024, 0);
      } else if (cns_value == cns::kNamespace) {
        auto it = namespaces_.find(cmd.nsid);
        if (it != namespaces_.end()) {
          const FakeNamespace& n = it->second;
          Put<uint64_t>(&d[0], n.blocks);
          Put<uint64_t>(&d[8], n.blocks);
          d[25] = 1;  // two formats
          d[26] = n.block_size == 4096 ? 1 : 0;
          d[33] = 1;  // deallocated blocks read zeroes
          d[128 + 2] = 9;
          d[132 + 2] = 12;
        }
      } else if (cns_value == cns::kActiveNamespaceList) {
        size_t i = 0;
        for (auto& [id, n] : namespaces_) {
          if (id > cmd.nsid) Put<uint32_t>(&d[4 * i++], id);
        }
      } else if (cns_value == cns::kNamespaceIdDescriptors) {
        d[0] = 3;
        d[1] = 16;
        for (int i = 0; i < 16; ++i) d[4 + i] = static_cast<uint8_t>(0xa0 + i + cmd.nsid);
      } else {
        return status(generic_sc::kInvalidField);
      }
      if (!CopyData(cmd, d.data(), d.size(), /*to_host=*/true)) {
        return status(generic_sc::kDataTransferError);
      }
      return c;
    }
    case admin_op::kSetFeatures:
      if ((cmd.cdw10 & 0xff) == feature::kNumberOfQueues) {
        uint32_t want = std::min((cmd.cdw11 & 0xffff) + 1, (cmd.cdw11 >> 16) + 1);
        granted_ = std::min(want, options_.max_queues);
        c.cdw0 = (granted_ - 1) | ((granted_ - 1) << 16);
        return c;
      }
      return status(generic_sc::kInvalidField);
    case admin_op::kCreateIoCq: {
      const uint16_t qid = cmd.cdw10 & 0xffff;
      if (qid == 0 || qid > granted_ || queues_.contains(qid))
        return status(generic_sc::kInvalidField);
      if ((cmd.cdw11 & 2) != 0) Error("I/O CQ created with interrupts enabled");
      Queue q;
      q.qid = qid;
      q.entries = (cmd.cdw10 >> 16) + 1;
      q.cq_iova = cmd.prp1;
      queues_[qid] = q;
      // A new queue starts with its doorbells at 0, whatever was written before.
      SetReg(SqTailDoorbell(qid, options_.dstrd), 0);
      SetReg(CqHeadDoorbell(qid, options_.dstrd), 0);
      return c;
    }
    case admin_op::kCreateIoSq: {
      const uint16_t qid = cmd.cdw10 & 0xffff;
      auto it = queues_.find(qid);
      if (it == queues_.end() || (cmd.cdw11 >> 16) != qid || it->second.sq_iova != 0) {
        return status(generic_sc::kInvalidField);
      }
      it->second.sq_iova = cmd.prp1;
      it->second.sq_head = 0;
      it->second.last_tail_seen = 0;
      return c;
    }
    case admin_op::kDeleteIoSq: {
      auto it = queues_.find(static_cast<uint16_t>(cmd.cdw10 & 0xffff));
      if (it == queues_.end() || it->second.sq_iova == 0) return status(generic_sc::kInvalidField);
      it->second.sq_iova = 0;
      return c;
    }
    case admin_op::kDeleteIoCq: {
      auto it = queues_.find(static_cast<uint16_t>(cmd.cdw10 & 0xffff));
      if (it == queues_.end() || it->second.sq_iova != 0) return status(generic_sc::kInvalidField);
      queues_.erase(it);
      return c;
    }
    case admin_op::kAbort:
      c.cdw0 = 1;  // like QEMU: never actually aborts
      return c;
    default:
      return status(generic_sc::kInvalidOpcode);
  }
}

Completion FakeNvme::Io(const Command& cmd) {
  Completion c{};
  ++io_counts_[cmd.opcode];
  auto status = [&](uint8_t sc) {
    c.status = MakeStatus(sct::kGeneric, sc);
    return c;
  };
  auto it = namespaces_.find(cmd.nsid);
  if (it == namespaces_.end()) return status(generic_sc::kInvalidNamespace);
  FakeNamespace& n = it->second;
  const uint64_t slba = cmd.cdw10 | (uint64_t{cmd.cdw11} << 32);
  const uint64_t nlb = (cmd.cdw12 & 0xffff) + 1;
  switch (cmd.opcode) {
    case io_op::kRead:
    case io_op::kWrite: {
      if (slba + nlb > n.blocks) return status(generic_sc::kLbaOutOfRange);
      uint8_t* at = n.data.data() + slba * n.block_size;
      if (!CopyData(cmd, at, nlb * n.block_size, cmd.opcode == io_op::kRead)) {
        return status(generic_sc::kDataTransferError);
      }
      return c;
    }
    case io_op::kFlush:
      return c;
    case io_op::kWriteZeroes:
      if (slba + nlb > n.blocks) return status(generic_sc::kLbaOutOfRange);
      std::memset(n.data.data() + slba * n.block_size, 0, nlb * n.block_size);
      return c;
    case io_op::kDatasetManagement: {
      const uint32_t ranges = (cmd.cdw10 & 0xff) + 1;
      std::vector<DsmRange> r(ranges);
      if (!CopyData(cmd, reinterpret_cast<uint8_t*>(r.data()), ranges * sizeof(DsmRange), false)) {
        return status(generic_sc::kDataTransferError);
      }
      if ((cmd.cdw11 & kDsmDeallocate) != 0) {
        for (const DsmRange& d : r) {
          if (d.start_lba + d.length_blocks > n.blocks) return status(generic_sc::kLbaOutOfRange);
          std::memset(n.data.data() + d.start_lba * n.block_size, 0,
                      uint64_t{d.length_blocks} * n.block_size);
        }
      }
      return c;
    }
    default:
      return status(generic_sc::kInvalidOpcode);
  }
}

void FakeNvme::CreateIoQueues(uint16_t qid, uint64_t sq_iova, uint64_t cq_iova, uint32_t entries) {
  std::lock_guard lock(mu_);
  Queue q;
  q.qid = qid;
  q.entries = entries;
  q.sq_iova = sq_iova;
  q.cq_iova = cq_iova;
  queues_[qid] = q;
  SetReg(SqTailDoorbell(qid, options_.dstrd), 0);
  SetReg(CqHeadDoorbell(qid, options_.dstrd), 0);
  // As if the driver had enabled the controller.
  SetReg(reg::kCc, Reg(reg::kCc) | cc::kEnable);
  SetReg(reg::kCsts, Reg(reg::kCsts) | csts::kReady);
  enabled_ = true;
}

void FakeNvme::DropAllQueues() {
  std::lock_guard lock(mu_);
  queues_.clear();
  held_.clear();
}

void FakeNvme::set_hold(bool hold) {
  std::lock_guard lock(mu_);
  hold_ = hold;
}

uint32_t FakeNvme::ReleaseHeld(uint32_t n) {
  std::lock_guard lock(mu_);
  uint32_t done = 0;
  while (!held_.empty() && (n == 0 || done < n)) {
    Held h = held_.front();
    held_.pop_front();
    auto it = queues_.find(h.qid);
    if (it != queues_.end()) Post(it->second, h.cpl);
    ++done;
  }
  return done;
}

uint32_t FakeNvme::held() const {
  std::lock_guard lock(mu_);
  return static_cast<uint32_t>(held_.size());
}

void FakeNvme::InjectStatus(uint8_t type, uint8_t code) {
  std::lock_guard lock(mu_);
  inject_ = true;
  inject_sct_ = type;
  inject_sc_ = code;
}

void FakeNvme::SetFatal() { SetReg(reg::kCsts, Reg(reg::kCsts) | csts::kFatal); }

uint32_t FakeNvme::SqTailDoorbellWrites(uint16_t qid) const {
  std::lock_guard lock(mu_);
  auto it = queues_.find(qid);
  return it == queues_.end() ? 0 : it->second.tail_changes;
}

std::vector<uint16_t> FakeNvme::cids_seen() const {
  std::lock_guard lock(mu_);
  return cids_seen_;
}

std::vector<std::string> FakeNvme::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

uint64_t FakeNvme::commands(uint8_t opcode) const {
  std::lock_guard lock(mu_);
  auto it = io_counts_.find(opcode);
  return it == io_counts_.end() ? 0 : it->second;
}

}  // namespace bdevkit::nvme::testing
