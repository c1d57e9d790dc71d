"""cgroup v2 helpers of the experiment runner: create, fill, configure and
remove the cgroups one system's run uses, so that nothing outlives it."""

import os
import time

ROOT = "/sys/fs/cgroup"


def path(name, file=None):
    p = os.path.join(ROOT, name)
    return os.path.join(p, file) if file else p


def write(name, file, value):
    with open(path(name, file), "w") as f:
        f.write(str(value))


def read(name, file):
    with open(path(name, file)) as f:
        return f.read().strip()


def enable_controllers(wanted=("cpu", "cpuset")):
    """Enables the controllers the baselines need in the root's
    subtree_control; returns those it enabled (to disable them at the end)."""
    have = read("", "cgroup.subtree_control").split()
    avail = read("", "cgroup.controllers").split()
    enabled = []
    for c in wanted:
        if c in have:
            continue
        if c not in avail:
            raise RuntimeError("cgroup controller '%s' is not available here" % c)
        write("", "cgroup.subtree_control", "+" + c)
        enabled.append(c)
    return enabled


def disable_controllers(names):
    for c in names:
        try:
            write("", "cgroup.subtree_control", "-" + c)
        except OSError:
            pass  # a cgroup outside the runner still uses it: leave it on


def create(name):
    p = path(name)
    if os.path.isdir(p):
        raise RuntimeError("cgroup %s already exists (left by an earlier run?): "
                           "remove it first" % p)
    os.mkdir(p)


def joiner(name):
    """A preexec_fn that moves the child into cgroup NAME before it execs."""
    procs = path(name, "cgroup.procs")

    def join():
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    return join


def remove(name, timeout_s=10.0):
    """Kills everything in NAME and removes it; raises if it cannot."""
    p = path(name)
    if not os.path.isdir(p):
        return
    try:
        write(name, "cgroup.kill", 1)
    except OSError:
        pass
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.rmdir(p)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("cannot remove cgroup %s: %s still in it"
                                   % (p, read(name, "cgroup.procs").split()))
            time.sleep(0.05)
