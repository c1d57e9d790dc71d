// kairosd's discovery of runtime areas (kairosd/runtime_discovery.*):
// the name and /proc parsing, and a scan of a scratch shm directory (with
// a fake /proc) holding one good area beside malformed and foreign files,
// which must be ignored with a reason and never crash the scan.
#include "runtime_discovery.hpp"

#include <kairos/contracts/queue_state_area.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace {

using namespace kairos;

TEST(RuntimeDiscovery, ParsesAreaFileNames) {
  EXPECT_EQ(parse_area_file_name("kairos-rt.1234"), 1234);
  EXPECT_EQ(parse_area_file_name("kairos-rt.1"), 1);
  EXPECT_FALSE(parse_area_file_name("kairos-rt."));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.0"));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.012"));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.12a"));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.-5"));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.99999999999"));
  EXPECT_FALSE(parse_area_file_name("kairos-rt.4294967297"));
  EXPECT_FALSE(parse_area_file_name("other.12"));
}

TEST(RuntimeDiscovery, ParsesProcCgroup) {
  EXPECT_EQ(parse_proc_cgroup("0::/a/b\n"), "a/b");
  EXPECT_EQ(parse_proc_cgroup("0::/\n"), "");
  EXPECT_EQ(parse_proc_cgroup("12:cpu:/x\n0::/lc\n"), "lc");
  EXPECT_FALSE(parse_proc_cgroup("12:cpu:/x\n"));
  EXPECT_FALSE(parse_proc_cgroup(""));
  EXPECT_FALSE(parse_proc_cgroup("0::relative\n"));
  EXPECT_FALSE(parse_proc_cgroup("0::/gone (deleted)\n"));
}

TEST(RuntimeDiscovery, NearestAnnotatedAncestor) {
  const std::set<std::string> ann{"lc", "x/y"};
  EXPECT_EQ(nearest_annotated("lc", ann), "lc");
  EXPECT_EQ(nearest_annotated("lc/worker/1", ann), "lc");
  EXPECT_EQ(nearest_annotated("x/y/z", ann), "x/y");
  EXPECT_FALSE(nearest_annotated("x", ann));
  EXPECT_FALSE(nearest_annotated("", ann));
  EXPECT_FALSE(nearest_annotated("lcx", ann));
}

class ScratchShm {
 public:
  ScratchShm() {
    char tmpl[] = "/tmp/kairos-disc-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~ScratchShm() { std::filesystem::remove_all(dir_); }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::vector<char>& bytes) const {
    std::ofstream(path(name), std::ios::binary).write(bytes.data(),
                                                      static_cast<std::streamsize>(bytes.size()));
  }

 private:
  std::string dir_;
};

std::vector<char> area_bytes(std::uint32_t nk, std::uint32_t pid) {
  std::vector<char> b(runtime_area_size(nk));
  runtime_area_init(b.data(), nk, 7, pid);
  return b;
}

// A fake /proc: <pid>/cgroup for each pid given (the directory's owner is
// this test's user, like the area files it writes).
class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/kairos-proc-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~FakeProc() { std::filesystem::remove_all(dir_); }
  void add(pid_t pid, const std::string& cgroup) const {
    const std::string d = dir_ + "/" + std::to_string(pid);
    std::filesystem::create_directories(d);
    std::ofstream(d + "/cgroup") << "0::/" << cgroup << "\n";
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

struct Logged {
  std::vector<std::string> lines;
  RuntimeDiscovery::Log fn() {
    return [this](const std::string& s) { lines.push_back(s); };
  }
  bool has(const std::string& file, const std::string& why) const {
    for (const auto& l : lines)
      if (l.find(file) != std::string::npos && l.find(why) != std::string::npos) return true;
    return false;
  }
};

TEST(RuntimeDiscovery, AttachesAGoodAreaAndIgnoresBadOnes) {
  const std::string cg = "lc";
  ScratchShm shm;
  FakeProc proc;
  const pid_t me = 4242;
  proc.add(me, "lc/workers");
  for (pid_t p : {1, 2, 3, 77}) proc.add(p, "lc");
  const std::string good = "kairos-rt." + std::to_string(me);
  shm.write(good, area_bytes(3, static_cast<std::uint32_t>(me)));
  // Malformed and foreign files beside it.
  shm.write("kairos-rt.abc", area_bytes(1, 1));
  shm.write("kairos-rt.2147483646", area_bytes(1, 2147483646));  // no such process
  std::vector<char> garbage(4096, 'x');
  const pid_t parent = 77;
  shm.write("kairos-rt." + std::to_string(parent), garbage);       // bad magic
  std::vector<char> tiny(10, 0);
  shm.write("kairos-rt.1", tiny);                                  // pid 1: too small
  ASSERT_EQ(::symlink(shm.path(good).c_str(), shm.path("kairos-rt.2").c_str()), 0);
  shm.write("unrelated-file", garbage);
  // Another user's file cannot speak for a process of this user.
  shm.write("kairos-rt.3", area_bytes(1, 3));
  const bool can_chown = ::chown(shm.path("kairos-rt.3").c_str(), 12345, 12345) == 0;

  RuntimeDiscovery d(shm.dir(), proc.dir());
  Logged log;
  auto found = d.scan({cg}, log.fn());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, me);
  EXPECT_EQ(found[0].cgroup, cg);  // nearest annotated ancestor of lc/workers
  ASSERT_TRUE(found[0].area);
  EXPECT_EQ(found[0].area->nr_kthreads(), 3u);
  EXPECT_TRUE(log.has("kairos-rt.abc", "name is not")) << ::testing::PrintToString(log.lines);
  EXPECT_TRUE(log.has("kairos-rt.2147483646", "no process")) << ::testing::PrintToString(log.lines);
  EXPECT_TRUE(log.has("kairos-rt." + std::to_string(parent), "bad area: bad magic"))
      << ::testing::PrintToString(log.lines);
  EXPECT_TRUE(log.has("kairos-rt.1 ", "bad area")) << ::testing::PrintToString(log.lines);
  // pid 2 (kthreadd) exists; the symlink is refused by O_NOFOLLOW.
  EXPECT_TRUE(log.has("kairos-rt.2 ", "open")) << ::testing::PrintToString(log.lines);
  EXPECT_FALSE(log.has("unrelated-file", ""));
  if (can_chown) {
    EXPECT_TRUE(log.has("kairos-rt.3 ", "owned by uid 12345")) << ::testing::PrintToString(log.lines);
  }

  // Reasons are logged once, not on every scan; the attached view is kept.
  const auto before = log.lines.size();
  auto again = d.scan({cg}, log.fn());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].area, found[0].area);
  EXPECT_EQ(log.lines.size(), before);

  // Not in an annotated cgroup: ignored, with the reason.
  EXPECT_TRUE(d.scan({"some/other"}, log.fn()).empty());
  EXPECT_TRUE(log.has(good, "in no annotated cgroup")) << ::testing::PrintToString(log.lines);

  // The file vanishes: dropped.
  ::unlink(shm.path(good).c_str());
  EXPECT_TRUE(d.scan({cg}, log.fn()).empty());
}

TEST(RuntimeDiscovery, PidInHeaderMustMatchTheName) {
  const std::string cg = "lc";
  ScratchShm shm;
  FakeProc proc;
  const pid_t me = 4242;
  proc.add(me, cg);
  shm.write("kairos-rt." + std::to_string(me), area_bytes(1, static_cast<std::uint32_t>(me) + 1));
  RuntimeDiscovery d(shm.dir(), proc.dir());
  Logged log;
  EXPECT_TRUE(d.scan({cg}, log.fn()).empty());
  EXPECT_TRUE(log.has("kairos-rt." + std::to_string(me), "header names pid"))
      << ::testing::PrintToString(log.lines);
}

TEST(RuntimeDiscovery, MissingDirectoryFindsNothing) {
  RuntimeDiscovery d("/nonexistent/kairos-shm");
  Logged log;
  EXPECT_TRUE(d.scan({"lc"}, log.fn()).empty());
}

}  // namespace
