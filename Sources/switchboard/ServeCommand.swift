import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Metrics
import Prometheus
import SwitchboardService
import SwitchboardSystemd

/// `switchboard serve`: parses its flags and environment into `Settings` and runs what
/// `buildService` builds from them.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: the control API, listeners and sessions, until SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("Where the control API listens: HOST:PORT, [IPv6]:PORT or unix:/path. Default 127.0.0.1:7700; env SWITCHBOARD_API.", valueName: "address"))
    var api: String?

    @Option(help: ArgumentHelp("Also serve Toxiproxy's HTTP API (2.12) here, for Toxiproxy's clients: HOST:PORT (its clients expect 127.0.0.1:8474) or unix:/path; loopback or a unix socket unless --insecure-bind, with or without --token-file (its clients send no token). Off unless given; env SWITCHBOARD_TOXIPROXY_API.", valueName: "address"))
    var toxiproxyAPI: String?

    @Option(help: ArgumentHelp("The session history: a SQLite file (created and migrated if needed), or postgres://USER@HOST:PORT/DATABASE for a fleet's history in PostgreSQL (migrated at start; the password from the URL, --db-password-file or PGPASSWORD). Default ./switchboard.sqlite3; env SWITCHBOARD_DB.", valueName: "path|url"))
    var db: String?

    @Option(help: ArgumentHelp("With a postgres:// --db: a file whose first line is the password. Env SWITCHBOARD_DB_PASSWORD_FILE.", valueName: "path"))
    var dbPasswordFile: String?

    @Option(help: ArgumentHelp("The name this service's sessions and listeners are recorded under; it restores only its own listeners and reconnecting sessions. Default the host name; env SWITCHBOARD_INSTANCE.", valueName: "name"))
    var instance: String?

    @Option(help: ArgumentHelp("The session spool's file. Default <db>.spool beside a SQLite file, ./switchboard-<instance>.spool with PostgreSQL; env SWITCHBOARD_HISTORY_SPOOL.", valueName: "path"))
    var historySpool: String?

    @Option(help: ArgumentHelp("Size of the session spool beside the history file (<db>.spool, allocated in full at start): what happened to sessions, kept through a SIGKILL and while SQLite cannot write; about 1,800,000 session records per 256 MiB. 0 turns it off (a SIGKILL then loses the last 50 ms of sessions). Default 256; env SWITCHBOARD_HISTORY_SPOOL_MB.", valueName: "MiB"))
    var historySpoolMB: Int?

    @Option(help: ArgumentHelp("Delete closed sessions that opened more than this many days ago. Env SWITCHBOARD_RETAIN_DAYS.", valueName: "days"))
    var retainDays: Int?

    @Option(help: ArgumentHelp("Keep at most this many sessions in the history, deleting the oldest closed ones. Env SWITCHBOARD_RETAIN_SESSIONS.", valueName: "count"))
    var retainSessions: Int?

    @Option(help: ArgumentHelp("Bytes recorded per session with capture on, both directions together; later bytes are not recorded and the session is marked truncated. Default 1048576; env SWITCHBOARD_CAPTURE_LIMIT.", valueName: "bytes"))
    var captureLimit: Int?

    @Option(help: ArgumentHelp("Most sessions open at once, service-wide; further connections are refused and counted. Default: the file-descriptor limit less a reserve for the API and the history; env SWITCHBOARD_MAX_SESSIONS.", valueName: "count"))
    var maxSessions: Int?

    @Option(help: ArgumentHelp("Clients reading live events (GET /v1/events) at once; more are answered 503. Default 64; env SWITCHBOARD_MAX_EVENT_CLIENTS.", valueName: "count"))
    var maxEventClients: Int?

    @Option(help: ArgumentHelp("Listeners at once; more are refused with 503. Default 1000; env SWITCHBOARD_MAX_LISTENERS.", valueName: "count"))
    var maxListeners: Int?

    @Option(help: ArgumentHelp("Long-polls (GET .../messages?wait=) waiting on one session at once; more are refused with 503. Default 16; env SWITCHBOARD_MAX_LONG_POLLS.", valueName: "count"))
    var maxLongPolls: Int?

    @Option(help: ArgumentHelp("Bytes of operators' sends one session may hold that its peer has not taken yet; a send past it is refused with 409 send_queue_full (one send alone always waits). Default 4194304; env SWITCHBOARD_MAX_UNSENT_BYTES.", valueName: "bytes"))
    var maxUnsentBytes: Int?

    @Option(help: ArgumentHelp("Largest request body read. Default 1048576; env SWITCHBOARD_MAX_BODY_BYTES.", valueName: "bytes"))
    var maxBodyBytes: Int?

    @Option(help: ArgumentHelp("Largest request header section (all fields). Default 16384; env SWITCHBOARD_MAX_HEADER_BYTES.", valueName: "bytes"))
    var maxHeaderBytes: Int?

    @Option(help: ArgumentHelp("Longest request target (path and query). Default 8192; env SWITCHBOARD_MAX_URL_BYTES.", valueName: "bytes"))
    var maxURLBytes: Int?

    @Option(help: ArgumentHelp("Deepest nesting of a JSON body. Default 16; env SWITCHBOARD_MAX_JSON_DEPTH.", valueName: "levels"))
    var maxJSONDepth: Int?

    @Option(help: ArgumentHelp("Seconds an API client has to send a whole request (and an idle keep-alive connection is kept); slower ones are disconnected. Default 10; env SWITCHBOARD_REQUEST_TIMEOUT.", valueName: "seconds"))
    var requestTimeout: Int?

    @Option(help: ArgumentHelp("Event-loop threads, which carry the sessions and the API. Default: the CPUs this process may run on (its affinity, e.g. systemd's CPUAffinity= or taskset, and any cgroup CPU limit); env SWITCHBOARD_EVENT_LOOPS.", valueName: "count"))
    var eventLoops: Int?

    @Option(help: ArgumentHelp("Least severe level logged: trace, debug, info, notice, warning, error, critical. Default info; env SWITCHBOARD_LOG_LEVEL.", valueName: "level"))
    var logLevel: Logger.Level?

    @Option(help: ArgumentHelp("A file holding the bearer token every API request but /healthz and /readyz must carry (Authorization: Bearer TOKEN); re-read on SIGHUP. Env SWITCHBOARD_TOKEN_FILE.", valueName: "path"))
    var tokenFile: String?

    @Flag(help: "Serve the API on an address other than loopback (127.0.0.0/8, ::1, localhost) or a unix socket without --token-file, and the Toxiproxy API on one at all.")
    var insecureBind = false

    @Option(help: ArgumentHelp("Allow outbound connections (sessions, forward upstreams) only to CIDR[:PORTS] (ports N, N-M or a comma list), or unix:/path-prefix; repeatable. With any allow rule, a target must match one. Env SWITCHBOARD_ALLOW_CONNECT.", valueName: "rule"))
    var allowConnect: [String] = []

    @Option(help: ArgumentHelp("Refuse outbound connections to CIDR[:PORTS] or unix:/path-prefix; repeatable; wins over --allow-connect. Env SWITCHBOARD_DENY_CONNECT.", valueName: "rule"))
    var denyConnect: [String] = []

    func validate() throws {
        _ = try Settings(self)
    }

    func run() async throws {
        let settings = try Settings(self)
        // What belongs to the process, not to the service buildService builds.
        let journal = StderrLogHandler.stderrIsJournal()
        LoggingSystem.bootstrap { label in
            var handler = StderrLogHandler(label: label, journal: journal)
            handler.logLevel = settings.logLevel
            return handler
        }
        // One registry for everything the process measures; GET /metrics renders it.
        let metrics = PrometheusMetricsFactory.switchboard()
        MetricsSystem.bootstrap(metrics)
        // A file-size limit (ulimit -f) must fail writes, which the history survives, not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        try await buildService(settings, metrics: metrics).run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
