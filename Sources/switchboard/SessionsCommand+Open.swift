import ArgumentParser
import SwitchboardClient

extension SessionsCommand {
    /// `sessions open`: `POST /v1/sessions`, the client role.
    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open an outbound session: connect to ADDRESS, and send --send first.",
            discussion: "Prints the session once connected (and --send written). Example: switchboard sessions open 127.0.0.1:8080 --send 'Hello, Server!'"
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Where to connect: HOST:PORT, [IPv6]:PORT or unix:/path.") var address: String
        @Option(help: "A name, unique among open sessions (required with --reconnect).") var name: String?
        @Option(help: "Bytes to send once connected.") var send: String?
        @Option(help: "How --send is written: utf8 (default), base64 or hex.") var encoding: ListenersCommand.Encoding?
        @Option(help: ArgumentHelp("How long the connection may take.", valueName: "ms")) var connectTimeoutMs: Int?
        @Option(help: ArgumentHelp("Close the session when no byte moved for this long.", valueName: "ms")) var idleTimeoutMs: Int?
        @Flag(help: "Record the session's bytes into the history.") var capture = false
        @Flag(help: "Leave TCP_NODELAY off.") var noNodelay = false
        @Flag(help: "Keep the named session connected: reconnect with backoff when it cannot connect or drops, also after a restart.") var reconnect = false

        func validate() throws {
            if reconnect, name == nil { throw ValidationError("--reconnect needs --name") }
            if encoding != nil, send == nil { throw ValidationError("--encoding is the encoding of --send") }
        }

        func run() async throws {
            let body = try RequestBody.json([
                "connect": address, "name": name, "send": send, "encoding": encoding?.rawValue,
                "connect_timeout_ms": connectTimeoutMs, "idle_timeout_ms": idleTimeoutMs,
                "capture": capture ? true : nil, "nodelay": noNodelay ? false : nil,
                "reconnect": reconnect ? [String: Int]() : nil,
            ])
            // The service answers once connected, or once its connect timeout (at most 300 s) ends.
            let timeout = Duration.milliseconds(connectTimeoutMs ?? 10_000) + .seconds(15)
            let answer = try await api.client { try await $0.request(.POST, "/v1/sessions", body: body, timeout: timeout) }
            try Output.answer(answer, output.output)
        }
    }
}
