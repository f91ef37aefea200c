import Hummingbird
import Logging
import NIOPosix
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardTestSupport
import Synchronization
import XCTest

/// Runs the control API in-process on 127.0.0.1:0 for the length of `body`.
func withAPI(_ body: (HTTPClient, Switchboard) async throws -> Void) async throws {
    let logger = Logger(label: "api-test")
    let switchboard = Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    let service = ServiceInfo()
    let port = Mutex<Int?>(nil)
    let app = Application(
        responder: ControlAPI.responder(switchboard: switchboard, service: service, logger: logger),
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            service.address = "127.0.0.1:\(channel.localAddress?.port ?? 0)"
            port.withLock { $0 = channel.localAddress?.port }
        },
        eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton),
        logger: logger
    )
    let serviceGroup = ServiceGroup(configuration: .init(services: [app], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        defer { group.cancelAll() }
        try await eventually("the API to listen") { port.withLock { $0 } != nil }
        let client = HTTPClient(port: port.withLock { $0 }!)
        let outcome: Result<Void, any Error>
        do {
            try await body(client, switchboard)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await switchboard.shutdown()
        await serviceGroup.triggerGracefulShutdown()
        try await group.next()
        try outcome.get()
    }
}

