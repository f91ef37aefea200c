import NIOCore

/// The NIO channel options a session's channel gets, by what the session does; set straight on
/// the channel from its initializer, on its event loop, before it is registered.
///
/// Given to a bootstrap instead, NIO applies each option through a future of its own (a
/// promise, a closure and a dynamic cast each): 9 µs of a forwarded connection's CPU in
/// `perf record` of bench/run forward-churn, for seven options over its two channels.
enum SessionChannelOptions {
    /// For an accepted channel of a listener in `mode`.
    static func setAccepted(on channel: any Channel, mode: ListenerMode) throws {
        guard let options = channel.syncOptions else { return }
        switch mode {
        case .forward:
            try setRelay(options)
        case .hold:
            // A client that sends its request and shuts its write side (HTTP/1.0, `nc -N`) still
            // waits for the operator's answer: its FIN must not end the session.
            try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            try options.setOption(ChannelOptions.recvAllocator, value: Switchboard.sessionReceiveAllocator)
        case .echo, .reply:
            // NIO keeps each channel's receive buffer for reuse: a small first size (see
            // `sessionReceiveAllocator`) is much of what an idle session costs. It grows with traffic.
            try options.setOption(ChannelOptions.recvAllocator, value: Switchboard.sessionReceiveAllocator)
        }
    }

    /// For the upstream half of a forwarded connection: it reads nothing until its relay
    /// handler is in place.
    static func setUpstream(on channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(ChannelOptions.autoRead, value: false)
        try setRelay(options)
    }

    /// For an outbound session: it reads nothing until the session exists.
    static func setOutbound(on channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(ChannelOptions.autoRead, value: false)
        try options.setOption(ChannelOptions.recvAllocator, value: Switchboard.sessionReceiveAllocator)
    }

    private static func setRelay(_ options: any NIOSynchronousChannelOptions) throws {
        try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        try options.setOption(ChannelOptions.recvAllocator, value: RelayReceiveAllocator())
        // One read a wake-up, which `RelayReceiveAllocator`'s buffer sizes count on.
        try options.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
    }
}
