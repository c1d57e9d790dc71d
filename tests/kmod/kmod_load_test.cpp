// kairos.ko loads, publishes /sys/kernel/kairos/version, and unloads
// leaving nothing behind.
#include "kmod_testlib.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace kairos::vmtest;
using kairos::kmodtest::load_module;
using kairos::kmodtest::unload_module;
using namespace std::chrono_literals;

TEST(KmodLoad, LoadsPublishesVersionAndUnloadsCleanly) {
  KernelLogGuard guard;
  const std::string ko = build_path("kmod-build/kairos.ko");
  ASSERT_TRUE(path_exists(ko)) << ko;
  ASSERT_FALSE(path_exists(KAIROS_SYSFS_DIR)) << "module already loaded";

  ASSERT_EQ(load_module(), 0);
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
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(load_module(), 0) << "round " << i;
    ASSERT_EQ(unload_module(), 0) << "round " << i;
  }
  EXPECT_FALSE(path_exists(KAIROS_SYSFS_DIR));
}

TEST(KmodLoad, SecondLoadIsRefusedWithoutHarm) {
  KernelLogGuard guard;
  ASSERT_EQ(load_module(), 0);
  EXPECT_EQ(load_module(), -EEXIST);
  EXPECT_TRUE(path_exists(KAIROS_SYSFS_DIR "/version"));
  ASSERT_EQ(unload_module(), 0);
}

}  // namespace
