// kairos::net direct mode with /dev/kairos parking (the real kairos.ko in
// the sched_ext VM): KAIROS_IOC_PARK cannot wait on fds, so the kthreads
// park in the module and the Stack's doorbell thread polls the queues'
// fds and wakes the runtime, which the module then grants. In-memory
// device queues (fake_queue.hpp): the subject is the parking, not AF_XDP.
#include <kairos/net.hpp>
#include <kairos/runtime.hpp>

#include "kmod_testlib.hpp"
#include "fake_queue.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::ParkBackend;
using kairos::Runtime;
using kairos::Thread;
using kairos::dp::Endpoint;
using kairos::net::Stack;
using kairos::net::test::MemQueue;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::wait_for;

TEST(NetDirectDevKairos, DoorbellWakesKthreadsParkedInTheModule) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  const std::uint64_t grants0 = read_stat("grants");
  {
    std::vector<MemQueue*> qs;
    std::vector<std::unique_ptr<kairos::dp::Backend>> v;
    for (int i = 0; i < 2; i++) {
      auto m = std::make_unique<MemQueue>();
      qs.push_back(m.get());
      v.push_back(std::move(m));
    }
    Runtime rt({.kthreads = 2, .park = ParkBackend::kDevKairos});
    ASSERT_STREQ(rt.park_backend_name(), "devkairos");
    const Endpoint ep = Endpoint::v4(0x0a000001, 7000);
    auto stack = std::make_unique<Stack>(rt, std::move(v));
    EXPECT_FALSE(stack->parks_on_queue_fds()) << "PARK cannot wait on fds";
    auto sock = stack->bind(ep);
    std::vector<Thread> servers;
    for (int i = 0; i < 2; i++)
      servers.push_back(rt.spawn([s = sock]() mutable {
        while (auto d = s.recv_from())
          if (!s.send_to(d->peer, d->data)) return;
      }));
    constexpr unsigned kRounds = 20;
    for (unsigned r = 0; r < kRounds; r++) {
      ASSERT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s)) << "round " << r;
      std::vector<std::uint8_t> m(8);
      std::memcpy(m.data(), &r, sizeof r);
      qs[r % 2]->inject(Endpoint::v4(0x0a000002, 5000 + r), ep, m);
      ASSERT_TRUE(wait_for([&] { return qs[0]->sent_count() + qs[1]->sent_count() == r + 1; },
                           10s))
          << "round " << r << ": a datagram for a runtime parked in the module was not answered";
    }
    const kairos::net::StackStats st = stack->stats();
    EXPECT_EQ(st.rx_delivered, kRounds);
    EXPECT_GE(st.doorbell_wakes, kRounds);
    EXPECT_GE(read_stat("grants"), grants0 + kRounds);
    sock.close();
    servers.clear();
    stack.reset();
  }
  EXPECT_EQ(read_stat("live_parked"), 0u);
}

}  // namespace
