import Foundation
import SwitchboardTestSupport
import XCTest

/// The web view (`/ui`) in a real browser, headless Chromium, against the built binary: what an
/// operator sees while a test runs. Each test waits on what the page shows, polled with a
/// deadline, and prints the timings the page recorded with the Performance API.
///
/// Screenshots go to `.build/webview/` (not committed); `docs/ui.png` is a copy of one.
final class WebViewTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let screenshots = packageRoot.appendingPathComponent(".build/webview")

    func testThePageShowsALiveConnectionAndItsTranscriptAsTextAndHex() async throws {
        let chromium = try Chromium.required()
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let desk = try await api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold","capture":true}"#)
        XCTAssertEqual(desk.status, 201, desk.text)
        let greeter = try await api.post("/v1/listeners", json: #"{"name":"greeter","address":"127.0.0.1:0","mode":"reply","reply":"Hello from server!","close_after_reply":true}"#)
        XCTAssertEqual(greeter.status, 201, greeter.text)
        // The seed's exchange once, so the list has a closed session beside the open one.
        let seed = try await TestConnection.connect(port: try Self.port(of: greeter))
        try await seed.send("Hello, Server!")
        try await seed.waitForClose()

        try await withPage(chromium) { page in
            try await page.navigate("http://127.0.0.1:\(service.apiPort!)/ui")
            try await page.waitFor("the live feed and both listeners", """
                document.querySelector('#status').dataset.state === 'live'
                  && document.querySelector('tr[data-listener="desk"]') && document.querySelector('tr[data-listener="greeter"]')
                  && document.querySelector('a.vrow[data-state="closed"]:not([hidden])')
                """)

            // A connection made while the page is open comes in through the live events.
            let client = try await TestConnection.connect(port: try Self.port(of: desk))
            try await client.send(Array("Hello, Server!\r\n".utf8) + [0x00, 0xFF])
            var id = ""
            try await eventually("desk's session to have the 18 bytes") {
                let sessions = try await api.get("/v1/sessions?listener=desk")["sessions"] as? [[String: Any]] ?? []
                id = sessions.first?["id"] as? String ?? ""
                return sessions.first?["bytes_in"] as? Int == 18
            }
            let row = "document.querySelector('a.vrow[data-session=\"\(id)\"]:not([hidden])')"
            try await page.waitFor("the connection in the session list", "\(row)?.dataset.state === 'open'")
            try await page.waitFor("desk's counters: 1 open, 1 in all", """
                document.querySelector('tr[data-listener="desk"] [data-counter="open"]').textContent === '1'
                  && document.querySelector('tr[data-listener="desk"] [data-counter="total"]').textContent === '1'
                """)
            try await page.expect("\(row).querySelector('.c-in').textContent", "18 B", "its bytes, from session.data events")
            try await page.screenshot(to: Self.screenshots.appendingPathComponent("live.png"))

            // One listener: its settings, and its sessions alone.
            try await page.evaluate("document.querySelector('tr[data-listener=\"greeter\"] a').click()")
            try await page.waitFor("greeter's settings", "!document.querySelector('#listener-detail').hidden && document.querySelector('#listener-name').textContent === 'greeter'")
            try await page.expect("document.querySelector('#listener-facts').textContent.includes('replyHello from server! (utf8)')", "true")
            try await page.expect("[...document.querySelectorAll('a.vrow:not([hidden])')].map((row) => row.querySelector('.c-origin').textContent).join()", "greeter")
            try await page.evaluate("location.hash = '#/'")
            try await page.waitFor("every listener's sessions again", "document.querySelector('#listener-detail').hidden && \(row)")

            // Its transcript: the text with the CR and the NUL drawn as escapes, the hex dump beside it.
            try await page.evaluate("\(row).click()")
            try await page.waitFor("its transcript", "document.querySelector('#transcript .message.in')")
            try await page.expect("location.hash", "#/sessions/\(id)")
            try await page.expect("document.querySelectorAll('#transcript .message.in').length", "1")
            try await page.expect("document.querySelector('#transcript .message.in pre.text').textContent", "Hello, Server!\\r\n\\0\u{FFFD}")
            try await page.expect("[...document.querySelectorAll('#transcript .message.in pre.text .escape')].map((escape) => escape.textContent).join(' ')", #"\r \0"#)
            try await page.expect("document.querySelector('#transcript .message.in pre.hex').textContent", """
                0000  48 65 6c 6c 6f 2c 20 53  65 72 76 65 72 21 0d 0a  |Hello, Server!..|
                0010  00 ff                                             |..|
                """)
            try await page.expect("document.querySelector('#session-facts [data-fact=\"state\"]').textContent", "open")

            // What the operator sends shows up while the page follows the session.
            let sent = try await api.post("/v1/sessions/\(id)/send", json: #"{"data":"Hi there\n"}"#)
            XCTAssertEqual(sent.status, 200, sent.text)
            try await page.waitFor("the message sent, in the transcript", "document.querySelector('#transcript .message.out pre.text')?.textContent === 'Hi there\\n'")
            try await page.expect("document.querySelector('#transcript .message.out pre.hex').textContent", "0000  48 69 20 74 68 65 72 65  0a                       |Hi there.|")
            _ = try await client.read(atLeast: 9)
            try await page.screenshot(to: Self.screenshots.appendingPathComponent("transcript.png"))

            // The operator closes the session: the page says so, here and in the list.
            let closed = try await api.delete("/v1/sessions/\(id)")
            XCTAssertEqual(closed.status, 200, closed.text)
            try await client.waitForClose()
            try await page.waitFor("the session closed", "document.querySelector('#session-facts [data-fact=\"state\"]').textContent === 'closed'")
            try await page.expect("document.querySelector('#session-facts [data-fact=\"reason\"]').textContent", "local")
            try await page.evaluate("location.hash = '#/'")
            try await page.waitFor("the closed session in the list", "\(row)?.dataset.state === 'closed'")

            let timings = try await Self.timings(page)
            print("webview: first contentful paint \(timings["first-contentful-paint"] ?? -1) ms, live list drawn \(timings["sb:live-ready"] ?? -1) ms after navigation")
            XCTAssertNotNil(timings["first-contentful-paint"], "\(timings)")
            XCTAssertNotNil(timings["sb:live-ready"], "\(timings)")
        }
    }

    /// 1,000 sessions open at once: the list draws a screenful of rows, and the events that
    /// announce them are applied in batches, a frame at a time.
    func testAThousandLiveSessionsCostAScreenfulOfRows() async throws {
        let chromium = try Chromium.required()
        raiseOpenFileLimit()
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let crowd = try await service.api.post("/v1/listeners", json: #"{"name":"crowd","address":"127.0.0.1:0","mode":"hold"}"#)
        XCTAssertEqual(crowd.status, 201, crowd.text)
        let port = try Self.port(of: crowd)
        let count = 1000

        try await withPage(chromium) { page in
            try await page.navigate("http://127.0.0.1:\(service.apiPort!)/ui")
            try await page.waitFor("the live feed and the listener", "document.querySelector('#status').dataset.state === 'live' && document.querySelector('tr[data-listener=\"crowd\"]')")
            let start = ContinuousClock.now
            let connections = try await withThrowingTaskGroup(of: [TestConnection].self) { group in
                for _ in 0..<10 {
                    group.addTask { try await (0..<(count / 10)).asyncMap { _ in try await TestConnection.connect(port: port) } }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            defer { Task { for connection in connections { await connection.close() } } }
            try await page.waitFor("1,000 open sessions in the page", "document.querySelector('#sessions-count').textContent.startsWith('1,000 open')", describe: "document.querySelector('#sessions-count').textContent", timeout: .seconds(60))
            let shown = ContinuousClock.now - start

            let drawn = try await page.evaluate("document.querySelectorAll('#sessions-scroller .vrow').length")
            let rows = try XCTUnwrap(drawn as? Int)
            XCTAssertLessThan(rows, 80, "the list drew \(rows) rows for \(count) sessions: it should draw only what is in view")
            let marks = try await page.evaluate("""
                (() => { const marks = performance.getEntriesByName('sb:live-render');
                  return [marks.length, marks.reduce((sum, mark) => sum + mark.detail.events, 0)]; })()
                """)
            let renders = try XCTUnwrap(marks as? [Int])
            XCTAssertGreaterThanOrEqual(renders[1], count, "every session.opened event applied")
            XCTAssertLessThan(renders[0] * 2, renders[1], "\(renders[1]) events took \(renders[0]) renders: they should be coalesced per frame")

            // The oldest session is at the bottom, drawn when scrolled to.
            let sessions = try await service.api.get("/v1/sessions?listener=crowd&state=open")["sessions"] as? [[String: Any]] ?? []
            XCTAssertEqual(sessions.count, count)
            let oldest = try XCTUnwrap(sessions.last?["id"] as? String)
            try await page.evaluate("(() => { const list = document.querySelector('#sessions-scroller'); list.scrollTop = list.scrollHeight; })()")
            try await page.waitFor("the oldest session drawn at the bottom", "document.querySelector('a.vrow[data-session=\"\(oldest)\"]:not([hidden])')")
            print("webview: \(count) sessions opened and listed in \(shown) with \(rows) row elements, \(renders[1]) events in \(renders[0]) renders")
        }
    }

    /// The history's filters and pages, against a history of many sessions: 100,000 in CI (a
    /// few seconds to write), `SWITCHBOARD_UI_HISTORY_ROWS=1000000` by hand for the full figure.
    func testTheHistoryFiltersAndPages() async throws {
        let chromium = try Chromium.required()
        let rows = Int(ProcessInfo.processInfo.environment["SWITCHBOARD_UI_HISTORY_ROWS"] ?? "") ?? 100_000
        // A file migrated by the service, filled while it is stopped, then served.
        let first = try await ServiceProcess.start()
        first.signal(SIGTERM)
        let stopped = try await first.waitForExit()
        XCTAssertEqual(stopped, 0)
        let fill = Process()
        fill.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fill.arguments = ["python3", Self.packageRoot.appendingPathComponent("Tests/EndToEndTests/Scripts/fill_history.py").path, first.historyFile, String(rows), "20"]
        let filling = ContinuousClock.now
        try fill.run()
        try await eventually("the history to be filled with \(rows) sessions", timeout: .seconds(600)) { !fill.isRunning }
        XCTAssertEqual(fill.terminationStatus, 0)
        print("webview: \(rows) sessions written into the history in \(ContinuousClock.now - filling)")
        let service = try await ServiceProcess.start(in: first.directory)
        defer { Task { await service.stop() } }

        try await withPage(chromium) { page in
            try await page.navigate("http://127.0.0.1:\(service.apiPort!)/ui#/history")
            try await page.waitFor("the first page of the history", "document.querySelectorAll('#history-table tbody tr').length === 100 && document.querySelector('#history-table').dataset.loading === 'false'")
            let unfiltered = try await Self.timings(page)

            // Filters from the form; the page is the API's page, row for row.
            try await page.evaluate("""
                (() => { const form = document.querySelector('#history-filter');
                  form.listener.value = 'bench-7'; form.state.value = 'closed'; form.requestSubmit(); })()
                """)
            let filtered = #"document.querySelector('#history-table').dataset.query === '{"listener":"bench-7","state":"closed","limit":"100"}'"#
            try await page.waitFor("the filtered page", "\(filtered) && document.querySelector('#history-table').dataset.loading === 'false'")
            try await page.expect("location.hash", "#/history?listener=bench-7&state=closed&limit=100")
            let expected = try await service.api.get("/v1/history?listener=bench-7&state=closed&limit=100")
            let expectedIDs = (expected["sessions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            XCTAssertEqual(expectedIDs.count, 100)
            let firstPage = try await Self.historyIDs(page)
            XCTAssertEqual(firstPage, expectedIDs)
            try await page.expect("[...document.querySelectorAll('#history-table tbody tr td:nth-child(4)')].every((cell) => cell.textContent === 'bench-7')", "true")
            let measured = try await Self.historyPageTimes(page)

            // Older, then Newer again: the next page through the cursor, and back.
            try await page.evaluate("document.querySelector('#history-next').click()")
            try await page.waitFor("the second page", "document.querySelector('#history-page').textContent.startsWith('page 2') && document.querySelector('#history-table').dataset.loading === 'false'")
            let second = try await Self.historyIDs(page)
            XCTAssertEqual(second.count, 100)
            XCTAssertLessThan(try XCTUnwrap(second.first), try XCTUnwrap(expectedIDs.last), "the second page goes on where the first ended")
            let next = try XCTUnwrap(expected["next_cursor"] as? String)
            let apiSecond = try await service.api.get("/v1/history?listener=bench-7&state=closed&limit=100&cursor=\(next)")
            XCTAssertEqual(second, (apiSecond["sessions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            try await page.evaluate("document.querySelector('#history-newer').click()")
            try await page.waitFor("the first page again", "document.querySelector('#history-page').textContent.startsWith('page 1') && document.querySelector('#history-table').dataset.loading === 'false'")
            let again = try await Self.historyIDs(page)
            XCTAssertEqual(again, expectedIDs)

            // A filter the service refuses: its message, on the page.
            try await page.evaluate("(() => { const form = document.querySelector('#history-filter'); form.since.value = 'yesterday'; form.requestSubmit(); })()")
            try await page.waitFor("the service's refusal", "!document.querySelector('#history-error').hidden")
            try await page.expect("document.querySelector('#history-error').textContent", "query parameter 'since' must be an RFC 3339 time such as 2026-11-26T04:00:00Z, not 'yesterday'")

            print("webview: over \(rows) sessions: first contentful paint \(unfiltered["first-contentful-paint"] ?? -1) ms; history pages, request to drawn: \(measured.map { "\(Int($0.rounded())) ms" }.joined(separator: ", ")) (the first unfiltered, the last listener=bench-7&state=closed)")
            XCTAssertEqual(measured.count, 2, "one sb:history-page measure per page drawn")
        }
    }

    /// With --token-file the page loads without the token, asks for it once, and keeps it for
    /// the tab: a reload does not ask again.
    func testWithATokenThePageAsksOnceAndKeepsItForTheTab() async throws {
        let chromium = try Chromium.required()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-webview-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let token = "webview-\(UUID().uuidString)"
        let tokenFile = folder.appendingPathComponent("token")
        try token.write(to: tokenFile, atomically: true, encoding: .utf8)
        let service = try await ServiceProcess.start(["--token-file", tokenFile.path])
        defer { Task { await service.stop() } }
        let bearer = [("Authorization", "Bearer \(token)")]
        let created = try await service.api.request("POST", "/v1/listeners", body: Array(#"{"name":"locked","address":"127.0.0.1:0","mode":"echo"}"#.utf8), extraHeaders: bearer)
        XCTAssertEqual(created.status, 201, created.text)

        try await withPage(chromium) { page in
            try await page.navigate("http://127.0.0.1:\(service.apiPort!)/ui")
            try await page.waitFor("the token dialog", "document.querySelector('#token-dialog').open")
            try await page.expect("document.querySelector('tr[data-listener=\"locked\"]') === null", "true", "nothing shown before the token")

            try await page.evaluate("(() => { document.querySelector('#token-input').value = 'not-it'; document.querySelector('#token-form').requestSubmit(); })()")
            try await page.waitFor("the dialog again, saying why", "document.querySelector('#token-dialog').open && !document.querySelector('#token-error').hidden")
            try await page.expect("document.querySelector('#token-error').textContent", "The service refused that token.")

            try await page.evaluate("(() => { document.querySelector('#token-input').value = \(Self.javaScriptString(token)); document.querySelector('#token-form').requestSubmit(); })()")
            try await page.waitFor("the listener, with the token", "document.querySelector('#status').dataset.state === 'live' && document.querySelector('tr[data-listener=\"locked\"]')")
            try await page.expect("sessionStorage.getItem('switchboard.token')", token)
            try await page.expect("localStorage.length === 0 && document.cookie === '' ? 'tab only' : 'kept elsewhere'", "tab only")

            try await page.send("Page.reload")
            try await page.waitFor("the reloaded page, live", "document.querySelector('#status').dataset.state === 'live' && document.querySelector('tr[data-listener=\"locked\"]')")
            try await page.expect("document.querySelector('#token-dialog').open", "false", "asked again after a reload")
        }
    }

    /// A listener's faults on its view, kept current by the live events: one created with the
    /// listener, one added, one changed and one removed through the API while the page is open;
    /// and a session's log of the faults that met it.
    func testAListenersFaultsFollowTheLiveEventsAndASessionShowsItsFaultLog() async throws {
        let chromium = try Chromium.required()
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = service.api
        let bare = try await api.post("/v1/listeners", json: #"{"name":"bare","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(bare.status, 201, bare.text)
        let flaky = try await api.post("/v1/listeners", json: """
            {"name":"flaky","address":"127.0.0.1:0","mode":"echo",
             "faults":[{"name":"lag","type":"latency","attributes":{"latency":5,"jitter":1}}]}
            """)
        XCTAssertEqual(flaky.status, 201, flaky.text)
        let row = { (fault: String) in "document.querySelector('#listener-faults-table tr[data-fault=\"\(fault)\"]')" }
        let cells = { (fault: String) in "[...\(row(fault)).children].map((cell) => cell.textContent).join('|')" }
        let shown = "[...document.querySelectorAll('#listener-faults-table tbody tr')].map((row) => row.dataset.fault).join()"

        try await withPage(chromium) { page in
            // A listener without faults says so.
            try await page.navigate("http://127.0.0.1:\(service.apiPort!)/ui#/listeners/bare")
            try await page.waitFor("bare's empty fault list", """
                document.querySelector('#status').dataset.state === 'live'
                  && !document.querySelector('#listener-faults').hidden && document.querySelector('#listener-faults').dataset.loading === 'false'
                """)
            try await page.expect("document.querySelector('#listener-faults-empty').hidden", "false", "the empty-state line")
            try await page.expect("document.querySelector('#listener-faults-table').hidden", "true")

            // The fault it was created with.
            try await page.evaluate("location.hash = '#/listeners/flaky'")
            try await page.waitFor("flaky's fault", "\(row("lag"))")
            try await page.expect(cells("lag"), "lag|latency|downstream|1|latency=5 jitter=1")
            try await page.expect("document.querySelector('#listener-faults-empty').hidden", "true")

            // Added, changed and removed while the page is open: each through a live event.
            let added = try await api.post("/v1/listeners/flaky/faults", json: #"{"type":"bandwidth","direction":"upstream","toxicity":0.5,"attributes":{"rate":64}}"#)
            XCTAssertEqual(added.status, 201, added.text)
            try await page.waitFor("the added fault", row("bandwidth_upstream"), describe: shown)
            try await page.expect(cells("bandwidth_upstream"), "bandwidth_upstream|bandwidth|upstream|0.5|rate=64")
            try await page.expect(shown, "lag,bandwidth_upstream", "in the order added")
            let changed = try await api.patch("/v1/listeners/flaky/faults/lag", json: #"{"attributes":{"latency":300}}"#)
            XCTAssertEqual(changed.status, 200, changed.text)
            try await page.waitFor("the changed fault", "\(cells("lag")) === 'lag|latency|downstream|1|latency=300 jitter=1'", describe: cells("lag"))
            try await page.screenshot(to: Self.screenshots.appendingPathComponent("faults.png"))
            let removed = try await api.delete("/v1/listeners/flaky/faults/bandwidth_upstream")
            XCTAssertEqual(removed.status, 200, removed.text)
            try await page.waitFor("the removed fault gone", "\(row("bandwidth_upstream")) === null", describe: shown)
            try await page.expect(shown, "lag")

            // A connection the fault met: its log on the session's view.
            let client = try await TestConnection.connect(port: try Self.port(of: flaky))
            defer { Task { await client.close() } }
            try await client.send("ping")
            _ = try await client.read(atLeast: 4)
            let sessions = try await api.get("/v1/sessions?listener=flaky")["sessions"] as? [[String: Any]] ?? []
            let id = try XCTUnwrap(sessions.first?["id"] as? String)
            try await page.evaluate("location.hash = '#/sessions/\(id)'")
            try await page.waitFor("the session's fault log", "document.querySelector('#session-faults tr[data-fault=\"lag\"]') && !document.querySelector('#session-faults').hidden")
            try await page.expect("[...document.querySelector('#session-faults tr[data-fault=\"lag\"]').children].slice(0, 4).map((cell) => cell.textContent).join('|')", "lag|latency|downstream|applied")
            try await page.evaluate("location.hash = '#/listeners/bare'")
            try await page.waitFor("bare's view again, still without faults", "document.querySelector('#listener-name').textContent === 'bare' && document.querySelector('#listener-faults').dataset.loading === 'false' && !document.querySelector('#listener-faults-empty').hidden")
            try await page.expect(shown, "")
        }
    }

    // MARK: helpers

    /// A fresh Chromium and tab for `body`, closed after it whatever happens.
    private func withPage(_ binary: URL, _ body: (BrowserPage) async throws -> Void) async throws {
        let browser = try Chromium.launch(binary)
        do {
            let page = try await browser.newPage()
            try await body(page)
            // Nothing went wrong on the page on its own: no script error, no CSP refusal.
            XCTAssertEqual(browser.problems, [], "the page reported problems")
        } catch {
            let log = browser.log.split(separator: "\n").filter { !$0.contains("dbus") }.suffix(20).joined(separator: "\n")
            await browser.close()
            throw TimedOut("\(error)\nChromium's last log lines:\n\(log)")
        }
        await browser.close()
    }

    private static func port(of listener: HTTPResult) throws -> Int {
        let address = try XCTUnwrap(listener["address"] as? String)
        return try XCTUnwrap(Int(try XCTUnwrap(address.split(separator: ":").last)))
    }

    /// The page's paint timings and marks, in ms since navigation started.
    private static func timings(_ page: BrowserPage) async throws -> [String: Double] {
        let entries = try await page.evaluate("""
            Object.fromEntries([...performance.getEntriesByType('paint'), ...performance.getEntriesByType('mark')].map((entry) => [entry.name, entry.startTime]))
            """) as? [String: Any] ?? [:]
        return entries.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    private static func historyPageTimes(_ page: BrowserPage) async throws -> [Double] {
        (try await page.evaluate("performance.getEntriesByName('sb:history-page').map((entry) => entry.duration)") as? [Any] ?? [])
            .compactMap { ($0 as? NSNumber)?.doubleValue }
    }

    private static func historyIDs(_ page: BrowserPage) async throws -> [String] {
        try await page.evaluate("[...document.querySelectorAll('#history-table tbody tr')].map((row) => row.dataset.session)") as? [String] ?? []
    }

    private static func javaScriptString(_ text: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: text, options: .fragmentsAllowed)) ?? Data(), as: UTF8.self)
    }
}

private extension Range where Bound == Int {
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for value in self { results.append(try await transform(value)) }
        return results
    }
}
