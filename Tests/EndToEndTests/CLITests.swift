import Foundation
import SwitchboardTestSupport
import XCTest

/// The command line over a running service: the built binary as an operator types it, against
/// a real service started by `ServiceProcess`, checked against what the API itself says.
final class CLITests: XCTestCase {
    // MARK: Listeners

    func testListenersCreateListShowAndDelete() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = ["--api", "127.0.0.1:\(service.apiPort!)"]

        let created = try await cli(["listeners", "create", "greeter", "127.0.0.1:0", "--mode", "reply", "--reply", "Hello from server!", "-o", "json"] + api)
        XCTAssertEqual(created.status, 0, created.stderr)
        let listener = try created.json()
        XCTAssertEqual(listener["state"] as? String, "listening")
        XCTAssertEqual(listener["reply"] as? String, "Hello from server!")
        let fromAPI = try await service.api.get("/v1/listeners/greeter")
        XCTAssertEqual(fromAPI.status, 200, "the CLI created it in the service")
        XCTAssertEqual(created.stdout, fromAPI.text, "-o json is the service's answer as it is")

        // The environment names the service as well as --api does.
        let environment = ["SWITCHBOARD_API": "127.0.0.1:\(service.apiPort!)"]
        let long = String(repeating: "a-listener-with-a-long-name-", count: 2)
        let second = try await cli(["listeners", "create", long, "127.0.0.1:0", "--mode", "echo"], environment: environment)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.field("mode"), "echo", "show's fields, one a line:\n\(second.stdout)")

        let table = try await cli(["listeners", "list"], environment: environment)
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, table.stdout)
        XCTAssertTrue(lines[0].hasPrefix("NAME "), table.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("greeter ") && $0.contains(" reply ") && $0.contains(" listening ") }, table.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("a-listener-with") && $0.contains("…") }, "a long name is cut to fit:\n\(table.stdout)")
        for line in lines { XCTAssertLessThanOrEqual(line.count, 80, "fits an 80-column terminal: \(line)") }

        let ndjson = try await cli(["listeners", "list", "-o", "ndjson"] + api)
        let names = try ndjson.stdout.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["name"] as? String }
        XCTAssertEqual(Set(names.compactMap { $0 }), ["greeter", long])

        let shown = try await cli(["listeners", "show", "greeter"] + api)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(shown.field("reply"), "Hello from server!", shown.stdout)
        XCTAssertEqual(shown.field("options.backlog"), "256", "nested objects as dotted keys:\n\(shown.stdout)")
        XCTAssertEqual(shown.field("error"), "-", "null as -")

        let deleted = try await cli(["listeners", "delete", "greeter"] + api)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertTrue(deleted.stdout.hasPrefix("deleted listener greeter"), deleted.stdout)
        let gone = try await service.api.get("/v1/listeners/greeter")
        XCTAssertEqual(gone.status, 404)

        // Refused: status 1 and the service's message as it is, nothing more.
        let missing = try await cli(["listeners", "show", "greeter"] + api)
        XCTAssertEqual(missing.status, 1, missing.stderr)
        let message = try XCTUnwrap((try gone.json["error"] as? [String: Any])?["message"] as? String)
        XCTAssertEqual(missing.stderr, message + "\n")
        XCTAssertEqual(missing.stdout, "")
        let refused = try await cli(["listeners", "create", "x", "127.0.0.1:0", "--mode", "reply"] + api)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertEqual(refused.stderr, "mode reply needs the field 'reply'\n")
    }

    // MARK: Faults

    func testFaultsAddListChangeAndRemove() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = ["--api", "127.0.0.1:\(service.apiPort!)"]
        _ = try await cli(["listeners", "create", "web", "127.0.0.1:0", "--mode", "echo"] + api)

        let added = try await cli(["faults", "add", "--listener", "web", "latency", "-a", "latency=100", "-a", "jitter=10", "-o", "json"] + api)
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(try added.json()["name"] as? String, "latency_downstream", "Toxiproxy's default name")
        let fromAPI = try await service.api.get("/v1/listeners/web/faults")
        XCTAssertEqual(((try fromAPI.json["faults"] as? [[String: Any]])?.first?["attributes"] as? [String: Any])?["latency"] as? Int, 100)

        let table = try await cli(["faults", "list", "--listener", "web"] + api)
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("NAME "), table.stdout)
        XCTAssertTrue(lines.contains { $0.contains("latency_downstream") && $0.contains("latency=100 jitter=10") }, table.stdout)

        let changed = try await cli(["faults", "change", "--listener", "web", "latency_downstream", "-a", "latency=5", "--toxicity", "0.5", "-o", "json"] + api)
        XCTAssertEqual(changed.status, 0, changed.stderr)
        let fault = try changed.json()
        XCTAssertEqual(fault["toxicity"] as? Double, 0.5)
        XCTAssertEqual((fault["attributes"] as? [String: Any])?["jitter"] as? Int, 10, "merged, not replaced")

        let refused = try await cli(["faults", "add", "--listener", "web", "latency", "-a", "rate=1"] + api)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("attributes.rate"), refused.stderr)
        let both = try await cli(["faults", "list", "--listener", "web", "--session", "x"] + api)
        XCTAssertEqual(both.status, 2, both.stderr)

        let removed = try await cli(["faults", "remove", "--listener", "web", "latency_downstream"] + api)
        XCTAssertEqual(removed.status, 0, removed.stderr)
        let empty = try await cli(["faults", "list", "--listener", "web"] + api)
        XCTAssertTrue(empty.stdout.hasSuffix("(no faults)\n"), empty.stdout)
    }

    // MARK: Sessions

    func testSessionsOpenSendReadAndClose() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = ["--api", "127.0.0.1:\(service.apiPort!)"]
        let desk = try await cli(["listeners", "create", "desk", "127.0.0.1:0", "--mode", "hold", "-o", "json"] + api).json()
        let address = try XCTUnwrap(desk["address"] as? String)

        // The service as the client of its own hold listener: both ends are its sessions.
        let opened = try await cli(["sessions", "open", address, "--send", "hi desk", "-o", "json"] + api)
        XCTAssertEqual(opened.status, 0, opened.stderr)
        let client = try XCTUnwrap(try opened.json()["id"] as? String)
        var server = ""
        try await eventually("the accepted half") {
            let listed = try await self.cli(["sessions", "list", "--listener", "desk", "-o", "ndjson"] + api)
            guard let line = listed.stdout.split(separator: "\n").first,
                  let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
            server = object["id"] as? String ?? ""
            return true
        }

        let table = try await cli(["sessions", "list"] + api)
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.hasPrefix("ID "), table.stdout)
        XCTAssertTrue(table.stdout.contains("\(server)  server  desk"), table.stdout)
        XCTAssertTrue(table.stdout.contains("\(client)  client  -"), table.stdout)
        for line in table.stdout.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 80, String(line)) }

        // Four ways to give the bytes.
        let sent = [
            try await cli(["sessions", "send", server, "text,"] + api),
            try await cli(["sessions", "send", server, "--hex", "0d0a"] + api),
            try await cli(["sessions", "send", server, "--base64", Data("b64,".utf8).base64EncodedString()] + api),
            try await cli(["sessions", "send", server] + api, stdin: Data("from stdin".utf8)),
        ]
        for result in sent { XCTAssertEqual(result.status, 0, result.stderr) }
        XCTAssertEqual(sent[0].stdout, "sent 5 bytes to \(server)\n")
        let expected = "text,\r\nb64,from stdin"
        try await eventually("the client half to have every byte") {
            (try await service.api.get("/v1/sessions/\(client)"))["bytes_in"] as? Int == expected.utf8.count
        }

        let raw = try await cli(["sessions", "read", client, "--raw"] + api)
        XCTAssertEqual(raw.status, 0, raw.stderr)
        XCTAssertEqual(raw.stdout, expected, "the received bytes as they are, in order")
        let lines = try await cli(["sessions", "read", client] + api)
        XCTAssertTrue(lines.stdout.split(separator: "\n").first?.hasSuffix(#"-> 7 bytes "hi desk""#) ?? false, lines.stdout)
        let json = try await cli(["sessions", "read", server, "-o", "json"] + api)
        let page = try json.json()
        XCTAssertEqual(page["session_state"] as? String, "open")
        let messages = try XCTUnwrap(page["messages"] as? [[String: Any]])
        XCTAssertEqual(messages.first?["data"] as? String, "hi desk")

        let shown = try await cli(["sessions", "show", client] + api)
        XCTAssertEqual(shown.field("remote_address"), address, shown.stdout)

        let closed = try await cli(["sessions", "close", server, "-o", "json"] + api)
        XCTAssertEqual(closed.status, 0, closed.stderr)
        XCTAssertEqual(try closed.json()["state"] as? String, "closed")
        let late = try await cli(["sessions", "send", server, "too late"] + api)
        XCTAssertEqual(late.status, 1, late.stderr)
        let direct = try await service.api.post("/v1/sessions/\(server)/send", json: #"{"data":"too late"}"#)
        XCTAssertEqual(late.stderr, ((try direct.json["error"] as? [String: Any])?["message"] as? String ?? "?") + "\n")
    }

    func testReadFollowWaitsAndEndsWhenThePeerCloses() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"desk","address":"127.0.0.1:0","mode":"hold"}"#)
        let port = Int((created["address"] as! String).split(separator: ":").last!)!
        let peer = try await TestConnection.connect(port: port)
        var id = ""
        try await eventually("the accepted session") {
            id = ((try await service.api.get("/v1/sessions?listener=desk"))["sessions"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            return !id.isEmpty
        }

        let follow = try ServiceProcess(arguments: ["sessions", "read", id, "--follow", "--api", "127.0.0.1:\(service.apiPort!)"], directory: service.directory)
        defer { Task { await follow.stop(keepingFiles: true) } }
        try await peer.send("first")
        try await eventually("the first message printed") { follow.output.contains(#"<- 5 bytes "first""#) }
        try await peer.send("second")
        try await eventually("the second message printed") { follow.output.contains(#"<- 6 bytes "second""#) }
        XCTAssertTrue(follow.process.isRunning, "the session is open and its peer may send more: --follow waits\n\(follow.output)")

        await peer.close()
        let status = try await follow.waitForExit()
        XCTAssertEqual(status, 0, follow.output)
        XCTAssertEqual(follow.output.split(separator: "\n").count, 2, follow.output)
    }

    // MARK: Events and history

    func testEventsPrintsEachEventAndEndsCleanlyOnSIGINT() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let events = try ServiceProcess(arguments: ["events", "-o", "ndjson", "--api", "127.0.0.1:\(service.apiPort!)"], directory: service.directory)
        defer { Task { await events.stop(keepingFiles: true) } }
        // Only live events are sent: the stream must be open before the event happens.
        try await eventually("the CLI's event stream to be open") {
            (try await service.api.get("/metrics")).text.contains("\nswitchboard_event_clients 1")
        }
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"watched","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201)
        try await eventually("the event printed") { events.output.contains("\n") }
        let line = try XCTUnwrap(events.output.split(separator: "\n").first)
        let event = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        XCTAssertEqual(event["event"] as? String, "listener.created")
        XCTAssertNotNil(event["id"] as? Int, String(line))
        XCTAssertEqual((event["data"] as? [String: Any])?["name"] as? String, "watched")

        events.signal(SIGINT)
        let status = try await events.waitForExit()
        XCTAssertEqual(events.process.terminationReason, .exit, "it handled SIGINT rather than die of it")
        XCTAssertEqual(status, 0, events.output)
    }

    func testHistoryAskedOfTheServicePrintsWhatTheFileHolds() async throws {
        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let api = ["--api", "127.0.0.1:\(service.apiPort!)"]
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"echoes","address":"127.0.0.1:0","mode":"echo","capture":true}"#)
        let address = try XCTUnwrap(created["address"] as? String)
        let opened = try await service.api.post("/v1/sessions", json: #"{"connect":"\#(address)","send":"ping"}"#)
        let id = try XCTUnwrap(opened["id"] as? String)
        try await eventually("the echo back") { (try await service.api.get("/v1/sessions/\(id)"))["bytes_in"] as? Int == 4 }
        _ = try await service.api.delete("/v1/sessions/\(id)")
        try await eventually("both halves closed in the history") {
            let page = try await service.api.get("/v1/history?state=closed")
            return (page["sessions"] as? [Any])?.count == 2
        }

        for format in ["table", "json", "ndjson", "csv"] {
            let asked = try await cli(["history", "-o", format] + api)
            let read = try await cli(["history", "--db", service.historyFile, "--format", format])
            XCTAssertEqual(asked.status, 0, asked.stderr)
            XCTAssertEqual(read.status, 0, read.stderr)
            if format == "csv" {
                // The API writes CSV's CRLF; the file path prints lines.
                XCTAssertEqual(asked.stdout.replacingOccurrences(of: "\r\n", with: "\n"), read.stdout)
            } else {
                XCTAssertEqual(asked.stdout, read.stdout, "-o \(format): the service and the file agree")
            }
        }
        let json = try await cli(["history", "--listener", "echoes", "-o", "json"] + api)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], json.stdout)
        XCTAssertEqual(rows.count, 1, "--listener filters on the service as on the file")
        XCTAssertEqual(rows.first?["listener"] as? String, "echoes")
        let limited = try await cli(["history", "--limit", "1", "-o", "json"] + api)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [Any])?.count, 1)

        let server = try XCTUnwrap(rows.first?["id"] as? String)
        try await eventually("the transcript in the history") {
            ((try await service.api.get("/v1/history/\(server)/messages"))["messages"] as? [Any])?.count == 2
        }
        let shown = try await cli(["history", "show", server, "--messages"] + api)
        let file = try await cli(["history", "show", server, "--messages", "--db", service.historyFile])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(shown.stdout, file.stdout)
        XCTAssertTrue(shown.stdout.contains(#"<- 4 bytes "ping""#), shown.stdout)
        XCTAssertTrue(shown.stdout.contains(#"-> 4 bytes "ping""#), shown.stdout)

        let both = try await cli(["history", "--db", service.historyFile] + api)
        XCTAssertEqual(both.status, 2, both.stderr)
        let unknown = try await cli(["history", "show", "01M8RRS9A6B0RKQ0V6PABC20QX"] + api)
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertEqual(unknown.stderr, "no session with id '01M8RRS9A6B0RKQ0V6PABC20QX' in the history\n")
    }

    // MARK: A unix socket and a token

    func testAUnixSocketAPIWithATokenFile() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let socket = folder.appendingPathComponent("api.sock").path
        let token = folder.appendingPathComponent("token").path
        try "cli-Token-5e2c81\n".write(toFile: token, atomically: true, encoding: .utf8)
        let wrong = folder.appendingPathComponent("wrong").path
        try "not-the-token".write(toFile: wrong, atomically: true, encoding: .utf8)
        let service = try ServiceProcess(
            arguments: ["serve", "--api", "unix:\(socket)", "--token-file", token, "--db", folder.appendingPathComponent("h.sqlite3").path],
            directory: folder
        )
        defer { Task { await service.stop(keepingFiles: true) } }
        try await eventually("the API socket") { service.output.contains("control API listening on unix:\(socket)") }
        let direct = try await HTTPClient(unixPath: socket).get("/v1/listeners")
        XCTAssertEqual(direct.status, 401)
        let message = try XCTUnwrap((try direct.json["error"] as? [String: Any])?["message"] as? String)

        let api = ["--api", "unix:\(socket)"]
        let without = try await cli(["listeners", "list"] + api)
        XCTAssertEqual(without.status, 1, without.stderr)
        XCTAssertEqual(without.stderr, message + "\n", "the service's message as it is")
        let mistaken = try await cli(["listeners", "list", "--token-file", wrong] + api)
        XCTAssertEqual(mistaken.status, 1, mistaken.stderr)
        let wrongly = try await HTTPClient(unixPath: socket).request("GET", "/v1/listeners", extraHeaders: [("Authorization", "Bearer not-the-token")])
        XCTAssertEqual(wrongly.status, 401)
        XCTAssertEqual(mistaken.stderr, ((try wrongly.json["error"] as? [String: Any])?["message"] as? String ?? "?") + "\n")
        let unreadable = try await cli(["listeners", "list", "--token-file", folder.appendingPathComponent("nope").path] + api)
        XCTAssertEqual(unreadable.status, 1, unreadable.stderr)
        XCTAssertTrue(unreadable.stderr.hasPrefix("cannot read the token file"), unreadable.stderr)

        // Both from the environment, as a shell profile would set them.
        let environment = ["SWITCHBOARD_API": "unix:\(socket)", "SWITCHBOARD_TOKEN_FILE": token]
        let created = try await cli(["listeners", "create", "local", "127.0.0.1:0", "--mode", "echo", "-o", "json"], environment: environment)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(try created.json()["name"] as? String, "local")
        let listed = try await cli(["listeners", "list", "--token-file", token] + api)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("local "), listed.stdout)
        let history = try await cli(["history", "--token-file", token] + api)
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertTrue(history.stdout.hasPrefix("ID "), history.stdout)
        XCTAssertFalse(service.output.contains("cli-Token-5e2c81"))
    }

    // MARK: Exit statuses

    func testUsageErrorsExit2AndAnUnreachableServiceExits3NamingTheAddress() async throws {
        for arguments in [
            ["listeners", "create", "only-a-name"],
            ["listeners", "create", "x", "127.0.0.1:0", "--mode", "sideways"],
            ["sessions", "send", "01M8RRS9A6B0RKQ0V6PABC20QX", "text", "--hex", "00"],
            ["sessions", "read", "01M8RRS9A6B0RKQ0V6PABC20QX", "--wait", "61"],
            ["listeners", "list", "--api", "no-port-here"],
            ["listeners", "list", "-o", "yaml"],
            ["history", "--limit", "0"],
        ] {
            let result = try await cli(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("Usage: switchboard"), result.stderr)
        }
        let badEnvironment = try await cli(["listeners", "list"], environment: ["SWITCHBOARD_API": "nowhere"])
        XCTAssertEqual(badEnvironment.status, 2, badEnvironment.stderr)
        XCTAssertTrue(badEnvironment.stderr.contains("SWITCHBOARD_API"), "names where the bad address came from: \(badEnvironment.stderr)")

        let port = try freePort()
        let refused = try await cli(["listeners", "list", "--api", "127.0.0.1:\(port)"])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(refused.stderr.hasPrefix("cannot reach the switchboard API at 127.0.0.1:\(port): "), refused.stderr)
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString.prefix(8)).sock").path
        let noSocket = try await cli(["events"], environment: ["SWITCHBOARD_API": "unix:\(socket)"])
        XCTAssertEqual(noSocket.status, 3, noSocket.stderr)
        XCTAssertTrue(noSocket.stderr.hasPrefix("cannot reach the switchboard API at unix:\(socket): "), noSocket.stderr)
    }

    // MARK: Completion

    func testCompletionScriptsAreInstalledAndComplete() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try await cli(["--generate-completion-script", shell])
            XCTAssertEqual(script.status, 0, script.stderr)
            XCTAssertTrue(script.stdout.contains("listeners"), "\(shell) completes the verbs")
        }
        let script = try await cli(["--generate-completion-script", "bash"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-completion-\(UUID().uuidString.prefix(8)).bash")
        try script.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // What bash does at a TAB: COMP_WORDS and COMP_CWORD set, the function called.
        let complete = { (line: String) async throws -> [String] in
            var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if words.last != "" && line.hasSuffix(" ") { words.append("") }
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let program = """
                source '\(file.path)'; COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); COMP_LINE='\(line)'; COMP_POINT=${#COMP_LINE}
                _switchboard switchboard '\(words.last!)' '\(words[words.count - 2])'; printf '%s\\n' "${COMPREPLY[@]}"
                """
            return try await self.run("/bin/bash", ["-c", program]).stdout.split(separator: "\n").map(String.init)
        }
        let verbs = try await complete("switchboard li")
        XCTAssertEqual(verbs, ["listeners"])
        let modes = try await complete("switchboard listeners create x y --mode ")
        XCTAssertEqual(Set(modes), ["echo", "reply", "hold", "forward"])

        let destdir = try scratch()
        defer { try? FileManager.default.removeItem(at: destdir) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let install = root.appendingPathComponent("deploy/install.sh").path
        let environment = ["DESTDIR": destdir.path, "PREFIX": "/usr", "BINARY": ServiceProcess.binary.path]
        let installed = try await run(install, ["--no-build"], environment: environment)
        XCTAssertEqual(installed.status, 0, installed.stdout + installed.stderr)
        let places = ["usr/share/bash-completion/completions/switchboard", "usr/share/zsh/vendor-completions/_switchboard", "usr/share/fish/vendor_completions.d/switchboard.fish"]
        for (place, shell) in zip(places, ["bash", "zsh", "fish"]) {
            let text = try String(contentsOf: destdir.appendingPathComponent(place), encoding: .utf8)
            let generated = try await cli(["--generate-completion-script", shell])
            XCTAssertEqual(text, generated.stdout, place)
        }
        let removed = try await run(install, ["--uninstall"], environment: environment)
        XCTAssertEqual(removed.status, 0, removed.stdout + removed.stderr)
        for place in places { XCTAssertFalse(FileManager.default.fileExists(atPath: destdir.appendingPathComponent(place).path), place) }
    }

    // MARK: Running the binary

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        /// The value of a `key  value` line of a `show`.
        func field(_ key: String) -> String? {
            stdout.split(separator: "\n").first { $0.hasPrefix(key + " ") }.map { $0.dropFirst(key.count).trimmingCharacters(in: .whitespaces) }
        }

        func json() throws -> [String: Any] {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "not a JSON object: \(stdout)\(stderr)")
        }
    }

    /// Runs `switchboard ARGUMENTS` to its end, standard output and error kept apart, with
    /// `stdin` as its standard input (none: an empty one). The environment is the test's, less
    /// any `SWITCHBOARD_` variable, plus `environment`.
    func cli(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        try await run(ServiceProcess.binary.path, arguments, stdin: stdin, environment: environment)
    }

    func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) async throws -> Result {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("stdout")
        let err = folder.appendingPathComponent("stderr")
        let input = folder.appendingPathComponent("stdin")
        for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        _ = FileManager.default.createFile(atPath: input.path, contents: stdin ?? Data())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") }.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = try FileHandle(forReadingFrom: input)
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return Result(
            status: status,
            stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8)
        )
    }

    private func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
