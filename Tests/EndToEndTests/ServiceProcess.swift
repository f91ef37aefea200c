import Foundation
import SwitchboardTestSupport
import Synchronization

/// The built `switchboard` binary, started as an operator would start it.
final class ServiceProcess: Sendable {
    let process: Process
    private let log: LineCollector
    let directory: URL

    static var binary: URL {
        // SwiftPM puts test bundles beside the products they depend on.
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("switchboard"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("switchboard"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// Starts `switchboard serve` on 127.0.0.1:0 and waits until its API answers: in a fresh
    /// folder, or in `directory` to restart on the history file an earlier run left there.
    /// `fileSizeLimitKB` starts it under `ulimit -f`, a disk that is full past that size;
    /// `cpus` under `taskset -c`, as systemd's CPUAffinity= would.
    static func start(
        _ extra: [String] = [], in directory: URL? = nil, fileSizeLimitKB: Int? = nil, openFileLimit: Int? = nil,
        cpus: String? = nil, environment: [String: String] = [:]
    ) async throws -> ServiceProcess {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var arguments = ["serve", "--api", "127.0.0.1:0", "--db", directory.appendingPathComponent("history.sqlite3").path] + extra
        var executable = binary
        var limits: [String] = []
        if let fileSizeLimitKB { limits.append("ulimit -S -f \(fileSizeLimitKB)") }
        // Hard and soft: the service raises its soft limit to the hard one at start.
        if let openFileLimit { limits.append("ulimit -n \(openFileLimit)") }
        if !limits.isEmpty || cpus != nil {
            let exec = cpus.map { "exec taskset -c \($0)" } ?? "exec"
            arguments = ["-c", (limits + ["\(exec) \"$0\" \"$@\""]).joined(separator: " && "), binary.path] + arguments
            executable = URL(fileURLWithPath: "/bin/bash")
        }
        let service = try ServiceProcess(executable: executable, arguments: arguments, directory: directory, environment: environment)
        try await eventually("the API address in the log:\n\(service.output)") { service.apiPort != nil || !service.process.isRunning }
        guard service.apiPort != nil else { throw TimedOut("switchboard exited: \(service.output)") }
        return service
    }

    init(executable: URL = ServiceProcess.binary, arguments: [String], directory: URL, environment: [String: String] = [:]) throws {
        self.directory = directory
        process = Process()
        process.executableURL = executable
        // The test's own environment, less anything systemd-like that would change how it runs.
        var inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") && !["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM"].contains($0.key) }
        inherited.merge(environment) { $1 }
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        if environment["JOURNAL_STREAM"] == "<stderr>" {
            // Make the child's stderr look like systemd's journal stream: its device and inode.
            var info = stat()
            fstat(pipe.fileHandleForWriting.fileDescriptor, &info)
            inherited["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        process.environment = inherited
        log = LineCollector(pipe)
        try process.run()
    }

    var output: String { log.text }
    /// The process closed its output: `output` is all there will be.
    var outputComplete: Bool { log.closed }

    var apiPort: Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("control API listening on ") }),
              let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else { return nil }
        return port
    }

    var api: HTTPClient { HTTPClient(port: apiPort!) }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(15)) async throws -> Int32 {
        try await eventually("switchboard to exit", timeout: timeout) { !process.isRunning }
        return process.terminationStatus
    }

    func stop(keepingFiles: Bool = false) async {
        if process.isRunning {
            signal(SIGKILL)
            _ = try? await waitForExit()
        }
        if !keepingFiles { try? FileManager.default.removeItem(at: directory) }
    }

    /// The process's resident memory (VmRSS), in bytes.
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return kb * 1024
    }

    var historyFile: String { directory.appendingPathComponent("history.sqlite3").path }
}

/// Runs the built binary to completion, for `--help` and refusals at start.
func runSwitchboard(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
    let directory = FileManager.default.temporaryDirectory
    let service = try ServiceProcess(arguments: arguments, directory: directory, environment: environment)
    let status = try await service.waitForExit()
    // All of it where the end of the pipe is seen (a first read can hold half a line); what
    // came, where it is not.
    if (try? await eventually("the output to be read to its end") { service.outputComplete }) == nil {
        try await eventually("the output to be read") { !service.output.isEmpty }
    }
    return (status, service.output)
}

/// Raises this process's soft file-descriptor limit to the hard one, for tests that hold
/// thousands of connections.
func raiseOpenFileLimit() {
    var limits = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur < limits.rlim_max else { return }
    limits.rlim_cur = limits.rlim_max
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits)
}
