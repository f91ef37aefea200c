import ArgumentParser
import Foundation
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory

/// `switchboard history`: reads the history file directly, read-only, also while the service runs.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Query the session history in the SQLite file.",
        discussion: "Reads the file directly and read-only; safe while the service is running (WAL).",
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    struct Location: ParsableArguments {
        @Option(help: ArgumentHelp("The history file the service writes (its --db).", valueName: "path"))
        var db: String = "./switchboard.sqlite3"

        func open() throws -> HistoryDatabase {
            do {
                return try HistoryDatabase(readingOnly: db)
            } catch {
                throw HistoryCommandError("cannot read the history file \(db): \(error)")
            }
        }
    }

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, ndjson, csv }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions, newest first.")

        @OptionGroup var location: Location
        @Option(help: "Only sessions accepted by this listener.") var listener: String?
        @Option(help: "Only outbound sessions of this name.") var name: String?
        @Option(help: "server or client.") var role: SessionRole?
        @Option(help: "open, closed or interrupted.") var state: HistoryState?
        @Option(help: "Remote address or a prefix of it, e.g. 127.0.0.1: or 10.1.") var remote: String?
        @Option(help: ArgumentHelp("Sessions opened at or after this RFC 3339 time.", valueName: "time")) var since: String?
        @Option(help: ArgumentHelp("Sessions opened before this RFC 3339 time.", valueName: "time")) var until: String?
        @Option(help: "Only sessions a fault of this name applied to (its toxicity draw said yes).") var fault: String?
        @Option(help: "At most this many sessions (table and json; ndjson and csv print all).") var limit: Int = 100
        @Option(help: "table (for people), json, ndjson or csv.") var format: Format = .table

        func validate() throws {
            guard (1...1_000_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000000") }
            for (flag, value) in [("--since", since), ("--until", until)] {
                if let value, RFC3339.parse(value) == nil { throw ValidationError("\(flag) must be an RFC 3339 time such as 2026-11-26T04:00:00Z") }
            }
        }

        func run() async throws {
            let history = try location.open()
            let filter = HistoryFilter(
                listener: listener, name: name, role: role, state: state, remote: remote,
                since: since.flatMap(RFC3339.parse), until: until.flatMap(RFC3339.parse), fault: fault
            )
            switch format {
            case .ndjson:
                try await history.forEachChunk(filter) { rows in
                    for row in rows { print(try Self.json(row)) }
                }
            case .csv:
                print(SessionRecord.csvHeader)
                try await history.forEachChunk(filter) { rows in
                    for row in rows { print(row.csvLine) }
                }
            case .json:
                let rows = try await history.page(filter, limit: limit).sessions
                print("[" + (try rows.map(Self.json).joined(separator: ",\n")) + "]")
            case .table:
                let rows = try await history.page(filter, limit: limit).sessions
                print(Table.render(rows))
            }
        }

        static func json(_ row: SessionRecord) throws -> String {
            try StreamingJSONEncoder.string(row)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one session, and with --messages its captured bytes.")

        @OptionGroup var location: Location
        @Argument(help: "The session id.") var id: String
        @Flag(help: "Also print the captured transcript.") var messages = false

        func run() async throws {
            let history = try location.open()
            guard let session = try await history.session(id: id.uppercased()) else {
                throw HistoryCommandError("no session with id '\(id)' in \(location.db)")
            }
            for (key, value) in Table.fields(session) { print("\(key.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)") }
            guard messages else { return }
            var after: Int64 = 0
            while true {
                let rows = try await history.messages(sessionID: session.id, after: after)
                if rows.isEmpty { break }
                for row in rows {
                    let arrow = row.direction == "in" ? "<-" : "->"
                    let text = String(data: row.data, encoding: .utf8).map { $0.debugDescription } ?? "base64:" + row.data.base64EncodedString()
                    print("\(row.at) \(arrow) \(row.data.count) bytes \(text)")
                }
                after = rows.last!.seq
            }
            if session.captureTruncated { print("(capture reached its limit; later bytes were not recorded)") }
        }
    }
}

extension SessionRole: ExpressibleByArgument {}
extension HistoryState: ExpressibleByArgument {}

/// What goes wrong at run time (a file that cannot be read, an id the file does not have), as
/// opposed to a usage error: printed as it is, without the usage text, and exit status 1
/// (a `ValidationError` is the parser's: usage text and 64).
struct HistoryCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
