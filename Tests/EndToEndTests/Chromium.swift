import Foundation
import SwitchboardTestSupport
import Synchronization
import XCTest

/// Headless Chromium (Debian's `chromium`), driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: NUL-separated JSON on its file descriptors 3 and 4), so the
/// tests need neither a WebSocket client nor a driver binary.
final class Chromium: Sendable {
    let process: Process
    private let commands: FileHandle
    private let replies: Replies
    private let profile: URL
    private let nextID = Mutex(0)

    /// `$CHROMIUM`, or `chromium` / `chromium-browser` on the PATH.
    static func find() -> URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [URL] = []
        if let explicit = environment["CHROMIUM"] { candidates.append(URL(fileURLWithPath: explicit)) }
        for folder in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] {
                candidates.append(URL(fileURLWithPath: String(folder)).appendingPathComponent(name))
            }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Chromium, or a skip; with `CI` set a missing Chromium is a failure, not a skip.
    static func required() throws -> URL {
        if let found = find() { return found }
        let install = "apt-get install chromium (`bash .ci/run` does it), or set CHROMIUM to a Chromium binary"
        if ProcessInfo.processInfo.environment["CI"] != nil {
            throw TimedOut("Chromium is not installed, and CI is set: \(install)")
        }
        throw XCTSkip("Chromium is not installed; to run this test: \(install)")
    }

    static func launch(_ binary: URL, width: Int = 1280, height: Int = 860) throws -> Chromium {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-chromium-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        var flags = [
            "--headless", "--disable-gpu", "--remote-debugging-pipe", "--user-data-dir=\(profile.path)",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--mute-audio", "--force-device-scale-factor=1", "--window-size=\(width),\(height)",
        ]
        // Chromium refuses to run as root with its sandbox on.
        if getuid() == 0 { flags.append("--no-sandbox") }
        return try Chromium(binary: binary, flags: flags, profile: profile)
    }

    private init(binary: URL, flags: [String], profile: URL) throws {
        self.profile = profile
        let toBrowser = Pipe()
        let fromBrowser = Pipe()
        process = Process()
        // The pipes become its fds 3 and 4; its own output goes to a log beside the profile.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", #"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#, binary.path] + flags + ["about:blank"]
        process.standardInput = toBrowser
        process.standardOutput = fromBrowser
        let log = profile.appendingPathComponent("chromium.log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw TimedOut("cannot create \(log.path)") }
        process.standardError = try FileHandle(forWritingTo: log)
        commands = toBrowser.fileHandleForWriting
        replies = Replies(fromBrowser)
        try process.run()
    }

    /// Sends one command and answers its `result`; a protocol error or no answer in time throws.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: String? = nil, timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        let id = nextID.withLock { id in
            id += 1
            return id
        }
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        let bytes = try JSONSerialization.data(withJSONObject: message) + Data([0])
        let data = try await replies.wait(for: id, timeout: timeout, what: method) { [commands] in
            try commands.write(contentsOf: bytes)
        }
        let reply = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        if let error = reply["error"] as? [String: Any] {
            throw TimedOut("Chromium refused \(method): \(error["message"] ?? error)")
        }
        return reply["result"] as? [String: Any] ?? [:]
    }

    /// A new tab, attached so that commands can be sent to it.
    func newPage() async throws -> BrowserPage {
        let target = try await send("Target.createTarget", ["url": "about:blank"])
        let targetID = try XCTUnwrap(target["targetId"] as? String)
        let attached = try await send("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        let page = BrowserPage(browser: self, session: try XCTUnwrap(attached["sessionId"] as? String))
        try await page.send("Page.enable")
        try await page.send("Runtime.enable")
        try await page.send("Log.enable")
        return page
    }

    /// What went wrong in the pages on its own: uncaught exceptions, and errors the browser
    /// logged other than failed requests (a Content-Security-Policy refusal is one).
    var problems: [String] { replies.problems }

    /// What Chromium wrote to its stderr, for a failure's message.
    var log: String {
        (try? String(contentsOf: profile.appendingPathComponent("chromium.log"), encoding: .utf8)) ?? ""
    }

    func close() async {
        if process.isRunning {
            _ = try? await send("Browser.close", timeout: .seconds(10))
            if (try? await eventually("Chromium to exit") { !process.isRunning }) == nil {
                kill(process.processIdentifier, SIGKILL)
                _ = try? await eventually("Chromium to exit after SIGKILL") { !process.isRunning }
            }
        }
        try? FileManager.default.removeItem(at: profile)
    }

    /// The browser's answers, matched to the commands by id. Of its events (which have no id)
    /// only the problems are kept: the tests look at the page, not at the protocol.
    private final class Replies: Sendable {
        private struct State {
            var buffer = Data()
            var waiting: [Int: CheckedContinuation<Data, any Error>] = [:]
            var ended = false
            var problems: [String] = []
        }

        var problems: [String] { state.withLock { $0.problems } }
        private let state = Mutex(State())

        /// Reads on a thread of its own, blocking in read(2) until the browser closes its end.
        init(_ pipe: Pipe) {
            let handle = pipe.fileHandleForReading
            let thread = Thread { [self] in
                let descriptor = handle.fileDescriptor
                var chunk = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    self.receive(Data(chunk[0..<count]))
                }
                self.end()
                withExtendedLifetime(handle) {}
            }
            thread.start()
        }

        func wait(for id: Int, timeout: Duration, what: String, send: @escaping @Sendable () throws -> Void) async throws -> Data {
            // A deadline for a browser that stopped answering, not a pause: it resumes nobody
            // who already had an answer.
            let deadline = Task { [self] in
                try await Task.sleep(for: timeout)
                fail(id, TimedOut("Chromium did not answer \(what) within \(timeout)"))
            }
            defer { deadline.cancel() }
            return try await withCheckedThrowingContinuation { continuation in
                let ended = state.withLock { state in
                    if !state.ended { state.waiting[id] = continuation }
                    return state.ended
                }
                guard !ended else {
                    continuation.resume(throwing: TimedOut("Chromium has exited"))
                    return
                }
                do {
                    try send()
                } catch {
                    fail(id, error)
                }
            }
        }

        private func fail(_ id: Int, _ error: any Error) {
            state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(throwing: error)
        }

        private func receive(_ data: Data) {
            var answered: [(CheckedContinuation<Data, any Error>, Data)] = []
            state.withLock { state in
                state.buffer.append(data)
                while let end = state.buffer.firstIndex(of: 0) {
                    let message = state.buffer[state.buffer.startIndex..<end]
                    state.buffer = Data(state.buffer[state.buffer.index(after: end)...])
                    guard let object = try? JSONSerialization.jsonObject(with: message) as? [String: Any] else { continue }
                    guard let id = object["id"] as? Int else {
                        if let problem = Self.problem(in: object) { state.problems.append(problem) }
                        continue
                    }
                    guard let continuation = state.waiting.removeValue(forKey: id) else { continue }
                    answered.append((continuation, Data(message)))
                }
            }
            for (continuation, message) in answered { continuation.resume(returning: message) }
        }

        private static func problem(in event: [String: Any]) -> String? {
            let params = event["params"] as? [String: Any] ?? [:]
            switch event["method"] as? String {
            case "Runtime.exceptionThrown":
                let details = params["exceptionDetails"] as? [String: Any] ?? [:]
                return "exception: \((details["exception"] as? [String: Any])?["description"] ?? details["text"] ?? "?")"
            case "Log.entryAdded":
                let entry = params["entry"] as? [String: Any] ?? [:]
                guard entry["level"] as? String == "error", entry["source"] as? String != "network" else { return nil }
                return "\(entry["source"] ?? "log"): \(entry["text"] ?? "?")"
            default:
                return nil
            }
        }

        private func end() {
            let waiting = state.withLock { state in
                state.ended = true
                defer { state.waiting = [:] }
                return Array(state.waiting.values)
            }
            for continuation in waiting { continuation.resume(throwing: TimedOut("Chromium closed its DevTools pipe")) }
        }
    }
}

/// One tab of a `Chromium`.
struct BrowserPage: Sendable {
    let browser: Chromium
    let session: String

    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
        try await browser.send(method, params, session: session)
    }

    func navigate(_ url: String) async throws {
        try await send("Page.navigate", ["url": url])
    }

    /// The value of a JavaScript expression in the page (a promise is awaited); an exception
    /// in the page throws, with its message.
    @discardableResult
    func evaluate(_ expression: String) async throws -> Any? {
        let result = try await send("Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true])
        if let exception = result["exceptionDetails"] as? [String: Any] {
            let description = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? exception
            throw TimedOut("the page threw on \(expression): \(description)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    func string(_ expression: String) async throws -> String? { try await evaluate(expression) as? String }

    /// Asserts what an expression comes to, as JavaScript's String() writes it.
    func expect(_ expression: String, _ expected: String, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) async throws {
        let value = try await string("String(\(expression))")
        XCTAssertEqual(value, expected, "\(expression) \(message)", file: file, line: line)
    }

    /// Polls the page until `condition` (a JavaScript expression) is true, or throws with what
    /// `describe` (another expression) says the page shows at the deadline.
    func waitFor(_ what: String, _ condition: String, describe: String = "document.body.innerText.slice(0, 2000)", timeout: Duration = .seconds(20)) async throws {
        // Until the page has what the condition reads (it may still be loading), the condition
        // throws in the page: that is "not yet", and the last such error is reported at the end.
        var lastError = ""
        do {
            try await eventually(what, timeout: timeout) {
                let value = try await evaluate("(() => { try { return Boolean(\(condition)); } catch (error) { return String(error); } })()")
                lastError = value as? String ?? lastError
                return value as? Bool == true
            }
        } catch let timedOut as TimedOut {
            let shown = (try? await evaluate(describe)).map { "\($0)" } ?? "(nothing, or the page did not answer)"
            let error = lastError.isEmpty ? "" : "\nthe condition last threw: \(lastError)"
            throw TimedOut("\(timedOut.description)\(error)\nthe page shows:\n\(shown)")
        }
    }

    /// A PNG of the viewport down to where the page's content ends, written to `file`.
    func screenshot(to file: URL) async throws {
        let size = try await evaluate("[innerWidth, Math.min(innerHeight, document.body.scrollHeight + 16)]") as? [Int] ?? []
        var parameters: [String: Any] = ["format": "png"]
        if size.count == 2 { parameters["clip"] = ["x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1] }
        let shot = try await send("Page.captureScreenshot", parameters)
        let data = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(shot["data"] as? String)))
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }
}
