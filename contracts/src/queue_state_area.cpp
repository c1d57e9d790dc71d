#include <kairos/contracts/queue_state_area.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace kairos {
namespace {

constexpr std::size_t kLine = KAIROS_QUEUE_STATE_LINE_SIZE;

std::size_t lines_offset() { return sizeof(kairos_runtime_area); }
std::size_t tids_offset(std::uint32_t n) { return lines_offset() + kLine * n; }

}  // namespace

std::size_t runtime_area_size(std::uint32_t n) {
  const std::size_t raw = tids_offset(n) + sizeof(kairos_kthread_info) * n;
  return (raw + 4095) / 4096 * 4096;
}

void runtime_area_init(void* area, std::uint32_t n, std::uint32_t app_id,
                       std::uint32_t pid) {
  auto* h = static_cast<kairos_runtime_area*>(area);
  h->version = KAIROS_RUNTIME_AREA_VERSION;
  h->header_size = sizeof(kairos_runtime_area);
  h->line_size = kLine;
  h->nr_kthreads = n;
  h->lines_offset = static_cast<std::uint32_t>(lines_offset());
  h->tids_offset = static_cast<std::uint32_t>(tids_offset(n));
  h->app_id = app_id;
  h->pid = pid;
  auto* lines = reinterpret_cast<kairos_queue_state*>(
      static_cast<char*>(area) + lines_offset());
  for (std::uint32_t i = 0; i < n; ++i) lines[i].app_id = app_id;
  // Magic last: a reader that sees it sees a complete header.
  std::atomic_ref<std::uint64_t>(h->magic).store(KAIROS_RUNTIME_AREA_MAGIC,
                                                 std::memory_order_release);
}

std::string runtime_area_check(const void* area, std::size_t bytes) {
  if (bytes < sizeof(kairos_runtime_area))
    return "area smaller than its header";
  const auto* h = static_cast<const kairos_runtime_area*>(area);
  if (h->magic != KAIROS_RUNTIME_AREA_MAGIC) return "bad magic";
  if (h->version != KAIROS_RUNTIME_AREA_VERSION)
    return "unsupported version " + std::to_string(h->version);
  if (h->header_size != sizeof(kairos_runtime_area)) return "bad header_size";
  if (h->line_size != kLine) return "bad line_size";
  if (h->nr_kthreads == 0 || h->nr_kthreads > KAIROS_RUNTIME_AREA_MAX_KTHREADS)
    return "bad nr_kthreads";
  const std::uint64_t n = h->nr_kthreads;
  if (h->lines_offset % kLine != 0 || h->lines_offset < h->header_size ||
      h->lines_offset + n * kLine > bytes)
    return "lines out of bounds";
  if (h->tids_offset % alignof(kairos_kthread_info) != 0 ||
      h->tids_offset + n * sizeof(kairos_kthread_info) > bytes)
    return "tids out of bounds";
  return "";
}

std::optional<RuntimeAreaView> RuntimeAreaView::attach_fd(int fd,
                                                          std::string* err) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    *err = std::string("fstat: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (st.st_size < static_cast<off_t>(sizeof(kairos_runtime_area))) {
    *err = "area smaller than its header";
    return std::nullopt;
  }
  const auto bytes = static_cast<std::size_t>(st.st_size);
  void* p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *err = std::string("mmap: ") + std::strerror(errno);
    return std::nullopt;
  }
  *err = runtime_area_check(p, bytes);
  if (!err->empty()) {
    munmap(p, bytes);
    return std::nullopt;
  }
  return RuntimeAreaView(p, bytes);
}

std::optional<RuntimeAreaView> RuntimeAreaView::attach_shm(
    const std::string& name, std::string* err) {
  const int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) {
    *err = "shm_open " + name + ": " + std::strerror(errno);
    return std::nullopt;
  }
  auto v = attach_fd(fd, err);
  close(fd);
  return v;
}

RuntimeAreaView::RuntimeAreaView(const void* base, std::size_t bytes)
    : hdr_(static_cast<const kairos_runtime_area*>(base)), bytes_(bytes) {}

RuntimeAreaView::RuntimeAreaView(RuntimeAreaView&& o) noexcept
    : hdr_(o.hdr_), bytes_(o.bytes_) {
  o.hdr_ = nullptr;
}

RuntimeAreaView::~RuntimeAreaView() {
  if (hdr_) munmap(const_cast<kairos_runtime_area*>(hdr_), bytes_);
}

const kairos_queue_state* RuntimeAreaView::line(std::uint32_t k) const {
  if (k >= hdr_->nr_kthreads) return nullptr;
  return reinterpret_cast<const kairos_queue_state*>(
      reinterpret_cast<const char*>(hdr_) + hdr_->lines_offset + k * kLine);
}

std::uint32_t RuntimeAreaView::tid(std::uint32_t k) const {
  if (k >= hdr_->nr_kthreads) return 0;
  const auto* info = reinterpret_cast<const kairos_kthread_info*>(
      reinterpret_cast<const char*>(hdr_) + hdr_->tids_offset);
  return std::atomic_ref<std::uint32_t>(
             const_cast<std::uint32_t&>(info[k].tid))
      .load(std::memory_order_relaxed);
}

}  // namespace kairos
