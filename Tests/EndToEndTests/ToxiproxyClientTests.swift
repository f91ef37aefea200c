import Foundation
import SwitchboardTestSupport
import XCTest

/// Toxiproxy's own clients, from PyPI and written by nobody here (toxiproxy-python 0.1.1,
/// chaostoolkit-toxiproxy 0.3.1, pinned in `.ci/run`'s venv under `.build/toxiproxy-clients`),
/// driving the built binary's `--toxiproxy-api` through everything they offer: the scripts in
/// `Toxiproxy/` measure each toxic's effect through the proxy, and check what the main API sees.
final class ToxiproxyClientTests: XCTestCase {
    static let packages = ["toxiproxy-python==0.1.1", "chaostoolkit-toxiproxy==0.3.1"]
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Toxiproxy")

    func testToxiproxyPythonDrivesEveryProxyAndToxic() async throws {
        let python = try Self.python()
        let service = try await Self.start()
        defer { Task { await service.stop() } }
        let (status, output) = try await Self.run(python, "toxiproxy_python_client.py", ["run", "\(try service.toxiproxyPort())", "\(service.apiPort!)"])
        XCTAssertEqual(status, 0, "toxiproxy-python against switchboard:\n\(output)\n\nthe service's log:\n\(service.output.suffix(3000))")
        XCTAssertTrue(output.contains("18 checks passed, 0 failed"), output)
    }

    func testChaosToolkitDrivesEveryActionAndProbe() async throws {
        let python = try Self.python()
        let service = try await Self.start()
        defer { Task { await service.stop() } }
        let (status, output) = try await Self.run(python, "chaostoolkit_client.py", ["\(try service.toxiproxyPort())", "\(service.apiPort!)"])
        XCTAssertEqual(status, 0, "chaostoolkit-toxiproxy against switchboard:\n\(output)\n\nthe service's log:\n\(service.output.suffix(3000))")
        XCTAssertTrue(output.contains("15 checks passed, 0 failed"), output)
    }

    /// What Toxiproxy never kept: proxies, their toxics and a disabled proxy's state come back
    /// after the service is killed and started again on the same history file.
    func testProxiesAndToxicsSurviveASIGKILLRestart() async throws {
        let python = try Self.python()
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let first = try await Self.start()
        let made = try await Self.run(python, "toxiproxy_python_client.py", ["make-for-restart", "\(try first.toxiproxyPort())", "\(first.apiPort!)", "\(upstream.port)"])
        XCTAssertEqual(made.status, 0, made.output)
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        let second = try await Self.start(in: first.directory)
        defer { Task { await second.stop() } }
        let checked = try await Self.run(python, "toxiproxy_python_client.py", ["check-after-restart", "\(try second.toxiproxyPort())", "\(second.apiPort!)", "\(upstream.port)"])
        XCTAssertEqual(checked.status, 0, "after the restart:\n\(checked.output)\n\nthe service's log:\n\(second.output.suffix(3000))")
        let listen = { (output: String) in output.split(separator: "\n").first { $0.hasPrefix("listen ") } }
        XCTAssertNotNil(listen(made.output))
        XCTAssertEqual(listen(made.output), listen(checked.output), "the proxy listens where it did")
    }

    /// Its clients send no token, so a token file does not let it off loopback; the flag and
    /// the environment alike.
    func testServeRefusesAToxiproxyAPIOffLoopbackTokenOrNot() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-toxi-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = folder.appendingPathComponent("token").path
        try "a-token".write(toFile: token, atomically: true, encoding: .utf8)
        let db = folder.appendingPathComponent("h.sqlite3").path
        let flag = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--token-file", token, "--toxiproxy-api", "0.0.0.0:0"])
        XCTAssertNotEqual(flag.status, 0)
        XCTAssertTrue(flag.output.contains("refusing to serve the Toxiproxy API on 0.0.0.0:0"), flag.output)
        let environment = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db], environment: ["SWITCHBOARD_TOXIPROXY_API": "[::]:0"])
        XCTAssertNotEqual(environment.status, 0)
        XCTAssertTrue(environment.output.contains("refusing to serve the Toxiproxy API on [::]:0"), environment.output)
        let bad = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--toxiproxy-api", "8474"])
        XCTAssertEqual(bad.status, 2, "a usage error: \(bad.output)")
        XCTAssertTrue(bad.output.contains("--toxiproxy-api / SWITCHBOARD_TOXIPROXY_API"), bad.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "refused before the history file is made")
    }

    static func start(in directory: URL? = nil) async throws -> ServiceProcess {
        let service = try await ServiceProcess.start(["--toxiproxy-api", "127.0.0.1:0"], in: directory)
        try await eventually("the Toxiproxy API address in the log:\n\(service.output)") { (try? service.toxiproxyPort()) != nil }
        return service
    }

    /// The venv's python with both clients, or a skip (a failure when `CI` is set).
    static func python() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".build/toxiproxy-clients/bin/python")
        let site = root.appendingPathComponent(".build/toxiproxy-clients/lib")
        let installed = (try? FileManager.default.subpathsOfDirectory(atPath: site.path)) ?? []
        guard FileManager.default.isExecutableFile(atPath: python.path),
              installed.contains(where: { $0.hasSuffix("toxiproxy/server.py") }), installed.contains(where: { $0.hasSuffix("chaostoxi/toxiproxyapi.py") }) else {
            let install = "python3 -m venv .build/toxiproxy-clients && .build/toxiproxy-clients/bin/pip install \(packages.joined(separator: " ")) (`bash .ci/run` does it)"
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("the Toxiproxy clients are not installed, and CI is set: \(install)")
                throw XCTSkip("not installed")
            }
            throw XCTSkip("the Toxiproxy clients are not installed; to run this test: \(install)")
        }
        return python
    }

    static func run(_ python: URL, _ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = python
        process.arguments = [scripts.appendingPathComponent(script).path] + arguments
        process.currentDirectoryURL = scripts
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = LineCollector(pipe)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        try await eventually("\(script) to finish:\n\(output.text)", timeout: .seconds(300)) { !process.isRunning }
        try await eventually("\(script)'s output") { output.closed }
        return (process.terminationStatus, output.text)
    }
}

extension ServiceProcess {
    /// The port of `--toxiproxy-api 127.0.0.1:0`, from the log line that names it.
    func toxiproxyPort() throws -> Int {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Toxiproxy API listening on ") }),
              let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw TimedOut("no Toxiproxy API address in the log yet")
        }
        return port
    }
}
