import NIOCore

/// What an operator asks for when opening an outbound session.
public struct ConnectSpec: Sendable {
    public var endpoint: Endpoint
    public var name: String?
    public var send: ByteBuffer?
    public var connectTimeout: Duration
    public var capture: Bool
    public var options: ConnectionOptions
    /// Set for a named session the service keeps connected, retrying with backoff.
    public var reconnect: ReconnectPolicy?
    /// Applied to the session (to every connection of a reconnecting one), created with it.
    public var faults: [Fault]

    public static let defaultConnectTimeout = Duration.seconds(10)

    public init(
        endpoint: Endpoint, name: String? = nil, send: ByteBuffer? = nil, connectTimeout: Duration = defaultConnectTimeout,
        capture: Bool = false, options: ConnectionOptions = .init(), reconnect: ReconnectPolicy? = nil, faults: [Fault] = []
    ) {
        self.faults = faults
        self.endpoint = endpoint
        self.name = name
        self.send = send
        self.connectTimeout = connectTimeout
        self.capture = capture
        self.options = options
        self.reconnect = reconnect
    }
}
