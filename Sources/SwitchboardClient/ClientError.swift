/// Why a request did not succeed, sorted the way a caller acts on it: the service answered
/// and said no, the service could not be reached at all, or something on this side failed.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// The service answered with a 4xx or 5xx; `message` is its JSON error's message as it is.
    case refused(status: Int, code: String, message: String)
    /// No answer: nothing listening, no such socket, a timeout, a connection cut before the
    /// answer (or in the middle of a stream). `address` is where it was tried.
    case unreachable(address: APIAddress, reason: String)
    /// A problem before any request (a token file that cannot be read) or an answer that is
    /// not the API's.
    case local(String)

    public var description: String {
        switch self {
        case .refused(_, _, let message): message
        case .unreachable(let address, let reason):
            "cannot reach the switchboard API at \(address): \(reason) (is `switchboard serve` running there? --api or SWITCHBOARD_API say where)"
        case .local(let message): message
        }
    }
}
