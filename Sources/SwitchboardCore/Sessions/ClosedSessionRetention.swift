
/// How many closed sessions stay readable in memory, and for how long.
public struct ClosedSessionRetention: Sendable {
    public var count = 1000
    public var bytes = 64 << 20
    public var age = Duration.seconds(3600)
    public init() {}
}
