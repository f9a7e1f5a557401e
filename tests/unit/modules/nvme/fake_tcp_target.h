// A small NVMe/TCP target for tests: listens on 127.0.0.1 (an ephemeral port), one
// thread per connection with blocking sockets, and speaks the PDUs per the NVMe/TCP
// spec: ICReq/ICResp (digests as asked), Fabrics Connect (in-capsule or through R2T),
// Property Get/Set of CAP/VS/CC/CSTS, Identify, Set Features (queues), Keep Alive, and
// Read/Write/Flush/Write Zeroes/Dataset Management on one in-memory namespace. Writes
// larger than the in-capsule size are fetched with R2T in MAXH2CDATA pieces; reads
// come back in several C2HData PDUs. It checks what it receives (digests, lengths,
// SGL types) and records violations in errors(). Tests can drop every connection,
// refuse Connects, leave Keep Alives unanswered, and count them.
#ifndef BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_TCP_TARGET_H_
#define BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_TCP_TARGET_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bdevkit::nvme::testing {

class FakeTcpTarget {
 public:
  struct Options {
    std::string subnqn = "nqn.2026-11.io.bdevkit:fake";
    uint32_t block_size = 512;
    uint64_t blocks = 8192;    // 4 MiB
    uint32_t icd_size = 4096;  // I/O queue in-capsule data (IOCCSZ)
    uint32_t maxh2cdata = 16384;
    uint32_t c2h_chunk = 8192;  // data bytes per C2HData PDU
    bool c2h_success = false;   // last C2HData carries SUCCESS, no CapsuleResp
    uint8_t mdts = 5;           // 128 KiB
  };
  FakeTcpTarget();
  explicit FakeTcpTarget(Options options);
  ~FakeTcpTarget();

  uint16_t port() const { return port_; }
  std::string port_string() const { return std::to_string(port_); }
  const Options& options() const { return options_; }

  // Closes every connection (the listener stays).
  void DropConnections();
  // Answers every Connect with "invalid parameters" while set.
  void set_refuse_connect(bool refuse) { refuse_connect_ = refuse; }
  // Leaves Keep Alive commands unanswered (still counted) while set.
  void set_ignore_keep_alive(bool ignore) { ignore_keep_alive_ = ignore; }
  int admin_connects() const { return admin_connects_; }
  int io_connects() const { return io_connects_; }
  int keep_alives() const { return keep_alives_; }
  bool last_hdgst() const { return last_hdgst_; }
  bool last_ddgst() const { return last_ddgst_; }
  uint64_t in_capsule_writes() const { return in_capsule_writes_; }
  uint64_t r2t_writes() const { return r2t_writes_; }
  std::vector<std::string> errors();

  // The namespace's bytes.
  std::vector<uint8_t> Read(uint64_t offset, size_t len);

 private:
  struct Conn;
  void AcceptLoop();
  void Serve(int fd);
  void Error(const std::string& what);

  const Options options_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;  // everything below
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  std::vector<uint8_t> data_;
  std::vector<std::string> errors_;
  uint32_t cc_ = 0;
  uint32_t csts_ = 0;
  uint16_t next_cntlid_ = 1;
  std::atomic<bool> refuse_connect_{false};
  std::atomic<bool> ignore_keep_alive_{false};
  std::atomic<int> admin_connects_{0};
  std::atomic<int> io_connects_{0};
  std::atomic<int> keep_alives_{0};
  std::atomic<bool> last_hdgst_{false};
  std::atomic<bool> last_ddgst_{false};
  std::atomic<uint64_t> in_capsule_writes_{0};
  std::atomic<uint64_t> r2t_writes_{0};
};

}  // namespace bdevkit::nvme::testing

#endif  // BDEVKIT_TESTS_UNIT_MODULES_NVME_FAKE_TCP_TARGET_H_
