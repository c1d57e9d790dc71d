// Draws TopView with FTXUI; a reader thread refreshes the model from
// kairosd's status document every interval and asks for a redraw.
#include "top.hpp"

#include "status_view.hpp"
#include "top_model.hpp"

#include <ftxui/component/component.hpp>
#include <ftxui/component/screen_interactive.hpp>
#include <ftxui/dom/elements.hpp>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace kairos::ctl {

namespace {

using namespace ftxui;

bool pid_alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

Color owner_color(std::uint32_t app) {
  static const Color kPalette[] = {Color::Green,  Color::Blue,        Color::Magenta,
                                   Color::Cyan,   Color::Yellow,      Color::Red,
                                   Color::GreenLight, Color::BlueLight, Color::MagentaLight};
  return kPalette[(app - 1) % (sizeof kPalette / sizeof kPalette[0])];
}

std::string fixed(double v, int prec) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

Element cpu_strip(const TopView& v) {
  Elements cells;
  for (const TopCpu& c : v.cpus) {
    // The owner's id (or "." for none), "*" while a task runs there.
    std::string s = (c.owner ? std::to_string(c.owner) : std::string(".")) + (c.busy ? "*" : " ");
    Element e = text(s);
    if (!c.online)
      e = e | dim;
    else if (c.owner)
      e = e | bgcolor(owner_color(c.owner)) | color(Color::Black);
    cells.push_back(e);
    cells.push_back(text(" "));
  }
  return hbox({text("CPUs "), hflow(cells) | flex});
}

Element apps_table(const TopView& v) {
  auto row = [](std::string id, std::string cg, std::string cls, std::string owned, std::string q,
                std::string wait, std::string gps, std::string hist) {
    return hbox({text(id) | size(WIDTH, EQUAL, 4), text(cg) | size(WIDTH, EQUAL, 15),
                 text(cls) | size(WIDTH, EQUAL, 4), text(owned) | size(WIDTH, EQUAL, 8),
                 text(q) | size(WIDTH, EQUAL, 7), text(wait) | size(WIDTH, EQUAL, 9),
                 text(gps) | size(WIDTH, EQUAL, 9), text(hist) | flex});
  };
  Elements rows{row("APP", "CGROUP", "CLS", "OWN/MAX", "QUEUED", "WAIT_us", "GRANT/s",
                    "grants/s history") | bold};
  for (const TopApp& a : v.apps) {
    rows.push_back(row(std::to_string(a.id), a.cgroup.substr(0, 14), a.cls,
                       std::to_string(a.owned) + "/" + std::to_string(a.burstable),
                       std::to_string(a.queued), fixed(a.wait_us, 1), fixed(a.grants_per_s, 1),
                       sparkline(a.grants_history)));
  }
  if (v.apps.empty()) rows.push_back(text("(no annotated apps)") | dim);
  return vbox(rows);
}

Element render(const TopView& v, unsigned interval_ms) {
  const std::string keys = "s: sort (" + std::string(to_string(v.sort)) + ")  q: quit";
  if (!v.running)
    return vbox({text("kairosctl top") | bold, separator(), paragraph(v.message), filler(),
                 text(keys) | dim});
  Elements guard{text(v.guard)};
  std::string per_cpu;
  for (const TopCpu& c : v.cpus)
    if (c.throttles_per_s && *c.throttles_per_s)
      per_cpu += " cpu" + std::to_string(c.cpu) + ":" + std::to_string(*c.throttles_per_s) + "/s";
  if (!per_cpu.empty()) guard.push_back(text(", kairos.ko" + per_cpu));
  return vbox({
      hbox({text(v.header) | bold, filler(),
            text("every " + std::to_string(interval_ms) + " ms") | dim}),
      cpu_strip(v),
      separator(),
      apps_table(v) | flex,
      separator(),
      paragraph(v.allocator.empty() ? "allocator off" : v.allocator),
      hbox(guard),
      paragraph("last scheduler exit: " + (v.last_exit.empty() ? std::string("none") : v.last_exit)),
      text(keys) | dim,
  });
}

}  // namespace

int run_top(const std::string& status_file, unsigned interval_ms) {
  auto screen = ScreenInteractive::Fullscreen();
  TopModel model;
  std::mutex mu;  // guards model
  auto refresh = [&] {
    const StatusRead r = read_status(status_file, pid_alive);
    std::lock_guard<std::mutex> g(mu);
    model.update(r.snapshot, r.why_not);
  };
  refresh();

  auto ui = Renderer([&] {
    std::lock_guard<std::mutex> g(mu);
    return render(model.view(), interval_ms);
  });
  ui = CatchEvent(ui, [&](Event e) {
    if (e == Event::Character('q') || e == Event::Character('Q') || e == Event::Escape) {
      screen.ExitLoopClosure()();
      return true;
    }
    if (e == Event::Character('s')) {
      std::lock_guard<std::mutex> g(mu);
      model.set_sort(next(model.sort()));
      return true;
    }
    return false;
  });

  std::mutex wake_mu;
  std::condition_variable wake;
  bool stop = false;
  std::thread reader([&] {
    std::unique_lock<std::mutex> lk(wake_mu);
    while (!wake.wait_for(lk, std::chrono::milliseconds(interval_ms), [&] { return stop; })) {
      lk.unlock();
      refresh();
      screen.PostEvent(Event::Custom);  // redraw
      lk.lock();
    }
  });
  screen.Loop(ui);
  {
    std::lock_guard<std::mutex> g(wake_mu);
    stop = true;
  }
  wake.notify_all();
  reader.join();
  return 0;
}

}  // namespace kairos::ctl
