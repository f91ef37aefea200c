import Hummingbird
import Logging
import NIOPosix
import ServiceLifecycle
@testable import SwitchboardAPI
import SwitchboardTestSupport
import Synchronization
import XCTest

/// The HTTP/1.1 details of the API that the end-to-end tests cannot reach as directly.
final class HTTPDetailsAPITests: XCTestCase {
    /// The `Allow` of the answer to CONNECT is written by hand, below the router.
    func testTheAnswerToConnectAllowsEveryMethodTheRouterServes() async throws {
        try await withAPIContext { _, context in
            let router = ControlAPI.router(
                switchboard: context.switchboard, history: context.history, writer: context.writer, service: context.service,
                logger: Logger(label: "test"), events: context.events
            )
            let methods = Set(router.routes.map(\.method.rawValue)).sorted().joined(separator: ", ")
            XCTAssertEqual(HTTP1RequestRules.servedMethods, methods)
        }
    }

    /// Refused before the body is read: the 401 goes out at once, and no 100 invites the body.
    func testAnUnauthorizedRequestGetsItsRefusalInsteadOf100Continue() async throws {
        let secret = "s3cret-Token_0123456789"
        try await withAPIContext(token: APIToken(Array(secret.utf8))) { api, _ in
            let body = #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#
            let head = "POST /v1/listeners HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n"
            let refused = try await TestConnection.connect(port: api.port)
            defer { Task { await refused.close() } }
            try await refused.send(head + "\r\n")
            try await eventually("the 401") { refused.receivedText.contains("\r\n\r\n") }
            XCTAssertTrue(refused.receivedText.hasPrefix("HTTP/1.1 401 "), refused.receivedText)

            let admitted = try await TestConnection.connect(port: api.port)
            defer { Task { await admitted.close() } }
            try await admitted.send(head + "Authorization: Bearer \(secret)\r\n\r\n")
            try await eventually("the 100") { admitted.receivedText.contains("\r\n\r\n") }
            XCTAssertEqual(admitted.receivedText, "HTTP/1.1 100 Continue\r\n\r\n")
            try await admitted.send(body)
            try await eventually("the 201") { admitted.receivedText.contains("HTTP/1.1 201 ") }
        }
    }

    /// A handler that can wait (a long-poll, a send, a connect) is cancelled when its client
    /// goes: with a FIN, a reset, or (as the service cannot tell it from leaving) a half-close.
    func testAHandlerIsCancelledWhenItsClientGoes() async throws {
        let started = Mutex(0)
        let cancelled = Mutex(0)
        let responder = ClientDisconnect.Responder(limits: .init(), inner: CallbackResponder { (_: Request, _: APIRequestContext) in
            started.withLock { $0 += 1 }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.withLock { $0 += 1 }
                throw error
            }
            return Response(status: .ok)
        })
        try await withServer(responder) { port in
            let request = "GET /v1/sessions/x/messages?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            for (count, leave) in [(1, { (c: TestConnection) in await c.close() }), (2, { await $0.reset() }), (3, { try? await $0.shutdownWrite() })] {
                let client = try await TestConnection.connect(port: port, halfClose: true)
                try await client.send(request)
                try await eventually("the request being answered") { started.withLock { $0 } == count }
                await leave(client)
                try await eventually("the handler cancelled") { cancelled.withLock { $0 } == count }
                await client.close()
            }
        }
    }

    private func withServer(_ responder: some HTTPResponder<APIRequestContext>, _ body: (Int) async throws -> Void) async throws {
        var logger = Logger(label: "api-test")
        logger.logLevel = .warning
        let port = Mutex<Int?>(nil)
        let app = Application(
            responder: responder,
            server: .http1(configuration: ControlAPI.http1Configuration(limits: .init())),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton),
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually("the server to listen") { port.withLock { $0 } != nil }
            let outcome: Result<Void, any Error>
            do {
                try await body(port.withLock { $0 }!)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.next()
            try outcome.get()
        }
    }
}
