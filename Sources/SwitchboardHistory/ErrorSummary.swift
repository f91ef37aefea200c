import GRDB

enum ErrorSummary {
    /// What failed, short enough for `/readyz` and `/v1/info`: SQLite's code and message
    /// without the statement GRDB's description appends (the log keeps the whole error).
    static func of(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
    }
}
