/// A listener: the OpenAPI schema `Listener`, less what only `show` prints (it prints the answer
/// itself).
public struct APIListener: Decodable, Sendable {
    public let name: String
    public let mode: String
    public let address: String
    public let state: String
    public let error: String?
    public let openSessions: Int
    public let totalSessions: Int
    public let rejectedSessions: Int
    public let bytesIn: Int64
    public let bytesOut: Int64
}

/// `GET /v1/listeners`: the OpenAPI schema `ListenerList`.
public struct APIListenerList: Decodable, Sendable {
    public let listeners: [APIListener]
}
