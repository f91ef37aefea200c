import Foundation
import SwitchboardTestSupport
import XCTest

/// What `deploy/install.sh` installs carries the Swift runtime (`--static-swift-stdlib`), so it
/// runs without the toolchain: `ldd` names no Swift library.
///
/// A second release build of everything (`--static-swift-stdlib` compiles every module against
/// the static runtime's modules) takes 5 to 8 minutes on CI's 2 cores: too long for a test.
/// This links the objects `swift test` has just built instead, with the link SwiftPM ran for the
/// debug `switchboard` plus `-static-stdlib` and the static Foundation's own libraries (which
/// objects compiled against the shared Foundation do not name): two seconds. It shows that our
/// code and every dependency (Foundation, NIO, Hummingbird, GRDB) link that way, and that the
/// result serves on its own. The release binary install.sh builds was checked the same way by
/// hand (ldd, then serving) when this test was written.
final class StaticBinaryTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// What a binary linked against the toolchain's shared runtime needs.
    static let swiftLibraries = ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "libXCTest"]

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProgram(executable, arguments)
    }

    private func swiftLibraries(of binary: String) throws -> [String] {
        let ldd = try run("/usr/bin/ldd", [binary])
        XCTAssertEqual(ldd.status, 0, ldd.output)
        return ldd.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { line in Self.swiftLibraries.contains { line.hasPrefix($0) } }
    }

    func testTheInstalledBinaryNeedsNoSwiftLibrary() async throws {
        let install = try String(contentsOf: Self.root.appendingPathComponent("deploy/install.sh"), encoding: .utf8)
        XCTAssertTrue(install.contains("build_command=(swift build -c release --product switchboard --static-swift-stdlib)"), "install.sh builds with the static Swift runtime")

        // The link SwiftPM ran for the binary these tests use, from its build manifest.
        let binary = ServiceProcess.binary
        let configuration = binary.deletingLastPathComponent().lastPathComponent
        let manifest = binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("\(configuration).yaml")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        let command = try XCTUnwrap(text.range(of: "\n  \"C.switchboard-x86_64-unknown-linux-gnu-\(configuration).exe\":\n"), "no link of switchboard in \(manifest.path)")
        let argsLine = try XCTUnwrap(text[command.upperBound...].split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("args: ") })
        let json = argsLine.trimmingCharacters(in: .whitespaces).dropFirst("args: ".count)
        var arguments = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String])
        let swiftc = arguments.removeFirst()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-static-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: output) }
        let o = try XCTUnwrap(arguments.firstIndex(of: "-o"))
        arguments[o + 1] = output.path
        if let rpath = arguments.firstIndex(where: { $0.hasPrefix("-rpath=") }), rpath > 0, arguments[rpath - 1] == "-Xlinker" {
            arguments.removeSubrange((rpath - 1)...rpath)
        }
        let staticFoundation = ["FoundationEssentials", "FoundationInternationalization", "CoreFoundation", "_FoundationICU", "_FoundationCShims", "_FoundationCollections", "swiftDispatch", "swiftSynchronization"]
        let linked = try run(swiftc, arguments + ["-static-stdlib"] + staticFoundation.map { "-l\($0)" })
        XCTAssertEqual(linked.status, 0, "links with the static Swift runtime:\n\(linked.output)")

        XCTAssertEqual(try swiftLibraries(of: output.path), [], "needs no Swift library")
        let version = try run(output.path, ["--version"])
        XCTAssertEqual(version.status, 0, version.output)
        XCTAssertEqual(version.output.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
        // And it serves: the API answers and a listener binds.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-static-run-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let service = try ServiceProcess(executable: output, arguments: ["serve", "--api", "127.0.0.1:0", "--db", folder.appendingPathComponent("h.sqlite3").path], directory: folder)
        defer { Task { await service.stop() } }
        try await eventually("the static binary's API:\n\(service.output)") { service.apiPort != nil || !service.process.isRunning }
        let health = try await service.api.get("/healthz")
        XCTAssertEqual(health.status, 200, health.text)
        let created = try await service.api.post("/v1/listeners", json: #"{"name":"e","address":"127.0.0.1:0","mode":"echo"}"#)
        XCTAssertEqual(created.status, 201, created.text)

        // The check can tell: the ordinary build needs the toolchain's libraries.
        XCTAssertFalse(try swiftLibraries(of: binary.path).isEmpty, "the shared build names libswiftCore")
    }
}
