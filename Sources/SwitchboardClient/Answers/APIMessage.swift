import Foundation

/// One message of a transcript, live or captured: the OpenAPI schema `Message`.
public struct APIMessage: Decodable, Sendable {
    public let seq: UInt64
    public let direction: String
    public let at: String
    public let data: String
    public let encoding: String
    public let bytes: Int

    /// The bytes themselves, whichever encoding carried them.
    public var decoded: Data {
        switch encoding {
        case "base64": return Data(base64Encoded: data) ?? Data()
        case "hex":
            var bytes: [UInt8] = []
            var digits = data.utf8.makeIterator()
            while let high = digits.next(), let low = digits.next() {
                guard let byte = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { break }
                bytes.append(byte)
            }
            return Data(bytes)
        default: return Data(data.utf8)
        }
    }
}

/// `GET /v1/sessions/{id}/messages`: the OpenAPI schema `Messages`.
public struct APIMessagePage: Decodable, Sendable {
    public let messages: [APIMessage]
    public let next: UInt64
    public let firstSeq: UInt64?
    public let sessionState: String
    public let peerFinished: Bool
}

/// `GET /v1/history/{id}/messages`: the OpenAPI schema `CapturedMessages`.
public struct APICapturedMessages: Decodable, Sendable {
    public let session: APISession
    public let messages: [APIMessage]
    public let next: Int64
    public let truncated: Bool
}
