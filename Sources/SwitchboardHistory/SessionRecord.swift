import Foundation
import GRDB
import SwitchboardCore

/// A row of `sessions`, also the JSON shape of a session in `/v1/history` and the CLI.
public struct SessionRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "sessions"

    public var id: String
    public var role: String
    public var listener: String?
    public var name: String?
    public var localAddress: String?
    public var remoteAddress: String?
    public var state: String
    public var openedAt: String
    public var closedAt: String?
    public var closeReason: String?
    public var bytesIn: Int64
    public var bytesOut: Int64
    public var partnerId: String?
    public var capture: Bool
    public var captureTruncated: Bool

    public enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, role, listener, name, state, capture
        case localAddress = "local_address"
        case remoteAddress = "remote_address"
        case openedAt = "opened_at"
        case closedAt = "closed_at"
        case closeReason = "close_reason"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case partnerId = "partner_id"
        case captureTruncated = "capture_truncated"
    }

    public init(_ info: SessionInfo) {
        id = info.id.rawValue
        role = info.role.rawValue
        listener = info.listener
        name = info.name
        localAddress = info.localAddress
        remoteAddress = info.remoteAddress
        state = info.state.rawValue
        openedAt = RFC3339.format(info.openedAt)
        closedAt = info.closedAt.map(RFC3339.format)
        closeReason = info.closeReason?.description
        bytesIn = Int64(clamping: info.bytesIn)
        bytesOut = Int64(clamping: info.bytesOut)
        partnerId = info.partnerID?.rawValue
        capture = info.capture
        captureTruncated = info.captureTruncated
    }

    // Every key is written, absent values as null, like the live sessions API.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(role, forKey: .role)
        try c.encode(listener, forKey: .listener)
        try c.encode(name, forKey: .name)
        try c.encode(localAddress, forKey: .localAddress)
        try c.encode(remoteAddress, forKey: .remoteAddress)
        try c.encode(state, forKey: .state)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(closedAt, forKey: .closedAt)
        try c.encode(closeReason, forKey: .closeReason)
        try c.encode(bytesIn, forKey: .bytesIn)
        try c.encode(bytesOut, forKey: .bytesOut)
        try c.encode(partnerId, forKey: .partnerId)
        try c.encode(capture, forKey: .capture)
        try c.encode(captureTruncated, forKey: .captureTruncated)
    }

    /// The CSV columns, in table order.
    public static let csvHeader = CodingKeys.allCases.map(\.stringValue).joined(separator: ",")

    public var csvLine: String {
        let fields: [String?] = [
            id, role, listener, name, state, capture ? "1" : "0", localAddress, remoteAddress, openedAt, closedAt,
            closeReason, String(bytesIn), String(bytesOut), partnerId, captureTruncated ? "1" : "0",
        ]
        return fields.map { Self.csvField($0) }.joined(separator: ",")
    }

    private static func csvField(_ value: String?) -> String {
        guard let value else { return "" }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A row of `messages`: captured bytes of one direction of a session.
public struct MessageRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "messages"
    public var sessionId: String
    public var seq: Int64
    public var direction: String
    public var at: String
    public var data: Data

    public enum CodingKeys: String, CodingKey {
        case seq, direction, at, data
        case sessionId = "session_id"
    }

    public init(_ chunk: CapturedChunk) {
        sessionId = chunk.sessionID.rawValue
        seq = Int64(chunk.seq)
        direction = chunk.direction.rawValue
        at = RFC3339.format(chunk.at)
        data = Data(chunk.data.readableBytesView)
    }
}

/// A row of `listeners`: what an operator created, restored at start-up.
struct ListenerRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "listeners"
    var name: String
    var address: String
    var mode: String
    var reply: Data?
    var closeAfterReply: Bool
    var maxSessions: Int?
    var capture: Bool
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case name, address, mode, reply, capture
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
        case createdAt = "created_at"
    }
}
