import SwitchboardCore

extension APIError {
    /// The status and code for each refusal of the core.
    init(_ error: SwitchboardError) {
        switch error.kind {
        case .invalidArgument: self.init(.badRequest, "invalid_value", error.message)
        case .notFound: self.init(.notFound, "not_found", error.message)
        case .nameTaken: self.init(.conflict, "name_taken", error.message)
        case .addressInUse: self.init(.conflict, "address_in_use", error.message)
        case .addressUnavailable: self.init(.conflict, "address_unavailable", error.message)
        case .sessionClosed: self.init(.conflict, "session_closed", error.message)
        case .connectRefused: self.init(.badGateway, "connect_failed", error.message)
        case .connectTimeout: self.init(.gatewayTimeout, "connect_timeout", error.message)
        case .shuttingDown: self.init(.serviceUnavailable, "shutting_down", error.message)
        case .storageUnavailable: self.init(.serviceUnavailable, "storage_unavailable", error.message)
        case .limitReached: self.init(.serviceUnavailable, "limit_reached", error.message)
        case .forbidden: self.init(.forbidden, "forbidden", error.message)
        case .sendQueueFull: self.init(.conflict, "send_queue_full", error.message)
        }
    }
}
