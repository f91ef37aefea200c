import Logging
import SwitchboardAPI
import SwitchboardCore
import SwitchboardHistory

/// Everything the service is built from (`buildService(_:)`). The defaults are the service's;
/// `switchboard serve` overrides them from its flags and environment.
public struct Settings: Sendable {
    /// Where the API listens unless systemd passes its socket.
    public var api: Endpoint
    /// Where Toxiproxy's HTTP API listens (its clients' customary port is 8474); nil: not served.
    public var toxiproxyAPI: Endpoint?
    /// The session history: a SQLite file's path, or a `postgres://` URL.
    public var db: String
    /// For a PostgreSQL `db` whose URL has no password: the file holding it (else `PGPASSWORD`).
    public var dbPasswordFile: String?
    /// The name this service's sessions and listeners are recorded under.
    public var instance: String
    /// The session spool's file; nil: beside a SQLite file, `./switchboard-INSTANCE.spool` for
    /// PostgreSQL.
    public var spool: String?
    /// The spool's size; 0 runs without one.
    public var historySpoolMB: Int
    public var retainDays: Int?
    public var retainSessions: Int?
    public var captureLimit: Int
    public var eventLimits: EventHub.Limits
    public var logLevel: Logger.Level
    public var eventLoops: Int
    /// nil: what the file-descriptor limit leaves for sessions.
    public var maxSessions: Int?
    public var maxListeners: Int
    public var maxLongPolls: Int
    public var maxUnsentBytes: Int
    public var apiLimits: APILimits
    public var tokenFile: String?
    public var insecureBind: Bool
    public var outboundPolicy: OutboundPolicy

    public init(
        api: Endpoint = .host("127.0.0.1", port: 7700),
        toxiproxyAPI: Endpoint? = nil,
        db: String = "./switchboard.sqlite3",
        dbPasswordFile: String? = nil,
        instance: String = InstanceName.default,
        spool: String? = nil,
        historySpoolMB: Int = SessionSpool.defaultBytes >> 20,
        retainDays: Int? = nil,
        retainSessions: Int? = nil,
        captureLimit: Int = Switchboard.defaultCaptureLimit,
        eventLimits: EventHub.Limits = .init(),
        logLevel: Logger.Level = .info,
        eventLoops: Int = EventLoopCount.usableCPUs(),
        maxSessions: Int? = nil,
        maxListeners: Int = Switchboard.Limits().maxListeners,
        maxLongPolls: Int = Switchboard.Limits().maxLongPollsPerSession,
        maxUnsentBytes: Int = Switchboard.Limits.defaultMaxUnsentBytesPerSession,
        apiLimits: APILimits = .init(),
        tokenFile: String? = nil,
        insecureBind: Bool = false,
        outboundPolicy: OutboundPolicy = .allowAll
    ) {
        self.api = api
        self.toxiproxyAPI = toxiproxyAPI
        self.db = db
        self.dbPasswordFile = dbPasswordFile
        self.instance = instance
        self.spool = spool
        self.historySpoolMB = historySpoolMB
        self.retainDays = retainDays
        self.retainSessions = retainSessions
        self.captureLimit = captureLimit
        self.eventLimits = eventLimits
        self.logLevel = logLevel
        self.eventLoops = eventLoops
        self.maxSessions = maxSessions
        self.maxListeners = maxListeners
        self.maxLongPolls = maxLongPolls
        self.maxUnsentBytes = maxUnsentBytes
        self.apiLimits = apiLimits
        self.tokenFile = tokenFile
        self.insecureBind = insecureBind
        self.outboundPolicy = outboundPolicy
    }
}
