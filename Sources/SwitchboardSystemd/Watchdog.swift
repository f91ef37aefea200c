import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Pings systemd's watchdog at half of `$WATCHDOG_USEC`, but only after every event loop has
/// run a task: a stuck loop stops the pings, and systemd restarts the service. A plain timer
/// would keep pinging while the loops that serve sockets and the API were wedged.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration
    let group: any EventLoopGroup
    let logger: Logger

    /// nil unless systemd asked for a watchdog for this very process.
    public init?(notifier: SystemdNotifier?, group: any EventLoopGroup, logger: Logger,
                 environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let notifier, let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        self.notifier = notifier
        self.interval = .microseconds(Int64(usec / 2))
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if await loopsAreAlive() {
                notifier.watchdog()
            } else {
                logger.critical("an event loop did not answer within the watchdog interval; not pinging systemd")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Runs a no-op on every loop of the group and waits for all, within one interval.
    func loopsAreAlive() async -> Bool {
        let answered = Mutex(0)
        let loops = Array(group.makeIterator())
        for loop in loops {
            loop.execute { answered.withLock { $0 += 1 } }
        }
        let deadline = ContinuousClock.now + interval
        while answered.withLock({ $0 }) < loops.count {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
