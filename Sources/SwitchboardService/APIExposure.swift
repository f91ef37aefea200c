import NIOCore
import SwitchboardCore

/// Where the API may listen without a token.
enum APIExposure {
    /// Loopback (127.0.0.0/8, ::1, `localhost`) or a unix socket (mode 0660): only this
    /// machine, or only its owner and group, can connect.
    static func isLocal(_ endpoint: Endpoint) -> Bool {
        switch endpoint {
        case .unix:
            return true
        case .host(let host, _):
            if host.lowercased() == "localhost" { return true }
            guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
            let loopback = OutboundPolicy(deny: [try! ConnectRule(parsing: "127.0.0.0/8"), try! ConnectRule(parsing: "::1")])
            return loopback.refusal(for: address) != nil
        }
    }
}
