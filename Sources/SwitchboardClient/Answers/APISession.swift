/// A session, live or from the history: the OpenAPI schema `Session` (openapi/openapi.json).
public struct APISession: Decodable, Sendable {
    public let id: String
    public let role: String
    public let listener: String?
    public let name: String?
    public let state: String
    public let capture: Bool
    public let localAddress: String?
    public let remoteAddress: String?
    public let openedAt: String
    public let closedAt: String?
    public let closeReason: String?
    public let bytesIn: Int64
    public let bytesOut: Int64
    public let partnerId: String?
    public let captureTruncated: Bool
}

/// `GET /v1/sessions`: the OpenAPI schema `SessionList`.
public struct APISessionList: Decodable, Sendable {
    public let sessions: [APISession]
    public let reconnecting: [APIReconnectStatus]
}

/// A named session the service keeps connected: `Reconnecting`.
public struct APIReconnectStatus: Decodable, Sendable {
    public let name: String
    public let connect: String
    public let state: String
    public let sessionId: String?
    public let failures: Int
    public let nextAttemptAt: String?
    public let lastError: String?
}

/// `POST /v1/sessions/{id}/send`: the OpenAPI schema `SendResult`.
public struct APISendResult: Decodable, Sendable {
    public let bytesSent: Int
    public let session: APISession
}

/// `GET /v1/history`: the OpenAPI schema `HistoryPage`.
public struct APIHistoryPage: Decodable, Sendable {
    public let sessions: [APISession]
    public let nextCursor: String?
}
