import SwitchboardCore

extension ToxiproxyError {
    /// A refusal of the core, in Toxiproxy's statuses: an address that cannot be bound is its
    /// 500 (a proxy that failed to start); a name taken is `exists` where the request made
    /// something (else the core's words, with 409), a name unknown `notFound`.
    init(_ error: SwitchboardError, exists: ToxiproxyError? = nil, notFound: ToxiproxyError = .proxyNotFound) {
        switch error.kind {
        case .invalidArgument: self.init(.badRequest, error.message)
        case .notFound: self = notFound
        case .nameTaken: self = exists ?? ToxiproxyError(.conflict, error.message)
        case .addressInUse, .addressUnavailable, .connectRefused, .connectTimeout, .sessionClosed, .sendQueueFull:
            self.init(.internalServerError, error.message)
        case .forbidden: self.init(.forbidden, error.message)
        case .shuttingDown, .storageUnavailable, .limitReached: self.init(.serviceUnavailable, error.message)
        }
    }
}
