import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardHistory

/// `/v1/sessions`: outbound sessions, and reading and writing any open session.
struct SessionsController {
    let switchboard: Switchboard

    /// Long-polls wait at most this long (seconds).
    static let maxWait = 60.0

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.post(use: connect)
        group.get(use: list)
        group.get(":id", use: show)
        group.delete(":id", use: close)
        group.post(":id/send", use: send)
        group.get(":id/messages", use: messages)
    }

    @Sendable func connect(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let body = try await RequestReading.decode(ConnectRequest.self, from: request)
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
        if let timeout = body.connectTimeoutMs?.value {
            guard (1...300_000).contains(timeout) else { throw APIError.invalid("connect_timeout_ms must be from 1 to 300000") }
            spec.connectTimeout = .milliseconds(timeout)
        }
        return try await core { try JSONResponse.make(SessionRecord(try await switchboard.connect(spec)), status: .created) }
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["listener", "role", "state", "name"])
        let filter = SessionFilter(
            listener: query["listener"],
            role: try query.choice("role", as: SessionRole.self),
            state: try query.choice("state", as: SessionState.self),
            name: query["name"]
        )
        return try JSONResponse.make(SessionList(sessions: switchboard.sessions(filter).map(SessionRecord.init)))
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let id = try Self.id(context)
        return try await core { try JSONResponse.make(SessionRecord(try switchboard.session(id))) }
    }

    @Sendable func close(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["reset"])
        let reset = try query.bool("reset")
        let id = try Self.id(context)
        return try await core { try JSONResponse.make(SessionRecord(try await switchboard.closeSession(id, reset: reset))) }
    }

    @Sendable func send(_ request: Request, context: BasicRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let id = try Self.id(context)
        let data: ByteBuffer
        switch try RequestReading.kind(of: request, allowOctetStream: true) {
        case .octetStream:
            data = try await RequestReading.body(of: request)
        case .json:
            let body = try RequestReading.decode(SendRequest.self, from: try await RequestReading.body(of: request))
            data = try DataEncoding(field: "encoding", body.encoding).decode(body.data, field: "data")
        }
        return try await core {
            try await switchboard.send(id, data)
            return try JSONResponse.make(SendResponse(bytesSent: data.readableBytes, session: SessionRecord(try switchboard.session(id))))
        }
    }

    @Sendable func messages(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["after", "wait", "encoding"])
        let after = try query.integer("after", in: 0...UInt64(Int64.max)) ?? 0
        let wait = try query.seconds("wait", max: Self.maxWait) ?? 0
        let encoding = try query.choice("encoding", as: DataEncoding.self)
        let id = try Self.id(context)
        return try await core {
            let page = try await switchboard.messages(id, after: after, wait: .milliseconds(Int64(wait * 1000)))
            let state = try switchboard.session(id).state
            return try JSONResponse.make(MessagesResponse(page: page, state: state, encoding: encoding))
        }
    }

    private static func id(_ context: BasicRequestContext) throws -> SessionID {
        let text = try context.parameters.require("id")
        guard let id = SessionID(text) else { throw APIError.notFound("no session with id '\(text)'") }
        return id
    }

    /// Runs a call into the core and turns its refusals into API errors.
    private func core(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as SwitchboardError {
            throw APIError(error)
        }
    }
}
