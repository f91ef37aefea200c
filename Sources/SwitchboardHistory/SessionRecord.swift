import Foundation
import GRDB
import SwitchboardCore

/// A row of `sessions`, also the JSON shape of a session in `/v1/history` and the CLI.
public struct SessionRecord: Codable, Sendable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "sessions"

    // In the order of the coding keys (the CSV columns), which is the order the JSON keys
    // come out in.
    public var id: String
    public var role: String
    public var listener: String?
    public var name: String?
    public var state: String
    public var capture: Bool
    public var localAddress: String?
    public var remoteAddress: String?
    public var openedAt: String
    public var closedAt: String?
    public var closeReason: String?
    public var bytesIn: Int64
    public var bytesOut: Int64
    public var partnerId: String?
    public var captureTruncated: Bool
    /// Every fault that met the session, whether it applied, and when.
    public var faults: [SessionFaultRecord]
    /// The service (`--instance`) that had the session; nil for sessions recorded before
    /// instances existed.
    public var instance: String?

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
        case faults
        case instance
    }

    /// A live session as the core reports it; the store that writes it sets its `instance`.
    /// The most bytes a column holds, half of a signed 64-bit integer: the stores add the two
    /// columns up (the size buckets, `min_bytes`), and PostgreSQL refuses a sum past its bigint,
    /// which would fail every batch holding that row. Counts past it (4.6 EB) are stored as it.
    public static let maxBytes = Int64.max / 2

    static func stored(_ bytes: UInt64) -> Int64 { Int64(clamping: min(bytes, UInt64(maxBytes))) }

    public init(_ info: SessionInfo) {
        self.init(info, instance: nil)
    }

    public init(_ info: SessionInfo, instance: String?) {
        self.instance = instance
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
        bytesIn = Self.stored(info.bytesIn)
        bytesOut = Self.stored(info.bytesOut)
        partnerId = info.partnerID?.rawValue
        capture = info.capture
        captureTruncated = info.captureTruncated
        faults = info.faults.map(SessionFaultRecord.init)
    }

    public init(
        id: String, role: String, listener: String?, name: String?, localAddress: String?, remoteAddress: String?,
        state: String, openedAt: String, closedAt: String?, closeReason: String?, bytesIn: Int64, bytesOut: Int64,
        partnerId: String?, capture: Bool, captureTruncated: Bool, faults: [SessionFaultRecord] = [], instance: String? = nil
    ) {
        self.instance = instance
        self.id = id
        self.role = role
        self.listener = listener
        self.name = name
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.state = state
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.closeReason = closeReason
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.partnerId = partnerId
        self.capture = capture
        self.captureTruncated = captureTruncated
        self.faults = faults
    }

    /// Read by column name, the fault log from its JSON text (NULL: none).
    public init(row: Row) throws {
        self.init(
            id: row["id"], role: row["role"], listener: row["listener"], name: row["name"],
            localAddress: row["local_address"], remoteAddress: row["remote_address"], state: row["state"],
            openedAt: row["opened_at"], closedAt: row["closed_at"], closeReason: row["close_reason"],
            bytesIn: row["bytes_in"], bytesOut: row["bytes_out"], partnerId: row["partner_id"],
            capture: row["capture"], captureTruncated: row["capture_truncated"],
            faults: SessionFaultRecord.log(column: row["faults"]), instance: row["instance"]
        )
    }

    /// The CSV columns, in table order.
    public static let csvHeader = CodingKeys.allCases.map(\.stringValue).joined(separator: ",")

    public var csvLine: String {
        let fields: [String?] = [
            id, role, listener, name, state, capture ? "1" : "0", localAddress, remoteAddress, openedAt, closedAt,
            closeReason, String(bytesIn), String(bytesOut), partnerId, captureTruncated ? "1" : "0",
            SessionFaultRecord.column(faults), instance,
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

    public init(sessionId: String, seq: Int64, direction: String, at: String, data: Data) {
        self.sessionId = sessionId
        self.seq = seq
        self.direction = direction
        self.at = at
        self.data = data
    }

    public init(_ chunk: CapturedChunk) {
        sessionId = chunk.sessionID.rawValue
        seq = Int64(chunk.seq)
        direction = chunk.direction.rawValue
        at = RFC3339.format(chunk.at)
        data = Data(chunk.data.readableBytesView)
    }
}

/// A row of `listeners`: what an operator created, restored at start-up. Both backends store
/// these columns (StoredListeners.swift turns them into specs and back).
public struct ListenerRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "listeners"
    public var name: String
    public var address: String
    public var mode: String
    public var reply: Data?
    public var closeAfterReply: Bool
    public var maxSessions: Int?
    public var capture: Bool
    public var createdAt: String
    public var forwardTo: String?
    public var resetOnFailure: Bool
    /// `StoredOptions`: JSON, NULL when all are default.
    public var options: String?
    /// `StoredFaults`: JSON, NULL for none.
    public var faults: String?
    public var enabled: Bool
    public var instance: String?

    public enum CodingKeys: String, CodingKey {
        case name, address, mode, reply, capture, options, faults, enabled, instance
        case closeAfterReply = "close_after_reply"
        case maxSessions = "max_sessions"
        case createdAt = "created_at"
        case forwardTo = "forward_to"
        case resetOnFailure = "reset_on_failure"
    }

    public init(
        name: String, address: String, mode: String, reply: Data?, closeAfterReply: Bool, maxSessions: Int?, capture: Bool,
        createdAt: String, forwardTo: String?, resetOnFailure: Bool, options: String?, faults: String?, enabled: Bool, instance: String?
    ) {
        self.faults = faults
        self.enabled = enabled
        self.name = name
        self.address = address
        self.mode = mode
        self.reply = reply
        self.closeAfterReply = closeAfterReply
        self.maxSessions = maxSessions
        self.capture = capture
        self.createdAt = createdAt
        self.forwardTo = forwardTo
        self.resetOnFailure = resetOnFailure
        self.options = options
        self.instance = instance
    }
}

/// A row of `reconnecting_sessions`: a named session kept connected, restored at start-up.
public struct ReconnectingRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "reconnecting_sessions"
    public var name: String
    public var connect: String
    public var send: Data?
    public var capture: Bool
    public var connectTimeoutMs: Int64
    public var initialMs: Int64
    public var maxMs: Int64
    public var jitter: Bool
    public var options: String?
    public var createdAt: String
    /// `StoredFaults`: JSON, NULL for none.
    public var faults: String?
    public var instance: String?

    public enum CodingKeys: String, CodingKey {
        case name, connect, send, capture, jitter, options, faults, instance
        case connectTimeoutMs = "connect_timeout_ms"
        case initialMs = "initial_ms"
        case maxMs = "max_ms"
        case createdAt = "created_at"
    }

    public init(
        name: String, connect: String, send: Data?, capture: Bool, connectTimeoutMs: Int64, initialMs: Int64, maxMs: Int64,
        jitter: Bool, options: String?, createdAt: String, faults: String?, instance: String?
    ) {
        self.faults = faults
        self.name = name
        self.connect = connect
        self.send = send
        self.capture = capture
        self.connectTimeoutMs = connectTimeoutMs
        self.initialMs = initialMs
        self.maxMs = maxMs
        self.jitter = jitter
        self.options = options
        self.createdAt = createdAt
        self.instance = instance
    }
}

/// Connection options as stored: JSON with the API's field names, absent when all are default.
struct StoredOptions: Codable {
    struct Keepalive: Codable {
        var idleS: Int?
        var intervalS: Int?
        var count: Int?
        enum CodingKeys: String, CodingKey {
            case count
            case idleS = "idle_s"
            case intervalS = "interval_s"
        }
    }
    var nodelay: Bool?
    var keepalive: Keepalive?
    var idleTimeoutMs: Int64?
    var connectTimeoutMs: Int64?
    var backlog: Int?

    enum CodingKeys: String, CodingKey {
        case nodelay, keepalive, backlog
        case idleTimeoutMs = "idle_timeout_ms"
        case connectTimeoutMs = "connect_timeout_ms"
    }

    static func encode(_ options: ConnectionOptions) -> String? {
        guard !options.isEmpty else { return nil }
        let stored = StoredOptions(
            nodelay: options.nodelay,
            keepalive: options.keepalive.map { Keepalive(idleS: $0.idle, intervalS: $0.interval, count: $0.count) },
            idleTimeoutMs: options.idleTimeout.map(\.wholeMilliseconds),
            connectTimeoutMs: options.connectTimeout.map(\.wholeMilliseconds),
            backlog: options.backlog
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(stored)).flatMap { String(decoding: $0, as: UTF8.self) }
    }

    static func decode(_ text: String?) -> ConnectionOptions {
        guard let text, let stored = try? JSONDecoder().decode(StoredOptions.self, from: Data(text.utf8)) else { return .init() }
        return ConnectionOptions(
            nodelay: stored.nodelay,
            keepalive: stored.keepalive.map { ConnectionOptions.Keepalive(idle: $0.idleS, interval: $0.intervalS, count: $0.count) },
            idleTimeout: stored.idleTimeoutMs.map { .milliseconds($0) },
            connectTimeout: stored.connectTimeoutMs.map { .milliseconds($0) },
            backlog: stored.backlog
        )
    }
}
