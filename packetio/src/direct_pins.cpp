// Pins of a mode=direct app (direct_abi.h): kairosd's side and the app's.
#include <kairos/packetio/backends.hpp>
#include <kairos/packetio/direct_pins.hpp>

#include <kairos/abi/direct.h>
#include <kairos/packetio/xdp_steering.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kairos::dp {
namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";

std::runtime_error fail(const std::string& what, int e) {
  return std::runtime_error("direct mode: " + what + ": " + std::strerror(e));
}

bool on_bpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 &&
         static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

// An fd closed at scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

DirectPins::DirectPins(const XdpSteering& steer, int app_xsks_fd, const std::string& dir,
                       const std::string& ifname, std::uint32_t nr_queues,
                       std::uint64_t queue_mask, const Endpoint& app)
    : dir_(dir) {
  if (dir.rfind(std::string(kBpffs) + "/", 0) != 0)
    throw std::invalid_argument("direct mode: pin directory " + dir + " is not under " + kBpffs);
  if (!on_bpffs(kBpffs) && mount("bpf", kBpffs, "bpf", 0, "mode=0700") != 0)
    throw fail(std::string("mounting bpffs on ") + kBpffs, errno);
  try {
    // mkdir -p below /sys/fs/bpf, remembering what we made.
    for (std::size_t at = std::strlen(kBpffs) + 1; at <= dir.size();) {
      std::size_t end = dir.find('/', at);
      if (end == std::string::npos) end = dir.size();
      const std::string part = dir.substr(0, end);
      if (mkdir(part.c_str(), 0700) == 0) made_dirs_.push_back(part);
      else if (errno != EEXIST) throw fail("mkdir " + part, errno);
      at = end + 1;
    }
    kairos_direct_info info{};
    info.magic = KAIROS_DIRECT_MAGIC;
    info.version = KAIROS_DIRECT_ABI_VERSION;
    info.ifindex = static_cast<__u32>(steer.ifindex());
    info.nr_queues = nr_queues;
    info.queue_mask = queue_mask;
    info.prog_id = steer.prog_id();
    info.owner_pid = static_cast<__u32>(getpid());
    std::strncpy(info.ifname, ifname.c_str(), sizeof info.ifname - 1);
    std::memcpy(info.addr, app.addr.data(), 16);
    info.port = app.port;
    Fd m{bpf_map_create(BPF_MAP_TYPE_ARRAY, "kairos_direct", sizeof(__u32), sizeof info, 1,
                        nullptr)};
    if (m.fd < 0) throw fail("creating the info map", errno);
    const __u32 key = 0;
    if (bpf_map_update_elem(m.fd, &key, &info, BPF_ANY)) throw fail("filling the info map", errno);
    // The XSKMAP first: an app that finds 'info' finds everything.
    const struct {
      int fd;
      const char* name;
    } pins[] = {{app_xsks_fd, KAIROS_DIRECT_PIN_XSKS}, {m.fd, KAIROS_DIRECT_PIN_INFO}};
    for (const auto& p : pins) {
      const std::string path = dir + "/" + p.name;
      if (bpf_obj_pin(p.fd, path.c_str())) {
        const int e = errno;
        if (e == EEXIST)
          throw std::runtime_error("direct mode: " + path +
                                   " already exists (another kairosd, or pins left by one "
                                   "that died: remove them by hand)");
        throw fail("pinning " + path, e);
      }
      pins_.push_back(path);
    }
  } catch (...) {
    remove_all();
    throw;
  }
}

DirectPins::~DirectPins() { remove_all(); }

void DirectPins::remove_all() noexcept {
  for (auto it = pins_.rbegin(); it != pins_.rend(); ++it) unlink(it->c_str());
  pins_.clear();
  for (auto it = made_dirs_.rbegin(); it != made_dirs_.rend(); ++it) rmdir(it->c_str());
  made_dirs_.clear();
}

bool DirectAttachment::steering_attached() const {
  __u32 id = 0;
  return bpf_xdp_query_id(ifindex, 0, &id) == 0 && id == prog_id;
}

DirectAttachment attach_direct(const std::string& pin_dir, AfXdpConfig sizes) {
  const std::string info_path = pin_dir + "/" + KAIROS_DIRECT_PIN_INFO;
  Fd info_fd{bpf_obj_get(info_path.c_str())};
  if (info_fd.fd < 0) {
    const int e = errno;
    throw std::runtime_error("direct mode: cannot open " + info_path + ": " + std::strerror(e) +
                             (e == ENOENT ? " (is kairosd running with 'app ... mode=direct pin=" +
                                                pin_dir + "'?)"
                                          : std::string()));
  }
  bpf_map_info mi{};
  __u32 mlen = sizeof mi;
  if (bpf_map_get_info_by_fd(info_fd.fd, &mi, &mlen) || mi.type != BPF_MAP_TYPE_ARRAY ||
      mi.value_size != sizeof(kairos_direct_info) || mi.max_entries != 1)
    throw std::runtime_error("direct mode: " + info_path +
                             " is not a Kairos direct-mode info map (another ABI version?)");
  kairos_direct_info info{};
  const __u32 key = 0;
  if (bpf_map_lookup_elem(info_fd.fd, &key, &info)) throw fail("reading " + info_path, errno);
  if (info.magic != KAIROS_DIRECT_MAGIC)
    throw std::runtime_error("direct mode: " + info_path + " has a bad magic");
  if (info.version != KAIROS_DIRECT_ABI_VERSION)
    throw std::runtime_error("direct mode: " + info_path + " has ABI version " +
                             std::to_string(info.version) + ", expected " +
                             std::to_string(KAIROS_DIRECT_ABI_VERSION));
  DirectAttachment a;
  a.ifname.assign(info.ifname, strnlen(info.ifname, sizeof info.ifname));
  a.ifindex = static_cast<int>(info.ifindex);
  a.prog_id = info.prog_id;
  a.owner_pid = info.owner_pid;
  std::memcpy(a.listen.addr.data(), info.addr, 16);
  a.listen.port = info.port;
  // ifindexes are per network namespace: the name must agree.
  if (if_nametoindex(a.ifname.c_str()) != info.ifindex)
    throw std::runtime_error("direct mode: device " + a.ifname + " (ifindex " +
                             std::to_string(info.ifindex) +
                             ") is not in this network namespace: run the app where kairosd runs");
  if (!a.steering_attached())
    throw std::runtime_error("direct mode: the steering program (id " +
                             std::to_string(info.prog_id) + ") is no longer attached to " +
                             a.ifname + ": stale pins of kairosd pid " +
                             std::to_string(info.owner_pid) + "?");
  const std::string xsks_path = pin_dir + "/" + KAIROS_DIRECT_PIN_XSKS;
  Fd xsks{bpf_obj_get(xsks_path.c_str())};
  if (xsks.fd < 0) throw fail("cannot open " + xsks_path, errno);
  mlen = sizeof mi;
  mi = {};
  if (bpf_map_get_info_by_fd(xsks.fd, &mi, &mlen) || mi.type != BPF_MAP_TYPE_XSKMAP)
    throw std::runtime_error("direct mode: " + xsks_path + " is not an XSKMAP");
  if (info.nr_queues == 0 || info.nr_queues > mi.max_entries || info.nr_queues > 64 ||
      info.queue_mask == 0 ||
      (info.nr_queues < 64 && (info.queue_mask >> info.nr_queues) != 0))
    throw std::runtime_error("direct mode: " + info_path + " names bad queues (" +
                             std::to_string(info.nr_queues) + " queues, mask " +
                             std::to_string(info.queue_mask) + ")");
  for (std::uint32_t q = 0; q < info.nr_queues; q++)
    if (info.queue_mask >> q & 1) a.queue_ids.push_back(q);
  sizes.ifname = a.ifname;
  sizes.nr_queues = info.nr_queues;
  sizes.queue_ids = a.queue_ids;
  sizes.apps = {a.listen};
  a.queues = make_afxdp_backends_on_xskmap(sizes, xsks.fd);
  return a;
}

}  // namespace kairos::dp
