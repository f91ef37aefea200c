import SwitchboardCore
import SwitchboardHistory

/// Where a named reconnecting session stands, with its current (or latest) session.
struct ReconnectResponse: Encodable {
    let name: String
    let connect: String
    let state: String
    let sessionID: String?
    let failures: Int
    let nextAttemptAt: String?
    let lastError: String?
    /// Aimed at every connection it makes.
    let faults: [FaultResponse]
    let session: SessionRecord?

    enum CodingKeys: String, CodingKey {
        case name, connect, state
        case sessionID = "session_id"
        case failures
        case nextAttemptAt = "next_attempt_at"
        case lastError = "last_error"
        case faults, session
    }

    init(status: ReconnectStatus, session: SessionRecord?) {
        name = status.name
        connect = status.endpoint
        state = status.state.rawValue
        sessionID = status.sessionID?.rawValue
        failures = status.failures
        nextAttemptAt = status.nextAttemptAt.map(RFC3339.format)
        lastError = status.lastError
        faults = status.faults.map(FaultResponse.init)
        self.session = session
    }
}
