#include "service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kairos {

WatchdogSchedule::WatchdogSchedule(std::uint64_t watchdog_usec, Clock::time_point now)
    : period_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::microseconds(watchdog_usec / 2))),
      next_(Clock::time_point::max()) {
  // A WATCHDOG_USEC of 1 gives a zero half: ping on every loop turn.
  if (watchdog_usec > 0 && period_.count() == 0) period_ = Clock::duration(1);
  if (enabled()) next_ = now;  // the first ping right away
}

bool WatchdogSchedule::due(Clock::time_point now) {
  if (!enabled() || now < next_) return false;
  // From now, not from next_: after a long stall one ping, not a burst.
  next_ = now + period_;
  return true;
}

namespace {

std::uint64_t watchdog_usec_from_env() {
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is us.
  if (sd_watchdog_enabled(0, &usec) > 0) return usec;
  return 0;
}

}  // namespace

ServiceNotify::ServiceNotify()
    : active_(std::getenv("NOTIFY_SOCKET") != nullptr),
      watchdog_(active_ ? watchdog_usec_from_env() : 0, WatchdogSchedule::Clock::now()) {}

void ServiceNotify::send(const std::string& msg) {
  if (!active_) return;
  const int rc = sd_notify(0, msg.c_str());
  if (rc < 0)
    std::fprintf(stderr, "kairosd: sd_notify: %s\n", std::strerror(-rc));
}

void ServiceNotify::ready(const std::string& status) {
  if (ready_sent_) {
    this->status(status);
    return;
  }
  ready_sent_ = true;
  last_status_ = status;
  send("READY=1\nSTATUS=" + status);
}

void ServiceNotify::status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  send("STATUS=" + status);
}

void ServiceNotify::tick(WatchdogSchedule::Clock::time_point now) {
  if (active_ && watchdog_.due(now)) send("WATCHDOG=1");
}

void ServiceNotify::stopping(const std::string& status) {
  last_status_ = status;
  send("STOPPING=1\nSTATUS=" + status);
}

}  // namespace kairos
