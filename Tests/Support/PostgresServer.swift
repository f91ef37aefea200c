#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A throwaway PostgreSQL server for one test: initdb in a temporary folder, started on a free
/// 127.0.0.1 port (and a unix socket in the folder), stopped and removed by `shutdown()`. As
/// root, its programs run as the `postgres` user Debian's package creates (they refuse root).
/// `fsync=off`: a test's server loses nothing it was told to keep unless the machine dies.
public final class PostgresServer: @unchecked Sendable {
    // @unchecked: its state changes only from the test that owns it, one call at a time.
    public let folder: URL
    public let port: Int
    public let user = "switchboard"
    public let database = "switchboard"
    /// Set: logins over TCP need it (scram-sha-256); nil: every login is trusted.
    public let password: String?
    private let bin: URL
    private var running = false

    /// The URL for `--db`, without the password.
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// Where initdb, pg_ctl, createdb and psql are: Debian's /usr/lib/postgresql/VERSION/bin
    /// (the newest), else a folder on PATH that has all four.
    public static var binaries: URL? {
        let programs = ["initdb", "pg_ctl", "createdb", "psql"]
        func complete(_ folder: String) -> Bool { programs.allSatisfy { FileManager.default.isExecutableFile(atPath: "\(folder)/\($0)") } }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where complete("/usr/lib/postgresql/\(version)/bin") {
            return URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map(String.init).first(where: complete).map { URL(fileURLWithPath: $0) }
    }

    /// Why the tests that need a server cannot run here; nil when they can.
    public static var missing: String? {
        binaries == nil ? "PostgreSQL's initdb and pg_ctl are not on PATH nor under /usr/lib/postgresql/*/bin (apt-get install postgresql)" : nil
    }

    /// A new cluster, started; nil without PostgreSQL's programs.
    public static func start(password: String? = nil) throws -> PostgresServer? {
        guard let bin = binaries else { return nil }
        let server = try PostgresServer(bin: bin, password: password)
        do {
            try server.start()
        } catch {
            server.shutdown()
            throw error
        }
        return server
    }

    private init(bin: URL, password: String?) throws {
        self.bin = bin
        self.password = password
        folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("switchboard-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = try Self.freePort()
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", folder.path]) }
        var arguments = ["-D", data, "-U", user, "-E", "UTF8", "--locale=C", "--auth-local=trust", "--no-sync"]
        if let password {
            let file = folder.appendingPathComponent("pwfile").path
            try password.write(toFile: file, atomically: true, encoding: .utf8)
            if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", file]) }
            arguments += ["--auth-host=scram-sha-256", "--pwfile", file]
        } else {
            arguments += ["--auth-host=trust"]
        }
        try asPostgres("initdb", arguments)
        try """
            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = '\(folder.path)'
            fsync = off
            max_connections = 100
            """.write(toFile: data + "/postgresql.auto.conf", atomically: true, encoding: .utf8)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", data + "/postgresql.auto.conf"]) }
    }

    private var data: String { folder.appendingPathComponent("data").path }

    /// Starts the server and waits until it takes connections (pg_ctl -w); the database is
    /// created the first time.
    public func start() throws {
        running = true
        try asPostgres("pg_ctl", ["-D", data, "-l", folder.appendingPathComponent("log").path, "-w", "-t", "60", "start"])
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("created").path) {
            try asPostgres("createdb", ["-h", folder.path, "-p", String(port), "-U", user, database])
            _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("created").path, contents: nil)
        }
    }

    /// Stops it (fast: open connections are ended, what was committed is kept).
    public func stop() throws {
        guard running else { return }
        try asPostgres("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
        running = false
    }

    /// `psql -c SQL` as the cluster's owner, over its unix socket; the rows as text, one a line.
    public func sql(_ statement: String, database: String? = nil) throws -> String {
        try asPostgres("psql", ["-h", folder.path, "-p", String(port), "-U", user, "-d", database ?? self.database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", statement])
    }

    /// Stops the server and removes its folder.
    public func shutdown() {
        try? stop()
        try? FileManager.default.removeItem(at: folder)
    }

    @discardableResult
    private func asPostgres(_ program: String, _ arguments: [String]) throws -> String {
        let path = bin.appendingPathComponent(program).path
        if getuid() == 0 { return try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) }
        return try Self.run(path, arguments)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// posix_spawn and waitpid, not Foundation's Process: its wait never ends for pg_ctl here,
    /// and its output goes to a file, since the server pg_ctl starts keeps what it inherited
    /// open for its life (a pipe would never reach its end).
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let outputPath = "/tmp/switchboard-pg-output-\(UUID().uuidString.prefix(8))"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot run \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(text)")
        }
        return text
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw Failure(description: "cannot bind a free port: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
