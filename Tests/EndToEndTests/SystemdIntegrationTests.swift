import Foundation
import SwitchboardTestSupport
import XCTest

/// The binary as systemd runs it: the notify protocol against a socket the test owns, the
/// environment file's variables, and the files in deploy/ checked by systemd's own tools.
final class SystemdIntegrationTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func sinkPath() throws -> (URL, String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-sd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return (folder, folder.appendingPathComponent("notify").path)
    }

    func testReadyAfterTheAPIAnswersWatchdogPingsAndStopping() async throws {
        let (folder, path) = try sinkPath()
        let sink = try DatagramSink(path: path)
        defer { sink.close() }
        let service = try await ServiceProcess.start(in: folder, environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"])
        defer { Task { await service.stop() } }
        try await eventually("READY=1") { sink.messages.contains { $0.hasPrefix("READY=1") } }
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        let readyIndex = sink.messages.firstIndex { $0.hasPrefix("READY=1") }!
        XCTAssertTrue(sink.messages[..<readyIndex].contains { $0.contains("STATUS=restoring saved listeners") }, "\(sink.messages)")
        XCTAssertTrue(sink.messages[readyIndex].contains("STATUS=serving the API on 127.0.0.1:"), sink.messages[readyIndex])

        // Pings at half of WATCHDOG_USEC: about ten a second.
        let before = sink.messages.filter { $0 == "WATCHDOG=1" }.count
        let started = ContinuousClock.now
        try await eventually("five watchdog pings") { sink.messages.filter { $0 == "WATCHDOG=1" }.count >= before + 5 }
        let elapsed = ContinuousClock.now - started
        XCTAssertGreaterThan(elapsed, .milliseconds(300), "not faster than every 100 ms")

        service.signal(SIGTERM)
        let status = try await service.waitForExit()
        XCTAssertEqual(status, 0)
        XCTAssertTrue(sink.messages.contains { $0.hasPrefix("STOPPING=1") }, "\(sink.messages)")
    }

    /// The test owns the listening socket, as systemd would: a small wrapper binds it, moves it
    /// to fd 3, sets LISTEN_FDS for its own pid and execs the binary in its place.
    func testServesTheAPIOnAnInheritedSocket() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-activation-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // --api names an address that is taken: with an inherited socket it must not be bound.
        let service = try ServiceProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", try ServiceProcess.socketActivationWrapper(in: folder), ServiceProcess.binary.path, "serve", "--api", "127.0.0.1:1", "--db", folder.appendingPathComponent("h.sqlite3").path],
            directory: folder
        )
        defer { Task { await service.stop() } }
        try await eventually("the API on the inherited socket:\n\(service.output)") { service.apiPort != nil || !service.process.isRunning }
        XCTAssertTrue(service.output.contains("serving the API on the socket systemd passed"), service.output)
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let missing = try await service.api.get("/v1/listeners/nope")
        XCTAssertEqual(missing.errorCode, "not_found", "the same API, errors included")
        service.signal(SIGTERM)
        let status = try await service.waitForExit()
        XCTAssertEqual(status, 0, service.output)
    }

    func testLogLinesCarrySyslogPrioritiesWhenStderrIsTheJournal() async throws {
        let journal = try await ServiceProcess.start(environment: ["JOURNAL_STREAM": "<stderr>"])
        defer { Task { await journal.stop() } }
        let created = try await journal.api.post("/v1/listeners", json: #"{"name":"x","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201)
        try await eventually("the listener's log line") { journal.output.contains("<6>info listener created") }
        let lines = journal.output.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("<5>notice control API listening on") }, journal.output)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("<") }, "every line has a priority and no timestamp:\n\(journal.output)")

        let plain = try await ServiceProcess.start()
        defer { Task { await plain.stop() } }
        let first = try XCTUnwrap(plain.output.split(separator: "\n").first)
        XCTAssertNotNil(RFC3339Prefix.match(first), "plain lines start with a time: \(first)")
    }

    func testSilentWithoutNotifySocket() async throws {
        let (folder, path) = try sinkPath()
        let sink = try DatagramSink(path: path)
        defer { sink.close() }
        let service = try await ServiceProcess.start(in: folder, environment: ["WATCHDOG_USEC": "200000"])
        defer { Task { await service.stop() } }
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        service.signal(SIGTERM)
        _ = try await service.waitForExit()
        XCTAssertEqual(sink.messages, [])
    }

    func testTheEnvironmentConfiguresAndFlagsWin() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-env-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let dbFromEnv = folder.appendingPathComponent("from-env.sqlite3").path
        // ServiceProcess.start passes --db and --api: the flags must win over these.
        let service = try await ServiceProcess.start(in: folder, environment: ["SWITCHBOARD_DB": dbFromEnv, "SWITCHBOARD_API": "127.0.0.1:1", "SWITCHBOARD_LOG_LEVEL": "notice"])
        defer { Task { await service.stop() } }
        let info = try await service.api.get("/v1/info")
        XCTAssertEqual((info["history"] as? [String: Any])?["file"] as? String, service.historyFile)
        XCTAssertFalse(service.output.contains(" info "), "SWITCHBOARD_LOG_LEVEL=notice hides info lines:\n\(service.output)")

        // Without the flags, the environment decides.
        let alone = try ServiceProcess(arguments: ["serve"], directory: folder, environment: ["SWITCHBOARD_DB": dbFromEnv, "SWITCHBOARD_API": "127.0.0.1:0"])
        defer { Task { await alone.stop() } }
        try await eventually("the API") { alone.apiPort != nil }
        let aloneInfo = try await alone.api.get("/v1/info")
        XCTAssertEqual((aloneInfo["history"] as? [String: Any])?["file"] as? String, dbFromEnv)

        let bad = try await runSwitchboard(["serve", "--db", dbFromEnv], environment: ["SWITCHBOARD_RETAIN_DAYS": "soon"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("SWITCHBOARD_RETAIN_DAYS"), bad.output)
        let help = try await runSwitchboard(["serve", "--help"])
        for variable in ["SWITCHBOARD_API", "SWITCHBOARD_DB", "SWITCHBOARD_LOG_LEVEL"] { XCTAssertTrue(help.output.contains(variable), variable) }
    }

    func testUnitsPassSystemdAnalyzeAndTheHardeningScore() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            throw XCTSkip("systemd-analyze is not installed (.ci/run installs it)")
        }
        // verify wants the ExecStart binary to exist: point a copy of the unit at the built one.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-units-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let unit = try String(contentsOf: Self.root.appendingPathComponent("deploy/switchboard.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/switchboard", with: ServiceProcess.binary.path)
        let copy = folder.appendingPathComponent("switchboard.service")
        try unit.write(to: copy, atomically: true, encoding: .utf8)

        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("deploy/switchboard.socket"), to: folder.appendingPathComponent("switchboard.socket"))
        let verify = try run("/usr/bin/systemd-analyze", ["verify", copy.path, folder.appendingPathComponent("switchboard.socket").path])
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertFalse(verify.output.contains("switchboard."), "verify is clean:\n\(verify.output)")

        let security = try run("/usr/bin/systemd-analyze", ["security", "--offline=true", copy.path])
        let line = try XCTUnwrap(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, security.output)
        let score = try XCTUnwrap(line.split(separator: " ").compactMap { Double($0) }.first, String(line))
        XCTAssertLessThanOrEqual(score, 1.5, String(line))
    }

    func testInstallIntoDESTDIRAndUninstall() throws {
        let destdir = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-destdir-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: destdir) }
        let script = Self.root.appendingPathComponent("deploy/install.sh").path
        let environment = ["DESTDIR": destdir.path, "PREFIX": "/usr", "BINARY": ServiceProcess.binary.path]
        let first = try run(script, ["--no-build"], environment: environment)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("systemctl daemon-reload"), first.output)
        let expected = ["usr/bin/switchboard", "etc/systemd/system/switchboard.service", "etc/systemd/system/switchboard.socket", "etc/switchboard/switchboard.env",
                        "usr/share/doc/switchboard/README.md", "usr/share/doc/switchboard/switchboard.env.example"]
        for file in expected {
            XCTAssertTrue(FileManager.default.fileExists(atPath: destdir.appendingPathComponent(file).path), file)
        }
        let unit = try String(contentsOf: destdir.appendingPathComponent("etc/systemd/system/switchboard.service"), encoding: .utf8)
        XCTAssertTrue(unit.contains("ExecStart=/usr/bin/switchboard serve"), "the unit follows PREFIX")

        // An edited env file survives a second install.
        let env = destdir.appendingPathComponent("etc/switchboard/switchboard.env")
        try "SWITCHBOARD_API=127.0.0.1:9999\n".write(to: env, atomically: true, encoding: .utf8)
        let second = try run(script, ["--no-build"], environment: environment)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(try String(contentsOf: env, encoding: .utf8), "SWITCHBOARD_API=127.0.0.1:9999\n")

        let removed = try run(script, ["--uninstall"], environment: environment)
        XCTAssertEqual(removed.status, 0, removed.output)
        // Told to disable the units before they are gone, not after.
        let disable = try XCTUnwrap(removed.output.range(of: "systemctl disable --now"), removed.output)
        let gone = try XCTUnwrap(removed.output.range(of: "removed switchboard"), removed.output)
        XCTAssertLessThan(disable.lowerBound, gone.lowerBound, removed.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: destdir.appendingPathComponent("usr/bin/switchboard").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: env.path), "the operator's env file stays")
    }

    private func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try runProgram(executable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }
}

enum RFC3339Prefix {
    /// "2026-11-26T05:34:03.123Z ..." → the time, if the line starts with one.
    static func match(_ line: Substring) -> Substring? {
        guard line.count > 24 else { return nil }
        let prefix = line.prefix(24)
        return prefix.hasSuffix("Z") && prefix.dropFirst(10).first == "T" ? prefix : nil
    }
}
