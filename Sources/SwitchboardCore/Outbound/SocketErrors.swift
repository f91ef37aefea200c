#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// Socket errors in an operator's words, in one place: binding a listener, connecting out.
extension Switchboard {
    static func bindError(_ error: any Error, address: Endpoint) -> SwitchboardError {
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return SwitchboardError(.addressInUse, "address \(address) is in use")
            case EACCES: return SwitchboardError(.forbidden, "no permission to bind \(address)")
            case EADDRNOTAVAIL: return SwitchboardError(.addressUnavailable, "address \(address) is not on this machine")
            case ENOENT, ENOTDIR: return SwitchboardError(.addressUnavailable, "the folder of \(address) does not exist")
            default: break
            }
        }
        // A well-formed address the machine cannot bind is not a malformed request (400): the
        // same body may work elsewhere, so it is a conflict with this machine (409).
        if error is SocketAddressError {
            return SwitchboardError(.addressUnavailable, "cannot resolve \(address)")
        }
        return SwitchboardError(.addressUnavailable, "cannot bind \(address): \(error)")
    }

    static func connectError(_ error: any Error, endpoint: Endpoint, timeout: Duration) -> SwitchboardError {
        // The outbound policy's refusal, or a name that did not resolve: already in words.
        if let error = error as? SwitchboardError { return error }
        var errors: [any Error] = [error]
        if let connection = error as? NIOConnectionError {
            if connection.dnsAError != nil || connection.dnsAAAAError != nil, connection.connectionErrors.isEmpty {
                return SwitchboardError(.connectRefused, "cannot resolve \(endpoint)")
            }
            errors = connection.connectionErrors.map(\.error)
        }
        for error in errors {
            if case ChannelError.connectTimeout = error {
                return SwitchboardError(.connectTimeout, "connecting to \(endpoint) timed out after \(timeout)")
            }
        }
        for error in errors {
            if let io = error as? IOError {
                switch io.errnoCode {
                case ECONNREFUSED: return SwitchboardError(.connectRefused, "\(endpoint) refused the connection")
                case ENOENT: return SwitchboardError(.connectRefused, "\(endpoint) does not exist")
                case ETIMEDOUT: return SwitchboardError(.connectTimeout, "connecting to \(endpoint) timed out")
                default: return SwitchboardError(.connectRefused, "cannot connect to \(endpoint): \(io.description)")
                }
            }
        }
        return SwitchboardError(.connectRefused, "cannot connect to \(endpoint): \(error)")
    }
}
