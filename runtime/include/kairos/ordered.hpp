// Per-connection exclusive ownership (ZygOS): the requests of one
// connection are handled by one uthread at a time, in arrival order, so
// they never run concurrently and their answers cannot be reordered. Each
// connection with pending work gets its own owner uthread, so a slow or
// blocked request delays only its own connection (no head-of-line
// blocking across connections), and any kthread may run or steal it.
//
//   kairos::OrderedConnection<Req> conn(rt, [](Req& r) { answer(r); });
//   conn.submit(req);   // from a uthread, a poller or any thread
#pragma once

#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

namespace kairos {

template <typename Request>
class OrderedConnection {
 public:
  using Handler = std::function<void(Request&)>;

  OrderedConnection(Runtime& rt, Handler handler)
      : s_(std::make_shared<State>(rt, std::move(handler))) {}

  // Queues r. If no uthread owns the connection, one is spawned and owns it
  // until the queue is empty. Never waits for request processing.
  void submit(Request r) {
    bool spawn_owner = false;
    s_->lock.lock();
    s_->queue.push_back(std::move(r));
    if (!s_->owned) s_->owned = spawn_owner = true;
    s_->lock.unlock();
    // The owner keeps the state alive, so dropping the connection while
    // requests are pending still answers them.
    if (spawn_owner) s_->rt.spawn_detached([s = s_] { drain(*s); });
  }

  // Requests queued and not yet taken by the owner.
  std::size_t pending() const {
    s_->lock.lock();
    const std::size_t n = s_->queue.size();
    s_->lock.unlock();
    return n;
  }

 private:
  struct State {
    State(Runtime& r, Handler h) : rt(r), handler(std::move(h)) {}
    Runtime& rt;
    Handler handler;
    mutable detail::SpinLock lock;
    std::deque<Request> queue;  // guarded by lock
    bool owned = false;         // guarded by lock
  };

  static void drain(State& s) {
    for (;;) {
      s.lock.lock();
      if (s.queue.empty()) {
        s.owned = false;  // the next submit spawns a new owner
        s.lock.unlock();
        return;
      }
      Request r = std::move(s.queue.front());
      s.queue.pop_front();
      s.lock.unlock();
      s.handler(r);
      // Let other connections' owners on this kthread have a turn.
      this_uthread::yield();
    }
  }

  std::shared_ptr<State> s_;
};

}  // namespace kairos
