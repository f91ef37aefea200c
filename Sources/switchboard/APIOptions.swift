import ArgumentParser
import Foundation
import SwitchboardClient

/// Where the running service is and how to prove who is asking: the flags every command over
/// the API shares.
struct APIOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The service's control API: HOST:PORT, [IPv6]:PORT or unix:/path. Default: env SWITCHBOARD_API, then 127.0.0.1:7700.", valueName: "address"))
    var api: String?

    @Option(help: ArgumentHelp("A file holding the bearer token the service was started with (its --token-file). Env SWITCHBOARD_TOKEN_FILE.", valueName: "path"))
    var tokenFile: String?

    func validate() throws {
        _ = try Self.address(api)
    }

    /// Runs `body` with a client for the API named by the flags or the environment.
    func client<T: Sendable>(_ body: (ControlAPIClient) async throws -> T) async throws -> T {
        try await Self.client(api: api, tokenFile: tokenFile, body)
    }

    static func client<T: Sendable>(
        api: String?, tokenFile: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        _ body: (ControlAPIClient) async throws -> T
    ) async throws -> T {
        let address = try Self.address(api, environment: environment)
        let tokenFile = tokenFile ?? environment["SWITCHBOARD_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let token = try tokenFile.map { path throws(ClientError) in try APIToken.read(file: path) }
        return try await ControlAPIClient.with(address: address, token: token, body)
    }

    /// The flag, else the environment, else the service's own default; a bad one is a usage
    /// error naming where it came from.
    static func address(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIAddress {
        let fromEnvironment = environment["SWITCHBOARD_API"].flatMap { $0.isEmpty ? nil : $0 }
        guard let text = flag ?? fromEnvironment else { return .standard }
        do {
            return try APIAddress(parsing: text)
        } catch {
            throw ValidationError("\(flag == nil ? "SWITCHBOARD_API" : "--api"): \(error)")
        }
    }
}
