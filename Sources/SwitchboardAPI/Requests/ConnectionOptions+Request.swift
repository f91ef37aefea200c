import SwitchboardCore

/// The connection options both listeners and sessions take, checked with the core's ranges
/// here because a session's connect timeout then leaves the options for its `ConnectSpec`.
/// Any whole number fits a `Duration` (128-bit attoseconds), so the check can follow it.
func connectionOptions(
    nodelay: Bool?, keepalive: KeepaliveRequest?, idleTimeoutMs: WholeNumber?, connectTimeoutMs: WholeNumber?, backlog: WholeNumber?
) throws(SwitchboardError) -> ConnectionOptions {
    let options = ConnectionOptions(
        nodelay: nodelay,
        keepalive: keepalive?.options,
        idleTimeout: idleTimeoutMs.map { .milliseconds($0.value) },
        connectTimeout: connectTimeoutMs.map { .milliseconds($0.value) },
        backlog: backlog?.value
    )
    try options.validate()
    return options
}
