import ArgumentParser
import Foundation
import Logging
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory
import SwitchboardHistoryPostgres
import SwitchboardService

extension Settings {
    /// Flags win over the environment (what systemd's EnvironmentFile sets), which wins over
    /// the defaults; a value out of range is the parser's error, naming the flag.
    init(_ flags: ServeCommand, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func value(_ flag: String?, _ name: String) -> String? {
            flag ?? environment[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        func number(_ flag: Int?, _ name: String, _ option: String) throws -> Int? {
            if let flag { return flag }
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let number = Int(text) else { throw ValidationError("\(name) (\(option)) must be a whole number, not '\(text)'") }
            return number
        }
        func limit(_ flag: Int?, _ name: String, _ option: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = try number(flag, name, option) else { return nil }
            guard range.contains(value) else { throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound)") }
            return value
        }
        self.init()
        if let apiText = value(flags.api, "SWITCHBOARD_API") {
            do {
                api = try Endpoint(parsing: apiText)
            } catch {
                throw ValidationError("--api / SWITCHBOARD_API: \(error)")
            }
        }
        if let text = value(flags.toxiproxyAPI, "SWITCHBOARD_TOXIPROXY_API") {
            do {
                toxiproxyAPI = try Endpoint(parsing: text)
            } catch {
                throw ValidationError("--toxiproxy-api / SWITCHBOARD_TOXIPROXY_API: \(error)")
            }
        }
        if let level = flags.logLevel {
            logLevel = level
        } else if let text = environment["SWITCHBOARD_LOG_LEVEL"], !text.isEmpty {
            guard let parsed = Logger.Level(rawValue: text) else { throw ValidationError("SWITCHBOARD_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical") }
            logLevel = parsed
        }
        db = value(flags.db, "SWITCHBOARD_DB") ?? db
        dbPasswordFile = value(flags.dbPasswordFile, "SWITCHBOARD_DB_PASSWORD_FILE")
        instance = value(flags.instance, "SWITCHBOARD_INSTANCE") ?? instance
        if let problem = InstanceName.problem(instance) { throw ValidationError("--instance: \(problem)") }
        spool = value(flags.historySpool, "SWITCHBOARD_HISTORY_SPOOL")
        if dbPasswordFile != nil, !PostgresURL.isURL(db) { throw ValidationError("--db-password-file is for a postgres:// --db") }
        historySpoolMB = try number(flags.historySpoolMB, "SWITCHBOARD_HISTORY_SPOOL_MB", "--history-spool-mb") ?? historySpoolMB
        retainDays = try number(flags.retainDays, "SWITCHBOARD_RETAIN_DAYS", "--retain-days")
        retainSessions = try number(flags.retainSessions, "SWITCHBOARD_RETAIN_SESSIONS", "--retain-sessions")
        captureLimit = try number(flags.captureLimit, "SWITCHBOARD_CAPTURE_LIMIT", "--capture-limit") ?? captureLimit
        eventLimits.maxClients = try number(flags.maxEventClients, "SWITCHBOARD_MAX_EVENT_CLIENTS", "--max-event-clients") ?? eventLimits.maxClients
        eventLoops = try number(flags.eventLoops, "SWITCHBOARD_EVENT_LOOPS", "--event-loops") ?? eventLoops
        maxSessions = try number(flags.maxSessions, "SWITCHBOARD_MAX_SESSIONS", "--max-sessions")
        maxListeners = try number(flags.maxListeners, "SWITCHBOARD_MAX_LISTENERS", "--max-listeners") ?? maxListeners
        maxLongPolls = try number(flags.maxLongPolls, "SWITCHBOARD_MAX_LONG_POLLS", "--max-long-polls") ?? maxLongPolls
        maxUnsentBytes = try number(flags.maxUnsentBytes, "SWITCHBOARD_MAX_UNSENT_BYTES", "--max-unsent-bytes") ?? maxUnsentBytes
        tokenFile = value(flags.tokenFile, "SWITCHBOARD_TOKEN_FILE")
        insecureBind = flags.insecureBind
        outboundPolicy = OutboundPolicy(
            allow: try Self.rules(flags.allowConnect, environment, "SWITCHBOARD_ALLOW_CONNECT", option: "--allow-connect"),
            deny: try Self.rules(flags.denyConnect, environment, "SWITCHBOARD_DENY_CONNECT", option: "--deny-connect")
        )
        apiLimits.maxBodyBytes = try limit(flags.maxBodyBytes, "SWITCHBOARD_MAX_BODY_BYTES", "--max-body-bytes", 1024...(64 << 20)) ?? apiLimits.maxBodyBytes
        apiLimits.maxHeaderBytes = try limit(flags.maxHeaderBytes, "SWITCHBOARD_MAX_HEADER_BYTES", "--max-header-bytes", 1024...(64 * 1024)) ?? apiLimits.maxHeaderBytes
        apiLimits.maxURLBytes = try limit(flags.maxURLBytes, "SWITCHBOARD_MAX_URL_BYTES", "--max-url-bytes", 256...(64 * 1024)) ?? apiLimits.maxURLBytes
        apiLimits.maxJSONDepth = try limit(flags.maxJSONDepth, "SWITCHBOARD_MAX_JSON_DEPTH", "--max-json-depth", 2...64) ?? apiLimits.maxJSONDepth
        if let seconds = try limit(flags.requestTimeout, "SWITCHBOARD_REQUEST_TIMEOUT", "--request-timeout", 1...3600) {
            apiLimits.requestTimeout = .seconds(seconds)
        }
        guard (1...1_000_000).contains(maxListeners) else { throw ValidationError("--max-listeners must be from 1 to 1000000") }
        guard (1...10_000).contains(maxLongPolls) else { throw ValidationError("--max-long-polls must be from 1 to 10000") }
        guard (1...(1 << 30)).contains(maxUnsentBytes) else { throw ValidationError("--max-unsent-bytes must be from 1 to 1073741824") }
        if let max = maxSessions, max < 1 { throw ValidationError("--max-sessions must be at least 1") }
        guard historySpoolMB == 0 || (1...65_536).contains(historySpoolMB) else {
            throw ValidationError("--history-spool-mb must be 0 (off) or from 1 to 65536")
        }
        if let days = retainDays, days < 1 { throw ValidationError("--retain-days must be at least 1") }
        if let count = retainSessions, count < 1 { throw ValidationError("--retain-sessions must be at least 1") }
        guard (0...(1 << 30)).contains(captureLimit) else { throw ValidationError("--capture-limit must be from 0 to 1073741824") }
        guard (0...10_000).contains(eventLimits.maxClients) else { throw ValidationError("--max-event-clients must be from 0 to 10000") }
        guard (1...256).contains(eventLoops) else { throw ValidationError("--event-loops must be from 1 to 256") }
    }

    /// The flags' rules, or else the environment's list; a bad rule is named.
    static func rules(_ flags: [String], _ environment: [String: String], _ name: String, option: String) throws -> [ConnectRule] {
        do {
            if !flags.isEmpty { return try flags.map { rule throws(ConnectRuleError) in try ConnectRule(parsing: rule) } }
        } catch {
            throw ValidationError("\(option): \(error)")
        }
        do {
            return try OutboundPolicy.parseList(environment[name] ?? "")
        } catch {
            throw ValidationError("\(name) (\(option)): \(error)")
        }
    }
}
