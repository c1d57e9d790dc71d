#include <kairos/contracts/shm_rings.hpp>

#include <linux/futex.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kairos::dp {

namespace {

std::uint32_t load_acquire(const std::uint32_t& v) {
  return std::atomic_ref<const std::uint32_t>(v).load(std::memory_order_acquire);
}
void store_release(std::uint32_t& v, std::uint32_t x) {
  std::atomic_ref<std::uint32_t>(v).store(x, std::memory_order_release);
}
void bump(std::uint64_t& v) {
  std::atomic_ref<std::uint64_t> r(v);
  r.store(r.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::uint64_t ring_bytes(std::uint32_t nr_slots) {
  return sizeof(kairos_dp_ring) +
         static_cast<std::uint64_t>(nr_slots) * KAIROS_DP_SLOT_SIZE;
}

std::uint64_t total_bytes(std::uint32_t nr_kthreads, std::uint32_t nr_slots) {
  return sizeof(kairos_dp_region) + 2ull * nr_kthreads * ring_bytes(nr_slots);
}

[[noreturn]] void throw_bad_geometry() {
  throw std::invalid_argument(
      "dataplane rings: need 1..256 kthreads and a power-of-two slot count "
      "in 2..65536");
}

bool valid_geometry(std::uint32_t nr_kthreads, std::uint32_t nr_slots) {
  return nr_kthreads >= 1 && nr_kthreads <= KAIROS_DP_MAX_KTHREADS &&
         nr_slots >= 2 && nr_slots <= KAIROS_DP_MAX_SLOTS &&
         (nr_slots & (nr_slots - 1)) == 0;
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) {
  return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

}  // namespace

void Doorbell::ring() {
  if (!hdr_) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);  // head store before this load
  std::atomic_ref<std::uint32_t> armed(hdr_->doorbell_armed);
  if (armed.load(std::memory_order_relaxed) && armed.exchange(0) == 1) {
    std::atomic_ref<std::uint64_t>(hdr_->doorbell_rings).fetch_add(1, std::memory_order_relaxed);
    ring_always();
  }
}

void Doorbell::ring_always() {
  if (fd_ < 0) return;
  const std::uint64_t one = 1;
  // Fails only with EAGAIN at a counter of 2^64-2: it is awake anyway.
  [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof one);
}

void Doorbell::arm() {
  std::atomic_ref<std::uint32_t>(hdr_->doorbell_armed).store(1, std::memory_order_relaxed);
  // The caller's next look at the TX rings must not pass this store
  // (the producer's side of the same Dekker pair is in ring()).
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Doorbell::disarm() {
  std::atomic_ref<std::uint32_t>(hdr_->doorbell_armed).store(0, std::memory_order_relaxed);
}

void Doorbell::drain() {
  std::uint64_t v;
  [[maybe_unused]] ssize_t n = read(fd_, &v, sizeof v);  // non-blocking
}

std::uint64_t Doorbell::rings() const {
  return std::atomic_ref<const std::uint64_t>(hdr_->doorbell_rings)
      .load(std::memory_order_relaxed);
}

bool RingView::try_push(const Endpoint& peer, const Endpoint& local,
                        std::uint32_t hash,
                        std::span<const std::uint8_t> payload) {
  if (payload.size() > KAIROS_DP_MAX_PAYLOAD) return false;  // caller counts
  const std::uint32_t head = ring_->head;  // only this thread writes head
  if (head - load_acquire(ring_->tail) > mask_) {
    bump(ring_->full);
    return false;
  }
  kairos_dp_slot* s = slot(head);
  s->len = static_cast<std::uint32_t>(payload.size());
  s->flow_hash = hash;
  s->peer = peer.to_abi();
  s->local = local.to_abi();
  std::memcpy(reinterpret_cast<std::uint8_t*>(s) + KAIROS_DP_SLOT_HDR,
              payload.data(), payload.size());
  bump(ring_->produced);
  store_release(ring_->head, head + 1);
  bell_.ring();
  return true;
}

const kairos_dp_slot* RingView::peek() const {
  const std::uint32_t tail = ring_->tail;
  if (load_acquire(ring_->head) == tail) return nullptr;
  return slot(tail);
}

void RingView::release() {
  bump(ring_->consumed);
  store_release(ring_->tail, ring_->tail + 1);
}

void RingView::park(std::chrono::nanoseconds timeout) {
  std::atomic_ref<std::uint32_t> parked(ring_->parked);
  parked.store(1, std::memory_order_seq_cst);
  if (load_acquire(ring_->head) == ring_->tail) {  // re-check after announcing
    timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                static_cast<long>(timeout.count() % 1'000'000'000)};
    syscall(SYS_futex, &ring_->parked, FUTEX_WAIT, 1, &ts, nullptr, 0);
  }
  parked.store(0, std::memory_order_relaxed);
}

void RingView::wake_consumer() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // head store before this load
  std::atomic_ref<std::uint32_t> parked(ring_->parked);
  if (parked.load(std::memory_order_relaxed) && parked.exchange(0) == 1)
    syscall(SYS_futex, &ring_->parked, FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

std::uint32_t RingView::occupancy() const {
  return load_acquire(ring_->head) - load_acquire(ring_->tail);
}

std::uint64_t RingView::full_count() const {
  return std::atomic_ref<const std::uint64_t>(ring_->full)
      .load(std::memory_order_relaxed);
}

ShmRegion ShmRegion::create(std::uint32_t nr_kthreads, std::uint32_t nr_slots,
                            const Endpoint& app) {
  if (!valid_geometry(nr_kthreads, nr_slots)) throw_bad_geometry();
  const int fd = memfd_create("kairos-dp-rings", MFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");
  return create_on(fd, nr_kthreads, nr_slots, app);
}

ShmRegion ShmRegion::create_on(int fd, std::uint32_t nr_kthreads,
                               std::uint32_t nr_slots, const Endpoint& app) {
  ShmRegion r;
  r.fd_ = fd;  // closed by ~ShmRegion if anything below throws
  r.bell_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r.bell_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  r.size_ = total_bytes(nr_kthreads, nr_slots);
  if (ftruncate(r.fd_, static_cast<off_t>(r.size_)) != 0)
    throw std::system_error(errno, std::generic_category(), "ftruncate");
  void* p = mmap(nullptr, r.size_, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd_, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  r.hdr_ = static_cast<kairos_dp_region*>(p);  // fresh pages are zeroed
  r.hdr_->version = KAIROS_DP_ABI_VERSION;
  r.hdr_->nr_kthreads = nr_kthreads;
  r.hdr_->nr_slots = nr_slots;
  r.hdr_->slot_size = KAIROS_DP_SLOT_SIZE;
  r.hdr_->ring_hdr_size = sizeof(kairos_dp_ring);
  r.hdr_->ring_bytes = ring_bytes(nr_slots);
  r.hdr_->total_bytes = r.size_;
  r.hdr_->app = app.to_abi();
  r.hdr_->dp_state = KAIROS_DP_STATE_RUNNING;
  r.hdr_->dp_pid = getpid();
  r.hdr_->doorbell_fd = r.bell_fd_;
  r.creator_ = true;
  r.nr_kthreads_ = nr_kthreads;
  r.nr_slots_ = nr_slots;
  r.ring_bytes_ = ring_bytes(nr_slots);
  store_release(r.hdr_->magic, KAIROS_DP_MAGIC);  // written last: ready
  return r;
}

bool ShmRegion::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

namespace {

// The process of a dataplane that left region `path` behind when it died
// without destroying it (SIGKILL, a crash), else 0: the object is ours
// (same owner), a complete region, and its dataplane process is gone. A
// recycled pid reads as alive: the name is then refused, never taken.
pid_t dead_owner_of(const std::string& path) {
  const int fd = shm_open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct stat st{};
  pid_t dead = 0;
  if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
      static_cast<std::size_t>(st.st_size) >= sizeof(kairos_dp_region)) {
    void* p = mmap(nullptr, sizeof(kairos_dp_region), PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      const auto* h = static_cast<const kairos_dp_region*>(p);
      const pid_t pid = h->dp_pid;
      if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == KAIROS_DP_MAGIC && pid > 0 &&
          kill(pid, 0) != 0 && errno == ESRCH)
        dead = pid;
      munmap(p, sizeof(kairos_dp_region));
    }
  }
  close(fd);
  return dead;
}

}  // namespace

ShmRegion ShmRegion::create_named(const std::string& name, std::uint32_t nr_kthreads,
                                  std::uint32_t nr_slots, const Endpoint& app) {
  if (!valid_name(name))
    throw std::invalid_argument("dataplane rings: bad shared-memory name '" + name +
                                "' (1..200 of [A-Za-z0-9._-], not starting with '.')");
  if (!valid_geometry(nr_kthreads, nr_slots)) throw_bad_geometry();
  const std::string path = "/" + name;
  int fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  pid_t stale = 0;
  if (fd < 0 && errno == EEXIST && (stale = dead_owner_of(path)) != 0) {
    shm_unlink(path.c_str());  // a dead dataplane's region: the name is free again
    fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            "dataplane rings: create /dev/shm/" + name +
                                (errno == EEXIST ? " (exists: the region of another, live "
                                                   "dataplane, or not a Kairos region)"
                                                 : ""));
  try {
    ShmRegion r = create_on(fd, nr_kthreads, nr_slots, app);
    r.name_ = name;
    r.owner_ = true;
    r.replaced_dead_pid_ = stale;
    return r;
  } catch (...) {
    shm_unlink(path.c_str());
    throw;
  }
}

ShmRegion ShmRegion::attach_named(const std::string& name) {
  if (!valid_name(name))
    throw std::invalid_argument("dataplane rings: bad shared-memory name '" + name + "'");
  const int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            "dataplane rings: open /dev/shm/" + name);
  try {
    ShmRegion r = attach(fd);
    close(fd);
    r.name_ = name;
    return r;
  } catch (...) {
    close(fd);
    throw;
  }
}

ShmRegion ShmRegion::attach(int fd) {
  struct stat st{};
  if (fstat(fd, &st) != 0)
    throw std::system_error(errno, std::generic_category(), "fstat of ring fd");
  if (static_cast<std::size_t>(st.st_size) < sizeof(kairos_dp_region))
    throw std::invalid_argument("dataplane rings: region smaller than its header");
  ShmRegion r;
  r.size_ = static_cast<std::size_t>(st.st_size);
  void* p = mmap(nullptr, r.size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  r.hdr_ = static_cast<kairos_dp_region*>(p);
  // Checked on a copy: the other side may change the shared header at any
  // time, so the geometry kept is the one that was checked.
  const std::uint32_t magic = load_acquire(r.hdr_->magic);
  kairos_dp_region h;
  std::memcpy(&h, r.hdr_, sizeof h);
  std::string why;
  if (magic != KAIROS_DP_MAGIC)
    why = "bad magic";
  else if (h.version != KAIROS_DP_ABI_VERSION)
    why = "ABI version " + std::to_string(h.version) + ", expected " +
          std::to_string(KAIROS_DP_ABI_VERSION);
  else if (!valid_geometry(h.nr_kthreads, h.nr_slots) ||
           h.slot_size != KAIROS_DP_SLOT_SIZE ||
           h.ring_hdr_size != sizeof(kairos_dp_ring) ||
           h.ring_bytes != ring_bytes(h.nr_slots) ||
           h.total_bytes != total_bytes(h.nr_kthreads, h.nr_slots) ||
           h.total_bytes > r.size_)
    why = "inconsistent geometry";
  else if (load_acquire(h.dp_state) != KAIROS_DP_STATE_RUNNING)
    why = "the dataplane stopped (state " + std::to_string(h.dp_state) + ")";
  if (!why.empty()) {
    munmap(p, r.size_);
    r.hdr_ = nullptr;
    throw std::invalid_argument("dataplane rings: " + why);
  }
  // The doorbell: our own copy of the dataplane's eventfd. Its process
  // gone (a stale object) or out of reach is an error, not a silent
  // region whose replies would wait for the dataplane's timeout.
  r.nr_kthreads_ = h.nr_kthreads;
  r.nr_slots_ = h.nr_slots;
  r.ring_bytes_ = h.ring_bytes;
  r.pidfd_ = pidfd_open(h.dp_pid);
  if (r.pidfd_ < 0)
    throw std::system_error(errno, std::generic_category(),
                            "dataplane rings: the dataplane's process " +
                                std::to_string(h.dp_pid) +
                                (errno == ESRCH ? " is gone (stale region)" : ""));
  r.bell_fd_ = pidfd_getfd(r.pidfd_, h.doorbell_fd);
  if (r.bell_fd_ < 0)
    throw std::system_error(errno, std::generic_category(),
                            "dataplane rings: cannot take the dataplane's doorbell "
                            "(pidfd_getfd: needs ptrace rights over pid " +
                                std::to_string(h.dp_pid) + ")");
  r.fd_ = dup(fd);
  return r;
}

bool ShmRegion::dataplane_alive() const {
  if (load_acquire(hdr_->dp_state) != KAIROS_DP_STATE_RUNNING) return false;
  if (pidfd_ < 0) return true;  // the dataplane's own view
  pollfd p{pidfd_, POLLIN, 0};  // a pidfd turns readable when the process exits
  return poll(&p, 1, 0) == 0;
}

ShmRegion::ShmRegion(ShmRegion&& o) noexcept
    : fd_(o.fd_), hdr_(o.hdr_), size_(o.size_), name_(std::move(o.name_)),
      owner_(o.owner_), creator_(o.creator_), bell_fd_(o.bell_fd_), pidfd_(o.pidfd_),
      replaced_dead_pid_(o.replaced_dead_pid_), nr_kthreads_(o.nr_kthreads_),
      nr_slots_(o.nr_slots_), ring_bytes_(o.ring_bytes_) {
  o.fd_ = -1;
  o.hdr_ = nullptr;
  o.owner_ = false;
  o.creator_ = false;
  o.bell_fd_ = -1;
  o.pidfd_ = -1;
}

ShmRegion& ShmRegion::operator=(ShmRegion&& o) noexcept {
  if (this != &o) {
    this->~ShmRegion();
    new (this) ShmRegion(std::move(o));
  }
  return *this;
}

ShmRegion::~ShmRegion() {
  if (hdr_ && creator_) store_release(hdr_->dp_state, KAIROS_DP_STATE_STOPPED);
  if (hdr_) munmap(hdr_, size_);
  if (fd_ >= 0) close(fd_);
  if (bell_fd_ >= 0) close(bell_fd_);
  if (pidfd_ >= 0) close(pidfd_);
  if (owner_) shm_unlink(("/" + name_).c_str());
}

KthreadRings ShmRegion::rings(std::uint32_t k) const {
  if (k >= nr_kthreads_) throw std::out_of_range("kthread index");
  auto* base = reinterpret_cast<std::uint8_t*>(hdr_) + sizeof(kairos_dp_region) +
               2ull * k * ring_bytes_;
  auto view = [&](std::uint8_t* at, Doorbell bell) {
    return RingView(reinterpret_cast<kairos_dp_ring*>(at),
                    at + sizeof(kairos_dp_ring), nr_slots_, bell);
  };
  return {view(base, {}), view(base + ring_bytes_, doorbell())};
}

}  // namespace kairos::dp
