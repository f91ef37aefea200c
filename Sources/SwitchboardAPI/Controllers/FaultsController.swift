import Hummingbird
import SwitchboardCore

/// `.../faults` under a listener (`/v1/listeners/{name}`) or a session (`/v1/sessions/{id}`:
/// one live session by id, or a reconnecting session by name): list, add, show, change and
/// remove the faults aimed at it.
struct FaultsController {
    let switchboard: Switchboard
    /// The path parameter that names the target, and how it becomes one.
    let parameter: String
    let target: @Sendable (Switchboard, String) throws -> FaultTarget

    static func listeners(_ switchboard: Switchboard) -> FaultsController {
        FaultsController(switchboard: switchboard, parameter: "name") { _, name in .listener(name) }
    }

    /// A session id that the service knows (open or recently closed) is that session; otherwise
    /// the name of a reconnecting session.
    static func sessions(_ switchboard: Switchboard) -> FaultsController {
        FaultsController(switchboard: switchboard, parameter: "id") { switchboard, text in
            if let id = SessionID(text), (try? switchboard.session(id)) != nil { return .session(id) }
            if switchboard.reconnecting(named: text).contains(where: { $0.name == text }) { return .reconnecting(text) }
            throw APIError.notFound("no session with id '\(text)' and no reconnecting session named '\(text)'")
        }
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        let faults = RouterPath(":\(parameter)/faults")
        let fault = RouterPath(":\(parameter)/faults/:fault")
        group.get(faults, use: list)
        group.post(faults, use: add)
        group.get(fault, use: show)
        group.patch(fault, use: change)
        group.delete(fault, use: remove)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        return try JSONResponse.make(FaultList(try switchboard.faults(on: try target(context))), style: context.jsonStyle)
    }

    @Sendable func add(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let target = try target(context)
        let body = try await RequestReading.decode(FaultRequest.self, from: request, context: context)
        let fault = try body.fault()
        // Before the core's duplicate check: a fault that could never be added is a 400 first.
        try fault.validate()
        try await switchboard.addFault(fault, to: target)
        return try JSONResponse.make(FaultResponse(fault: fault), status: .created, style: context.jsonStyle)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let (target, name) = (try target(context), try context.parameters.require("fault"))
        guard let fault = try switchboard.faults(on: target).first(where: { $0.name == name }) else {
            throw APIError.notFound("\(target) has no fault named '\(name)'")
        }
        return try JSONResponse.make(FaultResponse(fault: fault), style: context.jsonStyle)
    }

    @Sendable func change(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let (target, name) = (try target(context), try context.parameters.require("fault"))
        let body = try await RequestReading.decode(ChangeFaultRequest.self, from: request, context: context)
        let fault = try await switchboard.changeFault(named: name, on: target) { fault throws(SwitchboardError) in
            try body.apply(to: &fault)
        }
        return try JSONResponse.make(FaultResponse(fault: fault), style: context.jsonStyle)
    }

    @Sendable func remove(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let (target, name) = (try target(context), try context.parameters.require("fault"))
        return try JSONResponse.make(FaultResponse(fault: try await switchboard.removeFault(named: name, from: target)), style: context.jsonStyle)
    }

    private func target(_ context: APIRequestContext) throws -> FaultTarget {
        try target(switchboard, try context.parameters.require(parameter))
    }
}
