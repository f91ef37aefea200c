/// Why an accepted connection was turned away.
public enum RejectReason: String, Sendable, CaseIterable {
    /// The listener's max_sessions was reached.
    case listenerLimit = "listener_limit"
    /// The service-wide --max-sessions was reached.
    case serviceLimit = "service_limit"
    /// The connection came from the service's own forward listeners more times in a row than
    /// a chain of forwards may (a forwarding loop).
    case forwardLoop = "forward_loop"
}
