"""The seccomp profile of the Docker sandbox.

An agent runs as an unprivileged user with no capabilities and no new privileges; most
dangerous system calls already fail for want of a capability. This profile is the next
layer. It refuses what Docker's default profile is documented to block (kernel modules,
mounts, namespaces, keyrings, clocks, swap, reboot, BPF, perf, ...) and, unlike Docker's
default on kernels from 4.8, also ``ptrace`` and the calls that read or write another
process's memory: an agent must not freeze or inspect the container's init. It also
refuses io_uring and the new mount API.

Sockets come only in the families the runtime needs: ``AF_UNIX`` (its socket to the
evaluator), ``AF_INET`` and ``AF_INET6`` (libraries open them; with no network the
container has only its own loopback) and ``AF_NETLINK`` for ``NETLINK_ROUTE`` alone
(how the C library lists interfaces). Every other family is refused, for ``socket`` and
``socketpair`` alike: some reach past the container's namespaces (``AF_VSOCK`` talks to
the host or its hypervisor, other netlink protocols hear the host's device events), the
rest only widen the kernel's surface (``AF_ALG``, ``AF_TIPC``, ``AF_RDS``, ``AF_PACKET``,
...). The family is compared as the whole 64-bit register, so setting its upper half,
which the kernel ignores, does not slip past. The 32-bit x86 ``socketcall`` passes its
arguments in memory, where seccomp cannot read them: it is refused whole (the direct
32-bit ``socket`` call remains, under the same rules).

Everything else is allowed, so Python, numpy and torch run unchanged. Rules are given for
the 32-bit ABIs of each architecture as well, so a call made through the 32-bit entry
point cannot slip past a rule written for the 64-bit one.
"""

from __future__ import annotations

import json
from typing import Any

EPERM = 1
ENOSYS = 38

DENIED = (
    # other processes: tracing, memory access, comparing their resources
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # namespaces and filesystems
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
    "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "name_to_handle_at", "open_by_handle_at", "quotactl", "quotactl_fd", "nfsservctl",
    "sysfs", "_sysctl", "ustat", "uselib", "lookup_dcookie", "fanotify_init",
    # the kernel itself
    "init_module", "finit_module", "delete_module", "create_module", "query_module",
    "get_kernel_syms", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "acct", "syslog", "vhangup", "iopl", "ioperm", "vm86", "vm86old",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register",
    # keyrings, clocks, memory placement
    "add_key", "request_key", "keyctl",
    "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
    "mbind", "set_mempolicy", "migrate_pages", "move_pages",
)  # fmt: skip

# clone() flags that create namespaces; a clone with any of them is refused.
NAMESPACE_FLAGS = (
    0x00000080,  # CLONE_NEWTIME
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCKET_FAMILIES = (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
NETLINK_ROUTE = 0

ARCHITECTURES = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
]


def profile() -> dict[str, Any]:
    """Return the profile in the format Docker reads."""
    rules: list[dict[str, Any]] = [
        {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
        # clone3 passes its flags in memory, where seccomp cannot see them: answering
        # ENOSYS makes the C library fall back to clone(), whose flags are checked below.
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
    ]
    for flag in NAMESPACE_FLAGS:
        rules.append(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
                # On s390 the flags are the second argument; everywhere we run, the first.
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }
        )
    rules += _socket_rules()
    return {"defaultAction": "SCMP_ACT_ALLOW", "archMap": ARCHITECTURES, "syscalls": rules}


def _socket_rules() -> list[dict[str, Any]]:
    """Refuse every socket family but SOCKET_FAMILIES, and netlink but NETLINK_ROUTE."""
    refuse = {"names": ["socket", "socketpair"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}

    def family(op: str, value: int) -> dict[str, Any]:
        return {"index": 0, "value": value, "op": op}

    # One 64-bit comparison from above the last family needed up: it also catches a
    # family whose register has any upper bit set, which is why the rest may test equality.
    rules = [{**refuse, "args": [family("SCMP_CMP_GE", max(SOCKET_FAMILIES) + 1)]}]
    for number in range(max(SOCKET_FAMILIES)):
        if number not in SOCKET_FAMILIES:
            rules.append({**refuse, "args": [family("SCMP_CMP_EQ", number)]})
    protocol = {"index": 2, "value": NETLINK_ROUTE, "op": "SCMP_CMP_NE"}
    rules.append({**refuse, "args": [family("SCMP_CMP_EQ", AF_NETLINK), protocol]})
    # Only the 32-bit x86 ABI has socketcall; elsewhere the name matches nothing.
    rules.append({"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM})
    return rules


def security_option() -> str:
    """Return the ``--security-opt`` value that installs the profile."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))
