import ArgumentParser
import Foundation
import SwitchboardAPI
import SwitchboardClient
import SwitchboardCore
import SwitchboardHistory
import SwitchboardHistoryPostgres
import Logging

/// `switchboard history`: the session history, read from the file directly (read-only, also
/// while the service runs) or, with `--api`, asked of a running service (`GET /v1/history`).
/// Both print the same.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Query the session history: in the SQLite file, or of a running service with --api.",
        discussion: "Reading the file directly is read-only and safe while the service is running (WAL).",
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    /// The file or the service; the file unless `--api` is given, so what `history` reads does
    /// not change with the environment.
    struct Source: ParsableArguments {
        @Option(help: ArgumentHelp("The history the service writes (its --db): a SQLite file, or a postgres:// URL (password from the URL, --db-password-file or PGPASSWORD). Default ./switchboard.sqlite3.", valueName: "path|url"))
        var db: String?

        @Option(help: ArgumentHelp("With a postgres:// --db: a file whose first line is the password.", valueName: "path"))
        var dbPasswordFile: String?

        @Option(help: ArgumentHelp("Ask the service whose control API is here (HOST:PORT or unix:/path) instead of reading a file.", valueName: "address"))
        var api: String?

        @Option(help: ArgumentHelp("With --api: a file holding the service's bearer token. Env SWITCHBOARD_TOKEN_FILE.", valueName: "path"))
        var tokenFile: String?

        func validate() throws {
            if db != nil, api != nil { throw ValidationError("give --db (read the file) or --api (ask the service), not both") }
            if dbPasswordFile != nil, !PostgresURL.isURL(file) { throw ValidationError("--db-password-file is for a postgres:// --db") }
            if tokenFile != nil, api == nil { throw ValidationError("--token-file is for --api") }
            if api != nil { _ = try APIOptions.address(api) }
        }

        var file: String { db ?? "./switchboard.sqlite3" }

        func open() async throws -> any HistoryReading {
            guard PostgresURL.isURL(file) else {
                do {
                    return try HistoryDatabase(readingOnly: file)
                } catch {
                    throw CommandFailure("cannot read the history file \(file): \(error)")
                }
            }
            let url: PostgresURL
            do {
                url = try PostgresURL(parsing: file)
            } catch {
                throw CommandFailure("--db: \(error)")
            }
            var password = url.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            if let path = dbPasswordFile {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8), let line = text.split(whereSeparator: \.isNewline).first else {
                    throw CommandFailure("--db-password-file: cannot read a password from \(path)")
                }
                password = String(line)
            }
            var logger = Logger(label: "switchboard-history")
            logger.logLevel = .error
            do {
                return try await PostgresHistory.reader(url, password: password, logger: logger)
            } catch {
                throw CommandFailure("cannot read the PostgreSQL history \(url): \(error)")
            }
        }

        /// Opens the history, hands it to `body` and closes it again, whether `body` throws or not.
        func reading(_ body: (any HistoryReading) async throws -> Void) async throws {
            let history = try await open()
            do {
                try await body(history)
            } catch {
                await history.close()
                throw error
            }
            await history.close()
        }

        func client<T: Sendable>(_ body: (ControlAPIClient) async throws -> T) async throws -> T {
            try await APIOptions.client(api: api, tokenFile: tokenFile, body)
        }
    }

    /// A verb that reads the history from a running service (`--api`) or straight from its store.
    protocol HistoryVerb: AsyncParsableCommand {
        var source: Source { get }
        func fromService() async throws
        func read(_ history: any HistoryReading) async throws
    }

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, ndjson, csv }

    struct List: HistoryVerb {
        static let configuration = CommandConfiguration(abstract: "List sessions, newest first.")

        @OptionGroup var source: Source
        @Option(help: "Only sessions accepted by this listener.") var listener: String?
        @Option(help: "Only outbound sessions of this name.") var name: String?
        @Option(help: "server or client.") var role: SessionRole?
        @Option(help: "open, closed or interrupted.") var state: HistoryState?
        @Option(help: "Remote address or a prefix of it, e.g. 127.0.0.1: or 10.1.") var remote: String?
        @Option(help: ArgumentHelp("Sessions opened at or after this RFC 3339 time.", valueName: "time")) var since: String?
        @Option(help: ArgumentHelp("Sessions opened before this RFC 3339 time.", valueName: "time")) var until: String?
        @Option(help: ArgumentHelp("Sessions that moved at least this many bytes, in and out together.", valueName: "bytes")) var minBytes: Int64?
        @Option(help: "Only sessions a fault of this name applied to (its toxicity draw said yes).") var fault: String?
        @Option(help: ArgumentHelp("Only sessions of this service (its --instance).", valueName: "name")) var instance: String?
        @Option(help: "At most this many sessions (table and json; ndjson and csv print all).") var limit: Int = 100
        @Option(name: [.customShort("o"), .customLong("output"), .customLong("format")], help: "table (for people), json, ndjson or csv.")
        var format: Format = .table

        func validate() throws {
            guard (1...1_000_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000000") }
            for (flag, value) in [("--since", since), ("--until", until)] {
                if let value, RFC3339.parse(value) == nil { throw ValidationError("\(flag) must be an RFC 3339 time such as 2026-11-26T04:00:00Z") }
            }
            if let minBytes, minBytes < 0 { throw ValidationError("--min-bytes must be 0 or more") }
        }

        func read(_ history: any HistoryReading) async throws {
            let filter = HistoryFilter(
                listener: listener, name: name, role: role, state: state, remote: remote,
                since: since.flatMap(RFC3339.parse), until: until.flatMap(RFC3339.parse), minBytes: minBytes, fault: fault,
                instance: instance
            )
            switch format {
            case .ndjson:
                try await history.forEachChunk(filter) { rows in
                    for row in rows { print(try StreamingJSONEncoder.string(row)) }
                }
            case .csv:
                print(SessionRecord.csvHeader)
                try await history.forEachChunk(filter) { rows in
                    for row in rows { print(row.csvLine) }
                }
            case .json:
                let rows = try await history.page(filter, limit: limit).sessions
                print("[" + (try rows.map(StreamingJSONEncoder.string).joined(separator: ",\n")) + "]")
            case .table:
                let rows = try await history.page(filter, limit: limit).sessions
                print(Table.sessions(try rows.map(HistoryCommand.session)).render())
            }
        }

        private var query: APIQuery {
            [
                "listener": listener, "name": name, "role": role?.rawValue, "state": state?.rawValue, "remote": remote,
                "since": since, "until": until, "min_bytes": minBytes.map(String.init), "fault": fault, "instance": instance,
            ]
        }

        /// The same output from `GET /v1/history`: ndjson and csv streamed as the service
        /// writes them, json and table from pages of at most 1000 until `--limit`.
        func fromService() async throws {
            try await source.client { client in
                switch format {
                case .ndjson, .csv:
                    var query = self.query
                    query.append("format", format.rawValue)
                    try await client.stream("/v1/history", query: query) { chunk in
                        Output.bytes(Data(chunk.readableBytesView))
                    }
                case .json:
                    let rows = try await pages(client) { answer in RawJSON.elements(of: "sessions", in: answer.body) ?? [] }
                    print("[" + rows.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",\n") + "]")
                case .table:
                    let rows = try await pages(client) { answer in try answer.decode(APIHistoryPage.self).sessions }
                    print(Table.sessions(rows).render())
                }
            }
        }

        private func pages<Row>(_ client: ControlAPIClient, _ rows: (APIAnswer) throws -> [Row]) async throws -> [Row] {
            var all: [Row] = []
            var cursor: String?
            repeat {
                var query = self.query
                query.append("limit", String(min(1000, limit - all.count)))
                query.append("cursor", cursor)
                let answer = try await client.request(.GET, "/v1/history", query: query)
                all += try rows(answer)
                cursor = try answer.decode(APIHistoryPage.self).nextCursor
            } while cursor != nil && all.count < limit
            return all
        }
    }

    struct Show: HistoryVerb {
        static let configuration = CommandConfiguration(abstract: "Show one session, and with --messages its captured bytes.")

        @OptionGroup var source: Source
        @Argument(help: "The session id.") var id: String
        @Flag(help: "Also print the captured transcript.") var messages = false

        func read(_ history: any HistoryReading) async throws {
            guard let session = try await history.session(id: id.uppercased()) else {
                throw CommandFailure("no session with id '\(id)' in \(history.location)")
            }
            try Output.fields(Data(try StreamingJSONEncoder.encode(session)))
            guard messages else { return }
            var after: Int64 = 0
            while true {
                let rows = try await history.messages(sessionID: session.id, after: after)
                if rows.isEmpty { break }
                for row in rows { print(MessageLine.format(at: row.at, direction: row.direction, data: row.data)) }
                after = rows.last!.seq
            }
            if session.captureTruncated { print(HistoryCommand.truncatedNote) }
        }

        func fromService() async throws {
            try await source.client { client in
                let path = "/v1/history/\(Path.segment(id))"
                try Output.fields(try await client.request(.GET, path).body)
                guard messages else { return }
                var after: Int64 = 0
                while true {
                    let page = try await client.request(.GET, path + "/messages", query: ["after": String(after), "encoding": "base64"])
                        .decode(APICapturedMessages.self)
                    for message in page.messages {
                        print(MessageLine.format(at: message.at, direction: message.direction, data: message.decoded))
                    }
                    if page.messages.isEmpty {
                        if page.truncated { print(HistoryCommand.truncatedNote) }
                        return
                    }
                    after = page.next
                }
            }
        }
    }

    static let truncatedNote = "(capture reached its limit; later bytes were not recorded)"

    /// A row of the file in the shape the API gives it, through the one encoder both use.
    static func session(_ record: SessionRecord) throws -> APISession {
        try APIAnswer.decoder.decode(APISession.self, from: Data(try StreamingJSONEncoder.encode(record)))
    }
}

extension SessionRole: ExpressibleByArgument {}
extension HistoryState: ExpressibleByArgument {}

extension HistoryCommand.HistoryVerb {
    func run() async throws {
        if source.api != nil {
            try await fromService()
        } else {
            try await source.reading(read)
        }
    }
}
