import ArgumentParser
import Foundation
import SwitchboardClient

/// `switchboard listeners ...`: the server role, over `/v1/listeners`.
struct ListenersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listeners",
        abstract: "List, show, create and delete the service's listeners.",
        subcommands: [List.self, Show.self, Create.self, Delete.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the listeners with their counters.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let answer = try await api.client { try await $0.request(.GET, "/v1/listeners") }
            switch output.output {
            case .json: Output.json(answer.body)
            case .ndjson: try Output.ndjson(answer.body, items: "listeners")
            case .table: Output.line(ListenersCommand.table(try answer.decode(APIListenerList.self).listeners).render())
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one listener: its address, mode, options and counters.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The listener's name.") var name: String

        func run() async throws {
            let answer = try await api.client { try await $0.request(.GET, "/v1/listeners/\(Path.segment(name))") }
            try Output.answer(answer, output.output)
        }
    }

    enum Mode: String, ExpressibleByArgument, CaseIterable { case echo, reply, hold, forward }
    enum Encoding: String, ExpressibleByArgument, CaseIterable { case utf8, base64, hex }
    enum UpstreamFailure: String, ExpressibleByArgument, CaseIterable { case close, reset }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a listener: bind ADDRESS and answer each connection by MODE.",
            discussion: """
                echo writes back every byte; reply answers each chunk with --reply; hold keeps \
                each connection for you (sessions send/read); forward relays each connection \
                to --forward-to. Example: switchboard listeners create greeter 127.0.0.1:9000 \
                --mode reply --reply 'Hello from server!'
                """
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "A unique name: 1-64 of A-Z a-z 0-9 . _ -, not starting with '.'.") var name: String
        @Argument(help: "Where to listen: HOST:PORT (port 0 picks a free one), [IPv6]:PORT or unix:/path.") var address: String
        @Option(help: "echo, reply, hold or forward.") var mode: Mode
        @Option(help: "reply: what to answer each chunk with.") var reply: String?
        @Option(help: "reply: how --reply is written: utf8 (default), base64 or hex.") var replyEncoding: Encoding?
        @Flag(help: "reply: close after the first answer.") var closeAfterReply = false
        @Option(help: ArgumentHelp("forward: HOST:PORT or unix:/path to relay each connection to.", valueName: "address")) var forwardTo: String?
        @Option(help: "forward: what the client gets when the upstream fails: close (default) or reset.") var onUpstreamFailure: UpstreamFailure?
        @Option(help: ArgumentHelp("forward: how long the upstream may take to accept.", valueName: "ms")) var connectTimeoutMs: Int?
        @Option(help: "Further connections are accepted and closed at once.") var maxSessions: Int?
        @Option(help: ArgumentHelp("Close a session when no byte moved for this long.", valueName: "ms")) var idleTimeoutMs: Int?
        @Option(help: "The listen(2) backlog.") var backlog: Int?
        @Flag(help: "Record the bytes of every accepted session into the history.") var capture = false
        @Flag(help: "Leave TCP_NODELAY off on accepted connections.") var noNodelay = false

        func run() async throws {
            let body = try RequestBody.json([
                "name": name, "address": address, "mode": mode.rawValue, "reply": reply,
                "reply_encoding": replyEncoding?.rawValue, "close_after_reply": closeAfterReply ? true : nil,
                "forward_to": forwardTo, "on_upstream_failure": onUpstreamFailure?.rawValue,
                "connect_timeout_ms": connectTimeoutMs, "max_sessions": maxSessions,
                "idle_timeout_ms": idleTimeoutMs, "backlog": backlog,
                "capture": capture ? true : nil, "nodelay": noNodelay ? false : nil,
            ])
            let answer = try await api.client { try await $0.request(.POST, "/v1/listeners", body: body) }
            try Output.answer(answer, output.output)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a listener: stop accepting; its open sessions stay unless --close-sessions.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The listener's name.") var name: String
        @Flag(help: "Also close the sessions it accepted that are still open.") var closeSessions = false

        func run() async throws {
            let answer = try await api.client {
                try await $0.request(.DELETE, "/v1/listeners/\(Path.segment(name))", query: ["close_sessions": closeSessions ? "true" : nil])
            }
            switch output.output {
            case .table:
                let listener = try answer.decode(APIListener.self)
                Output.line("deleted listener \(listener.name) (\(listener.totalSessions) sessions accepted, \(listener.openSessions) open)")
            case .json, .ndjson: Output.json(answer.body)
            }
        }
    }

    static func table(_ listeners: [APIListener]) -> Table {
        var table = Table(
            columns: [
                Table.Column(title: "NAME", flexible: true), Table.Column(title: "MODE"),
                Table.Column(title: "ADDRESS", flexible: true, minimum: 12, keepEnd: true), Table.Column(title: "STATE"),
                Table.Column(title: "OPEN", right: true), Table.Column(title: "TOTAL", right: true),
                Table.Column(title: "IN/OUT", right: true),
            ],
            empty: "(no listeners)"
        )
        for listener in listeners {
            table.add([
                listener.name, listener.mode, listener.address, listener.state, String(listener.openSessions),
                String(listener.totalSessions), "\(Table.bytes(listener.bytesIn))/\(Table.bytes(listener.bytesOut))",
            ])
        }
        return table
    }
}
