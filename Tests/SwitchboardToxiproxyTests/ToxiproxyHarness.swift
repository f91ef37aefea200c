import Foundation
import NIOPosix
import SwitchboardCore
import SwitchboardService
import SwitchboardTestSupport
import XCTest

/// The two APIs of one service as `serve` builds it (`--toxiproxy-api 127.0.0.1:0`), on real
/// sockets, with a history file in a temporary folder.
struct ToxiproxyHarness {
    /// Toxiproxy's API.
    let toxi: HTTPClient
    /// The main control API.
    let api: HTTPClient
    let switchboard: Switchboard
}

func withToxiproxy(folder given: URL? = nil, _ body: (ToxiproxyHarness) async throws -> Void) async throws {
    let folder = given ?? FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-toxi-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { if given == nil { try? FileManager.default.removeItem(at: folder) } }
    let settings = Settings(
        api: .host("127.0.0.1", port: 0), toxiproxyAPI: .host("127.0.0.1", port: 0), db: folder.appendingPathComponent("history.sqlite3").path,
        historySpoolMB: 1, logLevel: .warning
    )
    // The shared loops, never shut down, as the main API's tests do (see their harness).
    let service = try await buildService(settings, environment: [:], eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await service.run() }
        defer { group.cancelAll() }
        try await eventually("both APIs to listen") { service.apiAddress?.port != nil && service.toxiproxyAddress?.port != nil }
        let harness = ToxiproxyHarness(
            toxi: HTTPClient(port: service.toxiproxyAddress!.port!), api: HTTPClient(port: service.apiAddress!.port!), switchboard: service.switchboard
        )
        let outcome: Result<Void, any Error>
        do {
            try await body(harness)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await service.serviceGroup.triggerGracefulShutdown()
        try await group.next()
        try outcome.get()
    }
}

extension HTTPClient {
    func patch(_ path: String, json: String) async throws -> HTTPResult {
        try await request("PATCH", path, body: Array(json.utf8))
    }
}

extension HTTPResult {
    /// The body as any JSON value (Toxiproxy answers arrays too).
    var value: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    var array: [[String: Any]] { value as? [[String: Any]] ?? [] }

    /// Toxiproxy's error shape: `{"error": message, "status": N}` with N the HTTP status.
    func assertError(_ status: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(self.status, status, text, file: file, line: line)
        XCTAssertEqual(self["error"] as? String, message, text, file: file, line: line)
        XCTAssertEqual(self["status"] as? Int, status, text, file: file, line: line)
    }

    /// The port of a proxy's `listen`.
    var listenPort: Int { Int((self["listen"] as? String ?? "").split(separator: ":").last ?? "") ?? 0 }
}

/// Whether connecting to a port on loopback is refused (nothing listens).
func connectionRefused(_ port: Int) async -> Bool {
    do {
        let connection = try await TestConnection.connect(port: port)
        await connection.close()
        return false
    } catch {
        return true
    }
}
