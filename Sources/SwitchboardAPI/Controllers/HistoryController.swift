import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardHistory

/// `/v1/history`: every session the service ever had, from its history (the SQLite file, or
/// the fleet's PostgreSQL database, where `instance` tells whose).
struct HistoryController {
    let history: any HistoryReading

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get(use: list)
        group.get("stats", use: stats)
        group.get(":id", use: show)
        group.get(":id/messages", use: messages)
    }

    enum Format: String, CaseIterable { case json, ndjson, csv }

    static let filterParameters: Set<String> = ["listener", "name", "role", "state", "remote", "since", "until", "min_bytes", "fault", "instance"]

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: Self.filterParameters.union(["limit", "cursor", "format"]))
        let filter = try Self.filter(query)
        let format = try query.choice("format", as: Format.self) ?? .json
        switch format {
        case .json:
            let limit = Int(try query.integer("limit", in: 1...1000) ?? 100)
            // An empty cursor is the first page: the document allows one, and a script that
            // loops `cursor=$next` starts with it empty.
            let cursor = query["cursor"].flatMap { $0.isEmpty ? nil : $0 }
            if let cursor, HistoryCursor.parse(cursor) == nil { throw APIError.invalid("cursor '\(cursor)' is not one this service gave out") }
            let page = try await storage { try await history.page(filter, limit: limit, cursor: cursor) }
            return try JSONResponse.make(Page(sessions: page.sessions, nextCursor: page.nextCursor), style: context.jsonStyle)
        case .ndjson, .csv:
            guard query["limit"] == nil, query["cursor"]?.isEmpty ?? true else {
                throw APIError.invalid("format=\(format.rawValue) streams every matching session; limit and cursor are for format=json")
            }
            return streamed(filter, format: format)
        }
    }

    /// Streams rows in chunks as they are read, so memory stays flat for any number of rows.
    private func streamed(_ filter: HistoryFilter, format: Format) -> Response {
        let history = self.history
        let body = ResponseBody { writer in
            if format == .csv { try await writer.write(ByteBuffer(string: SessionRecord.csvHeader + "\r\n")) }
            try await history.forEachChunk(filter) { rows in
                var buffer = ByteBuffer()
                for row in rows {
                    if format == .csv {
                        buffer.writeString(row.csvLine + "\r\n")
                    } else {
                        buffer.writeBytes(try StreamingJSONEncoder.encode(row))
                        buffer.writeString("\n")
                    }
                }
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        let type = format == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson"
        return Response(status: .ok, headers: [.contentType: type], body: body)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let id = try context.parameters.require("id")
        guard let session = try await storage({ try await history.session(id: id.uppercased()) }) else {
            throw APIError.notFound("no session with id '\(id)' in the history")
        }
        return try JSONResponse.make(session, style: context.jsonStyle)
    }

    @Sendable func messages(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["after", "limit", "encoding"])
        let after = Int64(try query.integer("after", in: 0...UInt64(Int64.max)) ?? 0)
        let limit = Int(try query.integer("limit", in: 1...10_000) ?? 1_000)
        let encoding = try query.choice("encoding", as: DataEncoding.self)
        let id = try context.parameters.require("id").uppercased()
        guard let session = try await storage({ try await history.session(id: id) }) else {
            throw APIError.notFound("no session with id '\(id)' in the history")
        }
        let rows = try await storage { try await history.messages(sessionID: id, after: after, limit: limit) }
        return try JSONResponse.make(CapturedMessages(session: session, rows: rows, after: after, encoding: encoding), style: context.jsonStyle)
    }

    @Sendable func stats(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["since", "until"])
        let since = try Self.time(query, "since")
        let until = try Self.time(query, "until")
        let groups = try await storage { try await history.stats(since: since, until: until) }
        return try JSONResponse.make(Stats(
            since: since.map(RFC3339.format), until: until.map(RFC3339.format), groups: groups,
            sessions: groups.reduce(0) { $0 + $1.sessions },
            bytesIn: groups.reduce(0) { $0 + $1.bytesIn }, bytesOut: groups.reduce(0) { $0 + $1.bytesOut }
        ), style: context.jsonStyle)
    }

    static func filter(_ query: Query) throws(APIError) -> HistoryFilter {
        HistoryFilter(
            listener: query["listener"],
            name: query["name"],
            role: try query.choice("role", as: SessionRole.self),
            state: try query.choice("state", as: HistoryState.self),
            remote: query["remote"],
            since: try time(query, "since"),
            until: try time(query, "until"),
            minBytes: (try query.integer("min_bytes", in: 0...UInt64(Int64.max))).map { Int64($0) },
            fault: query["fault"],
            instance: query["instance"]
        )
    }

    static func time(_ query: Query, _ key: String) throws(APIError) -> Date? {
        guard let text = query[key] else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw APIError.invalid("query parameter '\(key)' must be an RFC 3339 time such as 2026-11-26T04:00:00Z, not '\(text)'")
        }
        return date
    }

    /// SQLite failures are the service's trouble, not the caller's: 503 with the reason.
    private func storage<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.serviceUnavailable, "storage_unavailable", "the history could not be read: \(error)")
        }
    }

    struct Page: Encodable {
        let sessions: [SessionRecord]
        let nextCursor: String?
        enum CodingKeys: String, CodingKey {
            case sessions
            case nextCursor = "next_cursor"
        }
    }

    struct CapturedMessages: Encodable {
        let session: SessionRecord
        let messages: [MessageItem]
        let next: Int64
        let truncated: Bool

        init(session: SessionRecord, rows: [MessageRecord], after: Int64, encoding: DataEncoding?) {
            self.session = session
            messages = rows.map { row in
                MessageItem(seq: UInt64(row.seq), direction: row.direction, at: row.at, data: ByteBuffer(bytes: row.data), as: encoding)
            }
            next = rows.last?.seq ?? after
            truncated = session.captureTruncated
        }
    }

    struct Stats: Encodable {
        let since: String?
        let until: String?
        let groups: [HistoryStats]
        let sessions: Int64
        let bytesIn: Int64
        let bytesOut: Int64
        enum CodingKeys: String, CodingKey {
            case since, until, groups, sessions
            case bytesIn = "bytes_in"
            case bytesOut = "bytes_out"
        }
    }
}
