import ArgumentParser
import SwitchboardAPI

@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Named TCP listeners and outbound sessions, driven over a JSON HTTP API.",
        discussion: """
            switchboard serve starts the service. Operators then create listeners and open \
            sessions with curl against its control API (see the README).
            """,
        version: ServiceInfo.version,
        subcommands: [ServeCommand.self, HistoryCommand.self]
    )
}
