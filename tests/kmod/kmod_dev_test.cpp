// /dev/kairos: every ioctl's bad inputs (fd, pointer, size, CPU, tid,
// reserved fields, privilege) fail cleanly, and park / grant / posted
// grants / preempt / LC registration work as <linux/kairos.h> documents.
#include "kmod_testlib.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::wait_for;

void* const kBadPointers[] = {nullptr, reinterpret_cast<void*>(1),
                              reinterpret_cast<void*>(0xffff888000000000ULL)};

const unsigned long kAllCmds[] = {KAIROS_IOC_VERSION, KAIROS_IOC_PARK,
                                  KAIROS_IOC_GRANT,   KAIROS_IOC_KICK,
                                  KAIROS_IOC_PREEMPT, KAIROS_IOC_LC_ADD,
                                  KAIROS_IOC_LC_DEL,  KAIROS_IOC_ADMIT};

// A thread that parks on `cpu` and records how the park ended.
struct Parker {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  int ret = 1;
  kairos_park out{};
  int cpu_after = -1;
  std::thread th;

  Parker(int fd, int cpu, std::uint64_t timeout_ns = 10'000'000'000ULL,
         std::uint64_t spin_ns = 0) {
    th = std::thread([this, fd, cpu, timeout_ns, spin_ns] {
      pin_self(cpu);
      tid = self_tid();
      kairos_park a{};
      a.timeout_ns = timeout_ns;
      a.spin_ns = spin_ns;
      ret = ioc(fd, KAIROS_IOC_PARK, &a);
      out = a;
      cpu_after = ::sched_getcpu();
      done = true;
    });
    wait_for([this] { return tid.load() != 0; }, 5s);
  }
  ~Parker() {
    if (th.joinable()) th.join();
  }
};

kairos_cpu_page* map_pages(int fd, int prot) {
  kairos_version v{};
  if (ioc(fd, KAIROS_IOC_VERSION, &v)) return nullptr;
  void* p = ::mmap(nullptr, std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE,
                   prot, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<kairos_cpu_page*>(p);
}

std::size_t pages_len() {
  kairos_version v{};
  const int fd = dev_open();
  ioc(fd, KAIROS_IOC_VERSION, &v);
  ::close(fd);
  return std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE;
}

bool parked_on(kairos_cpu_page* pages, int cpu, unsigned n) {
  return wait_for([&] { return __atomic_load_n(&KAIROS_CPU_PAGE(pages, cpu)->parked,
                                               __ATOMIC_ACQUIRE) == n; }, 5s);
}

// Every test: a freshly loaded module, and no BUG/WARNING/Oops in dmesg
// from load to unload (the guard outlives the module scope).
class KmodDev : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(mod_.loaded()); }

 private:
  KernelLogGuard guard_;
  ModuleScope mod_;
};

TEST_F(KmodDev, VersionQuery) {
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  kairos_version v{};
  ASSERT_EQ(ioc(fd, KAIROS_IOC_VERSION, &v), 0);
  EXPECT_EQ(v.major, KAIROS_ABI_MAJOR);
  EXPECT_EQ(v.minor, KAIROS_ABI_MINOR);
  EXPECT_GE(v.nr_cpus, static_cast<unsigned>(online_cpus()));
  EXPECT_EQ(v.cpu_page_size, KAIROS_CPU_PAGE_SIZE);
  EXPECT_GT(v.max_lc_threads, 0u);
  EXPECT_EQ(read_stat("live_files"), 1u);
  ::close(fd);
}

TEST_F(KmodDev, BadFdPointerSizeAndCommandFailCleanly) {
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  for (unsigned long cmd : kAllCmds)
    for (void* p : kBadPointers)
      EXPECT_EQ(ioc(fd, cmd, p), -EFAULT) << std::hex << cmd << " " << p;
  // A closed fd, and our commands on another device.
  kairos_version v{};
  const int dead = dev_open();
  ::close(dead);
  EXPECT_EQ(ioc(dead, KAIROS_IOC_VERSION, &v), -EBADF);
  const int null_fd = ::open("/dev/null", O_RDWR);
  EXPECT_EQ(ioc(null_fd, KAIROS_IOC_VERSION, &v), -ENOTTY);
  ::close(null_fd);
  // Unknown numbers, and known numbers with a wrong size or direction.
  char buf[512] = {};
  // nsfs's magic (0xB7, once ours too) is not answered: NS_GET_USERNS,
  // and what VERSION was in ABI 1.x.
  EXPECT_EQ(ioc(fd, _IO(0xB7, 0x1), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IOR(0xB7, 0, struct kairos_version), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IOR(KAIROS_IOC_MAGIC, 99, int), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IOC(_IOC_READ, KAIROS_IOC_MAGIC, 0, 8), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IOC(_IOC_WRITE, KAIROS_IOC_MAGIC, 2, 8), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IOW(KAIROS_IOC_MAGIC, 0, kairos_version), buf), -ENOTTY);
  EXPECT_EQ(ioc(fd, _IO('T', 1), buf), -ENOTTY);
  ::close(fd);
}

TEST_F(KmodDev, BadCpuTidSignalAndReservedFieldsAreEinvalOrEsrch) {
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  kairos_version v{};
  ASSERT_EQ(ioc(fd, KAIROS_IOC_VERSION, &v), 0);
  const int bad_cpus[] = {static_cast<int>(v.nr_cpus), KAIROS_MAX_CPUS - 1,
                          online_cpus()};
  for (int cpu : bad_cpus) {
    if (cpu < online_cpus()) continue;
    kairos_grant g{};
    g.cpu = static_cast<unsigned>(cpu);
    EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL) << cpu;
    kairos_cpuset s = cpuset_of(cpu);
    EXPECT_EQ(ioc(fd, KAIROS_IOC_KICK, &s), -EINVAL) << cpu;
    kairos_preempt p{};
    p.cpus = s;
    EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL) << cpu;
  }
  kairos_grant g{};
  g.cpu = 0x80000000u;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL);
  kairos_cpuset empty{};
  EXPECT_EQ(ioc(fd, KAIROS_IOC_KICK, &empty), -EINVAL);
  kairos_preempt p{};
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL);  // empty set
  p.cpus = cpuset_of(0);
  for (int signo : {-1, 65, 1000}) {
    p.signo = signo;
    EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL) << signo;
  }
  p.signo = 0;
  for (unsigned flags : {2u, 4u, 0x80000000u, KAIROS_PREEMPT_NO_IPI | 2u}) {
    p.flags = flags;
    EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL) << flags;
  }
  // The flag-only preempt cannot carry a signal.
  p.flags = KAIROS_PREEMPT_NO_IPI;
  p.signo = SIGUSR1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL);
  p.signo = 0;
  p.flags = 0;
  // Thread ids: negative, nobody, nobody parked.
  g = {};
  g.tid = -5;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL);
  g.tid = 0x3ffffff0;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -ESRCH);
  g.tid = self_tid();  // exists but is not parked
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -ESRCH);
  g.tid = 0;  // nobody parked on CPU 0
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -ESRCH);
  g.flags = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL);
  g.flags = 0;
  g.reserved = 7;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL);
  kairos_lc lc{};
  lc.tid = -1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), -EINVAL);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_DEL, &lc), -EINVAL);
  lc.tid = 0x3ffffff0;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), -ESRCH);
  lc.tid = 2;  // kthreadd: kernel threads never join
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), -EINVAL);
  lc.tid = 0;
  lc.flags = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), -EINVAL);
  lc.flags = 0;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_DEL, &lc), -ENOENT);  // not a member
  kairos_park park{};
  park.flags = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PARK, &park), -EINVAL);
  park.flags = 0;
  park.timeout_ns = ~0ULL;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PARK, &park), -EINVAL);
  EXPECT_EQ(read_stat("live_parked"), 0u);
  EXPECT_EQ(read_stat("live_lc_threads"), 0u);
  ::close(fd);
}

TEST_F(KmodDev, MmapChecksOffsetLengthAndSharing) {
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  kairos_version v{};
  ASSERT_EQ(ioc(fd, KAIROS_IOC_VERSION, &v), 0);
  const std::size_t page = KAIROS_CPU_PAGE_SIZE;
  EXPECT_EQ(::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd,
                   static_cast<off_t>(v.nr_cpus * page)), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(::mmap(nullptr, (v.nr_cpus + 1) * page, PROT_READ, MAP_SHARED, fd,
                   0), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  // One CPU's page alone, read-only; then all of them writable.
  void* one = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd,
                     static_cast<off_t>((v.nr_cpus - 1) * page));
  ASSERT_NE(one, MAP_FAILED);
  EXPECT_EQ(static_cast<kairos_cpu_page*>(one)->parked, 0u);
  EXPECT_EQ(read_stat("live_mappings"), 1u);
  kairos_cpu_page* all = map_pages(fd, PROT_READ | PROT_WRITE);
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(read_stat("live_mappings"), 2u);
  ::munmap(one, page);
  ::munmap(all, v.nr_cpus * page);
  EXPECT_EQ(read_stat("live_mappings"), 0u);
  ::close(fd);
}

// Without CAP_SYS_NICE/CAP_SYS_ADMIN: version, park and read-only mmap
// work; everything else is EPERM. Runs in a child that drops the caps.
TEST_F(KmodDev, UnprivilegedCallersGetEperm) {
  const std::size_t len = pages_len();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (const int e = drop_grant_capabilities()) _exit(e);
    int fails = 0;
    const int fd = dev_open();
    if (fd < 0) _exit(102);
    kairos_version v{};
    fails += ioc(fd, KAIROS_IOC_VERSION, &v) != 0;
    kairos_grant g{};
    fails += ioc(fd, KAIROS_IOC_GRANT, &g) != -EPERM;
    kairos_cpuset s = cpuset_of(0);
    fails += ioc(fd, KAIROS_IOC_KICK, &s) != -EPERM;
    kairos_preempt p{};
    p.cpus = s;
    fails += ioc(fd, KAIROS_IOC_PREEMPT, &p) != -EPERM;
    kairos_lc lc{};
    fails += ioc(fd, KAIROS_IOC_LC_ADD, &lc) != -EPERM;
    fails += ioc(fd, KAIROS_IOC_LC_DEL, &lc) != -EPERM;
    kairos_admit ad{};
    fails += ioc(fd, KAIROS_IOC_ADMIT, &ad) != -EPERM;
    kairos_park park{};
    park.timeout_ns = 1000000;  // not admitted: no parking
    fails += ioc(fd, KAIROS_IOC_PARK, &park) != -EPERM;
    void* w = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    fails += w != MAP_FAILED || errno != EPERM;
    void* r = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    fails += r != MAP_FAILED || errno != EPERM;  // the pages show host tids
    _exit(fails);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "checks that failed (or setup step)";
}

// The file remembers the credentials that last passed the privilege check
// (the grant path skips the LSM hooks for them); a thread that drops its
// capabilities has new credentials and must be refused on the same fd.
TEST_F(KmodDev, DroppingCapabilitiesAfterAPrivilegedCallGetsEperm) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fails = 0;
    const int fd = dev_open();
    if (fd < 0) _exit(102);
    kairos_grant g{};  // tid 0 on CPU 0, nobody parked: ESRCH once allowed
    kairos_cpuset s = cpuset_of(0);
    for (int i = 0; i < 3; ++i) {  // passes, then passes from the cache
      fails += ioc(fd, KAIROS_IOC_GRANT, &g) != -ESRCH;
      fails += ioc(fd, KAIROS_IOC_KICK, &s) != 0;
    }
    if (const int e = drop_grant_capabilities()) _exit(e);
    fails += ioc(fd, KAIROS_IOC_GRANT, &g) != -EPERM;
    fails += ioc(fd, KAIROS_IOC_KICK, &s) != -EPERM;
    kairos_lc lc{};
    fails += ioc(fd, KAIROS_IOC_LC_ADD, &lc) != -EPERM;
    ::close(fd);
    _exit(fails);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "checks that failed (or setup step)";
  EXPECT_EQ(read_stat("live_files"), 0u);
}

TEST_F(KmodDev, ParkThenGrantByTidOnAnotherCpu) {
  ASSERT_GE(online_cpus(), 2);
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ);
  ASSERT_NE(pages, nullptr);
  const auto grants0 = read_stat("grants");
  {
    Parker parker(fd, 0);
    ASSERT_TRUE(parked_on(pages, 0, 1));
    EXPECT_EQ(read_stat("live_parked"), 1u);
    EXPECT_FALSE(parker.done);
    kairos_grant g{};
    g.cpu = 1;
    g.tid = parker.tid;
    ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
    ASSERT_TRUE(wait_for([&] { return parker.done.load(); }, 5s));
    parker.th.join();
    EXPECT_EQ(parker.ret, 0);
    EXPECT_EQ(parker.out.cpu, 1u);
    EXPECT_EQ(parker.out.gen, 0u);
    EXPECT_EQ(parker.cpu_after, 1);  // running where it was granted
    EXPECT_EQ(KAIROS_CPU_PAGE(pages, 1)->running_tid, parker.tid);
    EXPECT_EQ(KAIROS_CPU_PAGE(pages, 0)->parked, 0u);
  }
  EXPECT_EQ(read_stat("grants"), grants0 + 1);
  EXPECT_EQ(read_stat("live_parked"), 0u);
  ::munmap(pages, pages_len());
  ::close(fd);
}

TEST_F(KmodDev, GrantAnyThreadParkedOnACpu) {
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ);
  ASSERT_NE(pages, nullptr);
  Parker a(fd, 1), b(fd, 1);
  ASSERT_TRUE(parked_on(pages, 1, 2));
  kairos_grant g{};
  g.cpu = 1;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -ESRCH);  // nobody left
  ASSERT_TRUE(wait_for([&] { return a.done && b.done; }, 5s));
  a.th.join();
  b.th.join();
  EXPECT_EQ(a.ret, 0);
  EXPECT_EQ(b.ret, 0);
  ::munmap(pages, pages_len());
  ::close(fd);
}

TEST_F(KmodDev, ParkTimesOutAndIsInterruptedBySignals) {
  const int fd = dev_open();
  {
    Parker timed(fd, 1, 20'000'000);
    timed.th.join();
    EXPECT_EQ(timed.ret, -ETIMEDOUT);
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGUSR2, &sa, nullptr);  // no SA_RESTART
  kairos_cpu_page* pages = map_pages(fd, PROT_READ);
  ASSERT_NE(pages, nullptr);
  Parker p(fd, 1);
  ASSERT_TRUE(parked_on(pages, 1, 1));
  ::pthread_kill(p.th.native_handle(), SIGUSR2);
  p.th.join();
  EXPECT_EQ(p.ret, -EINTR);
  EXPECT_EQ(KAIROS_CPU_PAGE(pages, 1)->parked, 0u);
  EXPECT_EQ(read_stat("live_parked"), 0u);
  ::munmap(pages, pages_len());
  ::close(fd);
}

TEST_F(KmodDev, GrantPostedInTheSharedPage) {
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ | PROT_WRITE);
  ASSERT_NE(pages, nullptr);
  kairos_cpu_page& pg = *KAIROS_CPU_PAGE(pages, 1);
  kairos_cpuset cpu1 = cpuset_of(1);

  // 1. Posted, then KICK: the parked thread named runs; done_gen follows.
  {
    Parker p(fd, 1);
    ASSERT_TRUE(parked_on(pages, 1, 1));
    const std::uint64_t gen = pg.done_gen + 1;
    pg.grant_tid = p.tid;
    __atomic_store_n(&pg.grant_gen, gen, __ATOMIC_RELEASE);
    EXPECT_FALSE(p.done);  // nothing happens without a kick or a spinner
    ASSERT_EQ(ioc(fd, KAIROS_IOC_KICK, &cpu1), 0);
    p.th.join();
    EXPECT_EQ(p.ret, 0);
    EXPECT_EQ(p.out.gen, gen);
    EXPECT_EQ(__atomic_load_n(&pg.done_gen, __ATOMIC_ACQUIRE), gen);
    EXPECT_EQ(pg.done_status, 0);
    EXPECT_EQ(pg.running_tid, p.tid);
  }
  // 2. Posted for nobody: completion says -ESRCH.
  {
    const auto misses = read_stat("grant_misses");
    const std::uint64_t gen = pg.done_gen + 1;
    pg.grant_tid = 0;
    __atomic_store_n(&pg.grant_gen, gen, __ATOMIC_RELEASE);
    ASSERT_EQ(ioc(fd, KAIROS_IOC_KICK, &cpu1), 0);
    EXPECT_EQ(pg.done_gen, gen);
    EXPECT_EQ(pg.done_status, -ESRCH);
    EXPECT_EQ(read_stat("grant_misses"), misses + 1);
  }
  // 3. No system call at all: a thread parking with a spin window takes
  //    the grant waiting in its CPU's page.
  {
    ASSERT_EQ(write_sysfs("park_spin_max_us", "10000"), 0);
    const std::uint64_t gen = pg.done_gen + 1;
    pg.grant_tid = 0;
    __atomic_store_n(&pg.grant_gen, gen, __ATOMIC_RELEASE);
    Parker p(fd, 1, 5'000'000'000ULL, 10'000'000);
    p.th.join();
    EXPECT_EQ(p.ret, 0);
    EXPECT_EQ(p.out.gen, gen);
    EXPECT_EQ(pg.done_gen, gen);
    EXPECT_EQ(pg.running_tid, p.tid);
  }
  ::munmap(pages, pages_len());
  ::close(fd);
}

TEST_F(KmodDev, DoneGenNeverMovesBackwards) {
  // Two grants posted back to back on CPU 1: the first wakes a thread that
  // cannot run yet (a real-time hog holds CPU 1), the second finds nobody
  // and completes at once. When the first thread finally runs, done_gen
  // must stay at the second grant's generation.
  pin_self(0);
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ | PROT_WRITE);
  ASSERT_NE(pages, nullptr);
  kairos_cpu_page& pg = *KAIROS_CPU_PAGE(pages, 1);
  kairos_cpuset cpu1 = cpuset_of(1);
  Parker p(fd, 1);
  ASSERT_TRUE(parked_on(pages, 1, 1));
  std::atomic<bool> hog_on{false}, hog_stop{false};
  std::thread hog([&] {
    pin_self(1);
    sched_param rt{};
    rt.sched_priority = 99;
    if (::sched_setscheduler(0, SCHED_FIFO, &rt)) return;
    hog_on = true;
    const auto until = std::chrono::steady_clock::now() + 2s;  // a bound, whatever happens
    while (!hog_stop.load() && std::chrono::steady_clock::now() < until) {
    }
  });
  ASSERT_TRUE(wait_for([&] { return hog_on.load(); }, 5s));
  const std::uint64_t first = pg.done_gen + 1;
  pg.grant_tid = p.tid;
  __atomic_store_n(&pg.grant_gen, first, __ATOMIC_RELEASE);
  ASSERT_EQ(ioc(fd, KAIROS_IOC_KICK, &cpu1), 0);
  const std::uint64_t second = first + 1;
  pg.grant_tid = 0;
  __atomic_store_n(&pg.grant_gen, second, __ATOMIC_RELEASE);
  ASSERT_EQ(ioc(fd, KAIROS_IOC_KICK, &cpu1), 0);
  const bool first_done_early = p.done.load();
  hog_stop = true;
  hog.join();
  p.th.join();
  EXPECT_FALSE(first_done_early) << "the hog did not hold the woken thread back";
  EXPECT_EQ(p.ret, 0);
  EXPECT_EQ(p.out.gen, first);
  EXPECT_EQ(__atomic_load_n(&pg.done_gen, __ATOMIC_ACQUIRE), second);
  EXPECT_EQ(pg.done_status, -ESRCH);
  EXPECT_EQ(pg.running_tid, p.tid);
  ::munmap(pages, pages_len());
  ::close(fd);
}

// One KICK or PREEMPT over two CPUs: each CPU's posted grant is taken, each
// CPU's flag moves (the many-CPU IPI path); a bit in a middle word of the
// set, past the last CPU, is EINVAL and changes nothing.
TEST_F(KmodDev, KickAndPreemptOverTwoCpus) {
  ASSERT_GE(online_cpus(), 2);
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ | PROT_WRITE);
  ASSERT_NE(pages, nullptr);
  kairos_cpuset both = cpuset_of(0);
  both.bits[0] |= 2;
  {
    Parker p0(fd, 0), p1(fd, 1);
    ASSERT_TRUE(parked_on(pages, 0, 1));
    ASSERT_TRUE(parked_on(pages, 1, 1));
    std::uint64_t gen[2];
    for (int c = 0; c < 2; ++c) {
      kairos_cpu_page& pg = *KAIROS_CPU_PAGE(pages, c);
      gen[c] = pg.done_gen + 1;
      pg.grant_tid = c == 0 ? p0.tid.load() : p1.tid.load();
      __atomic_store_n(&pg.grant_gen, gen[c], __ATOMIC_RELEASE);
    }
    kairos_cpuset bad = both;
    bad.bits[3] = 1;  // CPU 192: no such CPU here
    EXPECT_EQ(ioc(fd, KAIROS_IOC_KICK, &bad), -EINVAL);
    EXPECT_FALSE(p0.done || p1.done);  // nothing was taken
    ASSERT_EQ(ioc(fd, KAIROS_IOC_KICK, &both), 0);
    p0.th.join();
    p1.th.join();
    EXPECT_EQ(p0.ret, 0);
    EXPECT_EQ(p1.ret, 0);
    EXPECT_EQ(p0.out.gen, gen[0]);
    EXPECT_EQ(p1.out.gen, gen[1]);
    EXPECT_EQ(p0.cpu_after, 0);
    EXPECT_EQ(p1.cpu_after, 1);
    for (int c = 0; c < 2; ++c)
      EXPECT_EQ(__atomic_load_n(&KAIROS_CPU_PAGE(pages, c)->done_gen, __ATOMIC_ACQUIRE), gen[c]);
  }
  const std::uint64_t f0 = KAIROS_CPU_PAGE(pages, 0)->preempt_gen;
  const std::uint64_t f1 = KAIROS_CPU_PAGE(pages, 1)->preempt_gen;
  kairos_preempt p{};
  p.cpus = both;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
  EXPECT_TRUE(wait_for([&] {
    return KAIROS_CPU_PAGE(pages, 0)->preempt_gen == f0 + 5 &&
           KAIROS_CPU_PAGE(pages, 1)->preempt_gen == f1 + 5;
  }, 5s));
  p.cpus.bits[3] = 1;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(KAIROS_CPU_PAGE(pages, 0)->preempt_gen, f0 + 5);
  EXPECT_EQ(KAIROS_CPU_PAGE(pages, 1)->preempt_gen, f1 + 5);
  ::munmap(pages, pages_len());
  ::close(fd);
  EXPECT_EQ(read_stat("live_parked"), 0u);
}

std::atomic<int> g_sig_count{0};
std::atomic<pid_t> g_sig_target{0};
std::atomic<int> g_sig_wrong{0};

TEST_F(KmodDev, PreemptBumpsTheFlagAndSignalsOnlyTheGrantedThread) {
  const int fd = dev_open();
  kairos_cpu_page* pages = map_pages(fd, PROT_READ);
  ASSERT_NE(pages, nullptr);
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    if (self_tid() == g_sig_target.load()) ++g_sig_count;
    else ++g_sig_wrong;
  };
  ::sigaction(SIGUSR1, &sa, nullptr);

  // A granted thread spinning on CPU 1 until it has been signalled.
  std::atomic<bool> stop{false};
  std::atomic<int> state{0};
  std::thread t([&] {
    pin_self(1);
    g_sig_target = self_tid();
    kairos_park a{};
    a.timeout_ns = 10'000'000'000ULL;
    state = 1;
    state = ioc(fd, KAIROS_IOC_PARK, &a) == 0 ? 2 : 3;
    while (!stop) {
    }
  });
  ASSERT_TRUE(parked_on(pages, 1, 1));
  kairos_grant g{};
  g.cpu = 1;
  g.tid = g_sig_target;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  ASSERT_TRUE(wait_for([&] { return state.load() >= 2; }, 5s));
  ASSERT_EQ(state.load(), 2);

  kairos_preempt p{};
  p.cpus = cpuset_of(1);
  p.signo = SIGUSR1;
  const std::uint64_t gen0 = KAIROS_CPU_PAGE(pages, 1)->preempt_gen;
  // The IPI signals only if the granted thread is on the CPU right then.
  int tries = 0;
  while (g_sig_count == 0 && tries < 100) {
    ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
    ++tries;
    wait_for([] { return g_sig_count.load() > 0; }, 20ms);
  }
  EXPECT_GT(g_sig_count.load(), 0);
  // The flag, every time (the call does not wait for the IPI: poll).
  EXPECT_TRUE(wait_for([&] { return KAIROS_CPU_PAGE(pages, 1)->preempt_gen == gen0 + tries; }, 5s))
      << KAIROS_CPU_PAGE(pages, 1)->preempt_gen << " vs " << gen0 + tries;
  EXPECT_GE(read_stat("preempt_ipis"), static_cast<std::uint64_t>(tries));
  EXPECT_GE(read_stat("preempt_signals"), 1u);

  // Flag only, no IPI: the flag moves before the call returns, no signal.
  std::this_thread::sleep_for(50ms);  // a signal of the last IPI lands first
  const int sigs = g_sig_count.load();
  const std::uint64_t ipis = read_stat("preempt_ipis");
  const std::uint64_t gen1 = KAIROS_CPU_PAGE(pages, 1)->preempt_gen;
  p.signo = 0;
  p.flags = KAIROS_PREEMPT_NO_IPI;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
  EXPECT_EQ(KAIROS_CPU_PAGE(pages, 1)->preempt_gen, gen1 + 10);
  EXPECT_EQ(read_stat("preempt_ipis"), ipis);
  p.signo = SIGUSR1;
  p.flags = 0;

  // CPU 0 runs nobody the module granted: the flag moves, no signal.
  const std::uint64_t gen_cpu0 = KAIROS_CPU_PAGE(pages, 0)->preempt_gen;
  p.cpus = cpuset_of(0);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
  EXPECT_TRUE(wait_for([&] { return KAIROS_CPU_PAGE(pages, 0)->preempt_gen == gen_cpu0 + 20; }, 5s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(g_sig_count.load(), sigs);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(g_sig_wrong.load(), 0);
  stop = true;
  t.join();
  ::munmap(pages, pages_len());
  ::close(fd);
}

TEST_F(KmodDev, ClosingTheFdReleasesLcThreads) {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::thread t([&] {
    tid = self_tid();
    while (!stop) std::this_thread::sleep_for(1ms);
  });
  ASSERT_TRUE(wait_for([&] { return tid.load() != 0; }, 5s));
  // A budget the sleeper cannot use up, so that the class never demotes
  // it between the checks below (an emulated CPU's stalls are charged to
  // whoever runs; this test is about what closing the fd releases).
  ASSERT_EQ(write_sysfs("period_us", "1000000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "900000"), 0);
  const int fd = dev_open();
  const int other = dev_open();
  kairos_lc lc{};
  lc.tid = tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), 0);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), -EEXIST);
  EXPECT_EQ(ioc(other, KAIROS_IOC_LC_DEL, &lc), -ENOENT);  // not its own
  EXPECT_EQ(policy_of(tid), SCHED_FIFO);
  EXPECT_EQ(read_stat("live_lc_threads"), 1u);
  ::close(other);
  EXPECT_EQ(policy_of(tid), SCHED_FIFO);
  ::close(fd);
  EXPECT_EQ(policy_of(tid), SCHED_OTHER);
  EXPECT_EQ(read_stat("live_lc_threads"), 0u);
  // LC_DEL gives the same, and RT threads cannot join.
  const int fd2 = dev_open();
  ASSERT_EQ(ioc(fd2, KAIROS_IOC_LC_ADD, &lc), 0);
  ASSERT_EQ(ioc(fd2, KAIROS_IOC_LC_DEL, &lc), 0);
  EXPECT_EQ(policy_of(tid), SCHED_OTHER);
  sched_param sp{};
  sp.sched_priority = 5;
  ASSERT_EQ(::sched_setscheduler(tid, SCHED_RR, &sp), 0);
  EXPECT_EQ(ioc(fd2, KAIROS_IOC_LC_ADD, &lc), -EBUSY);
  sp.sched_priority = 0;
  ::sched_setscheduler(tid, SCHED_OTHER, &sp);
  ::close(fd2);
  stop = true;
  t.join();
}

}  // namespace
