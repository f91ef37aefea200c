import Foundation
import SwitchboardTestSupport

/// The seed's program (`SeedPeers/NAME`) with its port changed and its bind address kept to
/// loopback, written into `directory`.
func seedProgram(_ name: String, port: Int, in directory: URL) throws -> URL {
    let seedPeers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("SeedPeers")
    let text = try String(contentsOf: seedPeers.appendingPathComponent(name), encoding: .utf8)
        .replacingOccurrences(of: "8080", with: String(port))
        .replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
    let url = directory.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// An iperf3 server for one test on 127.0.0.1 (`-1`: it serves one client, then exits):
/// answers its port and the process, to terminate if it is still running.
func startIperf3Server() throws -> (port: Int, process: Process) {
    let port = try freePort()
    let server = Process()
    server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    server.arguments = ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", String(port)]
    server.standardOutput = FileHandle.nullDevice
    server.standardError = FileHandle.nullDevice
    try server.run()
    return (port, server)
}

/// Runs a program (found on PATH) to its end, answering its status and what it printed. The
/// output goes to a file: a pipe would need reading while the tool runs, and a busy machine
/// can be slow to deliver its end. `input` is written to its standard input and kept open
/// until it ends, so its own end of input does not end a connection first.
func runTool(_ tool: String, _ arguments: [String], input: String? = nil, timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(tool)-\(UUID().uuidString.prefix(8)).out")
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: file) }
    let output = try FileHandle(forWritingTo: file)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try await eventually("\(tool) to finish", timeout: timeout) { !process.isRunning }
    try? stdin.fileHandleForWriting.close()
    try output.close()
    return (process.terminationStatus, try String(contentsOf: file, encoding: .utf8))
}

/// Runs `executable` to its end and answers its status with its standard output and error as
/// one text. `environment` replaces the inherited one when given.
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `chattr FLAG FILES`: answers whether it worked (it needs root and a file system that has
/// the attribute); a test makes a file immutable with it, since root ignores file modes.
func chattr(_ flag: String, _ files: [String]) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["chattr", flag] + files
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
}

extension ServiceProcess {
    /// Writes, into `folder`, a wrapper that owns the listening socket as systemd would: it binds
    /// 127.0.0.1:0, moves the socket to fd 3, sets LISTEN_FDS for its own pid and execs its
    /// arguments in its place. Answers its path, to run with python3.
    static func socketActivationWrapper(in folder: URL) throws -> String {
        let wrapper = """
            import os, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="api", LISTEN_PID=str(os.getpid()))
            os.execve(sys.argv[1], sys.argv[1:], env)
            """
        let script = folder.appendingPathComponent("activate.py")
        try wrapper.write(to: script, atomically: true, encoding: .utf8)
        return script.path
    }
}
