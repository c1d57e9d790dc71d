// kairos.ko loads, publishes /sys/kernel/kairos/version, and unloads
// leaving nothing behind.
#include "vm_testlib.hpp"

#include "../../kmod/uapi/kairos.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace kairos::vmtest;
using namespace std::chrono_literals;

int load_module(const std::string& ko) {
  const int fd = ::open(ko.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const long r = ::syscall(SYS_finit_module, fd, "", 0);
  const int err = r ? -errno : 0;
  ::close(fd);
  return err;
}

int unload_module() {
  return ::syscall(SYS_delete_module, "kairos", O_NONBLOCK) ? -errno : 0;
}

TEST(KmodLoad, LoadsPublishesVersionAndUnloadsCleanly) {
  KernelLogGuard guard;
  const std::string ko = build_path("kmod-build/kairos.ko");
  ASSERT_TRUE(path_exists(ko)) << ko;
  ASSERT_FALSE(path_exists(KAIROS_SYSFS_DIR)) << "module already loaded";

  ASSERT_EQ(load_module(ko), 0);
  EXPECT_EQ(read_file(KAIROS_SYSFS_DIR "/version"),
            std::to_string(KAIROS_ABI_MAJOR) + "." +
                std::to_string(KAIROS_ABI_MINOR) + "\n");
  EXPECT_NE(read_file("/proc/modules").find("kairos "), std::string::npos);

  ASSERT_EQ(unload_module(), 0);
  EXPECT_FALSE(path_exists(KAIROS_SYSFS_DIR));
  EXPECT_EQ(read_file("/proc/modules").find("kairos "), std::string::npos);
}

TEST(KmodLoad, SurvivesRepeatedLoadUnload) {
  KernelLogGuard guard;
  const std::string ko = build_path("kmod-build/kairos.ko");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(load_module(ko), 0) << "round " << i;
    ASSERT_EQ(unload_module(), 0) << "round " << i;
  }
  EXPECT_FALSE(path_exists(KAIROS_SYSFS_DIR));
}

TEST(KmodLoad, SecondLoadIsRefusedWithoutHarm) {
  KernelLogGuard guard;
  const std::string ko = build_path("kmod-build/kairos.ko");
  ASSERT_EQ(load_module(ko), 0);
  EXPECT_EQ(load_module(ko), -EEXIST);
  EXPECT_TRUE(path_exists(KAIROS_SYSFS_DIR "/version"));
  ASSERT_EQ(unload_module(), 0);
}

}  // namespace
