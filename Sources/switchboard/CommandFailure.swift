import SwitchboardClient

/// The exit statuses of every command: what a script branches on.
enum ExitStatus {
    static let success: Int32 = 0
    /// The service refused (its message is printed as it is), or a runtime error here: a
    /// history file that cannot be read, a token file that cannot.
    static let failure: Int32 = 1
    /// The command line is wrong: ArgumentParser's own errors and `ValidationError`s (it
    /// would exit 64, EX_USAGE; 2 is what docker, kubectl and the shells use).
    static let usage: Int32 = 2
    /// No service answered at the address tried.
    static let unreachable: Int32 = 3
}

/// An error a command ends with at run time: printed alone (no usage text), then exit with
/// `status`.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let status: Int32

    init(_ description: String, status: Int32 = ExitStatus.failure) {
        self.description = description
        self.status = status
    }

    init(_ error: ClientError) {
        switch error {
        case .unreachable: self.init(error.description, status: ExitStatus.unreachable)
        case .refused, .local: self.init(error.description)
        }
    }
}
