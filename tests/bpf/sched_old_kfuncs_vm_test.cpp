// The scheduler's paths for kernels without the newest kfuncs
// (scx_bpf_dsq_peek, scx_bpf_task_set_slice): built with
// KAIROS_BPF_OLD_KFUNCS, they pass the verifier and run an LC app here.
// The test plays kairosd's part itself (one app, one owned CPU), loads the
// object (the verifier accepts the DSQ iterator and the store to
// p->scx.slice), and runs LC work beyond its CPU beside BE work with a
// rescue bound of 2 ms: the age of the app's queue head, which only the
// iterator finds, makes the other CPU rescue waiting LC tasks
// (stats.rescues); both kinds of work run, and the scheduler does not
// exit. The debug dump of an
// error exit is checked in sched_vm_test; here an ordinary unload leaves
// the dump empty.
#include "sched_testlib.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "kairos/sched_abi.h"
#include "kairos_sched_old_kfuncs.skel.h"
#include "sched_loader.hpp"

namespace {

using namespace kairos::schedtest;
using namespace kairos::vmtest;
using namespace std::chrono_literals;

constexpr std::uint32_t kApp = 1;

struct SkelDeleter {
  void operator()(kairos_sched_old_kfuncs* s) const { kairos_sched_old_kfuncs__destroy(s); }
};
using Skel = std::unique_ptr<kairos_sched_old_kfuncs, SkelDeleter>;

template <typename Req>
int run_syscall_prog(bpf_program* prog, Req& req) {
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &req, .ctx_size_in = sizeof req);
  if (bpf_prog_test_run_opts(bpf_program__fd(prog), &run)) return -errno;
  return static_cast<int>(run.retval);
}

TEST(SchedOldKfuncs, FallbacksLoadAndRunAnLcApp) {
  KernelLogGuard guard;
  ASSERT_EQ(sched_state(), "disabled") << "another scheduler is attached";
  Skel skel(kairos_sched_old_kfuncs__open());
  ASSERT_TRUE(skel);
  skel->rodata->nr_cpus = static_cast<std::uint32_t>(libbpf_num_possible_cpus());
  skel->data->tunables.rescue_ns = 2'000'000;
  skel->struct_ops.kairos_ops->hotplug_seq = kairos::sched_ext_hotplug_seq();
  ASSERT_EQ(kairos_sched_old_kfuncs__load(skel.get()), 0) << "the verifier refused the fallbacks";
  bpf_link* link = bpf_map__attach_struct_ops(skel->maps.kairos_ops);
  ASSERT_TRUE(link) << "attach failed: " << errno;
  ASSERT_TRUE(wait_for([] { return sched_state() == "enabled"; }, 10s));

  // kairosd's part: the cgroup is app 1, LC, owning the last CPU.
  ScratchCgroup lc("kt-oldk-lc");
  struct stat st{};
  ASSERT_EQ(stat(lc.dir().c_str(), &st), 0);
  const std::uint64_t cgid = st.st_ino;
  std::uint32_t app = kApp;
  ASSERT_EQ(bpf_map__update_elem(skel->maps.cgroup_app, &cgid, sizeof cgid, &app, sizeof app, 0), 0);
  kairos_class_req cls{kApp, KAIROS_CLASS_LC};
  ASSERT_EQ(run_syscall_prog(skel->progs.kairos_set_class, cls), 0);
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GE(ncpu, 2);
  kairos_owner_req own{static_cast<std::uint32_t>(ncpu - 1), kApp, 0};
  ASSERT_EQ(run_syscall_prog(skel->progs.kairos_set_owner, own), 0);
  ASSERT_EQ(own.result, 0);
  skel->bss->config_gen++;

  // Three LC spinners on one owned CPU keep the app's queue non-empty;
  // BE spinners keep the shared queue waiting, so the guard acts.
  std::vector<std::unique_ptr<Child>> work;
  for (int i = 0; i < 3; ++i) work.push_back(std::make_unique<Child>(spinner(), lc.dir()));
  auto be = spinners(ncpu);
  ASSERT_TRUE(wait_for([&] { return skel->bss->stats.rescues > 0; }, 20s))
      << "no LC task was rescued: the queue head's age was not found";
  // Contention for a while: the guard and the shared turns end slices.
  std::this_thread::sleep_for(3s);
  EXPECT_GT(skel->bss->stats.lc_enqueued, 0u);
  for (const auto& c : work) EXPECT_GT(cpu_ticks(c->pid()), 0) << "an LC spinner never ran";
  for (const auto& c : be) EXPECT_GT(cpu_ticks(c->pid()), 0) << "a BE spinner never ran";
  EXPECT_EQ(skel->bss->exit_record.kind, 0u) << skel->bss->exit_record.reason;
  EXPECT_EQ(sched_state(), "enabled");

  work.clear();
  be.clear();
  bpf_link__destroy(link);
  ASSERT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 10s));
  // An ordinary unload (SCX_EXIT_UNREG): recorded, with no debug dump.
  EXPECT_EQ(skel->bss->exit_record.kind, 64u);
  EXPECT_EQ(skel->bss->exit_record.dump[0], '\0');
}

}  // namespace
