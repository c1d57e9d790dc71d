// The C API: opaque handles around the C++ objects; exceptions stop here.
#include <kairos/runtime_c.h>
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>

struct kairos_runtime {
  kairos::Runtime rt;
  explicit kairos_runtime(kairos::Config c) : rt(std::move(c)) {}
};
struct kairos_thread {
  kairos::Thread t;
};
struct kairos_mutex {
  kairos::Mutex m;
};
struct kairos_cond {
  kairos::CondVar c;
};

namespace {

template <typename F>
int guarded(F&& f) {
  try {
    f();
    return 0;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::invalid_argument&) {
    return -EINVAL;
  } catch (const std::system_error& e) {
    return e.code().value() > 0 ? -e.code().value() : -EIO;
  } catch (...) {
    return -EIO;
  }
}

}  // namespace

extern "C" {

int kairos_runtime_create(const struct kairos_config* cfg,
                          kairos_runtime_t** out) {
  if (!out) return -EINVAL;
  kairos::Config c;
  if (cfg) {
    c.kthreads = cfg->kthreads;
    if (cfg->stack_size) c.stack_size = cfg->stack_size;
    c.self_wake = cfg->self_wake != 0;
    c.app_id = cfg->app_id;
  }
  return guarded([&] { *out = new kairos_runtime(std::move(c)); });
}

void kairos_runtime_destroy(kairos_runtime_t* rt) { delete rt; }

int kairos_spawn(kairos_runtime_t* rt, void (*fn)(void*), void* arg,
                 kairos_thread_t** out) {
  if (!rt || !fn) return -EINVAL;
  return guarded([&] {
    if (!out) {
      rt->rt.spawn_detached([fn, arg] { fn(arg); });
      return;
    }
    auto* t = new kairos_thread;
    try {
      t->t = rt->rt.spawn([fn, arg] { fn(arg); });
    } catch (...) {
      delete t;
      throw;
    }
    *out = t;
  });
}

int kairos_join(kairos_thread_t* t) {
  if (!t || !t->t.joinable()) return -EINVAL;
  t->t.join();
  delete t;
  return 0;
}

void kairos_yield(void) { kairos::this_uthread::yield(); }

void kairos_sleep_ns(uint64_t ns) {
  kairos::this_uthread::sleep_for(std::chrono::nanoseconds(ns));
}

int kairos_kthread_index(void) {
  const unsigned k = kairos::this_uthread::kthread_index();
  return k == ~0u ? -1 : static_cast<int>(k);
}

int kairos_mutex_create(kairos_mutex_t** out) {
  if (!out) return -EINVAL;
  return guarded([&] { *out = new kairos_mutex; });
}
void kairos_mutex_destroy(kairos_mutex_t* m) { delete m; }
void kairos_mutex_lock(kairos_mutex_t* m) { m->m.lock(); }
void kairos_mutex_unlock(kairos_mutex_t* m) { m->m.unlock(); }

int kairos_cond_create(kairos_cond_t** out) {
  if (!out) return -EINVAL;
  return guarded([&] { *out = new kairos_cond; });
}
void kairos_cond_destroy(kairos_cond_t* c) { delete c; }

void kairos_cond_wait(kairos_cond_t* c, kairos_mutex_t* m) {
  std::unique_lock<kairos::Mutex> lk(m->m, std::adopt_lock);
  c->c.wait(lk);
  lk.release();
}

int kairos_cond_timedwait(kairos_cond_t* c, kairos_mutex_t* m,
                          uint64_t timeout_ns) {
  std::unique_lock<kairos::Mutex> lk(m->m, std::adopt_lock);
  const auto st = c->c.wait_for(lk, std::chrono::nanoseconds(timeout_ns));
  lk.release();
  return st == kairos::WaitStatus::kTimeout ? -ETIMEDOUT : 0;
}

void kairos_cond_signal(kairos_cond_t* c) { c->c.notify_one(); }
void kairos_cond_broadcast(kairos_cond_t* c) { c->c.notify_all(); }

unsigned kairos_grant(kairos_runtime_t* rt, unsigned n) {
  return rt ? rt->rt.grant(n) : 0;
}
unsigned kairos_reclaim(kairos_runtime_t* rt, unsigned n) {
  return rt ? rt->rt.reclaim(n) : 0;
}
unsigned kairos_running_kthreads(kairos_runtime_t* rt) {
  return rt ? rt->rt.running_kthreads() : 0;
}
int kairos_queue_state_fd(kairos_runtime_t* rt) {
  return rt ? rt->rt.queue_state_fd() : -EINVAL;
}

}  // extern "C"
