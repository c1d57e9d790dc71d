// The C API, driven from C (c_api_user.c) and checked here.
#include <kairos/runtime_c.h>

#include <gtest/gtest.h>

#include <cerrno>

extern "C" int kairos_c_user_run(unsigned kthreads, long* result);

TEST(CApi, CProgramSpawnsJoinsAndSynchronizes) {
  long result = 0;
  ASSERT_EQ(kairos_c_user_run(2, &result), 0);
  EXPECT_EQ(result, 8 * 1000);  // 8 uthreads x 1000 locked increments
}

TEST(CApi, BadArgumentsAreRejected) {
  kairos_runtime_t* rt = nullptr;
  EXPECT_EQ(kairos_runtime_create(nullptr, nullptr), -EINVAL);
  struct kairos_config bad = {5000, 0, 1, 0};
  EXPECT_EQ(kairos_runtime_create(&bad, &rt), -EINVAL);
  EXPECT_EQ(rt, nullptr);
  struct kairos_config cfg = {1, 0, 1, 0};
  ASSERT_EQ(kairos_runtime_create(&cfg, &rt), 0);
  EXPECT_EQ(kairos_spawn(rt, nullptr, nullptr, nullptr), -EINVAL);
  EXPECT_EQ(kairos_spawn(nullptr, [](void*) {}, nullptr, nullptr), -EINVAL);
  EXPECT_EQ(kairos_join(nullptr), -EINVAL);
  EXPECT_GE(kairos_queue_state_fd(rt), 0);
  EXPECT_EQ(kairos_queue_state_fd(nullptr), -EINVAL);
  EXPECT_EQ(kairos_kthread_index(), -1);
  kairos_runtime_destroy(rt);
}
