import Foundation
import SwitchboardTestSupport
import XCTest

/// The README's walkthrough, run as written: its shell blocks, step by step in one bash, against
/// the built service; each step must print what its `#   →` lines say (`...` stands for what
/// differs from run to run), and a step without them must print nothing.
///
/// Only the addresses differ from a person's run: the service's `localhost:7700` becomes the
/// port it got, and every `127.0.0.1:PORT` the walkthrough names (and the seed programs' 8080)
/// becomes a free port, in the README's commands, in what it says they print and in copies of
/// the seed programs alike.
final class ReadmeWalkthroughTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let seedFolder = "Tests/EndToEndTests/SeedPeers"

    struct Step {
        var lines: [String] = []
        var expected: [String] = []
    }

    /// The shell blocks of the README's walkthrough section, cut into steps: a run of command
    /// lines and the `#   →` lines after it. Other comments and blank lines end a step.
    static func steps(of readme: String) throws -> [Step] {
        guard let start = readme.range(of: "\n## A walkthrough with curl\n") else { throw Missing("the walkthrough section") }
        let section = readme[start.upperBound...].components(separatedBy: "\n## ").first ?? ""
        var steps: [Step] = []
        var current: Step?
        var inBlock = false
        func finish() {
            if let step = current { steps.append(step) }
            current = nil
        }
        for line in section.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                finish()
                inBlock = !inBlock && (line == "```bash" || line == "```sh")
                continue
            }
            guard inBlock else { continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let arrow = trimmed.range(of: "#   → "), arrow.lowerBound == trimmed.startIndex {
                guard current != nil else { throw Missing("a command before: \(line)") }
                current!.expected.append(String(trimmed[arrow.upperBound...]))
            } else if trimmed.isEmpty || trimmed.hasPrefix("#") {
                finish()
            } else {
                if current?.expected.isEmpty == false { finish() }
                if current == nil { current = Step() }
                current!.lines.append(line)
            }
        }
        finish()
        return steps
    }

    /// The expected lines as a pattern: literal text, `...` for anything within a line.
    static func matches(_ output: String, _ expected: [String]) -> Bool {
        let pattern = expected.map { line in
            line.components(separatedBy: "...").map(NSRegularExpression.escapedPattern(for:)).joined(separator: "[^\\n]*?")
        }.joined(separator: "\n")
        guard let regex = try? NSRegularExpression(pattern: "^" + pattern + "$") else { return false }
        return regex.firstMatch(in: output, range: NSRange(output.startIndex..., in: output)) != nil
    }

    func testTheWalkthroughPrintsWhatItSays() async throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let steps = try Self.steps(of: readme)
        XCTAssertGreaterThanOrEqual(steps.filter { !$0.expected.isEmpty }.count, 20, "the walkthrough was not found whole")

        let service = try await ServiceProcess.start()
        defer { Task { await service.stop() } }
        let folder = service.directory.appendingPathComponent("walkthrough")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(Self.seedFolder), withIntermediateDirectories: true)

        // Every port the walkthrough binds or connects to, and the seed programs' own.
        let text = steps.flatMap(\.lines).joined(separator: "\n")
        let named = try NSRegularExpression(pattern: #"127\.0\.0\.1:([1-9][0-9]{2,4})"#)
            .matches(in: text, range: NSRange(text.startIndex..., in: text))
            .map { String(text[Range($0.range(at: 1), in: text)!]) }
        var ports: [String: String] = [:]
        for port in Set(named + ["8080"]) { ports[port] = String(try freePort()) }
        func substituted(_ line: String) -> String {
            var line = line.replacingOccurrences(of: "localhost:7700", with: "localhost:\(service.apiPort!)")
            for (from, to) in ports {
                line = line.replacingOccurrences(of: "(?<![0-9])\(from)(?![0-9])", with: to, options: .regularExpression)
            }
            return line
        }
        for name in ["client.py", "server.py"] {
            let seed = try String(contentsOf: Self.root.appendingPathComponent("\(Self.seedFolder)/\(name)"), encoding: .utf8)
            try substituted(seed).replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
                .write(to: folder.appendingPathComponent("\(Self.seedFolder)/\(name)"), atomically: true, encoding: .utf8)
        }

        // Its process group, to end what a failed step leaves running (a seed server waiting).
        var script = "printf '@@group %s@@\\n' \"$$\"\n"
        for (index, step) in steps.enumerated() {
            script += "printf '\\n@@step \(index)@@\\n'\n" + step.lines.map(substituted).joined(separator: "\n") + "\n"
        }
        script += "printf '\\n@@step end@@\\n'\n"
        let file = folder.appendingPathComponent("walkthrough.sh")
        try script.write(to: file, atomically: true, encoding: .utf8)

        // In C messages, as a terminal in English shows them; output and errors in one pipe, in
        // the order they came (a file would not do: `tee /dev/stderr` opens it anew, from its
        // start). In a session of its own (setsid forks when it must: --wait waits for that
        // child), so that all it started can be ended with its group.
        let run = try ServiceProcess(
            executable: URL(fileURLWithPath: "/usr/bin/setsid"), arguments: ["--wait", "/bin/bash", file.path],
            directory: folder, environment: ["LC_ALL": "C"]
        )
        let finished = (try? await run.waitForExit(timeout: .seconds(120))) != nil
        if let line = run.output.split(separator: "\n").first, line.hasPrefix("@@group "), let group = Int32(line.dropFirst(8).dropLast(2)) {
            kill(-group, SIGKILL)
        }
        if !finished { run.signal(SIGKILL) }
        try? await eventually("the walkthrough's output to its end") { run.outputComplete }
        let output = run.output
        XCTAssertTrue(finished, "the walkthrough did not finish in 2 minutes:\n\(output)")

        for (index, step) in steps.enumerated() {
            guard let start = output.range(of: "@@step \(index)@@\n"),
                  let end = output.range(of: "\n@@step \(index + 1 == steps.count ? "end" : String(index + 1))@@", range: start.upperBound..<output.endIndex) else {
                XCTFail("step \(index) did not finish:\n\(step.lines.joined(separator: "\n"))\n--- output so far:\n\(output)")
                return
            }
            var printed = String(output[start.upperBound..<end.lowerBound])
            while printed.hasSuffix("\n") { printed.removeLast() }
            let command = step.lines.joined(separator: "\n")
            let expected = step.expected.map(substituted)
            if expected.isEmpty {
                XCTAssertEqual(printed, "", "README says nothing is printed by:\n\(command)")
            } else {
                XCTAssertTrue(Self.matches(printed, expected), "README step:\n\(command)\nsays it prints:\n\(expected.joined(separator: "\n"))\nbut it printed:\n\(printed)")
            }
        }
    }

    /// The parser and the matcher themselves, on a small README: a test that could not fail
    /// would be no test.
    func testStepsAndPatterns() throws {
        let readme = """
            # x

            ## A walkthrough with curl

            ```bash
            # prose
            a \\
              b
            #   → {"x":1,...}
            c
            d
            #   → one
            #   → two ... three
            ```

            ## Next
            ```sh
            e
            ```
            """
        let steps = try Self.steps(of: readme)
        XCTAssertEqual(steps.map(\.lines), [["a \\", "  b"], ["c", "d"]])
        XCTAssertEqual(steps.map(\.expected), [[#"{"x":1,...}"#], ["one", "two ... three"]])
        XCTAssertTrue(Self.matches(#"{"x":1,"y":[2]}"#, [#"{"x":1,...}"#]))
        XCTAssertFalse(Self.matches(#"{"x":2,"y":[2]}"#, [#"{"x":1,...}"#]))
        XCTAssertTrue(Self.matches("one\ntwo and three", ["one", "two ... three"]))
        XCTAssertFalse(Self.matches("one\ntwo\nthree", ["one", "two ... three"]), "... stays within a line")
        XCTAssertFalse(Self.matches("one\ntwo three\nmore", ["one", "two ... three"]), "nothing printed past what is said")
    }

    struct Missing: Error, CustomStringConvertible {
        let what: String
        init(_ what: String) { self.what = what }
        var description: String { "README.md: \(what)" }
    }
}
