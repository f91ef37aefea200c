import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request per call to the control API, through async-http-client: the token on every
/// request, the answer collected (or streamed), and every failure turned into a `ClientError`.
public final class ControlAPIClient: Sendable {
    public let address: APIAddress
    private let token: String?
    private let http: HTTPClient

    /// The most of an answer that is collected; the largest the API gives (a page of
    /// messages) is about 1 MiB of data, which base64 makes 1.4.
    static let answerLimit = 16 << 20

    public init(address: APIAddress, token: String?) {
        self.address = address
        self.token = token
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5))
        configuration.redirectConfiguration = .disallow
        configuration.httpVersion = .http1Only
        // A refused connection is the answer (nothing listens there), not a reason to retry
        // until the connect timeout: exit 3 at once.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// Runs `body` with a client and shuts the client down after it, also when it throws.
    public static func with<T: Sendable>(
        address: APIAddress, token: String?, _ body: (ControlAPIClient) async throws -> T
    ) async throws -> T {
        let client = ControlAPIClient(address: address, token: token)
        do {
            let result = try await body(client)
            try? await client.http.shutdown()
            return result
        } catch {
            try? await client.http.shutdown()
            throw error
        }
    }

    /// A request whose whole answer is read; a 4xx or 5xx throws `.refused`.
    /// `timeout` is for the whole exchange (a long-poll's wait is added by its caller).
    public func request(
        _ method: HTTPMethod, _ path: String, query: APIQuery = [:], body: RequestBody? = nil,
        timeout: Duration = .seconds(30)
    ) async throws(ClientError) -> APIAnswer {
        do {
            let response = try await http.execute(make(method, path, query, body), timeout: .init(timeout))
            let bytes = try await response.body.collect(upTo: Self.answerLimit)
            let answer = APIAnswer(status: Int(response.status.code), body: Data(bytes.readableBytesView))
            try answer.checked()
            return answer
        } catch let error as ClientError {
            throw error
        } catch {
            throw .unreachable(address: address, reason: Self.reason(error))
        }
    }

    /// A `GET` whose answer is handed to `consume` chunk by chunk as it arrives, for as long as
    /// the service sends (live events, a streamed history); ends when the service ends it.
    /// Cancelling the task stops it and throws `CancellationError`.
    public func stream(
        _ path: String, query: APIQuery = [:], _ consume: (ByteBuffer) async throws -> Void
    ) async throws {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(make(.GET, path, query, nil), deadline: .distantFuture)
        } catch {
            try Task.checkCancellation()
            throw ClientError.unreachable(address: address, reason: Self.reason(error))
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let bytes = (try? await response.body.collect(upTo: Self.answerLimit)) ?? ByteBuffer()
            try APIAnswer(status: Int(response.status.code), body: Data(bytes.readableBytesView)).checked()
            return
        }
        do {
            for try await chunk in response.body { try await consume(chunk) }
        } catch let error as ClientError {
            throw error
        } catch {
            try Task.checkCancellation()
            // Not the caller's error: the connection failed under the stream.
            if error is HTTPClientError || error is IOError || error is ChannelError {
                throw ClientError.unreachable(address: address, reason: "the connection was lost: \(Self.reason(error))")
            }
            throw error
        }
    }

    private func make(_ method: HTTPMethod, _ path: String, _ query: APIQuery, _ body: RequestBody?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: address.url(path + query.encoded))
        request.method = method
        // An http+unix URL has no host for async-http-client to name, and HTTP/1.1 needs one
        // (the service refuses a request without it).
        if case .unix = address { request.headers.add(name: "Host", value: "localhost") }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        switch body {
        case .json(let data):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        case .octets(let data):
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: data))
        case nil:
            break
        }
        return request
    }

    /// Why a connection failed, in a few words: the operating system's where it gave one.
    static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return reason(first.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "the name does not resolve (\(dns))" }
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection within 5 seconds"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the connection closed before an answer"
            default: return error.description
            }
        }
        if error is ChannelError { return "the connection failed (\(error))" }
        return String(describing: error)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
