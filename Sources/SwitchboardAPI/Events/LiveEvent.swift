import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardHistory

/// One event of `GET /v1/events`: its place in the sequence and what happened.
///
/// The hub keeps the core's values as they came and encodes JSON only when a stream writes the
/// event, off the event loops that reported it.
struct LiveEvent: Sendable {
    enum Payload: Sendable {
        // Boxed: a listener's info is the largest payload (312 bytes), and every event in the
        // ring takes the room of the largest. Unboxed, a ring of session events (two a session,
        // 10,000 kept) took 3.2 MB, against 2.2 MB this way.
        indirect case listenerCreated(ListenerInfo)
        indirect case listenerDeleted(ListenerInfo)
        indirect case listenerFailed(ListenerInfo)
        case sessionOpened(SessionInfo)
        case sessionClosed(SessionInfo)
        case sessionReconnecting(ReconnectStatus)
        case connectionRejected(listener: String, reason: RejectReason, at: Date)
        case connectFailed(listener: String?, name: String?, error: SwitchboardError, at: Date)
        /// A fault added to, changed on or removed from its target.
        case faultEdited(FaultEdit, Fault, FaultTarget, at: Date)
        /// A fault met a session and applies to it.
        case faultApplied(SessionFault, session: SessionID, listener: String?, name: String?)
        /// Bytes of one session and direction since its last data event (coalesced).
        case sessionData(SessionDataEvent)
        /// The client asked to resume after an event the hub no longer keeps.
        case lost(lastEventID: UInt64, firstKept: UInt64?)
    }

    enum FaultEdit: String, Sendable {
        case added, changed, removed
    }

    /// 0 for `lost`, which is not part of the sequence.
    let id: UInt64
    let payload: Payload

    var name: String {
        switch payload {
        case .listenerCreated: "listener.created"
        case .listenerDeleted: "listener.deleted"
        case .listenerFailed: "listener.failed"
        case .sessionOpened: "session.opened"
        case .sessionClosed: "session.closed"
        case .sessionReconnecting: "session.reconnecting"
        case .connectionRejected: "connection.rejected"
        case .connectFailed: "connect.failed"
        case .faultEdited(let edit, _, _, _): "fault.\(edit.rawValue)"
        case .faultApplied: "fault.applied"
        case .sessionData: "session.data"
        case .lost: "lost"
        }
    }

    /// The listener the event is about, for `?listener=`.
    var listener: String? {
        switch payload {
        case .listenerCreated(let info), .listenerDeleted(let info), .listenerFailed(let info): info.name
        case .sessionOpened(let info), .sessionClosed(let info): info.listener
        case .sessionReconnecting: nil
        case .connectionRejected(let listener, _, _): listener
        case .connectFailed(let listener, _, _, _): listener
        case .faultEdited(_, _, .listener(let name), _): name
        case .faultEdited: nil
        case .faultApplied(_, _, let listener, _): listener
        case .sessionData(let data): data.listener
        case .lost: nil
        }
    }

    /// The session the event is about, for `?session=`.
    var session: SessionID? {
        switch payload {
        case .sessionOpened(let info), .sessionClosed(let info): info.id
        case .sessionReconnecting(let status): status.sessionID
        case .sessionData(let data): data.sessionID
        case .faultEdited(_, _, .session(let id), _): id
        case .faultApplied(_, let session, _, _): session
        default: nil
        }
    }

    /// The event as the stream writes it: `id:`, `event:`, one `data:` line of JSON, a blank line.
    func render(instance: String) -> String {
        let json = (try? StreamingJSONEncoder.string(body(instance: instance))) ?? "{}"
        // `lost` stands outside the sequence: no id, so a client's Last-Event-ID stays where it was.
        let idLine = id == 0 ? "" : "id: \(id)\n"
        return "\(idLine)event: \(name)\ndata: \(json)\n\n"
    }

    /// What the event's `data:` line holds: the shape its REST counterpart answers with.
    private func body(instance: String) -> any Encodable {
        switch payload {
        case .listenerCreated(let info), .listenerDeleted(let info), .listenerFailed(let info):
            ListenerResponse(info: info, instance: instance)
        case .sessionOpened(let info), .sessionClosed(let info):
            SessionRecord(info, instance: instance)
        case .sessionReconnecting(let status):
            // The sessions API's shape; `session` is null here (session.opened tells the session).
            ReconnectResponse(status: status, session: nil)
        case .connectionRejected(let listener, let reason, let at):
            RejectedBody(listener: listener, reason: reason.rawValue, at: RFC3339.format(at))
        case .connectFailed(let listener, let name, let error, let at):
            ConnectFailedBody(listener: listener, name: name, code: APIError(error).code, error: error.message, at: RFC3339.format(at))
        case .faultEdited(_, let fault, let target, let at):
            FaultEditBody(target: target, fault: fault, at: at)
        case .faultApplied(let fault, let session, let listener, let name):
            FaultAppliedBody(sessionId: session.rawValue, listener: listener, name: name, fault: SessionFaultRecord(fault))
        case .sessionData(let data):
            DataBody(sessionId: data.sessionID.rawValue, listener: data.listener, direction: data.direction.rawValue, bytes: data.bytes, at: RFC3339.format(data.at))
        case .lost(let last, let first):
            LostBody(lastEventId: last, firstAvailableId: first)
        }
    }
}

private struct RejectedBody: Encodable {
    let listener: String
    let reason: String
    let at: String
}

private struct ConnectFailedBody: Encodable {
    let listener: String?
    let name: String?
    let code: String
    let error: String
    let at: String
}

/// The target as three keys, one of them set: `listener`, `session_id` (one live session) or
/// `name` (a reconnecting session).
private struct FaultEditBody: Encodable {
    let target: String
    let listener: String?
    let sessionId: String?
    let name: String?
    let fault: FaultResponse
    let at: String

    enum CodingKeys: String, CodingKey {
        case target, listener
        case sessionId = "session_id"
        case name, fault, at
    }

    init(target: FaultTarget, fault: Fault, at: Date) {
        switch target {
        case .listener(let name): (self.target, listener, sessionId, self.name) = ("listener", name, nil, nil)
        case .reconnecting(let name): (self.target, listener, sessionId, self.name) = ("reconnecting", nil, nil, name)
        case .session(let id): (self.target, listener, sessionId, self.name) = ("session", nil, id.rawValue, nil)
        }
        self.fault = FaultResponse(fault: fault)
        self.at = RFC3339.format(at)
    }
}

/// The session as its listener (accepted) or its name (outbound) tells it, and the log entry.
private struct FaultAppliedBody: Encodable {
    let sessionId: String
    let listener: String?
    let name: String?
    let fault: SessionFaultRecord
    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id"
        case listener, name, fault
    }
}

private struct DataBody: Encodable {
    let sessionId: String
    let listener: String?
    let direction: String
    let bytes: Int
    let at: String
    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id"
        case listener, direction, bytes, at
    }
}

private struct LostBody: Encodable {
    let lastEventId: UInt64
    let firstAvailableId: UInt64?
    enum CodingKeys: String, CodingKey {
        case lastEventId = "last_event_id"
        case firstAvailableId = "first_available_id"
    }
}
