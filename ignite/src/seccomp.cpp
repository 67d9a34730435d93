#include "ignite/src/seccomp.hpp"

#include <nlohmann/json.hpp>

namespace Ignite::detail {
namespace {

constexpr int kEPERM = 1;
constexpr int kENOSYS = 38;
constexpr unsigned kCloneThread = 0x00010000;

nlohmann::json build() {
  using nlohmann::json;
  const json denied = {
      "acct", "add_key", "bpf", "chroot", "clock_adjtime", "clock_settime", "create_module",
      "delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
      "get_kernel_syms", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup",
      "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
      "mount", "move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
      "perf_event_open", "personality", "pivot_root", "process_vm_readv", "process_vm_writev",
      "ptrace", "query_module", "quotactl", "reboot", "request_key", "setns", "settimeofday",
      "swapoff", "swapon", "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd",
      "ustat", "vhangup", "_sysctl", "sysfs", "adjtimex", "mbind", "migrate_pages", "move_pages",
      "set_mempolicy"};
  return json{
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"syscalls",
       {
           {{"names", denied}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEPERM}},
           {{"names", {"fork", "vfork"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEPERM}},
           {{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kENOSYS}},
           // clone(flags, ...) with CLONE_THREAD clear: a new process.
           {{"names", {"clone"}},
            {"action", "SCMP_ACT_ERRNO"},
            {"errnoRet", kEPERM},
            {"args",
             {{{"index", 0}, {"value", kCloneThread}, {"valueTwo", 0}, {"op", "SCMP_CMP_MASKED_EQ"}}}}},
       }},
  };
}

}  // namespace

const std::string& no_spawn_seccomp_profile() {
  static const std::string profile = build().dump();
  return profile;
}

}  // namespace Ignite::detail
