import NIOCore

/// Builds every session's pipeline, in one place, from one small handler per job:
///
///     [IdleStateHandler]  [stages...]  SessionRecorder  mode handler      (echo, reply, hold)
///
///     [IdleStateHandler]  [stages...]  [EarlyInbound]  RelayHandler       (a forwarded half)
///
/// `stages` go between the socket and what the session does with its bytes, on an accepted,
/// outbound or forwarded connection alike: the seam for a stage such as a fault.
enum SessionPipeline {
    /// Adds the handlers of an echo, reply or hold session, on the channel's event loop (a
    /// forwarded half goes to `installRelay`, whose handler its partner needs).
    static func install(
        on channel: any Channel, session: Session, options: ConnectionOptions, reporter: DataReporter,
        stages: [any ChannelHandler] = [], onClose: @escaping @Sendable (Session) -> Void
    ) throws {
        let recorder = { (pausesForWritability: Bool) in
            SessionRecorder(session: session, reporter: reporter, pausesForWritability: pausesForWritability, onClose: onClose)
        }
        let handlers: [any ChannelHandler]
        switch session.behaviour {
        case .forward:
            _ = try installRelay(on: channel, session: session, options: options, reporter: reporter, stages: stages, onClose: onClose)
            return
        case .echo: handlers = [recorder(true), EchoHandler(session: session)]
        case .reply(let reply, let closeAfterReply): handlers = [recorder(true), ReplyHandler(session: session, reply: reply, closeAfterReply: closeAfterReply)]
        case .hold: handlers = [recorder(false), HoldHandler(session: session)]
        }
        try addFront(on: channel, options: options, stages: stages)
        try channel.pipeline.syncOperations.addHandlers(handlers)
    }

    /// Adds the handlers of one half of a forwarded pair; answers its relay handler, for
    /// `RelayHandler.join`.
    static func installRelay(
        on channel: any Channel, session: Session, options: ConnectionOptions, reporter: DataReporter,
        stages: [any ChannelHandler] = [], onClose: @escaping @Sendable (Session) -> Void
    ) throws -> RelayHandler {
        try addFront(on: channel, options: options, stages: stages)
        let pipeline = channel.pipeline.syncOperations
        let relay = RelayHandler(session: session, reporter: reporter, onClose: onClose)
        // An accepted half waits for its upstream; what its client sends meanwhile waits here.
        if session.role == .server { try pipeline.addHandler(EarlyInbound()) }
        try pipeline.addHandler(relay)
        return relay
    }

    private static func addFront(on channel: any Channel, options: ConnectionOptions, stages: [any ChannelHandler]) throws {
        try options.addIdleHandler(to: channel)
        for stage in stages { try channel.pipeline.syncOperations.addHandler(stage) }
    }
}
