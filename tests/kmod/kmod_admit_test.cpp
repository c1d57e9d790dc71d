// Who may park, and who may read the shared pages (<linux/kairos.h>,
// "Permissions"): a grant only ever wakes a thread the privileged side
// admitted, strangers neither count in `parked` nor lengthen the grant
// path, and the pages (which hold host-wide thread ids) are not mapped for
// unprivileged readers.
#include "kmod_testlib.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::wait_for;

constexpr uid_t kNobody = 65534;
constexpr int kCpu = 1;

// Makes the calling (forked) process user nobody, with no capabilities.
int become_nobody() {
  if (::setresgid(kNobody, kNobody, kNobody)) return 90;
  if (::setresuid(kNobody, kNobody, kNobody)) return 91;
  return 0;
}

// A thread that parks on `cpu` and records how the park ended.
struct Parker {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  int ret = 1;
  kairos_park out{};
  std::thread th;

  Parker(int fd, int cpu, std::uint64_t timeout_ns = 10'000'000'000ULL) {
    th = std::thread([this, fd, cpu, timeout_ns] {
      pin_self(cpu);
      tid = self_tid();
      kairos_park a{};
      a.timeout_ns = timeout_ns;
      ret = ioc(fd, KAIROS_IOC_PARK, &a);
      out = a;
      done = true;
    });
    wait_for([this] { return tid.load() != 0; }, 5s);
  }
  ~Parker() {
    if (th.joinable()) th.join();
  }
};

kairos_cpu_page* map_pages(int fd, int prot, std::size_t* len) {
  kairos_version v{};
  if (ioc(fd, KAIROS_IOC_VERSION, &v)) return nullptr;
  *len = std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE;
  void* p = ::mmap(nullptr, *len, prot, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<kairos_cpu_page*>(p);
}

std::uint32_t parked(kairos_cpu_page* pages, int cpu) {
  return __atomic_load_n(&KAIROS_CPU_PAGE(pages, cpu)->parked, __ATOMIC_ACQUIRE);
}

// A forked process, user nobody, whose `threads` threads each try to park
// on kCpu for 20 s; it writes one byte to `ready` once all have tried or
// parked (a refused PARK returns at once). The exit status counts the
// threads that a grant woke: 0 unless a stranger took a grant.
pid_t spawn_strangers(int threads, int ready) {
  const pid_t child = ::fork();
  if (child != 0) return child;
  if (const int e = become_nobody()) _exit(e);
  const int fd = dev_open();
  if (fd < 0) _exit(92);
  std::atomic<int> tried{0}, granted{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) {
    ts.emplace_back([&] {
      pin_self(kCpu);
      kairos_park a{};
      a.timeout_ns = 20'000'000'000ULL;
      ++tried;
      if (ioc(fd, KAIROS_IOC_PARK, &a) == 0) ++granted;
    });
  }
  while (tried.load() < threads) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(200ms);  // the last ones reach the list
  const char b = 1;
  if (::write(ready, &b, 1) != 1) _exit(93);
  // Lives until killed, or until every park ended (timeouts).
  for (auto& t : ts) t.join();
  _exit(granted.load());
}

// Returns once a stranger process's threads have all tried to park.
void wait_ready(int ready) {
  char b = 0;
  ASSERT_EQ(::read(ready, &b, 1), 1) << "the stranger process failed to start";
}

// Kills the stranger process; its status says how many of its threads a
// grant woke (none may have been).
int reap_strangers(pid_t child) {
  int status = 0;
  if (::waitpid(child, &status, WNOHANG) == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return 0;  // killed while still parked or refused: never granted
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class KmodAdmit : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mod_.loaded());
    ASSERT_GE(online_cpus(), 2);
  }

 private:
  KernelLogGuard guard_;
  ModuleScope mod_;
};

// A stranger that parks first on the CPU is not counted, and a grant for
// "any thread parked there" (tid 0, what a posted grant may say) reaches
// the admitted thread that parked after it.
TEST_F(KmodAdmit, AStrangerParkedFirstIsNeverGrantedNorCounted) {
  const int fd = dev_open();
  std::size_t len = 0;
  kairos_cpu_page* pages = map_pages(fd, PROT_READ, &len);
  ASSERT_NE(pages, nullptr);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t child = spawn_strangers(1, pipefd[1]);
  ASSERT_GT(child, 0);
  wait_ready(pipefd[0]);
  EXPECT_EQ(parked(pages, kCpu), 0u) << "a stranger counts as parked";
  {
    Parker app(fd, kCpu);
    ASSERT_TRUE(wait_for([&] { return parked(pages, kCpu) >= 1; }, 5s));
    EXPECT_EQ(parked(pages, kCpu), 1u);
    kairos_grant g{};
    g.cpu = kCpu;
    g.tid = 0;
    ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
    EXPECT_TRUE(wait_for([&] { return app.done.load(); }, 5s))
        << "the grant woke someone else";
    if (!app.done) {  // let the parker go: grant it by its tid
      g.tid = app.tid;
      ioc(fd, KAIROS_IOC_GRANT, &g);
    }
    app.th.join();
    EXPECT_EQ(app.ret, 0);
    EXPECT_EQ(app.out.cpu, static_cast<unsigned>(kCpu));
  }
  EXPECT_EQ(reap_strangers(child), 0) << "a stranger took a grant";
  EXPECT_EQ(parked(pages, kCpu), 0u);
  ::munmap(pages, len);
  ::close(fd);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

// Many strangers trying to park on the CPU do not lengthen the search a
// grant makes there: counted in stats/grant_scanned, not timed.
TEST_F(KmodAdmit, StrangersDoNotLengthenTheGrantPath) {
  const int fd = dev_open();
  std::size_t len = 0;
  kairos_cpu_page* pages = map_pages(fd, PROT_READ, &len);
  ASSERT_NE(pages, nullptr);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  constexpr int kStrangers = 100;
  const pid_t child = spawn_strangers(kStrangers, pipefd[1]);
  ASSERT_GT(child, 0);
  wait_ready(pipefd[0]);
  {
    Parker app(fd, kCpu);
    ASSERT_TRUE(wait_for([&] { return parked(pages, kCpu) >= 1; }, 5s));
    std::this_thread::sleep_for(100ms);
    const auto scanned0 = read_stat("grant_scanned");
    kairos_grant g{};
    g.cpu = kCpu;
    g.tid = app.tid;
    ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
    EXPECT_LE(read_stat("grant_scanned") - scanned0, 1u)
        << "a grant walked past the strangers";
    app.th.join();
    EXPECT_EQ(app.ret, 0);
  }
  EXPECT_EQ(reap_strangers(child), 0);
  ::munmap(pages, len);
  ::close(fd);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

// The pages hold thread ids of the initial pid namespace: an unprivileged
// process cannot map them, read-only or not.
TEST_F(KmodAdmit, UnprivilegedReadersCannotMapThePages) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (const int e = become_nobody()) _exit(e);
    const int fd = dev_open();
    if (fd < 0) _exit(92);
    std::size_t len = 0;
    int fails = 0;
    for (int prot : {PROT_READ, PROT_READ | PROT_WRITE}) {
      errno = 0;
      fails += map_pages(fd, prot, &len) != nullptr || errno != EPERM;
    }
    _exit(fails);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "mappings that were allowed (or setup step)";
}

// A privileged process inside a pid namespace would see tids of another
// namespace: it cannot map the pages either.
TEST_F(KmodAdmit, ReadersInsideAPidNamespaceCannotMapThePages) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWPID)) _exit(80);
    const pid_t inner = ::fork();  // the first process of the new namespace
    if (inner < 0) _exit(81);
    if (inner == 0) {
      const int fd = dev_open();
      if (fd < 0) _exit(92);
      std::size_t len = 0;
      errno = 0;
      const bool mapped = map_pages(fd, PROT_READ, &len) != nullptr;
      _exit(mapped || errno != EPERM ? 1 : 0);
    }
    int st = 0;
    if (::waitpid(inner, &st, 0) != inner || !WIFEXITED(st)) _exit(82);
    _exit(WEXITSTATUS(st));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "mapped from a pid namespace (or setup step)";
}

// An unprivileged process may park once a privileged file admitted it,
// and a grant reaches it; revoking, or closing the admitting file, ends
// that.
TEST_F(KmodAdmit, AnAdmittedProcessParksUntilRevoked) {
  const int fd = dev_open();
  std::size_t len = 0;
  kairos_cpu_page* pages = map_pages(fd, PROT_READ, &len);
  ASSERT_NE(pages, nullptr);
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (const int e = become_nobody()) _exit(e);
    const int cfd = dev_open();
    if (cfd < 0) _exit(92);
    pin_self(kCpu);
    kairos_park a{};
    a.timeout_ns = 1'000'000;
    if (ioc(cfd, KAIROS_IOC_PARK, &a) != -EPERM) _exit(94);
    char b = 1;
    if (::write(to_parent[1], &b, 1) != 1 || ::read(to_child[0], &b, 1) != 1) _exit(95);
    a.timeout_ns = 10'000'000'000ULL;  // admitted now: parks until granted
    if (ioc(cfd, KAIROS_IOC_PARK, &a) != 0) _exit(96);
    if (a.cpu != static_cast<unsigned>(kCpu)) _exit(97);
    if (::write(to_parent[1], &b, 1) != 1 || ::read(to_child[0], &b, 1) != 1) _exit(95);
    a.timeout_ns = 1'000'000;  // revoked now
    _exit(ioc(cfd, KAIROS_IOC_PARK, &a) == -EPERM ? 0 : 98);
  }
  char b = 0;
  ASSERT_EQ(::read(to_parent[0], &b, 1), 1);
  kairos_admit ad{};
  ad.tgid = child;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), 0);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), 0);  // once is enough
  EXPECT_EQ(read_stat("live_admitted"), 1u);
  ASSERT_EQ(::write(to_child[1], &b, 1), 1);
  EXPECT_TRUE(wait_for([&] { return parked(pages, kCpu) == 1; }, 5s));
  kairos_grant g{};
  g.cpu = kCpu;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  ASSERT_EQ(::read(to_parent[0], &b, 1), 1);
  ad.flags = KAIROS_ADMIT_REVOKE;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), 0);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -ESRCH);  // not admitted now
  EXPECT_EQ(read_stat("live_admitted"), 0u);
  ASSERT_EQ(::write(to_child[1], &b, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the step of the child that failed";

  // Closing the admitting file revokes what it admitted.
  const int fd2 = dev_open();
  ad = {};
  ad.tgid = ::getpid();
  ASSERT_EQ(ioc(fd2, KAIROS_IOC_ADMIT, &ad), 0);
  EXPECT_EQ(read_stat("live_admitted"), 1u);
  ::close(fd2);
  EXPECT_EQ(read_stat("live_admitted"), 0u);
  ::munmap(pages, len);
  ::close(fd);
  for (int f : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(f);
}

TEST_F(KmodAdmit, AdmitRefusesBadArguments) {
  const int fd = dev_open();
  kairos_admit ad{};
  ad.tgid = -1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -EINVAL);
  ad = {};
  ad.flags = 2;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -EINVAL);
  ad = {};
  ad.reserved = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -EINVAL);
  ad = {};
  ad.reserved2 = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -EINVAL);
  ad = {};
  ad.tgid = 0x3fffffff;  // no such process
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -ESRCH);
  std::atomic<pid_t> tid{0};
  std::atomic<bool> stop{false};
  std::thread t([&] {
    tid = self_tid();
    while (!stop) std::this_thread::sleep_for(1ms);
  });
  ASSERT_TRUE(wait_for([&] { return tid.load() != 0; }, 5s));
  ad.tgid = tid;  // a thread, not a thread group
  EXPECT_EQ(ioc(fd, KAIROS_IOC_ADMIT, &ad), -ESRCH);
  stop = true;
  t.join();
  EXPECT_EQ(read_stat("live_admitted"), 0u);
  ::close(fd);
}

// At most KAIROS_MAX_PARKED_PER_CPU threads park on one CPU, so a grant's
// search there stays bounded whoever parks.
TEST_F(KmodAdmit, ParkingIsBoundedPerCpu) {
  const int fd = dev_open();
  std::size_t len = 0;
  kairos_cpu_page* pages = map_pages(fd, PROT_READ, &len);
  ASSERT_NE(pages, nullptr);
  std::vector<std::unique_ptr<Parker>> ps;
  for (int i = 0; i < KAIROS_MAX_PARKED_PER_CPU; ++i)
    ps.push_back(std::make_unique<Parker>(fd, kCpu));
  ASSERT_TRUE(wait_for([&] { return parked(pages, kCpu) == KAIROS_MAX_PARKED_PER_CPU; }, 10s));
  {
    Parker extra(fd, kCpu);
    ASSERT_TRUE(wait_for([&] { return extra.done.load(); }, 5s));
    EXPECT_EQ(extra.ret, -EBUSY);
  }
  kairos_grant g{};
  g.cpu = kCpu;
  for (int i = 0; i < KAIROS_MAX_PARKED_PER_CPU; ++i)
    EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  for (auto& p : ps) {
    p->th.join();
    EXPECT_EQ(p->ret, 0);
  }
  EXPECT_EQ(parked(pages, kCpu), 0u);
  ::munmap(pages, len);
  ::close(fd);
}

}  // namespace
