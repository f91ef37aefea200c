import Foundation
import SwitchboardTestSupport
import XCTest

/// The built binary with `--db postgres://...` against a throwaway server of the test's own:
/// two instances writing one history while both churn, a PostgreSQL restart under churn, and
/// what a start says about a bad URL, a wrong password or a server that is not there. Skipped
/// without PostgreSQL's programs, failed when CI is set.
final class PostgresFleetTests: XCTestCase {
    private func server(password: String? = nil) throws -> PostgresServer {
        guard let server = try PostgresServer.start(password: password) else {
            let missing = PostgresServer.missing ?? "no server"
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("CI is set and PostgreSQL is missing: \(missing)") }
            throw XCTSkip(missing)
        }
        return server
    }

    private func start(_ server: PostgresServer, instance: String, in directory: URL? = nil) async throws -> ServiceProcess {
        try await ServiceProcess.start(["--db", server.url, "--instance", instance, "--history-spool-mb", "4"], in: directory)
    }

    private static func churn(_ port: Int, _ count: Int) async throws {
        try await TestConnection.churn(port: port, count: count)
    }

    private func echoListener(_ service: ServiceProcess) async throws -> Int {
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echo","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        return Int((created["address"] as? String ?? "").split(separator: ":").last ?? "") ?? 0
    }

    func testTwoInstancesWriteOneHistoryWhileBothChurnAndEachRestoresItsOwn() async throws {
        let server = try server()
        defer { server.shutdown() }
        let a = try await start(server, instance: "site-a")
        let b = try await start(server, instance: "site-b")
        let (portA, portB) = (try await echoListener(a), try await echoListener(b))
        async let churnA: Void = Self.churn(portA, 400)
        async let churnB: Void = Self.churn(portB, 300)
        _ = try await (churnA, churnB)
        for service in [a, b] {
            service.signal(SIGTERM)
            let status = try await service.waitForExit()
            XCTAssertEqual(status, 0, service.output)
        }
        XCTAssertEqual(try server.sql("SELECT instance, count(*), count(DISTINCT id) FROM sessions WHERE state = 'closed' GROUP BY instance ORDER BY instance"),
                       "site-a|400|400\nsite-b|300|300\n", "each session once, under its own instance")
        XCTAssertEqual(try server.sql("SELECT count(*) FROM sessions"), "700\n")

        // Each comes back with its own listener "echo", on its own port.
        let a2 = try await start(server, instance: "site-a", in: a.directory)
        let b2 = try await start(server, instance: "site-b", in: b.directory)
        defer { Task { await a2.stop(); await b2.stop() } }
        for (service, port, instance) in [(a2, portA, "site-a"), (b2, portB, "site-b")] {
            let listeners = try await service.api.get("/v1/listeners")
            let list = listeners["listeners"] as? [[String: Any]] ?? []
            XCTAssertEqual(list.map { $0["address"] as? String }, ["127.0.0.1:\(port)"], listeners.text)
            let info = try await service.api.get("/v1/info")
            XCTAssertEqual(info["instance"] as? String, instance)
            // Both read the whole fleet's history; instance= narrows it.
            let mine = try await service.api.get("/v1/history?instance=\(instance)&limit=1")
            let row = (mine["sessions"] as? [[String: Any]])?.first
            XCTAssertEqual(row?["instance"] as? String, instance, mine.text)
        }
        let stats = try await a2.api.get("/v1/history/stats")
        XCTAssertEqual(stats["sessions"] as? Int, 700, stats.text)
        // A third service may not take an instance that is held.
        let (status, output) = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", server.url, "--instance", "site-a"])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("instance 'site-a' is held by another live switchboard"), output)
        XCTAssertTrue(output.contains("pid \(a2.process.processIdentifier)"), output)
    }

    /// PostgreSQL stopped for 5 s while sessions come and go, then started: the writer keeps
    /// what it could not write (the spool), `/readyz` says why it is not ready, and once the
    /// server is back every session is there, once.
    func testEverySessionIsThereAfterPostgresIsStoppedForFiveSecondsUnderChurn() async throws {
        let server = try server()
        defer { server.shutdown() }
        let service = try await start(server, instance: "restart")
        defer { Task { await service.stop() } }
        let port = try await echoListener(service)
        try await Self.churn(port, 200)
        try server.stop()
        let outage = ContinuousClock.now
        try await Self.churn(port, 300)
        try await eventually("/readyz to say the history cannot be written", timeout: .seconds(10)) {
            let ready = try await service.api.get("/readyz")
            return ready.status == 503 && ready.text.contains("PostgreSQL")
        }
        let ready = try await service.api.get("/readyz")
        XCTAssertTrue(ready.text.contains("127.0.0.1:\(server.port)"), ready.text)
        // The outage the scenario names: the server stays down for 5 s of churn.
        while ContinuousClock.now - outage < .seconds(5) { try await Self.churn(port, 20) }
        try server.start()
        try await eventually("the history to be written again", timeout: .seconds(30)) {
            (try await service.api.get("/readyz")).status == 200
        }
        try await Self.churn(port, 100)
        let info = try await service.api.get("/v1/info")
        let made = try XCTUnwrap(info["total_sessions"] as? Int, info.text)
        service.signal(SIGTERM)
        let status = try await service.waitForExit()
        XCTAssertEqual(status, 0, service.output)
        XCTAssertEqual(try server.sql("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE state = 'closed') FROM sessions"),
                       "\(made)|\(made)|\(made)\n", "every session the service had, once, closed")
        XCTAssertGreaterThanOrEqual(made, 600, "200 before, 300 and more during the outage, 100 after")
        XCTAssertFalse(service.output.contains("dropped_total"), service.output)
    }

    /// Sessions made while PostgreSQL is down wait in the spool; a SIGKILL then loses none of
    /// them: the next start replays them into PostgreSQL before it marks anything interrupted.
    func testASIGKILLLosesNothingTheSpoolHeld() async throws {
        let server = try server()
        defer { server.shutdown() }
        let first = try await start(server, instance: "killed")
        let port = try await echoListener(first)
        try server.stop()
        try await Self.churn(port, 300)
        let info = try await first.api.get("/v1/info")
        let made = try XCTUnwrap(info["total_sessions"] as? Int, info.text)
        XCTAssertEqual(made, 300)
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        try server.start()
        XCTAssertEqual(try server.sql("SELECT count(*) FROM sessions"), "0\n", "nothing reached the server while it was down")
        let second = try await start(server, instance: "killed", in: first.directory)
        defer { Task { await second.stop() } }
        XCTAssertEqual(try server.sql("SELECT count(*), count(*) FILTER (WHERE state = 'closed') FROM sessions"), "\(made)|\(made)\n", second.output)
        let listeners = try await second.api.get("/v1/listeners")
        XCTAssertEqual((listeners["listeners"] as? [[String: Any]])?.first?["address"] as? String, "127.0.0.1:\(port)", listeners.text)
    }

    func testABadURLAWrongPasswordOrNoServerStopsTheStartNamingWhatIsWrongAndNeverThePassword() async throws {
        let secret = "s3cret-\(UUID().uuidString.prefix(6))"
        let server = try server(password: secret)
        defer { server.shutdown() }
        func serve(_ db: String, environment: [String: String] = [:], _ extra: [String] = []) async throws -> (Int32, String) {
            try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--instance", "t"] + extra, environment: environment)
        }
        let cases: [(String, [String: String], [String], String)] = [
            ("postgres://127.0.0.1:\(server.port)/switchboard", [:], [], "names no user"),
            ("postgres://switchboard@127.0.0.1:99999/switchboard", [:], [], "port '99999'"),
            ("postgres://switchboard@127.0.0.1:\(server.port)/", [:], [], "names no database"),
            ("postgres://switchboard@127.0.0.1:\(server.port)/switchboard?sslmode=maybe", [:], [], "sslmode 'maybe'"),
            ("postgres://switchboard:wrong-\(secret)@127.0.0.1:\(server.port)/switchboard", [:], [], "password authentication failed"),
            ("postgres://switchboard@127.0.0.1:\(server.port)/switchboard", ["PGPASSWORD": "wrong-\(secret)"], [], "password authentication failed"),
            ("postgres://switchboard@127.0.0.1:\(server.port)/switchboard", [:], [], "asks for a password"),
            ("postgres://switchboard:\(secret)@127.0.0.1:\(server.port)/nosuchdb", [:], [], "database \"nosuchdb\" does not exist"),
        ]
        for (db, environment, extra, expected) in cases {
            let (status, output) = try await serve(db, environment: environment, extra)
            XCTAssertNotEqual(status, 0, "\(db): \(output)")
            XCTAssertTrue(output.contains(expected), "\(db): expected '\(expected)' in: \(output)")
            XCTAssertFalse(output.contains(secret), "the password in the output: \(output)")
        }
        // Nothing listens on a port that a server just gave up.
        let gone = try PostgresServer.start()
        let port = try XCTUnwrap(gone).port
        gone?.shutdown()
        let (status, output) = try await serve("postgres://switchboard:\(secret)@127.0.0.1:\(port)/switchboard")
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("cannot reach PostgreSQL at 127.0.0.1:\(port)"), output)
        XCTAssertTrue(output.contains("refused"), output)
        XCTAssertFalse(output.contains(secret), output)

        // The right password, from the URL, the environment or a file: it starts, and no line
        // it logs (at debug, every session included) holds the password.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString.prefix(6))")
        try "\(secret)\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for (extra, environment) in [(["--db-password-file", file.path], [String: String]()), ([], ["PGPASSWORD": secret])] {
            let service = try await ServiceProcess.start(["--db", server.url, "--instance", "t", "--log-level", "debug"] + extra, environment: environment)
            let info = try await service.api.get("/v1/info")
            let history = info["history"] as? [String: Any]
            XCTAssertEqual(history?["file"] as? String, server.url, info.text)
            service.signal(SIGTERM)
            _ = try await service.waitForExit()
            XCTAssertFalse(service.output.contains(secret), service.output)
            await service.stop()
        }
        let withURL = try await ServiceProcess.start(["--db", "postgres://switchboard:\(secret)@127.0.0.1:\(server.port)/switchboard", "--instance", "u", "--log-level", "debug"])
        let info = try await withURL.api.get("/v1/info")
        XCTAssertFalse(info.text.contains(secret), info.text)
        withURL.signal(SIGTERM)
        _ = try await withURL.waitForExit()
        XCTAssertFalse(withURL.output.contains(secret), withURL.output)
        await withURL.stop()
    }

    /// `switchboard history --db postgres://...` reads the fleet's history as the API does.
    func testTheCommandLineReadsTheFleetsHistory() async throws {
        let server = try server()
        defer { server.shutdown() }
        let service = try await start(server, instance: "cli")
        let port = try await echoListener(service)
        try await Self.churn(port, 20)
        service.signal(SIGTERM)
        _ = try await service.waitForExit()
        await service.stop()
        let (status, output) = try await runSwitchboard(["history", "--db", server.url, "--instance", "cli", "-o", "csv"])
        XCTAssertEqual(status, 0, output)
        let lines = output.split(separator: "\n")
        XCTAssertEqual(lines.count, 21, output)
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0.hasSuffix(",cli") }, output)
    }
}
