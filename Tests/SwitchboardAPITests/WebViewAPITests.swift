import Foundation
@testable import SwitchboardAPI
import SwitchboardTestSupport
import XCTest

/// `/ui`: the web view's files as HTTP serves them. What the page does in a browser is
/// EndToEndTests/WebViewTests.
final class WebViewAPITests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ui")

    static let policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    func testEveryFileIsServedAsItsTypeWithTheSecurityAndCacheHeaders() async throws {
        let names = try Self.repositoryFiles()
        XCTAssertEqual(EmbeddedWebView.files.map(\.name), names, "the binary carries ui/ as it is; rebuild")
        try await withAPI { api, _ in
            for name in names {
                let served = try await api.get("/ui/\(name)")
                XCTAssertEqual(served.status, 200, name)
                let kind = String(name.split(separator: ".").last ?? "")
                XCTAssertNotNil(WebAsset.types[kind], "\(name): no Content-Type for .\(kind) files in WebAsset.types")
                XCTAssertEqual(served.header("Content-Type"), WebAsset.types[kind], name)
                XCTAssertEqual(served.body, Array(try Data(contentsOf: Self.folder.appendingPathComponent(name))), name)
                try Self.checkHeaders(served, name)
            }
            let page = try await api.get("/ui")
            XCTAssertEqual(page.status, 200)
            XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
            XCTAssertEqual(page.body, Array(try Data(contentsOf: Self.folder.appendingPathComponent("index.html"))))
            try Self.checkHeaders(page, "/ui")
            XCTAssertEqual(page.header("ETag"), WebAsset.all["index.html"]?.etag)
        }
    }

    func testAFileTheBrowserHasIsAnswered304() async throws {
        try await withAPI { api, _ in
            let first = try await api.get("/ui/app.js")
            let etag = try XCTUnwrap(first.header("ETag"))
            XCTAssertTrue(etag.hasPrefix("\"") && etag.hasSuffix("\""), etag)
            for tags in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let again = try await api.request("GET", "/ui/app.js", extraHeaders: [("If-None-Match", tags)])
                XCTAssertEqual(again.status, 304, tags)
                XCTAssertEqual(again.body, [], tags)
                XCTAssertEqual(again.header("ETag"), etag, tags)
                XCTAssertEqual(again.header("Cache-Control"), "no-cache", tags)
            }
            let changed = try await api.request("GET", "/ui/app.js", extraHeaders: [("If-None-Match", "\"an-older-build\"")])
            XCTAssertEqual(changed.status, 200)
            XCTAssertEqual(changed.body, first.body)
            // Another file's tag is not this one's.
            let other = try await api.get("/ui/style.css")
            XCTAssertNotEqual(try XCTUnwrap(other.header("ETag")), etag)
        }
    }

    func testWhatIsNotAFileIsRefusedWithTheErrorShape() async throws {
        try await withAPI { api, _ in
            let missing = try await api.get("/ui/nope.js")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.errorCode, "not_found")
            let deeper = try await api.get("/ui/a/b.js")
            XCTAssertEqual(deeper.status, 404)
            XCTAssertEqual(deeper.errorCode, "not_found")
            let query = try await api.get("/ui?x=1")
            XCTAssertEqual(query.status, 400)
            XCTAssertEqual(query.errorCode, "unknown_parameter")
            let fileQuery = try await api.get("/ui/app.js?v=2")
            XCTAssertEqual(fileQuery.status, 400)
            XCTAssertEqual(fileQuery.errorCode, "unknown_parameter")
            let post = try await api.post("/ui", json: "{}")
            XCTAssertEqual(post.status, 405)
            XCTAssertEqual(post.errorCode, "method_not_allowed")
            XCTAssertEqual(post.header("Allow"), "GET")
        }
    }

    /// A browser sends no Authorization header when it navigates: the files load without the
    /// token, and everything else still needs it, other paths under /ui too.
    func testTheFilesNeedNoTokenAndEverythingElseStillDoes() async throws {
        let secret = "web-view-token"
        try await withAPIContext(token: APIToken(Array(secret.utf8))) { api, _ in
            for path in ["/ui", "/ui/", "/ui/index.html", "/ui/app.js", "/ui/style.css"] {
                let open = try await api.get(path)
                XCTAssertEqual(open.status, 200, path)
            }
            for path in ["/ui/nope.js", "/ui/a/b", "/ui/app.js/x", "/", "/v1/info", "/v1/events", "/v1/listeners"] {
                let refused = try await api.get(path)
                XCTAssertEqual(refused.status, 401, path)
                XCTAssertEqual(refused.errorCode, "unauthorized", path)
            }
            let index = try await api.request("GET", "/", extraHeaders: [("Authorization", "Bearer \(secret)")])
            XCTAssertEqual(index["ui"] as? String, "/ui")
        }
    }

    /// What the Content-Security-Policy forbids must not be in the files at all (the browser
    /// would refuse it and the page would break), and nothing may come from elsewhere.
    func testThePageUsesOnlyItsOwnFilesAndNothingInline() throws {
        let names = Set(try Self.repositoryFiles())
        let page = try Self.text("index.html")
        for reference in Self.matches(#"(?:src|href)="(/[^"]*)""#, in: page) {
            XCTAssertTrue(reference.hasPrefix("/ui/") && names.contains(String(reference.dropFirst(4))), "index.html loads \(reference), which is not a file of ui/")
        }
        XCTAssertEqual(Self.matches(#"<script(?![^>]*\bsrc=)[^>]*>"#, in: page), [], "inline script")
        XCTAssertEqual(Self.matches(#"(<style[\s>]|\sstyle=|\son[a-z]+=)"#, in: page), [], "inline style or handler")
        for name in names {
            let text = try Self.text(name)
            XCTAssertEqual(Self.matches(#"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/"#, in: text).filter { !$0.contains("www.w3.org") }, [], "\(name) names another site")
            guard name.hasSuffix(".js") else { continue }
            for module in Self.matches(#"from '\./([^']+)'"#, in: text) {
                XCTAssertTrue(names.contains(module), "\(name) imports ./\(module), which is not in ui/")
            }
            XCTAssertEqual(Self.matches(#"(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|setAttribute\('style')"#, in: text), [], "\(name): markup from text, code from text, or an inline style")
        }
    }

    func testTheOpenAPIDocumentNamesEveryFile() throws {
        let paths = try XCTUnwrap(try OpenAPITests.document()["paths"] as? [String: Any])
        let file = try XCTUnwrap(paths["/ui/{file}"] as? [String: Any])
        let parameter = try XCTUnwrap((file["parameters"] as? [[String: Any]])?.first)
        let names = (parameter["schema"] as? [String: Any])?["enum"] as? [String]
        XCTAssertEqual(names, try Self.repositoryFiles(), "the enum of /ui/{file} in openapi/openapi.json")
    }

    // MARK: helpers

    static func repositoryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }

    static func checkHeaders(_ response: HTTPResult, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.header("Content-Security-Policy"), policy, what, file: file, line: line)
        XCTAssertEqual(response.header("X-Content-Type-Options"), "nosniff", what, file: file, line: line)
        XCTAssertEqual(response.header("Referrer-Policy"), "no-referrer", what, file: file, line: line)
        XCTAssertEqual(response.header("Cache-Control"), "no-cache", what, file: file, line: line)
        XCTAssertNotNil(response.header("ETag"), what, file: file, line: line)
    }

    /// The first capture group of each match, or the whole match when there is none.
    static func matches(_ pattern: String, in text: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return ["bad pattern \(pattern)"] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            let range = match.numberOfRanges > 1 && match.range(at: 1).location != NSNotFound ? match.range(at: 1) : match.range
            return Range(range, in: text).map { String(text[$0]) }
        }
    }
}
