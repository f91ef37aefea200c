import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardHistory

/// `/v1/sessions`: outbound sessions, and reading and writing any open session.
struct SessionsController {
    let switchboard: Switchboard
    /// Every session answered with carries it, as its history row does.
    let instance: String

    /// Long-polls wait at most this long (seconds).
    static let maxWait = 60.0

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post(use: connect)
        group.get(use: list)
        group.delete(use: stopReconnecting)
        group.get(":id", use: show)
        group.delete(":id", use: close)
        group.post(":id/send", use: send)
        group.get(":id/messages", use: messages)
    }

    @Sendable func connect(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let body = try await RequestReading.decode(ConnectRequest.self, from: request, context: context)
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: body.connect)
        } catch {
            throw APIError.invalid("connect: \(error)")
        }
        if case .host(_, 0) = endpoint { throw APIError.invalid("connect: port 0 cannot be connected to") }
        var spec = ConnectSpec(endpoint: endpoint, name: body.name, capture: body.capture ?? false)
        if let send = body.send {
            spec.send = try DataEncoding(field: "encoding", body.encoding).decode(send, field: "send")
        } else if body.encoding != nil {
            throw APIError.invalid("encoding is only for send")
        }
        spec.options = try connectionOptions(
            nodelay: body.nodelay, keepalive: body.keepalive, idleTimeoutMs: body.idleTimeoutMs,
            connectTimeoutMs: body.connectTimeoutMs, backlog: nil
        )
        spec.faults = try body.faults?.faults() ?? []
        if let timeout = spec.options.connectTimeout {
            spec.connectTimeout = timeout
            spec.options.connectTimeout = nil
        }
        if let reconnect = body.reconnect {
            guard spec.name != nil else { throw APIError(.badRequest, "missing_field", "a reconnecting session needs a 'name'") }
            spec.reconnect = Self.policy(reconnect)
            let status = try await switchboard.startReconnecting(spec)
            return try JSONResponse.make(reconnectResponse(status), status: .created, style: context.jsonStyle)
        }
        return try JSONResponse.make(SessionRecord(try await switchboard.connect(spec), instance: instance), status: .created, style: context.jsonStyle)
    }

    /// The policy as asked for; its ranges are the core's (`ReconnectPolicy.validate`).
    static func policy(_ body: ReconnectRequest) -> ReconnectPolicy {
        var policy = ReconnectPolicy()
        if let ms = body.initialMs?.value { policy.initial = .milliseconds(ms) }
        if let ms = body.maxMs?.value {
            policy.max = .milliseconds(ms)
        } else if policy.max < policy.initial {
            // Only an initial wait past the default maximum: the waits stay at it.
            policy.max = policy.initial
        }
        if let jitter = body.jitter { policy.jitter = jitter }
        return policy
    }

    private func reconnectResponse(_ status: ReconnectStatus) -> ReconnectResponse {
        ReconnectResponse(status: status, session: status.sessionID.flatMap { try? switchboard.session($0) }.map { SessionRecord($0, instance: instance) })
    }

    /// `DELETE /v1/sessions?name=NAME`: stop keeping a named session connected, and close it.
    @Sendable func stopReconnecting(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["name"])
        guard let name = query["name"] else {
            throw APIError(.badRequest, "missing_parameter", "DELETE /v1/sessions needs ?name= of a reconnecting session; close one session with DELETE /v1/sessions/{id}")
        }
        let status = try await switchboard.stopReconnecting(named: name)
        return try JSONResponse.make(reconnectResponse(status), style: context.jsonStyle)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["listener", "role", "state", "name"])
        let filter = SessionFilter(
            listener: query["listener"],
            role: try query.choice("role", as: SessionRole.self),
            state: try query.choice("state", as: SessionState.self),
            name: query["name"]
        )
        // Reconnecting sessions have no listener; they show unless the filter rules them out.
        let reconnecting = filter.listener == nil && filter.role != .server
            ? switchboard.reconnecting(named: filter.name).map(reconnectResponse) : []
        return try JSONResponse.make(SessionList(sessions: switchboard.sessions(filter).map { SessionRecord($0, instance: instance) }, reconnecting: reconnecting), style: context.jsonStyle)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let id = try Self.id(context)
        return try JSONResponse.make(SessionRecord(try switchboard.session(id), instance: instance), style: context.jsonStyle)
    }

    @Sendable func close(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["reset"])
        let reset = try query.bool("reset")
        let id = try Self.id(context)
        return try JSONResponse.make(SessionRecord(try await switchboard.closeSession(id, reset: reset), instance: instance), style: context.jsonStyle)
    }

    @Sendable func send(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let id = try Self.id(context)
        let data: ByteBuffer
        switch try RequestReading.kind(of: request, allowOctetStream: true) {
        case .octetStream:
            data = try await RequestReading.body(of: request, context: context)
        case .json:
            let body = try RequestReading.decode(SendRequest.self, from: try await RequestReading.body(of: request, context: context), context: context)
            data = try DataEncoding(field: "encoding", body.encoding).decode(body.data, field: "data")
        }
        // Fewer only when the client went away mid-send: then not a 200 that says all went.
        guard try await switchboard.send(id, data) == data.readableBytes else { throw CancellationError() }
        return try JSONResponse.make(SendResponse(bytesSent: data.readableBytes, session: SessionRecord(try switchboard.session(id), instance: instance)), style: context.jsonStyle)
    }

    @Sendable func messages(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["after", "wait", "encoding"])
        let after = try query.integer("after", in: 0...UInt64(Int64.max)) ?? 0
        let wait = try query.seconds("wait", max: Self.maxWait) ?? 0
        let encoding = try query.choice("encoding", as: DataEncoding.self)
        let id = try Self.id(context)
        let page = try await switchboard.messages(id, after: after, wait: .milliseconds(Int64(wait * 1000)))
        let state = try switchboard.session(id).state
        return try JSONResponse.make(MessagesResponse(page: page, state: state, encoding: encoding), style: context.jsonStyle)
    }

    private static func id(_ context: APIRequestContext) throws -> SessionID {
        let text = try context.parameters.require("id")
        guard let id = SessionID(text) else { throw APIError.notFound("no session with id '\(text)'") }
        return id
    }
}
