// CgroupWatch on an ordinary directory tree (the host has no writable
// cgroupfs; inotify behaves the same for mkdir/rmdir/xattrs; the VM test
// covers the real cgroupfs): directories appearing, going, nested ones
// created before they could be watched, and attribute changes.
#include "cgroup_watch.hpp"
#include <kairos/kairosd/annotation.hpp>

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace kairos;

namespace {

struct TempTree {
  std::string root;
  TempTree() {
    char tmpl[] = "/tmp/kairos-watch-XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  ~TempTree() { std::filesystem::remove_all(root); }
  std::string at(const std::string& rel) const { return root + "/" + rel; }
};

// An attribute change as kairosctl makes it: a trusted xattr where the
// file system has them, else a mode change (the same IN_ATTRIB event).
void touch_attr(const std::string& dir) {
  if (::setxattr(dir.c_str(), kAnnotationXattr, "v1 class=be", 11, 0) == 0) return;
  ASSERT_TRUE(errno == ENOTSUP || errno == EOPNOTSUPP) << errno;
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
}

}  // namespace

TEST(CgroupWatch, WatchesTheWholeTreeAtStart) {
  TempTree t;
  ASSERT_EQ(::mkdir(t.at("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(t.at("a/b").c_str(), 0755), 0);
  CgroupWatch w(t.root);
  EXPECT_EQ(w.watched(), 3u);
  EXPECT_TRUE(w.complete());
  EXPECT_FALSE(w.drain()) << "nothing happened yet";
}

TEST(CgroupWatch, ReportsNewAndRemovedDirectoriesAndWatchesNewOnes) {
  TempTree t;
  CgroupWatch w(t.root);
  ASSERT_EQ(::mkdir(t.at("app").c_str(), 0755), 0);
  EXPECT_TRUE(w.drain());
  EXPECT_EQ(w.watched(), 2u);
  // A directory inside the new one is seen through the new watch.
  ASSERT_EQ(::mkdir(t.at("app/inner").c_str(), 0755), 0);
  EXPECT_TRUE(w.drain());
  EXPECT_EQ(w.watched(), 3u);
  ASSERT_EQ(::rmdir(t.at("app/inner").c_str()), 0);
  EXPECT_TRUE(w.drain());
  EXPECT_EQ(w.watched(), 2u) << "the removed directory's watch is dropped";
  EXPECT_FALSE(w.drain());
}

TEST(CgroupWatch, ReportsAnnotationChanges) {
  TempTree t;
  ASSERT_EQ(::mkdir(t.at("app").c_str(), 0755), 0);
  CgroupWatch w(t.root);
  touch_attr(t.at("app"));
  EXPECT_TRUE(w.drain());
  const auto seen = w.events();
  EXPECT_GE(seen, 1u);
  EXPECT_FALSE(w.drain());
}

TEST(CgroupWatch, IgnoresFilesInsideCgroups) {
  TempTree t;
  CgroupWatch w(t.root);
  std::ofstream(t.at("cgroup.procs")) << "1\n";
  EXPECT_FALSE(w.drain()) << "a file is not a cgroup";
  EXPECT_GE(w.events(), 1u);
}

TEST(CgroupWatch, ResyncWatchesWhatWasCreatedUnseen) {
  TempTree t;
  CgroupWatch w(t.root);
  // mkdir -p races the watch: "x/y" may exist before "x" is watched. The
  // drain of x's creation walks x and finds y; resync() finds anything.
  ASSERT_EQ(::mkdir(t.at("x").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(t.at("x/y").c_str(), 0755), 0);
  EXPECT_TRUE(w.drain());
  EXPECT_EQ(w.watched(), 3u);
  w.resync();
  EXPECT_EQ(w.watched(), 3u) << "resync does not watch anything twice";
  ASSERT_EQ(::mkdir(t.at("x/y/z").c_str(), 0755), 0);
  EXPECT_TRUE(w.drain());
  EXPECT_EQ(w.watched(), 4u);
}

TEST(CgroupWatch, AMissingRootIsAnError) {
  EXPECT_THROW(CgroupWatch("/nonexistent/kairos-cgroups"), std::runtime_error);
}
