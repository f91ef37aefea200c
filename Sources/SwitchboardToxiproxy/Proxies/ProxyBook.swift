import SwitchboardCore

/// Toxiproxy's collection of proxies, over the core: a proxy is a forward listener, so what
/// this API makes the main API shows, and the other way round. Every operation is one or two
/// calls to `Switchboard`; nothing about proxies is kept here.
struct ProxyBook: Sendable {
    let switchboard: Switchboard

    /// The forward listeners; listeners of other modes are not proxies.
    func all() -> [Proxy] { switchboard.listeners().compactMap(Proxy.init) }

    func proxy(_ name: String) throws(ToxiproxyError) -> Proxy {
        guard let info = try? switchboard.listener(named: name), let proxy = Proxy(info) else { throw ToxiproxyError.proxyNotFound }
        return proxy
    }

    /// `POST /proxies`: checked as Toxiproxy checks (name, then upstream, then a proxy of that
    /// name), then made; an address that cannot be bound is its 500.
    func create(_ input: ProxyInput) async throws(ToxiproxyError) -> Proxy {
        let (name, upstream) = try Self.required(input, at: nil)
        if (try? switchboard.listener(named: name)) != nil { throw ToxiproxyError.proxyExists }
        let spec = try Self.spec(name: name, listen: input.listen, upstream: upstream, enabled: input.enabled ?? true, faults: [])
        do {
            return Proxy(try await switchboard.createListener(spec))!
        } catch {
            throw ToxiproxyError(error, exists: .proxyExists)
        }
    }

    /// `POST` or `PATCH /proxies/{p}`: a `listen` or `upstream` that differs restarts the proxy
    /// (its connections dropped); `enabled` false closes its port and every connection, true
    /// listens again. A proxy that cannot be bound is left disabled with what was asked (500).
    func update(_ name: String, _ input: ProxyInput) async throws(ToxiproxyError) -> Proxy {
        let current = try proxy(name)
        let listen = try input.listen.map { text throws(ToxiproxyError) in try ProxyAddress.listen(text) }
        let upstream = try input.upstream.map { text throws(ToxiproxyError) in try ProxyAddress.upstream(text) }
        let moves = listen.map { !ProxyAddress.same($0, as: current.info) } ?? false
        let enabled = input.enabled
        do {
            return Proxy(try await switchboard.changeListener(named: name) { spec in
                if moves, let listen { spec.address = listen }
                if let upstream, case .forward(_, let reset) = spec.mode { spec.mode = .forward(to: upstream, resetOnFailure: reset) }
                if let enabled { spec.enabled = enabled }
            })!
        } catch {
            throw ToxiproxyError(error)
        }
    }

    /// `DELETE /proxies/{p}`: the listener and every connection it accepted.
    // Not inlined into its caller: inlined there, release builds crash LLVM splitting the
    // caller's coroutine (Swift 6.3.1, "While splitting coroutine ...ProxiesController...delete").
    @inline(never)
    func delete(_ name: String) async throws(ToxiproxyError) {
        _ = try proxy(name)
        do {
            _ = try await switchboard.deleteListener(named: name, closeSessions: true)
        } catch {
            throw ToxiproxyError(error)
        }
    }

    /// `POST /reset`: every proxy enabled again and every toxic removed; none deleted. A proxy
    /// that was not restored at start-up (`failed`) is left as it is.
    func reset() async throws(ToxiproxyError) {
        for proxy in all() where proxy.info.state != .failed {
            do {
                if proxy.info.state == .disabled {
                    try await switchboard.changeListener(named: proxy.name) { $0.enabled = true }
                }
                if !proxy.info.faults.isEmpty {
                    try await switchboard.replaceFaults([], on: .listener(proxy.name))
                }
            } catch where error.kind == .notFound {
                // Deleted meanwhile: nothing to reset.
            } catch {
                throw ToxiproxyError(error)
            }
        }
    }

    /// A name and an upstream, which every proxy must have: Toxiproxy's 400s, with the entry's
    /// place for `/populate`.
    static func required(_ input: ProxyInput, at place: Int?) throws(ToxiproxyError) -> (name: String, upstream: String) {
        let suffix = place.map { " at proxy \($0)" } ?? ""
        guard let name = input.name, !name.isEmpty else { throw ToxiproxyError.missingField("name" + suffix) }
        guard let upstream = input.upstream, !upstream.isEmpty else { throw ToxiproxyError.missingField("upstream" + suffix) }
        return (name, upstream)
    }

    static func spec(name: String, listen: String?, upstream: String, enabled: Bool, faults: [Fault]) throws(ToxiproxyError) -> ListenerSpec {
        do {
            try ListenerSpec.validateName(name)
        } catch {
            throw ToxiproxyError(.badRequest, "proxy \(error.message)")
        }
        return ListenerSpec(
            name: name, address: try ProxyAddress.listen(listen), mode: .forward(to: try ProxyAddress.upstream(upstream), resetOnFailure: false),
            faults: faults, enabled: enabled
        )
    }
}
