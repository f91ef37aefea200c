import SwitchboardCore

/// A proxy's `listen` and `upstream` as Toxiproxy's clients spell them, into endpoints.
enum ProxyAddress {
    /// Where a proxy listens when `listen` is missing or empty. Toxiproxy listens on every
    /// interface then; loopback is the safe reading here, since a proxy is a way in.
    static let defaultListen = Endpoint.host("127.0.0.1", port: 0)

    /// `HOST:PORT`, `[IPv6]:PORT`, `unix:/path`, and Go's `:PORT` (every interface: 0.0.0.0).
    static func listen(_ text: String?) throws(ToxiproxyError) -> Endpoint {
        guard let text, !text.isEmpty else { return defaultListen }
        let spelled = text.hasPrefix(":") ? "0.0.0.0" + text : text
        do {
            return try Endpoint(parsing: spelled)
        } catch {
            throw ToxiproxyError.badBody("listen: \(error)")
        }
    }

    static func upstream(_ text: String) throws(ToxiproxyError) -> Endpoint {
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: text)
        } catch {
            throw ToxiproxyError.badBody("upstream: \(error)")
        }
        if case .host(_, 0) = endpoint { throw ToxiproxyError.badBody("upstream: port 0 cannot be connected to") }
        return endpoint
    }

    /// Whether `requested` is where the proxy already listens, as Toxiproxy decides it before
    /// restarting a proxy (on an update, or an entry of `/populate`): the bound address, the
    /// address asked for, or `localhost` for a loopback one on the same port. Port 0 is never
    /// the same: it asks for a new port.
    static func same(_ requested: Endpoint, as info: ListenerInfo) -> Bool {
        if case .host(_, 0) = requested { return false }
        let bound = try? Endpoint(parsing: info.address)
        if requested == bound || requested == info.requestedAddress { return true }
        if case .host(let host, let port) = requested, host.lowercased() == "localhost",
           case .host(let boundHost, let boundPort)? = bound, boundPort == port {
            return boundHost == "::1" || boundHost.hasPrefix("127.")
        }
        return false
    }
}
