#if canImport(Glibc)
import Glibc
#endif

/// File descriptors: the soft limit is raised to the hard one (systemd starts services at 1024
/// soft), and sessions may use all but a reserve, so the API, the history file and systemd's
/// sockets still get descriptors when sessions hit the limit.
enum FileDescriptorBudget {
    struct Budget {
        let limit: Int
        var defaultMaxSessions: Int { Swift.max(1, limit - reserve) }
        var reserve: Int { Swift.max(64, Swift.min(1024, limit / 8)) }
    }

    static func raiseSoftLimit() -> Budget {
        var limits = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return Budget(limit: 1024) }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        return Budget(limit: Int(clamping: limits.rlim_cur == rlim_t.max ? 1 << 20 : limits.rlim_cur))
    }
}
