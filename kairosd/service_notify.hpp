// kairosd as a systemd service (Type=notify): READY=1 once the scheduler
// is attached or kairos.ko's class keeps LC threads, STATUS= lines when
// that changes, WATCHDOG=1 from the main loop at half of WATCHDOG_USEC,
// STOPPING=1 on shutdown. Without $NOTIFY_SOCKET (not started by systemd)
// every call does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace kairos {

// The pure part: when the next WATCHDOG=1 is due. systemd kills the
// service when no ping arrives within WATCHDOG_USEC; pinging at half that
// leaves a whole half interval for a slow loop turn.
class WatchdogSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  // watchdog_usec == 0: no watchdog.
  WatchdogSchedule(std::uint64_t watchdog_usec, Clock::time_point now);
  bool enabled() const { return period_.count() > 0; }
  Clock::duration period() const { return period_; }
  // True when a ping is due at `now`; the next one is then a period later.
  bool due(Clock::time_point now);
  // When the loop must wake up at the latest (time_point::max() if none).
  Clock::time_point next() const { return next_; }

 private:
  Clock::duration period_{};
  Clock::time_point next_;
};

class ServiceNotify {
 public:
  // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID (sd_watchdog_enabled).
  ServiceNotify();

  bool active() const { return active_; }
  bool watchdog_enabled() const { return watchdog_.enabled(); }

  // READY=1 with a STATUS= line (once; later calls only update STATUS).
  void ready(const std::string& status);
  // STATUS= only when it differs from the last one sent.
  void status(const std::string& status);
  // WATCHDOG=1 when due; call from the main loop.
  void tick(WatchdogSchedule::Clock::time_point now);
  WatchdogSchedule::Clock::time_point next_tick() const { return watchdog_.next(); }
  // STOPPING=1 with a STATUS= line.
  void stopping(const std::string& status);

 private:
  void send(const std::string& msg);

  bool active_ = false;
  bool ready_sent_ = false;
  std::string last_status_;
  WatchdogSchedule watchdog_;
};

}  // namespace kairos
