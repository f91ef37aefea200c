#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// Outbound connects under the outbound policy: resolve, check every address, then connect to
/// a checked address (never to the name again, so DNS cannot answer differently in between).
extension Switchboard {
    /// Connects to `endpoint` with the bootstrap `make` builds for each attempt (given the time
    /// left). With no policy rules this is the plain connect NIO does; with rules, host names
    /// are resolved off the event loops, addresses the policy refuses are dropped, and the
    /// allowed ones are tried in order within `timeout`. Fails with a `SwitchboardError`
    /// `.forbidden` naming the rule when none is allowed.
    func connectChecked(
        _ endpoint: Endpoint, timeout: Duration, on loop: any EventLoop,
        _ make: @escaping @Sendable (TimeAmount) -> ClientBootstrap
    ) -> EventLoopFuture<any Channel> {
        if outboundPolicy.isUnrestricted {
            switch endpoint {
            case .host(let host, let port):
                // An address as given connects to it: `connect(host:port:)` would run happy
                // eyeballs, which asks getaddrinfo on a Dispatch thread even for a literal (a
                // thread wake-up per forwarded connection: 151-161 against 139-152 µs of CPU a connection in
                // bench/run forward-churn, A B A B).
                if let literal = try? SocketAddress(ipAddress: host, port: port) {
                    return make(TimeAmount(timeout)).connect(to: literal)
                }
                return make(TimeAmount(timeout)).connect(host: host, port: port)
            case .unix(let path): return make(TimeAmount(timeout)).connect(unixDomainSocketPath: path)
            }
        }
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        return checkedAddresses(endpoint, on: loop).flatMap { addresses in
            Self.connect(addresses, index: 0, deadline: deadline, timeout: timeout, lastError: nil, on: loop, make)
        }
    }

    private static func connect(
        _ addresses: [SocketAddress], index: Int, deadline: NIODeadline, timeout: Duration, lastError: (any Error)?,
        on loop: any EventLoop, _ make: @escaping @Sendable (TimeAmount) -> ClientBootstrap
    ) -> EventLoopFuture<any Channel> {
        let remaining = deadline - .now()
        guard addresses.indices.contains(index), remaining > TimeAmount.zero else {
            return loop.makeFailedFuture(lastError ?? ChannelError.connectTimeout(TimeAmount(timeout)))
        }
        return make(remaining).connect(to: addresses[index]).flatMapError { error in
            connect(addresses, index: index + 1, deadline: deadline, timeout: timeout, lastError: error, on: loop, make)
        }
    }

    /// Throws `.forbidden` when the policy refuses every address `endpoint` stands for. A name
    /// that cannot be resolved is not refused here (the connect reports it).
    func checkOutbound(_ endpoint: Endpoint) async throws(SwitchboardError) {
        guard !outboundPolicy.isUnrestricted else { return }
        do {
            _ = try await checkedAddresses(endpoint, on: group.next()).get()
        } catch let error as SwitchboardError where error.kind == .forbidden {
            throw error
        } catch {
            return
        }
    }

    /// The addresses of `endpoint` that the policy allows, in the resolver's order; fails when
    /// there are none.
    func checkedAddresses(_ endpoint: Endpoint, on loop: any EventLoop) -> EventLoopFuture<[SocketAddress]> {
        let policy = outboundPolicy
        switch endpoint {
        case .unix(let path):
            // realpath touches the file system: off the event loop too.
            return NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                let canonical = UnixPath.canonical(path)
                let shown = canonical == path ? endpoint.description : "\(endpoint) (unix:\(canonical))"
                if let refusal = policy.refusal(forUnixPath: canonical, target: shown) {
                    throw SwitchboardError(.forbidden, refusal.description)
                }
                return [try SocketAddress(unixDomainSocketPath: canonical)]
            }
        case .host(let host, let port):
            if let literal = try? SocketAddress(ipAddress: host, port: port) {
                // An address as given: nothing to resolve, no thread hop.
                if let refusal = policy.refusal(for: literal, target: endpoint.description) {
                    return loop.makeFailedFuture(SwitchboardError(.forbidden, refusal.description))
                }
                return loop.makeSucceededFuture([literal])
            }
            return NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                let resolved = try Resolver.resolve(host: host, port: port)
                var allowed: [SocketAddress] = []
                var first: OutboundPolicy.Refusal?
                for address in resolved {
                    let shown = "\(endpoint) (\(Endpoint.describe(address) ?? "?"))"
                    if let refusal = policy.refusal(for: address, target: shown) {
                        first = first ?? refusal
                    } else {
                        allowed.append(address)
                    }
                }
                if allowed.isEmpty, let first {
                    throw SwitchboardError(.forbidden, first.description)
                }
                return allowed
            }.flatMapErrorThrowing { error in
                if error is SwitchboardError { throw error }
                throw SwitchboardError(.connectRefused, "cannot resolve \(endpoint): \(error)")
            }
        }
    }
}
