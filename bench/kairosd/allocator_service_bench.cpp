// Poll cost of kairosd's allocator loop measured by the loop itself
// (AllocatorService, the code kairosd runs), natively on a host without
// sched_ext: the scheduler side is plain memory (FakeSched), the runtime
// side real runtime areas whose kthreads are all parked and idle, so every
// poll is a "quiet" one (reads every line, decides nothing). Spin mode,
// 5 us polls, the loop pinned to one CPU. Prints, per number of monitored
// kthreads, kairosd's own figures (mean of quiet polls; median of the last
// 1024, which a preempted poll on a shared host does not skew) and the
// cost per kthread, plus the marginal cost per added kthread (median).
//   allocator_service_bench [CPU] [SECONDS]
#include "allocator_service.hpp"
#include "fake_sched.hpp"

#include <kairos/contracts/queue_state.hpp>
#include <kairos/contracts/queue_state_area.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace {

using namespace kairos;

std::uint64_t field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  for (std::string w; in >> w;)
    if (w.rfind(key + "=", 0) == 0) return std::strtoull(w.c_str() + key.size() + 1, nullptr, 10);
  return 0;
}

std::shared_ptr<const RuntimeAreaView> idle_area(std::uint32_t n) {
  const int fd = memfd_create("kairos-bench-area", MFD_CLOEXEC);
  const std::size_t len = runtime_area_size(n);
  if (ftruncate(fd, static_cast<off_t>(len)) != 0) std::abort();
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  runtime_area_init(base, n, 1, static_cast<std::uint32_t>(getpid()));
  std::string err;
  auto v = RuntimeAreaView::attach_fd(fd, &err);
  if (!v) std::abort();
  auto view = std::make_shared<const RuntimeAreaView>(std::move(*v));
  const auto* h = static_cast<const kairos_runtime_area*>(base);
  for (std::uint32_t k = 0; k < n; ++k)
    QueueStateWriter(reinterpret_cast<kairos_queue_state*>(
                         static_cast<char*>(base) + h->lines_offset +
                         k * KAIROS_QUEUE_STATE_LINE_SIZE))
        .set_parked(1);
  close(fd);  // the writable mapping stays for the process's life
  return view;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned cpu = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 1;
  const double secs = argc > 2 ? std::atof(argv[2]) : 1.0;
  constexpr std::uint32_t kCores = 64;
  std::printf("kairosd allocator loop, spin mode, 5 us polls, %u fake cores, CPU %u, %.1f s each\n",
              kCores, cpu, secs);
  std::printf("%9s %14s %14s %16s %22s\n", "kthreads", "mean ns/poll", "median ns/poll",
              "median ns/kthread", "marginal ns/kthread");
  double base = 0;
  for (std::uint32_t n : {1u, 16u, 64u, 256u}) {
    FakeSched s(kCores);
    AllocatorOptions o;
    o.cpu = cpu;
    o.power = AllocatorOptions::Power::kSpin;
    o.rt_priority = 0;
    AllocatorService svc(o, kCores, [](const std::string&) {});
    // Spread over 4 apps, as several runtimes would be.
    std::vector<AllocatorApp> apps;
    for (std::uint32_t a = 0; a < 4; ++a)
      apps.push_back({a + 1, 0, 8, getpid(), idle_area(n / 4 ? n / 4 : 1)});
    if (n < 4) apps.resize(1);
    svc.update(apps, std::vector<bool>(kCores, true));
    svc.start(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string a = svc.status_lines();
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
    const std::string b = svc.status_lines();
    svc.stop();
    const double polls = static_cast<double>(field(b, "quiet_polls") - field(a, "quiet_polls"));
    const double ns = static_cast<double>(field(b, "quiet_ns") - field(a, "quiet_ns"));
    const double mean = polls ? ns / polls : 0;
    const double p50 = static_cast<double>(field(b, "quiet_poll_ns_p50"));
    const std::uint64_t kt = field(b, "kthreads");
    if (n == 1) base = p50;
    std::printf("%9llu %14.0f %14.0f %16.1f %22s\n", static_cast<unsigned long long>(kt), mean,
                p50, kt ? p50 / static_cast<double>(kt) : 0,
                n == 1 ? "-" : std::to_string((p50 - base) / static_cast<double>(kt - 1)).substr(0, 6).c_str());
  }
  return 0;
}
