import Foundation

/// How a named session retries: exponential backoff from `initial` to `max`, doubled after
/// each failed attempt; with `jitter` each wait is drawn from its upper half so that many
/// sessions dropped at once do not come back in step.
public struct ReconnectPolicy: Sendable, Equatable {
    public var initial: Duration
    public var max: Duration
    public var jitter: Bool

    public init(initial: Duration = .milliseconds(100), max: Duration = .seconds(30), jitter: Bool = true) {
        self.initial = initial
        self.max = max
        self.jitter = jitter
    }

    public func validate() throws(SwitchboardError) {
        guard initial >= .milliseconds(1), initial <= .seconds(3600) else {
            throw SwitchboardError(.invalidArgument, "reconnect.initial_ms must be from 1 to 3600000")
        }
        guard max >= initial, max <= .seconds(86_400) else {
            throw SwitchboardError(.invalidArgument, "reconnect.max_ms must be from initial_ms to 86400000")
        }
    }

    /// How long a connection must stay up before its end counts as a drop, after which the
    /// backoff starts again from `initial`; one that ends sooner steps the backoff up like a
    /// failed attempt. Without it a server that accepts and closes at once was reconnected
    /// about 600 times a second.
    public static let stableAfter = Duration.seconds(2)

    /// The wait before the next attempt after `failures` failed ones in a row (0: the
    /// connection dropped after it had been up).
    public func delay(afterFailures failures: Int) -> Duration {
        let exponent = Swift.min(failures, 30)
        let initialMs = initial.inSeconds * 1000
        let maxMs = max.inSeconds * 1000
        var ms = Swift.min(maxMs, initialMs * pow(2, Double(exponent)))
        if jitter { ms = Double.random(in: (ms / 2)...ms) }
        return .milliseconds(Int64(ms.rounded()))
    }
}
