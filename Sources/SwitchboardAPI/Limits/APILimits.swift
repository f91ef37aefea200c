import Hummingbird

/// The limits one request is held to. Each has a `serve` flag; the defaults suit an operator's
/// curl and scripts with room to spare.
public struct APILimits: Sendable {
    /// Request bodies (JSON or raw bytes to send).
    public var maxBodyBytes = 1 << 20
    /// All header fields together, names and values.
    public var maxHeaderBytes = 16 * 1024
    /// The request target: path and query.
    public var maxURLBytes = 8 * 1024
    /// Nesting of a JSON body.
    public var maxJSONDepth = 16
    /// How long a client has to send a whole request, from the connection's start or the end
    /// of the previous answer; also how long an idle keep-alive connection is kept.
    public var requestTimeout = Duration.seconds(10)

    public init() {}
}
