import Foundation
import XCTest

/// `deploy/packages.sh` and the build step of `deploy/install.sh`, with `dpkg-query`, `apt-get`,
/// `sudo`, `id` and `swift` replaced by stubs that write down how they were called: what each
/// script installs or builds, as whom, and that it does nothing when nothing is missing.
final class DeployScriptsTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private struct Stubs {
        let folder: URL
        var bin: URL { folder.appendingPathComponent("bin") }
        var log: URL { folder.appendingPathComponent("calls.log") }
        var calls: [String] {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    /// Stubs: `dpkg-query` says every package is installed but those in $MISSING; `id -u`
    /// answers $STUB_UID; `apt-get` and `swift` only write down their arguments; `sudo` writes
    /// its own down and runs the rest, as `bash -c` where it was asked for a login shell (which
    /// would reset PATH past the stubs).
    private func stubs(sudo: Bool) throws -> Stubs {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-deploy-\(UUID().uuidString.prefix(8))")
        let stubs = Stubs(folder: folder)
        try FileManager.default.createDirectory(at: stubs.bin, withIntermediateDirectories: true)
        var scripts = [
            "dpkg-query": #"for p in $MISSING; do [ "$p" = "${@: -1}" ] && exit 1; done; printf 'ii '"#,
            "id": #"[ "$1" = -u ] && echo "$STUB_UID""#,
            "apt-get": #"echo "apt-get $*" >> "$CALLS""#,
            "swift": #"echo "swift $*" >> "$CALLS""#,
        ]
        if sudo {
            scripts["sudo"] = #"""
                echo "sudo $*" >> "$CALLS"
                while [ "${1:-}" = -u ] || [ "${1:-}" = -H ]; do [ "$1" = -u ] && shift; shift; done
                if [ "$1" = bash ] && [ "$2" = -lc ]; then shift 2; exec bash -c "$@"; fi
                exec "$@"
                """#
        }
        for (name, body) in scripts {
            let file = stubs.bin.appendingPathComponent(name)
            try "#!/bin/bash\n\(body)\n".write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        return stubs
    }

    private func run(_ script: String, _ arguments: [String], stubs: Stubs, path: String, environment: [String: String]) throws -> (status: Int32, output: String) {
        try runProgram("/bin/bash", [script] + arguments,
                       environment: ["PATH": path, "CALLS": stubs.log.path, "HOME": stubs.folder.path].merging(environment) { $1 })
    }

    private var packagesScript: String { Self.root.appendingPathComponent("deploy/packages.sh").path }

    func testPackagesDoesNothingWhenEverythingIsThere() throws {
        let stubs = try stubs(sudo: true)
        defer { try? FileManager.default.removeItem(at: stubs.folder) }
        for (kind, uid) in [("build", "0"), ("test", "1000")] {
            let result = try run(packagesScript, [kind], stubs: stubs, path: stubs.bin.path, environment: ["MISSING": "", "STUB_UID": uid])
            XCTAssertEqual(result.status, 0, result.output)
            XCTAssertEqual(result.output, "", "nothing to say")
        }
        XCTAssertEqual(stubs.calls, [], "neither apt-get nor sudo")
    }

    func testPackagesInstallsWhatIsMissingAsRootOrWithSudoAndSaysWhat() throws {
        let stubs = try stubs(sudo: true)
        defer { try? FileManager.default.removeItem(at: stubs.folder) }
        let asRoot = try run(packagesScript, ["build"], stubs: stubs, path: stubs.bin.path, environment: ["MISSING": "libjansson-dev pkg-config curl", "STUB_UID": "0"])
        XCTAssertEqual(asRoot.status, 0, asRoot.output)
        XCTAssertTrue(asRoot.output.contains("installing libjansson-dev pkg-config (for the build)"), asRoot.output)
        XCTAssertEqual(stubs.calls, ["apt-get update -qq", "apt-get install -y -qq --no-install-recommends libjansson-dev pkg-config"], "curl is for the tests only")

        try FileManager.default.removeItem(at: stubs.log)
        let withSudo = try run(packagesScript, ["test"], stubs: stubs, path: stubs.bin.path, environment: ["MISSING": "libsqlite3-dev curl", "STUB_UID": "1000"])
        XCTAssertEqual(withSudo.status, 0, withSudo.output)
        XCTAssertTrue(withSudo.output.contains("installing libsqlite3-dev curl (for the test) with sudo apt-get"), withSudo.output)
        XCTAssertEqual(stubs.calls, [
            "sudo apt-get update -qq", "apt-get update -qq",
            "sudo apt-get install -y -qq --no-install-recommends libsqlite3-dev curl", "apt-get install -y -qq --no-install-recommends libsqlite3-dev curl",
        ])
    }

    func testPackagesWithoutRootOrSudoSaysWhatToRun() throws {
        let stubs = try stubs(sudo: false)
        defer { try? FileManager.default.removeItem(at: stubs.folder) }
        let result = try run(packagesScript, ["build"], stubs: stubs, path: stubs.bin.path, environment: ["MISSING": "libsqlite3-dev", "STUB_UID": "1000"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev"), result.output)
        XCTAssertEqual(stubs.calls, [])
        let usage = try run(packagesScript, ["everything"], stubs: stubs, path: stubs.bin.path, environment: [:])
        XCTAssertEqual(usage.status, 2, usage.output)
    }

    /// install.sh's build, in a copy of the script (it builds in the folder above its own).
    private func installCopy(in stubs: Stubs) throws -> String {
        let deploy = stubs.folder.appendingPathComponent("tree/deploy")
        try FileManager.default.createDirectory(at: deploy, withIntermediateDirectories: true)
        let copy = deploy.appendingPathComponent("install.sh")
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("deploy/install.sh"), to: copy)
        return copy.path
    }

    func testInstallBuildsStaticallyAndAsTheUserWhoCalledSudo() throws {
        let stubs = try stubs(sudo: true)
        defer { try? FileManager.default.removeItem(at: stubs.folder) }
        let script = try installCopy(in: stubs)
        let path = "\(stubs.bin.path):/usr/bin:/bin"
        let build = "swift build -c release --product switchboard --static-swift-stdlib"

        let underSudo = try run(script, ["--build-only"], stubs: stubs, path: path, environment: ["STUB_UID": "0", "SUDO_USER": "alice"])
        XCTAssertEqual(underSudo.status, 0, underSudo.output)
        XCTAssertTrue(underSudo.output.contains("building as alice"), underSudo.output)
        XCTAssertEqual(stubs.calls.count, 2, "\(stubs.calls)")
        XCTAssertTrue(stubs.calls.first?.hasPrefix("sudo -u alice -H bash -lc ") == true, "\(stubs.calls)")
        XCTAssertEqual(stubs.calls.last, build)

        try FileManager.default.removeItem(at: stubs.log)
        let asRoot = try run(script, ["--build-only"], stubs: stubs, path: path, environment: ["STUB_UID": "0"])
        XCTAssertEqual(asRoot.status, 0, asRoot.output)
        XCTAssertEqual(stubs.calls, [build], "root itself builds as root")

        // A build folder root already owns would fail the user's build half-way: said first.
        try FileManager.default.removeItem(at: stubs.log)
        let buildFolder = stubs.folder.appendingPathComponent("tree/.build")
        try FileManager.default.createDirectory(at: buildFolder, withIntermediateDirectories: true)
        guard getuid() == 0 else { return }
        let refused = try run(script, ["--build-only"], stubs: stubs, path: path, environment: ["STUB_UID": "0", "SUDO_USER": "alice"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("sudo chown -R alice .build"), refused.output)
        XCTAssertEqual(stubs.calls, [])
    }
}
