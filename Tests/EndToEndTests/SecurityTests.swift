import Foundation
import SwitchboardTestSupport
import XCTest

/// The built binary with a token file, SIGHUP rotation, exposure checks and the outbound policy.
final class SecurityTests: XCTestCase {
    private func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-sec-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private func info(_ api: HTTPClient, token: String?) async throws -> Int {
        try await api.request("GET", "/v1/info", extraHeaders: token.map { [("Authorization", "Bearer \($0)")] } ?? []).status
    }

    func testTheTokenIsRequiredRotatedOnSIGHUPAndNeverLogged() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenFile = folder.appendingPathComponent("token").path
        let first = "first-Token-7f3a9c2e51"
        let second = "second-Token-0b8d4e6f27"
        try "\(first)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        // The most verbose log there is: still no token in it.
        let service = try await ServiceProcess.start(["--token-file", tokenFile, "--log-level", "trace"])
        defer { Task { await service.stop() } }
        let api = service.api

        let status1 = try await info(api, token: nil)
        XCTAssertEqual(status1, 401)
        let status2 = try await info(api, token: "wrong")
        XCTAssertEqual(status2, 401)
        let status3 = try await info(api, token: first)
        XCTAssertEqual(status3, 200)
        let health = try await api.get("/healthz")
        XCTAssertEqual(health.status, 200)
        let ready = try await api.get("/readyz")
        XCTAssertEqual(ready.status, 200)
        let unknown = try await api.get("/v1/secret-path")
        XCTAssertEqual(unknown.status, 401, "an unknown path without the token is not a 404")

        try "  \(second)  \n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        service.signal(SIGHUP)
        try await eventually("the new token to work") { try await self.info(api, token: second) == 200 }
        let status4 = try await info(api, token: first)
        XCTAssertEqual(status4, 401, "the old token stops working")

        // A bad re-read keeps the token in use and says so.
        try "\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        service.signal(SIGHUP)
        try await eventually("the failed re-read in the log") { service.output.contains("could not be re-read") }
        let status5 = try await info(api, token: second)
        XCTAssertEqual(status5, 200)
        XCTAssertTrue(service.process.isRunning)

        service.signal(SIGTERM)
        let status = try await service.waitForExit()
        XCTAssertEqual(status, 0, service.output)
        XCTAssertTrue(service.output.contains("API token was re-read"), service.output)
        for token in [first, second] {
            XCTAssertFalse(service.output.contains(token), "the token is in the log:\n\(service.output)")
        }
    }

    func testANonLoopbackAPINeedsATokenOrInsecureBind() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("h.sqlite3").path
        let refused = try await runSwitchboard(["serve", "--api", "0.0.0.0:0", "--db", db])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("refusing to serve the API on 0.0.0.0:0 without a token"), refused.output)
        XCTAssertTrue(refused.output.contains("--insecure-bind"), refused.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing is created before the refusal")
        let fromEnvironment = try await runSwitchboard(["serve", "--db", db], environment: ["SWITCHBOARD_API": "[::]:0"])
        XCTAssertEqual(fromEnvironment.status, 1, fromEnvironment.output)

        // Loopback in any spelling needs no token.
        for address in ["127.0.0.2:0", "localhost:0"] {
            let local = try await ServiceProcess.start(["--api", address])
            await local.stop()
        }
        let insecure = try await ServiceProcess.start(["--api", "0.0.0.0:0", "--insecure-bind"])
        let answer = try await insecure.api.get("/v1/info")
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(insecure.output.contains("the API needs no token"), insecure.output)
        await insecure.stop()

        let tokenFile = folder.appendingPathComponent("token").path
        try "tok-123456".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let withToken = try await ServiceProcess.start(["--api", "0.0.0.0:0"], environment: ["SWITCHBOARD_TOKEN_FILE": tokenFile])
        defer { Task { await withToken.stop() } }
        let status6 = try await info(withToken.api, token: nil)
        XCTAssertEqual(status6, 401)
        let status7 = try await info(withToken.api, token: "tok-123456")
        XCTAssertEqual(status7, 200)
    }

    func testAMissingOrEmptyTokenFileStopsTheStart() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("h.sqlite3").path
        let missing = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--token-file", folder.appendingPathComponent("nope").path])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("cannot read the token file"), missing.output)
        let empty = folder.appendingPathComponent("empty").path
        try " \n".write(toFile: empty, atomically: true, encoding: .utf8)
        let blank = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--token-file", empty])
        XCTAssertEqual(blank.status, 1, blank.output)
        XCTAssertTrue(blank.output.contains("is empty"), blank.output)
        let badRule = try await runSwitchboard(["serve", "--api", "127.0.0.1:0", "--db", db, "--deny-connect", "10.0.0.0/8:99999"])
        XCTAssertNotEqual(badRule.status, 0)
        XCTAssertTrue(badRule.output.contains("10.0.0.0/8:99999"), badRule.output)
    }

    func testAUnixSocketAPIIsForOwnerAndGroupOnly() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let socket = folder.appendingPathComponent("api.sock").path
        let service = try ServiceProcess(arguments: ["serve", "--api", "unix:\(socket)", "--db", folder.appendingPathComponent("h.sqlite3").path], directory: folder)
        defer { Task { await service.stop(keepingFiles: true) } }
        try await eventually("the API socket") { service.output.contains("control API listening on unix:\(socket)") }
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o660)
        let health = try await HTTPClient(unixPath: socket).get("/healthz")
        XCTAssertEqual(health.status, 200)
    }

    func testTheOutboundPolicyFromTheEnvironment() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let service = try await ServiceProcess.start([], environment: ["SWITCHBOARD_DENY_CONNECT": "127.0.0.0/8:\(upstream.port),9 [::1]/128"])
        defer { Task { await service.stop() } }
        let refused = try await service.api.post("/v1/sessions", json: #"{"connect":"localhost:\#(upstream.port)"}"#)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertTrue(refused.text.contains("is denied by --deny-connect"), refused.text)
        XCTAssertEqual(upstream.accepted, 0)
    }
}
