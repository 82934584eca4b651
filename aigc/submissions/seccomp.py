"""The seccomp profile of the Docker sandbox.

An agent runs as an unprivileged user with no capabilities and no new privileges; most
dangerous system calls already fail for want of a capability. This profile is the next
layer. It refuses what Docker's default profile is documented to block (kernel modules,
mounts, namespaces, keyrings, clocks, swap, reboot, BPF, perf, ...) and, unlike Docker's
default on kernels from 4.8, also ``ptrace`` and the calls that read or write another
process's memory: an agent must not freeze or inspect the container's init. It also
refuses io_uring and the new mount API. Everything else is allowed, so Python, numpy and
torch run unchanged.

Rules are given for the 32-bit ABIs of each architecture as well, so a call made through
the 32-bit entry point cannot slip past a rule written for the 64-bit one.
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
    return {"defaultAction": "SCMP_ACT_ALLOW", "archMap": ARCHITECTURES, "syscalls": rules}


def security_option() -> str:
    """Return the ``--security-opt`` value that installs the profile."""
    return "seccomp=" + json.dumps(profile(), separators=(",", ":"))
