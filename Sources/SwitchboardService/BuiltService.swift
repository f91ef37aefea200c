#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory
import Synchronization

/// The service `buildService(_:)` assembled, ready to run: its ServiceGroup and the parts a
/// caller (a test) may reach behind the API's back.
public struct BuiltService: Sendable {
    public let serviceGroup: ServiceGroup
    public let switchboard: Switchboard
    public let history: any HistoryStore
    public let writer: HistoryWriter
    public let info: ServiceInfo
    public let events: EventHub
    /// What `/metrics` renders.
    public let metrics: MetricsExport
    let ownGroup: MultiThreadedEventLoopGroup?
    let bound: BoundAddress
    let toxiproxyBound: BoundAddress
    let api: String
    let toxiproxyAPI: String?
    let logger: Logger

    /// Where the API listens, once it does (a port chosen with :0 is known only then).
    public var apiAddress: SocketAddress? { bound.address }
    /// Where Toxiproxy's API listens, once it does; nil when it is not served.
    public var toxiproxyAddress: SocketAddress? { toxiproxyBound.address }

    /// The servers' addresses, for a bind that failed (NIO's error does not say which).
    private var apis: String {
        toxiproxyAPI.map { "the API on \(api) or the Toxiproxy API on \($0)" } ?? "the API on \(api)"
    }

    /// Runs until SIGTERM or SIGINT (or `serviceGroup.triggerGracefulShutdown()`), then stops
    /// the event loops it made.
    public func run() async throws {
        do {
            try await serviceGroup.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            await history.close()
            throw StartFailure("cannot listen for \(apis): the address is already in use")
        } catch let error as IOError where error.errnoCode == EACCES {
            await history.close()
            throw StartFailure("cannot listen for \(apis): permission denied")
        } catch {
            await history.close()
            throw error
        }
        // The writer has flushed: the lease (or the file's lock) can go.
        await history.close()
        try? await ownGroup?.shutdownGracefully()
        logger.info("switchboard stopped")
    }
}

/// The API's address, set from the server's channel when it starts listening.
final class BoundAddress: Sendable {
    private let value = Mutex<SocketAddress?>(nil)
    var address: SocketAddress? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
