// stress_lc_threads TOTAL SECONDS PARK_EVERY
// The short-lived threads of stress_vm_test: starts TOTAL threads spread
// over about SECONDS, at most kBatch alive at once. Each spins for a few
// microseconds and exits; every PARK_EVERY-th first parks on /dev/kairos
// (2 ms timeout) while a granter thread grants "any thread parked on CPU
// n" every millisecond, so kairos.ko's park and grant paths run under the
// same churn and hotplug. Prints what happened; exits 1 when a thread
// could not be started or a PARK failed other than by timeout, a full
// list (EBUSY) or a signal, 2 on bad arguments.
#include <linux/kairos.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 16;

struct Shared {
  int dev = -1;
  std::atomic<long> parks{0}, granted{0}, timed_out{0}, busy{0}, bad{0};
  std::atomic<int> bad_errno{0};
};

struct Job {
  Shared* s;
  bool park;
};

void* run(void* arg) {
  const Job job = *static_cast<Job*>(arg);
  Shared& s = *job.s;
  if (job.park && s.dev >= 0) {
    kairos_park p{};
    p.timeout_ns = 2'000'000;
    ++s.parks;
    if (::ioctl(s.dev, KAIROS_IOC_PARK, &p) == 0)
      ++s.granted;
    else if (errno == ETIMEDOUT)
      ++s.timed_out;
    else if (errno == EBUSY || errno == EINTR)
      ++s.busy;
    else {
      s.bad_errno = errno;
      ++s.bad;
    }
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
  while (std::chrono::steady_clock::now() < until) {
  }
  return nullptr;
}

long arg(const char* s) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  return errno || end == s || *end || v <= 0 ? -1 : v;
}

}  // namespace

int main(int argc, char** argv) {
  const long total = argc == 4 ? arg(argv[1]) : -1, seconds = argc == 4 ? arg(argv[2]) : -1,
             park_every = argc == 4 ? arg(argv[3]) : -1;
  if (total < 0 || seconds < 0 || park_every < 0) {
    std::fprintf(stderr, "usage: stress_lc_threads TOTAL SECONDS PARK_EVERY (positive)\n");
    return 2;
  }
  Shared s;
  s.dev = ::open("/dev/kairos", O_RDWR | O_CLOEXEC);
  if (s.dev < 0) std::fprintf(stderr, "no /dev/kairos (%s): no parking\n", std::strerror(errno));
  std::atomic<bool> done{false};
  long grants = 0;
  std::thread granter([&] {
    const long ncpu = ::sysconf(_SC_NPROCESSORS_CONF);
    while (!done && s.dev >= 0) {
      for (long c = 0; c < ncpu; ++c) {
        kairos_grant g{};
        g.cpu = static_cast<__u32>(c);
        if (::ioctl(s.dev, KAIROS_IOC_GRANT, &g) == 0) ++grants;  // ESRCH, EINVAL: none there
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  long started = 0, failed = 0;
  std::vector<Job> jobs(kBatch);
  std::vector<pthread_t> tids(kBatch);
  while (started < total) {
    // Pace the threads over the whole run instead of all at its start.
    std::this_thread::sleep_until(start + std::chrono::microseconds(seconds * 1'000'000 *
                                                                    started / total));
    int n = 0;
    for (; n < kBatch && started < total; ++n, ++started) {
      jobs[n] = {&s, started % park_every == 0};
      int err = 0;
      // Fork-heavy neighbours can leave no room for a moment: retry.
      for (int tries = 0; tries < 100; ++tries) {
        err = ::pthread_create(&tids[n], nullptr, run, &jobs[n]);
        if (err != EAGAIN) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (err) {
        ++failed;
        std::fprintf(stderr, "thread %ld: pthread_create: %s\n", started, std::strerror(err));
        --n;
      }
    }
    for (int i = 0; i < n; ++i) ::pthread_join(tids[i], nullptr);
  }
  done = true;
  granter.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld threads in %.1f s (%ld not started); %ld parks: %ld granted, %ld timed out, "
              "%ld busy/interrupted, %ld failed (last errno %d); %ld grants\n",
              started - failed, secs, failed, s.parks.load(), s.granted.load(),
              s.timed_out.load(), s.busy.load(), s.bad.load(), s.bad_errno.load(), grants);
  if (s.dev >= 0) ::close(s.dev);
  return failed || s.bad ? 1 : 0;
}
