import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The control API served from a listening socket the process inherited (systemd socket
/// activation), where `Application` can only bind addresses itself.
///
/// The same responder and HTTP/1 channel as `Application`, on the same event loop group; each
/// connection is a child task of a discarding group, so finished ones leave nothing behind.
public struct InheritedSocketServer<Responder: HTTPResponder>: Service where Responder.Context == APIRequestContext {
    let socket: Int32
    let group: any EventLoopGroup
    let responder: Responder
    let serverName: String?
    let logger: Logger
    let onServerRunning: @Sendable (any Channel) async -> Void
    let configuration: HTTP1Channel.Configuration

    public init(socket: Int32, group: any EventLoopGroup, responder: Responder, serverName: String?, logger: Logger,
                configuration: HTTP1Channel.Configuration = .init(),
                onServerRunning: @escaping @Sendable (any Channel) async -> Void) {
        self.configuration = configuration
        self.socket = socket
        self.group = group
        self.responder = responder
        self.serverName = serverName
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    public func run() async throws {
        let responder = self.responder
        let logger = self.logger
        let serverName = self.serverName
        let http = HTTP1Channel(responder: { request, writer, channel in
            let context = APIRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                logger.debug("unanswered error", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            if let serverName { response.headers[.server] = serverName }
            try await writer.write(response: response.head, body: response.body)
        }, configuration: configuration)
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(socket) { channel in http.setup(channel: channel, logger: logger) }
        await onServerRunning(server.channel)
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { tasks in
                    for try await connection in connections {
                        tasks.addTask { await http.handle(value: connection, logger: logger) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }
}
