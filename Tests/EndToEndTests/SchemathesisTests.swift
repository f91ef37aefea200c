import Foundation
import SwitchboardTestSupport
import XCTest

/// schemathesis fuzzes the built binary through its own `GET /v1/openapi.json`, with every check:
/// the service must answer every request the document allows (and refuse every one it does not)
/// with a status, a Content-Type and a body the document names.
///
/// The service runs in a network namespace of its own with only loopback (and, as root, as
/// `nobody`): the sessions schemathesis opens to made-up hosts fail at once instead of reaching
/// out, and made-up `unix:` paths cannot land outside world-writable folders.
final class SchemathesisTests: XCTestCase {
    /// The version `.ci/run` installs.
    static let version = "4.32.5"
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testTheServiceAnswersAsItsOpenAPIDocumentSays() async throws {
        guard let schemathesis = Self.schemathesis() else {
            let install = "python3 -m venv .build/schemathesis && .build/schemathesis/bin/pip install schemathesis==\(Self.version) (or `pip install schemathesis==\(Self.version)`; `bash .ci/run` does it)"
            if ProcessInfo.processInfo.environment["CI"] != nil {
                XCTFail("schemathesis is not installed, and CI is set: \(install)")
                return
            }
            throw XCTSkip("schemathesis is not installed; to run this test: \(install)")
        }
        let root = getuid() == 0
        let isolated = await Self.canIsolate(root: root)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-schemathesis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(at: directory) }

        var binary = ServiceProcess.binary
        if isolated && root {
            // nobody may not reach the build folder (say, under /root): give it its own copy.
            let copy = directory.appendingPathComponent("switchboard")
            try FileManager.default.copyItem(at: binary, to: copy)
            binary = copy
        }
        let serve = [binary.path, "serve", "--api", "127.0.0.1:0", "--db", directory.appendingPathComponent("history.sqlite3").path]
        let service: ServiceProcess
        if isolated {
            let drop = root ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : ""
            service = try ServiceProcess(
                executable: URL(fileURLWithPath: "/usr/bin/env"),
                arguments: ["unshare", root ? "-n" : "-rn", "--", "sh", "-c", "ip link set lo up && exec \(drop)\"$@\"", "sh"] + serve,
                directory: directory
            )
        } else {
            service = try ServiceProcess(executable: binary, arguments: Array(serve.dropFirst()), directory: directory)
        }
        defer { Task { await service.stop(keepingFiles: true) } }
        try await eventually("the API address in the log:\n\(service.output)") { service.apiPort != nil || !service.process.isRunning }
        let port = try XCTUnwrap(service.apiPort, "switchboard did not start:\n\(service.output)")

        let run = [
            schemathesis.path, "--no-color", "--config-file", Self.packageRoot.appendingPathComponent("openapi/schemathesis.toml").path,
            "run", "http://127.0.0.1:\(port)/v1/openapi.json",
            "--checks", "all",
            "--max-examples", "30",
            "--request-timeout", "10",
            // One worker: with two, hypothesis parses lambdas' source in both threads at once,
            // which CPython 3.11's ast.parse does not survive ("AST constructor recursion depth
            // mismatch", a runtime error in 1 run of 3 once `pretty` was on every operation).
            // One is no slower here (about 30 s).
            "--workers", "1",
            "--generation-database", "none",
        ]
        let pid = String(service.process.processIdentifier)
        let command = isolated
            ? ["nsenter", "--target", pid, "--net"] + (root ? [] : ["--user", "--preserve-credentials"]) + run
            : run
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_HOOKS"] = Self.packageRoot.appendingPathComponent("openapi/schemathesis_hooks.py").path
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = LineCollector(pipe)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        try await eventually("schemathesis to finish:\n\(output.text)", timeout: .seconds(600)) { !process.isRunning }
        try await eventually("schemathesis's output") { output.closed }
        let isolation = isolated ? "" : "\n(not isolated: unshare, nsenter or ip is missing or not permitted here)"
        let log = service.output.split(separator: "\n").suffix(40).joined(separator: "\n")
        XCTAssertEqual(process.terminationStatus, 0, "the service's last log lines:\n\(log)\n\nschemathesis found the service disagreeing with openapi/openapi.json:\n\(output.text)\(isolation)")
        XCTAssertTrue(service.process.isRunning, "switchboard died under schemathesis:\n\(service.output)")
    }

    /// `$SCHEMATHESIS`, the venv `.ci/run` makes under .build, or `schemathesis` on the PATH.
    static func schemathesis() -> URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [packageRoot.appendingPathComponent(".build/schemathesis/bin/schemathesis")]
        if let explicit = environment["SCHEMATHESIS"] { candidates.insert(URL(fileURLWithPath: explicit), at: 0) }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(URL(fileURLWithPath: String(folder)).appendingPathComponent("schemathesis"))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Whether this machine lets the test give the service a network namespace of its own.
    static func canIsolate(root: Bool) async -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["unshare", root ? "-n" : "-rn", "--", "sh", "-c", "ip link set lo up && command -v nsenter >/dev/null" + (root ? " && command -v setpriv >/dev/null" : "")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        guard (try? await eventually("unshare to finish") { !process.isRunning }) != nil else { return false }
        return process.terminationStatus == 0
    }
}
