import Foundation

/// A point-in-time copy of a session, safe to hand to the API, the log or the history.
public struct SessionInfo: Sendable {
    public let id: SessionID
    public let role: SessionRole
    public let listener: String?
    public let name: String?
    public let localAddress: String?
    public let remoteAddress: String?
    public let state: SessionState
    public let openedAt: Date
    public let closedAt: Date?
    public let closeReason: CloseReason?
    public let bytesIn: UInt64
    public let bytesOut: UInt64
    /// Whether its bytes are recorded into the history, and whether the cap cut that short.
    public let capture: Bool
    public let captureTruncated: Bool
    /// The other half of a forwarded pair: the upstream session of an accepted one, and back.
    public let partnerID: SessionID?
    /// Every fault that met the session, and whether it applied.
    public let faults: [SessionFault]
    /// The faults aimed at this session alone (not its listener's).
    public let ownFaults: [Fault]

    public init(
        id: SessionID, role: SessionRole, listener: String?, name: String?, localAddress: String?, remoteAddress: String?,
        state: SessionState, openedAt: Date, closedAt: Date?, closeReason: CloseReason?, bytesIn: UInt64, bytesOut: UInt64,
        capture: Bool, captureTruncated: Bool, partnerID: SessionID? = nil, faults: [SessionFault] = [], ownFaults: [Fault] = []
    ) {
        self.faults = faults
        self.ownFaults = ownFaults
        self.partnerID = partnerID
        self.id = id
        self.role = role
        self.listener = listener
        self.name = name
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.state = state
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.closeReason = closeReason
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.capture = capture
        self.captureTruncated = captureTruncated
    }
}
