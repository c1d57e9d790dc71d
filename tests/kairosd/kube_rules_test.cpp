// The built-in Kubernetes rule set (kairosd/kube_rules.*): the kubelet's
// pod cgroups under both drivers, and each QoS class's verdict from
// cpu.max.
#include "kube_rules.hpp"

#include <gtest/gtest.h>

namespace {

using namespace kairos;

constexpr const char* kUidSd = "0f4c2a1e_3b5d_4c6e_8f7a_9b0c1d2e3f40";
constexpr const char* kUidFs = "0f4c2a1e-3b5d-4c6e-8f7a-9b0c1d2e3f40";

std::string sd(const std::string& s) { return s; }

TEST(KubePods, SystemdDriver) {
  const std::string g = "kubepods.slice/kubepods-pod" + sd(kUidSd) + ".slice";
  const std::string b = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                        sd(kUidSd) + ".slice";
  const std::string be = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                         sd(kUidSd) + ".slice";
  ASSERT_TRUE(parse_kube_pod_cgroup(g));
  EXPECT_EQ(parse_kube_pod_cgroup(g)->qos, KubeQos::guaranteed);
  EXPECT_EQ(parse_kube_pod_cgroup(g)->uid, kUidSd);
  ASSERT_TRUE(parse_kube_pod_cgroup(b));
  EXPECT_EQ(parse_kube_pod_cgroup(b)->qos, KubeQos::burstable);
  ASSERT_TRUE(parse_kube_pod_cgroup(be));
  EXPECT_EQ(parse_kube_pod_cgroup(be)->qos, KubeQos::besteffort);
  // Below another cgroup (--cgroup-root, kind).
  const auto nested = parse_kube_pod_cgroup("kubelet.slice/" + g);
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->qos, KubeQos::guaranteed);
}

TEST(KubePods, CgroupfsDriver) {
  const auto g = parse_kube_pod_cgroup(std::string("kubepods/pod") + kUidFs);
  const auto b = parse_kube_pod_cgroup(std::string("kubepods/burstable/pod") + kUidFs);
  const auto be = parse_kube_pod_cgroup(std::string("kubepods/besteffort/pod") + kUidFs);
  ASSERT_TRUE(g && b && be);
  EXPECT_EQ(g->qos, KubeQos::guaranteed);
  EXPECT_EQ(g->uid, kUidFs);
  EXPECT_EQ(b->qos, KubeQos::burstable);
  EXPECT_EQ(be->qos, KubeQos::besteffort);
}

TEST(KubePods, OnlyPodCgroups) {
  const std::string pod = "kubepods.slice/kubepods-pod" + sd(kUidSd) + ".slice";
  for (const std::string& p :
       {std::string("kubepods.slice"), std::string("kubepods"),
        std::string("kubepods.slice/kubepods-burstable.slice"),
        std::string("kubepods.slice/kubepods-besteffort.slice"), std::string("kubepods/burstable"),
        pod + "/cri-containerd-0123abcd.scope",
        std::string("kubepods/pod") + kUidFs + "/0123abcd",
        std::string("system.slice/kubelet.service"),
        std::string("kubepods.slice/kubepods-pod.slice"),              // no uid
        std::string("kubepods.slice/kubepods-podXYZ.slice"),           // not hex
        std::string("kubepods.slice/kubepods-burstable-pod") + kUidSd + ".slice",  // wrong parent
        std::string("kubepods/burstable/besteffort/pod") + kUidFs,
        std::string("kubepods/guaranteed/pod") + kUidFs,
        std::string("kubepods.slice/kubepods-pod") + kUidSd + ".scope"})
    EXPECT_FALSE(parse_kube_pod_cgroup(p)) << p;
}

TEST(KubeClasses, GuaranteedFromCpuMax) {
  const KubePod pod{KubeQos::guaranteed, kUidFs};
  const KubeSettings s{true, std::nullopt};
  auto v = classify_kube_pod(pod, "200000 100000\n", s);  // 2 CPUs
  ASSERT_TRUE(v);
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 2, 2}));
  EXPECT_EQ(v->source, "kubernetes:guaranteed");
  v = classify_kube_pod(pod, "250000 100000", s);  // 2.5: rounded down, bursts to 3
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 2, 3}));
  v = classify_kube_pod(pod, "50000 100000\n", s);  // 500m
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 0, 1}));
  v = classify_kube_pod(pod, "max 100000\n", s);  // no quota
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 0, 1}));
  v = classify_kube_pod(pod, std::nullopt, s);  // unreadable
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 0, 1}));
  for (const char* bad : {"", "garbage", "100000", "-1 100000", "100000 0", "1e5 100000",
                          "0 100000"})
    EXPECT_EQ(classify_kube_pod(pod, std::string(bad), s)->annotation,
              (Annotation{AppClass::lc, 0, 1}))
        << bad;
}

TEST(KubeClasses, BestEffortIsBe) {
  const auto v = classify_kube_pod({KubeQos::besteffort, kUidFs}, "max 100000", {true, {}});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->annotation, (Annotation{AppClass::be, 0, 0}));
  EXPECT_EQ(v->source, "kubernetes:besteffort");
}

TEST(KubeClasses, BurstableAsConfigured) {
  const KubePod pod{KubeQos::burstable, kUidFs};
  EXPECT_FALSE(classify_kube_pod(pod, "300000 100000", {true, std::nullopt}));
  const auto v =
      classify_kube_pod(pod, "300000 100000", {true, Annotation{AppClass::lc, 0, 2}});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->annotation, (Annotation{AppClass::lc, 0, 2}));
  EXPECT_EQ(v->source, "kubernetes:burstable");
}

}  // namespace
