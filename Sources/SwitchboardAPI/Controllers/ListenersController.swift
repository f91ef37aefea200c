import Hummingbird
import NIOCore
import SwitchboardCore

/// `/v1/listeners`: the server role.
struct ListenersController {
    let switchboard: Switchboard
    /// Every listener answered with carries it.
    let instance: String
    private let listAnswer = ListenerListCache()

    init(switchboard: Switchboard, instance: String) {
        self.switchboard = switchboard
        self.instance = instance
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get(":name", use: show)
        group.delete(":name", use: delete)
    }

    @Sendable func create(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let body = try await RequestReading.decode(CreateListenerRequest.self, from: request, context: context)
        let spec = try Self.spec(from: body)
        return try JSONResponse.make(ListenerResponse(info: try await switchboard.createListener(spec), instance: instance), status: .created, style: context.jsonStyle)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let listeners = switchboard.listeners()
        let instance = instance
        func body(_ listeners: [ListenerInfo], style: JSONStyle) throws -> ByteBuffer {
            try JSONResponse.body(ListenerList(listeners: listeners.map { ListenerResponse(info: $0, instance: instance) }), style: style)
        }
        guard context.jsonStyle == .compact else { return JSONResponse.make(body: try body(listeners, style: context.jsonStyle)) }
        return JSONResponse.make(body: try listAnswer.body(for: listeners) { try body($0, style: .compact) })
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let name = try context.parameters.require("name")
        return try JSONResponse.make(ListenerResponse(info: try switchboard.listener(named: name), instance: instance), style: context.jsonStyle)
    }

    @Sendable func delete(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["close_sessions"])
        let closeSessions = try query.bool("close_sessions")
        let name = try context.parameters.require("name")
        return try JSONResponse.make(ListenerResponse(info: try await switchboard.deleteListener(named: name, closeSessions: closeSessions), instance: instance), style: context.jsonStyle)
    }

    static let modes = ["echo", "reply", "hold", "forward"]

    /// Throws `APIError` for what only the API knows, and the core's `SwitchboardError` for
    /// what the core checks (names, option ranges).
    static func spec(from body: CreateListenerRequest) throws -> ListenerSpec {
        try ListenerSpec.validateName(body.name)
        let address: Endpoint
        do {
            address = try Endpoint(parsing: body.address)
        } catch {
            throw APIError.invalid("address: \(error)")
        }
        let mode: ListenerMode
        switch body.mode {
        case "reply":
            guard let reply = body.reply else { throw APIError(.badRequest, "missing_field", "mode reply needs the field 'reply'") }
            let encoding = try DataEncoding(field: "reply_encoding", body.replyEncoding)
            let bytes = try encoding.decode(reply, field: "reply")
            guard bytes.readableBytes > 0 else { throw APIError.invalid("reply must not be empty") }
            mode = .reply(bytes, closeAfterReply: body.closeAfterReply ?? false)
        case "echo", "hold", "forward":
            for (field, present) in [("reply", body.reply != nil), ("reply_encoding", body.replyEncoding != nil), ("close_after_reply", body.closeAfterReply != nil)] where present {
                throw APIError.invalid("\(field) is only for mode reply")
            }
            switch body.mode {
            case "echo": mode = .echo
            case "hold": mode = .hold
            default:
                guard let target = body.forwardTo else { throw APIError(.badRequest, "missing_field", "mode forward needs the field 'forward_to' (HOST:PORT or unix:/path)") }
                let upstream: Endpoint
                do {
                    upstream = try Endpoint(parsing: target)
                } catch {
                    throw APIError.invalid("forward_to: \(error)")
                }
                if case .host(_, 0) = upstream { throw APIError.invalid("forward_to: port 0 cannot be connected to") }
                let reset: Bool
                switch body.onUpstreamFailure ?? "close" {
                case "close": reset = false
                case "reset": reset = true
                case let other: throw APIError.invalid("on_upstream_failure must be close or reset, not '\(other)'")
                }
                mode = .forward(to: upstream, resetOnFailure: reset)
            }
        default:
            throw APIError.invalid("mode must be one of \(modes.joined(separator: ", ")), not '\(body.mode)'")
        }
        if body.mode != "forward" {
            for (field, present) in [("forward_to", body.forwardTo != nil), ("on_upstream_failure", body.onUpstreamFailure != nil), ("connect_timeout_ms", body.connectTimeoutMs != nil)] where present {
                throw APIError.invalid("\(field) is only for mode forward")
            }
        }
        if let max = body.maxSessions?.value, !(1...1_000_000).contains(max) {
            throw APIError.invalid("max_sessions must be from 1 to 1000000")
        }
        let options = try connectionOptions(
            nodelay: body.nodelay, keepalive: body.keepalive, idleTimeoutMs: body.idleTimeoutMs,
            connectTimeoutMs: body.connectTimeoutMs, backlog: body.backlog
        )
        return ListenerSpec(
            name: body.name, address: address, mode: mode, maxSessions: body.maxSessions?.value, capture: body.capture ?? false,
            options: options, faults: try body.faults?.faults() ?? []
        )
    }
}
