import Foundation
import SwitchboardAPI
import SwitchboardTestSupport
import XCTest

/// `serve --token-file`: the bearer token in front of every endpoint but the health checks.
final class AuthAPITests: XCTestCase {
    private let secret = "s3cret-Token_0123456789"

    private func get(_ api: HTTPClient, _ path: String, authorization: String? = nil) async throws -> HTTPResult {
        try await api.request("GET", path, extraHeaders: authorization.map { [("Authorization", $0)] } ?? [])
    }

    func testEveryEndpointAndUnknownPathsNeedTheToken() async throws {
        try await withAPIContext(token: APIToken(Array(secret.utf8))) { api, _ in
            let requests: [(String, String, String?)] = [
                ("GET", "/v1/info", nil), ("GET", "/v1/listeners", nil), ("GET", "/v1/sessions", nil), ("GET", "/v1/history", nil),
                ("GET", "/v1/events", nil), ("GET", "/metrics", nil), ("GET", "/no/such/path", nil), ("DELETE", "/v1/listeners/x", nil),
                ("POST", "/v1/sessions", #"{"connect":"127.0.0.1:9"}"#), ("POST", "/v1/listeners", #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#),
            ]
            for (method, path, body) in requests {
                for authorization in [nil, "Bearer wrong", "Bearer \(secret)x", "Bearer \(secret.dropLast())", "Basic \(secret)", secret, "Bearer", "Bearer "] as [String?] {
                    let answer = try await api.request(method, path, body: body.map { Array($0.utf8) }, extraHeaders: authorization.map { [("Authorization", $0)] } ?? [])
                    let what = "\(method) \(path) with \(authorization ?? "no header")"
                    XCTAssertEqual(answer.status, 401, "\(what): \(answer.text)")
                    XCTAssertEqual(answer.errorCode, "unauthorized", what)
                    XCTAssertTrue(answer.header("WWW-Authenticate")?.hasPrefix("Bearer") == true, what)
                    XCTAssertFalse(answer.text.contains(secret), "the token is never in an answer")
                }
            }
            let answer1 = try await get(api, "/v1/info")
            XCTAssertEqual(answer1.header("WWW-Authenticate"), "Bearer")
            let answer2 = try await get(api, "/v1/info", authorization: "Bearer nope")
            XCTAssertEqual(answer2.header("WWW-Authenticate"), #"Bearer error="invalid_token""#)
            // Nothing was done by the refused requests.
            let listeners = try await get(api, "/v1/listeners", authorization: "Bearer \(secret)")
            XCTAssertEqual(listeners.status, 200, listeners.text)
            XCTAssertEqual((listeners["listeners"] as? [Any])?.count, 0)
        }
    }

    func testTheTokenOpensEverythingAndHealthChecksNeedNone() async throws {
        try await withAPIContext(token: APIToken(Array(secret.utf8))) { api, _ in
            for path in ["/healthz", "/readyz"] {
                let open = try await get(api, path)
                XCTAssertEqual(open.status, 200, "\(path): \(open.text)")
            }
            for authorization in ["Bearer \(secret)", "bearer \(secret)", "BEARER   \(secret)"] {
                let info = try await get(api, "/v1/info", authorization: authorization)
                XCTAssertEqual(info.status, 200, "\(authorization): \(info.text)")
            }
            let created = try await api.request("POST", "/v1/listeners", body: Array(#"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#.utf8), extraHeaders: [("Authorization", "Bearer \(secret)")])
            XCTAssertEqual(created.status, 201, created.text)
            let metrics = try await get(api, "/metrics", authorization: "Bearer \(secret)")
            XCTAssertEqual(metrics.status, 200)
            // With the token, an unknown path is the usual 404.
            let unknown = try await get(api, "/no/such/path", authorization: "Bearer \(secret)")
            XCTAssertEqual(unknown.status, 404, unknown.text)
            XCTAssertEqual(unknown.errorCode, "not_found")
        }
    }

    func testWithoutATokenNothingIsAsked() async throws {
        try await withAPIContext { api, _ in
            let answer3 = try await get(api, "/v1/info")
            XCTAssertEqual(answer3.status, 200)
            let answer4 = try await get(api, "/v1/info", authorization: "Bearer whatever")
            XCTAssertEqual(answer4.status, 200)
        }
    }

    func testAReplacedTokenTakesOverAtOnce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sb-token-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("token").path
        try "first-token\n".write(toFile: file, atomically: true, encoding: .utf8)
        let token = try APIToken(file: file)
        try await withAPIContext(token: token) { api, _ in
            let answer5 = try await get(api, "/v1/info", authorization: "Bearer first-token")
            XCTAssertEqual(answer5.status, 200)
            try "  second-token \n\n".write(toFile: file, atomically: true, encoding: .utf8)
            try token.reload(from: file)
            let answer6 = try await get(api, "/v1/info", authorization: "Bearer first-token")
            XCTAssertEqual(answer6.status, 401)
            let answer7 = try await get(api, "/v1/info", authorization: "Bearer second-token")
            XCTAssertEqual(answer7.status, 200)
            // A bad file keeps the token in use.
            try "".write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try token.reload(from: file))
            let answer8 = try await get(api, "/v1/info", authorization: "Bearer second-token")
            XCTAssertEqual(answer8.status, 200)
        }
    }

    // MARK: The token and its file

    func testConstantTimeComparison() {
        let expected = Array("abcdef".utf8)
        XCTAssertTrue(APIToken.constantTimeEquals(Array("abcdef".utf8), expected))
        for other in ["abcdeg", "bbcdef", "abcde", "abcdefg", "", "ABCDEF", "abcdef\0"] {
            XCTAssertFalse(APIToken.constantTimeEquals(Array(other.utf8), expected), other)
        }
        XCTAssertFalse(APIToken.constantTimeEquals(Array("x".utf8), []))
        XCTAssertTrue(APIToken.constantTimeEquals([UInt8](), []))
        // Lengths that differ by a multiple of 256 are still different.
        XCTAssertFalse(APIToken.constantTimeEquals([UInt8](repeating: 0, count: 256), []))
    }

    func testTokenFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sb-token-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func read(_ contents: String) throws -> String {
            let file = folder.appendingPathComponent("t").path
            try contents.write(toFile: file, atomically: true, encoding: .utf8)
            return String(decoding: try APIToken.read(file: file), as: UTF8.self)
        }
        XCTAssertEqual(try read("tok\n"), "tok")
        XCTAssertEqual(try read(" \t tok-en_1.2~+/= \r\n\n"), "tok-en_1.2~+/=")
        for bad in ["", " \n\n", "two words", "tab\tinside", "é-accent"] {
            XCTAssertThrowsError(try read(bad), bad) { error in
                XCTAssertTrue("\(error)".contains(folder.path), "names the file: \(error)")
                if !bad.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    XCTAssertFalse("\(error)".contains(bad), "never shows the contents: \(error)")
                }
            }
        }
        XCTAssertThrowsError(try APIToken.read(file: folder.appendingPathComponent("missing").path)) { error in
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
    }
}
