import ServiceLifecycle
import SwitchboardCore
import SwitchboardSystemd

/// Keeps the socket core alive for the life of the service and closes everything on shutdown.
struct CoreService: Service {
    let switchboard: Switchboard
    let notifier: SystemdNotifier?

    func run() async throws {
        try? await gracefulShutdown()
        notifier?.stopping(status: "closing \(switchboard.counts.openSessions) sessions")
        await switchboard.shutdown()
    }
}
