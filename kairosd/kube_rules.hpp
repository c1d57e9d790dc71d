// Policy (pure, unit-tested): the built-in rule set for Kubernetes nodes
// ([kubernetes] in kairosd.toml). It recognises the kubelet's pod cgroups
// and classes them by the pod's QoS class, with no control-plane
// component: everything it needs is in the cgroup tree.
//
// Pod cgroups the kubelet makes (the pod is the app; its containers,
// e.g. cri-containerd-<id>.scope, are inside it):
//   systemd driver:  kubepods.slice/kubepods-pod<uid>.slice            Guaranteed
//                    kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice
//                    kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice
//   cgroupfs driver: kubepods/pod<uid>, kubepods/burstable/pod<uid>,
//                    kubepods/besteffort/pod<uid>
// The kubepods cgroup may sit below other cgroups (a kubelet run with
// --cgroup-root, kind nodes): the first "kubepods.slice" or "kubepods"
// component anchors the layout.
//
// Classes: Guaranteed pods are LC with guaranteed cores = their CPU request
// rounded down. The kubelet writes request = limit of a Guaranteed pod
// into the pod cgroup's cpu.max as quota/period, so that is read; the pod
// may burst up to its limit rounded up (at least 1 core). A pod without a
// quota (kubelet with CPU CFS quota off) gets 0 guaranteed, 1 burstable.
// BestEffort pods are BE. Burstable pods get what [kubernetes.burstable]
// says (default: left alone).
#pragma once

#include "app_rules.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace kairos {

enum class KubeQos { guaranteed, burstable, besteffort };
std::string_view kube_qos_name(KubeQos q);

struct KubePod {
  KubeQos qos = KubeQos::besteffort;
  std::string uid;  // as in the cgroup name (the systemd driver writes '-' as '_')
};

// The pod a cgroup path is the pod cgroup of; nullopt for anything else
// (kubepods itself, the QoS cgroups, containers, other cgroups).
std::optional<KubePod> parse_kube_pod_cgroup(std::string_view path);

struct KubeSettings {
  bool enabled = false;
  // Burstable pods: nullopt = not touched (scheduled as ordinary tasks).
  std::optional<Annotation> burstable;
  bool operator==(const KubeSettings&) const = default;
};

// The class of a pod; cpu_max is its cgroup's cpu.max ("QUOTA PERIOD" or
// "max PERIOD"), nullopt when unreadable. nullopt: leave the pod alone
// (a Burstable pod without a setting).
std::optional<RuleVerdict> classify_kube_pod(const KubePod& pod,
                                             const std::optional<std::string>& cpu_max,
                                             const KubeSettings& settings);

}  // namespace kairos
