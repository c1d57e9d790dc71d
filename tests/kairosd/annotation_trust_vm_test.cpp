// Who may make an app LC (label 'vm'): only an administrator. The owner of
// a delegated cgroup, as systemd and rootless containers hand them out, may
// write user.* attributes on it, and the older user.kairos.app annotation
// is exactly that: kairosd must ignore it, report it, and leave the
// cgroup's threads alone, with the sched_ext scheduler and with kairos.ko's
// class. An administrator's `kairosctl migrate` then makes it count.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <kairos/kairosd/annotation.hpp>

#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using kairos::kmodtest::read_stat;
using namespace std::chrono_literals;

constexpr uid_t kUser = 65534;  // nobody: no capabilities, owns the cgroup
constexpr char kLc[] = "v1 class=lc guaranteed=1 burstable=1";

// Hands the cgroup to kUser the way systemd delegates one: the directory
// and the files a delegate may write.
void delegate(const std::string& dir) {
  for (const char* f : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"})
    ASSERT_EQ(::chown((dir + f).c_str(), kUser, kUser), 0) << dir << f << ": " << std::strerror(errno);
}

// Runs fn as kUser in a child; its exit status.
template <class Fn>
int as_user(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(kUser) != 0 || ::setuid(kUser) != 0) _exit(100);
    _exit(fn());
  }
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

int policy_of(pid_t pid) { return ::sched_getscheduler(pid) & ~SCHED_RESET_ON_FORK; }

TEST(AnnotationTrust, ADelegatedCgroupsOwnerCannotMakeItLc) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ScratchCgroup cg("kt-deleg");
  delegate(cg.dir());

  // The owner may write the user.* attribute, not the trusted one, and
  // kairosctl tells them why.
  EXPECT_EQ(as_user([&] {
              return ::setxattr(cg.dir().c_str(), kairos::kUntrustedAnnotationXattr, kLc,
                                sizeof kLc - 1, 0) == 0 ? 0 : 1;
            }), 0);
  EXPECT_EQ(as_user([&] {
              return ::setxattr(cg.dir().c_str(), kairos::kAnnotationXattr, kLc, sizeof kLc - 1,
                                0) == -1 && errno == EPERM ? 0 : 1;
            }), 0);
  EXPECT_EQ(as_user([&] {
              std::string out;
              const int rc = kairosctl({"annotate", cg.name(), "--class", "lc"}, &out);
              return rc == 1 && out.find("only an administrator") != std::string::npos ? 0 : 1;
            }), 0);

  // The owner's threads, in the cgroup (moved there by root, as systemd does).
  Child work(spinner(), cg.dir());
  Child idle(sleeper(), cg.dir());
  for (const char* backend : {"sched_ext", "kmod"}) {
    SCOPED_TRACE(backend);
    Kairosd d({"--backend", backend});
    if (std::string(backend) == "sched_ext") {
      ASSERT_TRUE(d.wait_ready()) << d.output();
    }
    const std::string ignored =
        "ignored cgroup=" + cg.name() + " why=user.kairos.app is not trusted";
    ASSERT_TRUE(wait_for([&] { return d.status().find(ignored) != std::string::npos; }, 30s))
        << d.output() << d.status();
    // Several scans later: still no app, no LC thread, no owned core.
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(status_field(d.status(), "app", "cgroup=" + cg.name(), "id"), "") << d.status();
    EXPECT_EQ(policy_of(work.pid()), SCHED_OTHER);
    EXPECT_EQ(policy_of(idle.pid()), SCHED_OTHER);
    EXPECT_EQ(read_stat("live_lc_threads"), 0u);
    // Logged once, with the way out.
    const std::string log = d.output();
    const std::string said = "ignored cgroup " + cg.name() + ": user.kairos.app is not trusted";
    EXPECT_NE(log.find(said), std::string::npos) << log;
    EXPECT_EQ(log.find(said, log.find(said) + 1), std::string::npos) << log;
    EXPECT_NE(log.find("kairosctl migrate"), std::string::npos) << log;
    EXPECT_EQ(d.stop(SIGINT), 0) << d.output();
  }

  // kairosctl status without kairosd says the same.
  std::string st;
  EXPECT_EQ(kairosctl({"--status-file", "/nonexistent", "status"}, &st), 0);
  const auto line = st.find(cg.name() + " ");
  ASSERT_NE(line, std::string::npos) << st;
  EXPECT_EQ(st.find("ignored: user.kairos.app is not trusted", line),
            st.find_first_not_of(' ', line + cg.name().size())) << st;

  // An administrator migrates it: trusted now, and it counts.
  std::string mig;
  EXPECT_EQ(kairosctl({"migrate"}, &mig), 0) << mig;
  EXPECT_NE(mig.find(cg.name() + ": migrated: " + kLc), std::string::npos) << mig;
  char buf[128];
  EXPECT_LT(::getxattr(cg.dir().c_str(), kairos::kUntrustedAnnotationXattr, buf, sizeof buf), 0);
  const ssize_t n = ::getxattr(cg.dir().c_str(), kairos::kAnnotationXattr, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), kLc);
  {
    Kairosd d({"--backend", "kmod"});
    EXPECT_TRUE(wait_for([&] { return policy_of(work.pid()) != SCHED_OTHER; }, 20s))
        << d.output() << d.status();
    EXPECT_TRUE(wait_for([&] { return status_field(d.status(), "class", "", "members") == "2"; },
                         10s)) << d.status();
    EXPECT_EQ(d.stop(SIGINT), 0) << d.output();
  }
  EXPECT_TRUE(wait_for([&] { return policy_of(work.pid()) == SCHED_OTHER; }, 10s));
  // The owner cannot take it away either.
  EXPECT_EQ(as_user([&] { return kairosctl({"annotate", cg.name(), "--clear"}); }), 1);
}

}  // namespace
