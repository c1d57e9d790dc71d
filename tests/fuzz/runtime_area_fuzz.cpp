// The runtime area an app publishes in /dev/shm and kairosd maps: any
// bytes are either refused by runtime_area_check or stay inside the area
// for every line and thread id kairosd reads. Checked twice: on a heap
// copy of exactly the input (ASan sees any read past it), and through
// RuntimeAreaView::attach_fd on a memfd, as kairosd attaches.
#include <kairos/contracts/queue_state_area.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

namespace {

void check_heap_copy(const std::uint8_t* data, std::size_t size) {
  // The header is 64-byte aligned; an aligned allocation of exactly size.
  void* p = ::operator new(size ? size : 1, std::align_val_t{64});
  std::memcpy(p, data, size);
  if (kairos::runtime_area_check(p, size).empty()) {
    const auto* h = static_cast<const kairos_runtime_area*>(p);
    const auto* base = static_cast<const std::uint8_t*>(p);
    volatile std::uint64_t sink = 0;
    for (std::uint32_t k = 0; k < h->nr_kthreads; k++) {
      const auto* line = reinterpret_cast<const kairos_queue_state*>(
          base + h->lines_offset + std::size_t{k} * KAIROS_QUEUE_STATE_LINE_SIZE);
      sink = sink + line->generation + line->rq_head + line->app_id;
      const auto* info = reinterpret_cast<const kairos_kthread_info*>(
          base + h->tids_offset);
      sink = sink + info[k].tid;
    }
  }
  ::operator delete(p, std::align_val_t{64});
}

void check_attach(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("kairos-rt-fuzz", MFD_CLOEXEC);
  if (fd < 0) __builtin_trap();
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) __builtin_trap();
  std::string err;
  auto view = kairos::RuntimeAreaView::attach_fd(fd, &err);
  close(fd);
  if (!view) {
    if (err.empty()) __builtin_trap();  // a refusal says why
    return;
  }
  for (std::uint32_t k = 0; k <= view->nr_kthreads(); k++) {
    (void)view->snapshot(k);
    (void)view->tid(k);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  check_heap_copy(data, size);
  check_attach(data, size);
  return 0;
}
