import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardHistory
import Synchronization

/// Facts about the running service that the API reports.
public final class ServiceInfo: Sendable {
    public static let version = "0.1.0"
    public let startedAt = ContinuousClock.now
    public let startedAtDate = Date()
    private let apiAddress = Mutex<String?>(nil)
    private let readiness = Mutex<Readiness>(Readiness())
    /// What this service's sessions and listeners are recorded under (`--instance`); every
    /// session and listener it answers with carries it.
    public let instance: String

    private struct Readiness {
        var startupDone = false
        var startupStep = "starting"
        var checks: [@Sendable () -> String?] = []
    }

    public init(instance: String = "") { self.instance = instance }

    /// Says what start-up is doing until `startupFinished()`; `/readyz` reports it.
    public func startupStep(_ step: String) { readiness.withLock { $0.startupStep = step } }
    public func startupFinished() { readiness.withLock { $0.startupDone = true } }

    /// A check `/readyz` runs on every probe: nil when fine, else what is wrong.
    public func addReadinessCheck(_ check: @escaping @Sendable () -> String?) {
        readiness.withLock { $0.checks.append(check) }
    }

    /// Everything that keeps the service from being ready; empty when it is.
    public var notReadyReasons: [String] {
        let (done, step, checks) = readiness.withLock { ($0.startupDone, $0.startupStep, $0.checks) }
        return (done ? [] : ["start-up not finished: \(step)"]) + checks.compactMap { $0() }
    }

    /// The API's address once bound (with the real port when 0 was asked for).
    public var address: String? {
        get { apiAddress.withLock { $0 } }
        set { apiAddress.withLock { $0 = newValue } }
    }
}

/// `/healthz` and `/v1/info`.
struct ServiceController {
    let switchboard: Switchboard
    let service: ServiceInfo
    let history: any HistoryReading
    let writer: HistoryWriter?

    struct Health: Encodable { let status: String }

    /// What `GET /` answers: where a person who found the port goes next.
    struct Index: Encodable {
        let service = "switchboard"
        let version = ServiceInfo.version
        let ui = "/ui"
        let openapi = "/v1/openapi.json"
        let info = "/v1/info"
        let health = "/healthz"
        let ready = "/readyz"
    }

    struct Info: Encodable {
        let version: String
        /// What this service's sessions and listeners are recorded under.
        let instance: String
        let startedAt: String
        let uptimeSeconds: Double
        let api: String?
        let listeners: Int
        let openSessions: Int
        let totalSessions: UInt64
        /// --max-sessions: past it, connections are refused (and counted on their listener).
        let maxSessions: Int
        let history: History
        struct History: Encodable {
            let file: String
            let queued: Int?
            let written: UInt64?
            let dropped: UInt64?
            let problem: String?
        }
        enum CodingKeys: String, CodingKey {
            case version, instance
            case startedAt = "started_at"
            case uptimeSeconds = "uptime_seconds"
            case api, listeners
            case openSessions = "open_sessions"
            case totalSessions = "total_sessions"
            case maxSessions = "max_sessions"
            case history
        }
    }

    @Sendable func index(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        return try JSONResponse.make(Index(), style: context.jsonStyle)
    }

    @Sendable func health(_ request: Request, context: APIRequestContext) async throws -> Response {
        try JSONResponse.make(Health(status: "ok"), style: context.jsonStyle)
    }

    @Sendable func ready(_ request: Request, context: APIRequestContext) async throws -> Response {
        let reasons = service.notReadyReasons
        guard reasons.isEmpty else {
            throw APIError(.serviceUnavailable, "not_ready", reasons.joined(separator: "; "))
        }
        return try JSONResponse.make(Health(status: "ready"), style: context.jsonStyle)
    }

    @Sendable func info(_ request: Request, context: APIRequestContext) async throws -> Response {
        _ = try Query(request, allowed: [])
        let counts = switchboard.counts
        let health = writer?.health
        let uptime = ContinuousClock.now - service.startedAt
        return try JSONResponse.make(Info(
            version: ServiceInfo.version,
            instance: service.instance,
            startedAt: RFC3339.format(service.startedAtDate),
            uptimeSeconds: uptime.inSeconds,
            api: service.address,
            listeners: counts.listeners,
            openSessions: counts.openSessions,
            totalSessions: counts.totalSessions,
            maxSessions: switchboard.maxSessions,
            history: .init(file: history.location, queued: health?.queued, written: health?.written, dropped: health?.dropped, problem: health?.problem)
        ), style: context.jsonStyle)
    }
}
