public enum SessionRole: String, Sendable, Codable, CaseIterable {
    /// Accepted by one of our listeners.
    case server
    /// Opened by us to somebody else's server.
    case client
}

public enum SessionState: String, Sendable, Codable, CaseIterable {
    case open, closed
}
