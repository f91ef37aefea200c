import Foundation
import NIOCore

/// How many event loops to run by default.
///
/// NIO's own count (`System.coreCount`) honours a cgroup's CPU quota and cpuset but not the
/// process's CPU affinity, so a service pinned to one core (CPUAffinity=, taskset) would run a
/// loop per online CPU, all on that core: measured on 2 CPUs with the service pinned to one, the
/// churn benchmark spent 84 and 71 µs of CPU per session with one loop against 116 and 91 with two
/// (the loops preempt each other).
public enum EventLoopCount {
    public static func usableCPUs(status: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> Int {
        let affinity = status.flatMap(allowedCPUs(status:))
        // At most 256, the most --event-loops takes: a bigger machine still starts.
        return Swift.max(1, Swift.min(affinity ?? System.coreCount, System.coreCount, 256))
    }

    /// The CPUs in the `Cpus_allowed:` mask of /proc/self/status (hex words separated by commas);
    /// Glibc's module does not export sched_getaffinity.
    static func allowedCPUs(status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
        var count = 0
        for digit in line.dropFirst("Cpus_allowed:".count) where digit != "," && !digit.isWhitespace {
            guard let value = digit.hexDigitValue else { return nil }
            count += value.nonzeroBitCount
        }
        return count > 0 ? count : nil
    }
}
