import Foundation
import NIOCore
import NIOPosix

extension Switchboard {
    /// Opens the upstream half of a forwarded connection on the accepted channel's own event
    /// loop, so the two halves never hop between threads. Until it is connected the accepted
    /// half does not read: what the client sends (its FIN too) waits in the kernel, not lost.
    ///
    /// A `connect_delay` fault makes it wait `after` first, on the loop's timer.
    func connectUpstream(for downstream: RelayHandler, to endpoint: Endpoint, listener: Listener, resetOnFailure: Bool, hops: Int, after delay: TimeAmount) {
        guard delay > .zero else {
            return connectUpstream(for: downstream, to: endpoint, listener: listener, resetOnFailure: resetOnFailure, hops: hops)
        }
        downstream.session.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            // The client may have left meanwhile: nothing to connect for.
            guard !downstream.ended else { return }
            connectUpstream(for: downstream, to: endpoint, listener: listener, resetOnFailure: resetOnFailure, hops: hops)
        }
    }

    private func connectUpstream(for downstream: RelayHandler, to endpoint: Endpoint, listener: Listener, resetOnFailure: Bool, hops: Int) {
        let spec = listener.spec
        let accepted = downstream.session
        let loop = accepted.eventLoop
        guard reserveSessionSlot() else {
            let error = SwitchboardError(.limitReached, "the service's session limit (\(maxSessions)) is reached; the upstream was not connected")
            observers.forEach { $0.connectFailed(listener: spec.name, name: nil, error: error) }
            downstream.fail(.error(error.message), reset: resetOnFailure)
            return
        }
        let timeout = spec.options.connectTimeout ?? ConnectSpec.defaultConnectTimeout
        // The outbound policy is checked for each connection, on the address connected to.
        let forwardLoops = self.forwardLoops
        let future = connectChecked(endpoint, timeout: timeout, on: loop) { timeLeft in
            ClientBootstrap(group: loop)
                .connectTimeout(timeLeft)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try SessionChannelOptions.setUpstream(on: channel)
                        try channel.pipeline.syncOperations.addHandler(ForwardLoopGuard.Marker(forwardLoops, hops: hops + 1))
                    }
                }
        }
        future.hop(to: loop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                releaseSessionSlot()
                let failure = Self.connectError(error, endpoint: endpoint, timeout: timeout)
                logRepeating("upstream connection failed", key: "upstream \(spec.name)",
                             metadata: ["listener": "\(spec.name)", "session": "\(accepted.id)", "error": "\(failure.message)"])
                observers.forEach { $0.connectFailed(listener: spec.name, name: nil, error: failure) }
                downstream.fail(.error("upstream: \(failure.message)"), reset: resetOnFailure)
            case .success(let channel):
                let hops = max(hops, forwardLoops.hops(from: accepted.remoteAddress))
                guard hops < ForwardLoopGuard.maxHops else {
                    releaseSessionSlot()
                    channel.close(promise: nil)
                    listener.countRejected()
                    logRepeating("connection refused: forwarding loop", key: "loop \(spec.name)",
                                 metadata: ["listener": "\(spec.name)", "hops": "\(hops)"])
                    observers.forEach { $0.connectionRejected(listener: spec.name, reason: .forwardLoop) }
                    downstream.fail(.error("forwarding loop: the connection came through this service's own forward listeners \(hops) times"), reset: resetOnFailure)
                    return
                }
                let upstream = Session(
                    id: .make(), role: .client, listener: spec.name, name: nil, channel: channel,
                    behaviour: .forward, capture: nil, openedAt: Date()
                )
                let relay: RelayHandler
                do {
                    try spec.options.apply(to: channel)
                    relay = try SessionPipeline.installRelay(on: channel, session: upstream, options: spec.options, reporter: dataReporter) { [self] in
                        self.forwardLoops.closed(upstreamFrom: $0.localAddress)
                        self.didClose($0)
                    }
                } catch {
                    // Never opened: the handlers already added must not report it closed when removed.
                    _ = upstream.markClosed()
                    releaseSessionSlot()
                    channel.close(promise: nil)
                    downstream.fail(.error("upstream: could not set up the connection: \(error)"), reset: resetOnFailure)
                    return
                }
                upstream.partnerID = accepted.id
                // Known more hops now than at the accept: the marker's count is raised. The relay
                // forgets the address when it closes; the marker's job is done.
                forwardLoops.opened(upstreamFrom: upstream.localAddress, hops: hops + 1)
                if let context = try? channel.pipeline.syncOperations.context(handlerType: ForwardLoopGuard.Marker.self),
                   let marker = context.handler as? ForwardLoopGuard.Marker {
                    marker.handOver(context)
                }
                didOpen(upstream)
                RelayHandler.join(downstream, relay)
                // A loopback connect can complete before the accepted channel is even active, so
                // ask the handler whether the client has left, not the channel.
                if downstream.ended {
                    // The client left while the upstream was connecting.
                    relay.closeForPartner(reset: false)
                }
                try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
        }
    }
}
