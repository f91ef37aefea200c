import ArgumentParser
import Foundation
import SwitchboardClient
import UnixSignals

/// `switchboard events`: tails `GET /v1/events`, one line per event, until Ctrl-C.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the service's live events as they happen, one a line, until Ctrl-C.",
        discussion: """
            A line is the event's id, its name and what it is about. -o ndjson (or json) \
            prints {"id", "event", "data"} a line, data as the service sent it. Ctrl-C \
            (SIGINT) or SIGTERM ends it with status 0; so does the service ending the stream \
            (it does when it stops), with a note on standard error.
            """
    )

    @OptionGroup var api: APIOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only events of this listener and its sessions.") var listener: String?
    @Option(help: "Only events of this session.") var session: String?
    @Flag(help: "Also session.data events: bytes moved (counts, not the bytes), at most every 100 ms per session.") var data = false

    func run() async throws {
        // Trapped before the request goes out: from the first line printed, Ctrl-C is ours.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let query: APIQuery = ["listener": listener, "session": session, "data": data ? "true" : nil]
        let endedByService = try await api.client { client in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var parser = ServerSentEventParser()
                    try await client.stream("/v1/events", query: query) { chunk in
                        for event in parser.feed(chunk) { Output.line(format(event)) }
                    }
                    return true
                }
                group.addTask {
                    for await _ in signals { return false }
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
        }
        if endedByService { Output.error("the service ended the event stream") }
    }

    private func format(_ event: ServerSentEvent) -> String {
        switch output.output {
        case .json, .ndjson:
            // The service's ids are whole numbers (SSE carries them as text); `lost` has none.
            let id = event.id.map { id in id.allSatisfy(\.isNumber) && !id.isEmpty ? id : Self.quoted(id) } ?? "null"
            return "{\"id\":\(id),\"event\":\(Self.quoted(event.event)),\"data\":\(event.data)}"
        case .table:
            return "\(event.id ?? "-")  \(event.event)  \(Self.summary(event))"
        }
    }

    static func quoted(_ text: String) -> String {
        (try? String(decoding: JSONSerialization.data(withJSONObject: text, options: .fragmentsAllowed), as: UTF8.self)) ?? "\"\""
    }

    /// What an event is about, in the words of its kind; for kinds without a summary here, every
    /// field that has a value as key=value.
    static func summary(_ event: ServerSentEvent) -> String {
        let members = RawJSON.members(Data(event.data.utf8)) ?? []
        let field = { (key: String) in members.first { $0.key == key }.flatMap { RawJSON.plain($0.value) } }
        let parts: [String?]
        switch event.event {
        case "session.opened", "session.closed":
            parts = [
                field("id"), field("role"), field("listener") ?? field("name"), field("remote_address"),
                event.event == "session.closed" ? field("close_reason") : nil,
                event.event == "session.closed" ? "in=\(field("bytes_in") ?? "0") out=\(field("bytes_out") ?? "0")" : nil,
            ]
        case "listener.created", "listener.deleted", "listener.failed":
            parts = [field("name"), field("mode"), field("address"), field("state"), field("error")]
        case "session.data":
            parts = [field("session_id"), field("listener"), field("direction"), field("bytes").map { "\($0) bytes" }]
        default:
            parts = members.compactMap { key, value in
                guard value.first != UInt8(ascii: "{"), value.first != UInt8(ascii: "["), let plain = RawJSON.plain(value) else { return nil }
                return "\(key)=\(plain)"
            }
        }
        return parts.compactMap { $0 }.joined(separator: "  ")
    }
}
