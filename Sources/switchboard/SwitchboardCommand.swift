import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import SwitchboardAPI
import SwitchboardClient

@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Named TCP listeners and outbound sessions, driven over a JSON HTTP API.",
        discussion: """
            switchboard serve starts the service. The other commands drive a running service \
            through its control API (--api, env SWITCHBOARD_API, default 127.0.0.1:7700), as \
            curl would (see the README). Exit status: 0 done, 1 the service refused (its \
            message is printed), 2 a usage error, 3 no service answered at the address.
            """,
        version: ServiceInfo.version,
        subcommands: [
            ServeCommand.self,
            ListenersCommand.self,
            SessionsCommand.self,
            FaultsCommand.self,
            EventsCommand.self,
            HistoryCommand.self,
        ]
    )

    /// ArgumentParser's `main`, with the exit statuses of `ExitStatus`: a usage error is 2,
    /// and a `CommandFailure` or `ClientError` is its message alone and its own status.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let failure: CommandFailure? = switch error {
            case let failure as CommandFailure: failure
            case let error as ClientError: CommandFailure(error)
            default: nil
            }
            if let failure {
                Output.error(failure.description)
                Glibc.exit(failure.status)
            }
            if exitCode(for: error) == .validationFailure {
                Output.error(fullMessage(for: error))
                Glibc.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
