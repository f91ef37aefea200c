import ArgumentParser
import Foundation
import SwitchboardClient

/// `switchboard sessions ...`: both roles, over `/v1/sessions`; `open`, `send` and `read`
/// are in files of their own.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List, show, open, send to, read from and close sessions.",
        subcommands: [List.self, Show.self, Open.self, Send.self, Read.self, Close.self],
        defaultSubcommand: List.self
    )

    enum Role: String, ExpressibleByArgument, CaseIterable { case server, client }
    enum State: String, ExpressibleByArgument, CaseIterable { case open, closed }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List live and recently closed sessions, newest first.",
            discussion: "NAME is the listener that accepted a session, or an outbound session's name. Named sessions the service keeps reconnecting are listed after them (not with -o ndjson)."
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only sessions accepted by this listener.") var listener: String?
        @Option(help: "server (accepted) or client (outbound).") var role: Role?
        @Option(help: "open or closed.") var state: State?
        @Option(help: "Only outbound sessions of this name.") var name: String?

        func run() async throws {
            let query: APIQuery = ["listener": listener, "role": role?.rawValue, "state": state?.rawValue, "name": name]
            let answer = try await api.client { try await $0.request(.GET, "/v1/sessions", query: query) }
            switch output.output {
            case .json: Output.json(answer.body)
            case .ndjson: try Output.ndjson(answer.body, items: "sessions")
            case .table:
                let list = try answer.decode(APISessionList.self)
                Output.line(Table.sessions(list.sessions).render())
                guard !list.reconnecting.isEmpty else { return }
                var table = Table(columns: [
                    Table.Column(title: "RECONNECTING", flexible: true), Table.Column(title: "CONNECT", flexible: true, minimum: 10, keepEnd: true),
                    Table.Column(title: "STATE"), Table.Column(title: "FAILURES", right: true), Table.Column(title: "SESSION"),
                ])
                for status in list.reconnecting {
                    table.add([status.name, status.connect, status.state, String(status.failures), status.sessionId ?? "-"])
                }
                Output.line("\n" + table.render())
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one session: its addresses, times, bytes and close reason.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The session id.") var id: String

        func run() async throws {
            let answer = try await api.client { try await $0.request(.GET, "/v1/sessions/\(Path.segment(id))") }
            try Output.answer(answer, output.output)
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a session (FIN, or RST with --reset), or stop a reconnecting one with --name.",
            discussion: "Closing a closed session changes nothing and succeeds."
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The session id.") var id: String?
        @Option(help: "Instead of an id: the name of a reconnecting session to stop for good.") var name: String?
        @Flag(help: "Reset the connection (RST) instead of closing it in order (FIN).") var reset = false

        func validate() throws {
            guard (id == nil) != (name == nil) else { throw ValidationError("give a session id or --name NAME, not both or neither") }
            if name != nil, reset { throw ValidationError("--reset is for one session id, not --name") }
        }

        func run() async throws {
            let answer = try await api.client { client in
                if let name {
                    return try await client.request(.DELETE, "/v1/sessions", query: ["name": name])
                }
                return try await client.request(.DELETE, "/v1/sessions/\(Path.segment(id!))", query: ["reset": reset ? "true" : nil])
            }
            try Output.answer(answer, output.output)
        }
    }
}
