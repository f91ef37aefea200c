import Foundation

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
