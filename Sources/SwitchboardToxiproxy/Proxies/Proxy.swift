import SwitchboardCore

/// A proxy is a forward listener: `listen` is its address (the bound one, the port included
/// when 0 was asked for), `upstream` its `forward_to`, `enabled` whether it is listening.
struct Proxy: Sendable {
    let info: ListenerInfo
    let upstream: Endpoint

    /// Nil for a listener of another mode, which the Toxiproxy API does not show.
    init?(_ info: ListenerInfo) {
        guard case .forward(let upstream, _) = info.mode else { return nil }
        self.info = info
        self.upstream = upstream
    }

    var name: String { info.name }
    var enabled: Bool { info.state == .listening }

    /// `{"name", "listen", "upstream", "enabled", "toxics"}`, as Toxiproxy writes a proxy.
    var json: ToxiproxyJSON {
        .object([
            ("name", .string(info.name)),
            ("listen", .string(info.address)),
            ("upstream", .string(upstream.description)),
            ("enabled", .bool(enabled)),
            ("toxics", Toxic.list(info.faults)),
        ])
    }

    /// `GET /proxies`: an object keyed by name, sorted as Go writes a map.
    static func index(_ proxies: [Proxy]) -> ToxiproxyJSON {
        .object(proxies.sorted { $0.name < $1.name }.map { ($0.name, $0.json) })
    }
}
