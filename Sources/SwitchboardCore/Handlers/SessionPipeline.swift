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
    /// Adds the handlers on the channel's event loop; answers the relay handler of a forwarded half.
    @discardableResult
    static func install(
        on channel: any Channel, session: Session, options: ConnectionOptions, reporter: DataReporter,
        stages: [any ChannelHandler & Sendable] = [], onClose: @escaping @Sendable (Session) -> Void
    ) throws -> RelayHandler? {
        let pipeline = channel.pipeline.syncOperations
        try options.addIdleHandler(to: channel)
        for stage in stages { try pipeline.addHandler(stage) }
        switch session.behaviour {
        case .forward:
            let relay = RelayHandler(session: session, reporter: reporter, onClose: onClose)
            // An accepted half waits for its upstream; what its client sends meanwhile waits here.
            if session.role == .server { try pipeline.addHandler(EarlyInbound()) }
            try pipeline.addHandler(relay)
            return relay
        case .echo:
            try pipeline.addHandlers([
                SessionRecorder(session: session, reporter: reporter, pausesForWritability: true, onClose: onClose), EchoHandler(session: session),
            ])
        case .reply(let reply, let closeAfterReply):
            try pipeline.addHandlers([
                SessionRecorder(session: session, reporter: reporter, pausesForWritability: true, onClose: onClose),
                ReplyHandler(session: session, reply: reply, closeAfterReply: closeAfterReply),
            ])
        case .hold:
            try pipeline.addHandlers([
                SessionRecorder(session: session, reporter: reporter, pausesForWritability: false, onClose: onClose), HoldHandler(session: session),
            ])
        }
        return nil
    }
}
