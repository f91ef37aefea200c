import Foundation
import NIOCore
import SwitchboardCore

/// Listeners and reconnecting sessions as both backends store them, and back.
extension ListenerRecord {
    public init(_ spec: ListenerSpec, createdAt: Date, instance: String) {
        self.init(
            name: spec.name, address: spec.address.description, mode: spec.mode.name, reply: nil,
            closeAfterReply: false, maxSessions: spec.maxSessions, capture: spec.capture, createdAt: RFC3339.format(createdAt),
            forwardTo: nil, resetOnFailure: false, options: StoredOptions.encode(spec.options), faults: StoredFaults.encode(spec.faults),
            enabled: spec.enabled, instance: instance
        )
        switch spec.mode {
        case .reply(let bytes, let closeAfterReply):
            reply = Data(bytes.readableBytesView)
            self.closeAfterReply = closeAfterReply
        case .forward(let upstream, let resetOnFailure):
            forwardTo = upstream.description
            self.resetOnFailure = resetOnFailure
        case .echo, .hold:
            break
        }
    }

    /// The listener to bring back. A row this service cannot understand comes back with its
    /// `problem`; the values standing in for the unreadable ones are only shown, never bound,
    /// and the row is not rewritten.
    public var saved: SavedListener {
        var problems: [String] = []
        func endpoint(_ text: String?, _ field: String) -> Endpoint {
            do {
                return try Endpoint(parsing: text ?? "")
            } catch {
                problems.append("the stored \(field) '\(text ?? "")' cannot be read: \(error)")
                return .host(text ?? "", port: 0)
            }
        }
        let mode: ListenerMode
        switch self.mode {
        case "echo": mode = .echo
        case "reply": mode = .reply(ByteBuffer(bytes: reply ?? Data()), closeAfterReply: closeAfterReply)
        case "hold": mode = .hold
        case "forward": mode = .forward(to: endpoint(forwardTo, "forward_to"), resetOnFailure: resetOnFailure)
        default:
            problems.append("the stored mode '\(self.mode)' is not one this service knows (echo, reply, hold, forward)")
            mode = .hold
        }
        let address = endpoint(address, "address")
        let faults = StoredFaults.decode(self.faults)
        if let problem = faults.problem { problems.append(problem) }
        let spec = ListenerSpec(
            name: name, address: address, mode: mode, maxSessions: maxSessions, capture: capture,
            options: StoredOptions.decode(options), faults: faults.faults, enabled: enabled
        )
        return SavedListener(spec: spec, createdAt: RFC3339.parse(createdAt) ?? Date(), problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}

extension ReconnectingRecord {
    public init(_ spec: ConnectSpec, createdAt: Date, instance: String) {
        let policy = spec.reconnect ?? ReconnectPolicy()
        self.init(
            name: spec.name ?? "", connect: spec.endpoint.description, send: spec.send.map { Data($0.readableBytesView) },
            capture: spec.capture, connectTimeoutMs: spec.connectTimeout.wholeMilliseconds,
            initialMs: policy.initial.wholeMilliseconds, maxMs: policy.max.wholeMilliseconds, jitter: policy.jitter,
            options: StoredOptions.encode(spec.options), createdAt: RFC3339.format(createdAt), faults: StoredFaults.encode(spec.faults),
            instance: instance
        )
    }

    /// The session to bring back; one this service cannot understand comes back with its problems.
    public var saved: SavedReconnecting {
        var problems: [String] = []
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: connect)
        } catch {
            problems.append("the stored connect address '\(connect)' cannot be read: \(error)")
            endpoint = .host(connect, port: 0)
        }
        let faults = StoredFaults.decode(self.faults)
        if let problem = faults.problem { problems.append(problem) }
        let spec = ConnectSpec(
            endpoint: endpoint, name: name, send: send.map { ByteBuffer(bytes: $0) },
            connectTimeout: .milliseconds(connectTimeoutMs), capture: capture,
            options: StoredOptions.decode(options),
            reconnect: ReconnectPolicy(initial: .milliseconds(initialMs), max: .milliseconds(maxMs), jitter: jitter),
            faults: faults.faults
        )
        return SavedReconnecting(spec: spec, createdAt: RFC3339.parse(createdAt) ?? Date(), problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}
