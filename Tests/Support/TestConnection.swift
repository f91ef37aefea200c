import NIOCore
import NIOPosix
import Synchronization

/// Thrown when something a test waits for does not happen before its deadline.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes: waiting on an observable fact, never a fixed sleep.
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw TimedOut("timed out waiting for \(what())") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A plain TCP (or unix socket) client peer that records what it receives.
public final class TestConnection: Sendable {
    public let channel: any Channel
    private let collector: Collector

    /// With `halfClose` the connection stays open for reading after the peer's FIN
    /// (`inputClosed` tells it came); with `keepBytes: false` only the count is kept.
    public static func connect(
        host: String = "127.0.0.1", port: Int, receiveBuffer: Int? = nil, halfClose: Bool = false, keepBytes: Bool = true
    ) async throws -> TestConnection {
        let collector = Collector(keepBytes: keepBytes)
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: halfClose)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectorHandler(collector)) }
            }
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try await bootstrap.connect(host: host, port: port).get()
        return TestConnection(channel: channel, collector: collector)
    }

    public static func connect(unixPath: String) async throws -> TestConnection {
        let collector = Collector(keepBytes: true)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectorHandler(collector)) }
            }
            .connect(unixDomainSocketPath: unixPath).get()
        return TestConnection(channel: channel, collector: collector)
    }

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    public var received: [UInt8] { collector.state.withLock { $0.bytes } }
    public var receivedCount: Int { collector.state.withLock { $0.count } }
    /// The peer sent FIN (only seen with `halfClose`).
    public var inputClosed: Bool { collector.state.withLock { $0.inputClosed } }
    public var receivedText: String { String(decoding: received, as: UTF8.self) }
    public var isClosed: Bool { collector.state.withLock { $0.closed } }
    /// The error the connection ended with, e.g. a reset: `IOError` with errno ECONNRESET.
    public var closeError: (any Error)? { collector.state.withLock { $0.error } }

    /// Waits until at least `count` bytes have arrived and returns all received so far.
    @discardableResult
    public func read(atLeast count: Int, timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await eventually("\(count) bytes (have \(receivedCount))", timeout: timeout) { receivedCount >= count || isClosed }
        guard receivedCount >= count else { throw TimedOut("connection closed after \(receivedCount) of \(count) bytes") }
        return received
    }

    public func waitForClose(timeout: Duration = .seconds(10)) async throws {
        try await eventually("the peer to close", timeout: timeout) { isClosed }
    }

    /// Stops reading from the socket, so the peer's writes back up.
    public func stopReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: false).get()
    }

    public func resumeReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: true).get()
    }

    /// Sends FIN and keeps reading: TCP half-close.
    public func shutdownWrite() async throws {
        try await channel.close(mode: .output).get()
    }

    public func close() async {
        try? await channel.close().get()
    }

    /// Closes with an RST instead of a FIN.
    public func reset() async {
        try? await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try? await channel.close().get()
    }
}

extension TestConnection {
    /// `count` connections to `port`, `workers` at a time, each sending a line of its own,
    /// reading it back (an echo listener) and closing: churn a test can count.
    public static func churn(port: Int, count: Int, workers: Int = 8) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    for i in stride(from: worker, to: count, by: workers) {
                        let peer = try await TestConnection.connect(port: port)
                        try await peer.send("session \(i)")
                        try await peer.read(atLeast: "session \(i)".utf8.count)
                        await peer.close()
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

final class Collector: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var count = 0
        var closed = false
        var inputClosed = false
        var error: (any Error)?
    }
    let state = Mutex(State())
    let keepBytes: Bool
    init(keepBytes: Bool = true) { self.keepBytes = keepBytes }
}

final class CollectorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let collector: Collector
    init(_ collector: Collector) { self.collector = collector }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let keep = collector.keepBytes
        collector.state.withLock { s in
            s.count += buffer.readableBytes
            if keep { s.bytes.append(contentsOf: buffer.readableBytesView) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { collector.state.withLock { $0.inputClosed = true } }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        collector.state.withLock { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        collector.state.withLock { $0.error = $0.error ?? error }
        context.close(promise: nil)
    }
}
