// The runtime area (kairos/abi/runtime_area.h) seen from either side:
// the runtime creates it (memfd or shm_open), an allocator attaches to it
// read-only and validates it before reading any line.
#pragma once

#include <kairos/abi/runtime_area.h>
#include <kairos/contracts/queue_state.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace kairos {

// Bytes a runtime area with n kthreads needs.
std::size_t runtime_area_size(std::uint32_t nr_kthreads);
// Fills a zeroed buffer of runtime_area_size(n) bytes with a valid header.
void runtime_area_init(void* area, std::uint32_t nr_kthreads,
                       std::uint32_t app_id, std::uint32_t pid);
// Checks a header against the bytes that back it; "" when valid, else why.
std::string runtime_area_check(const void* area, std::size_t bytes);

// Read-only view for an allocator: owns the mapping.
class RuntimeAreaView {
 public:
  // Maps fd (a memfd received over a socket, or shm_open'ed) read-only.
  // On bad input returns nothing and sets *err; nothing stays mapped.
  static std::optional<RuntimeAreaView> attach_fd(int fd, std::string* err);
  // Opens a shm_open name, e.g. Config::shm_name of the runtime.
  static std::optional<RuntimeAreaView> attach_shm(const std::string& name,
                                                   std::string* err);
  RuntimeAreaView(RuntimeAreaView&& o) noexcept;
  RuntimeAreaView& operator=(RuntimeAreaView&&) = delete;
  ~RuntimeAreaView();

  std::uint32_t nr_kthreads() const { return hdr_->nr_kthreads; }
  std::uint32_t app_id() const { return hdr_->app_id; }
  std::uint32_t pid() const { return hdr_->pid; }
  const kairos_queue_state* line(std::uint32_t k) const;
  std::uint32_t tid(std::uint32_t k) const;  // 0 until the kthread ran
  std::optional<QueueSnapshot> snapshot(std::uint32_t k) const {
    const kairos_queue_state* l = line(k);
    if (!l) return std::nullopt;
    return read_queue_state(l);
  }

 private:
  RuntimeAreaView(const void* base, std::size_t bytes);
  const kairos_runtime_area* hdr_;
  std::size_t bytes_;
};

}  // namespace kairos
