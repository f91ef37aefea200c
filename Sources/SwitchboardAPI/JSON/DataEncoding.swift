import Foundation
import NIOCore

/// How bytes travel inside JSON strings.
public enum DataEncoding: String, Sendable, Codable, CaseIterable {
    case utf8, base64, hex

    static let names = allCases.map(\.rawValue).joined(separator: ", ")

    init(field: String, _ text: String?) throws(APIError) {
        guard let text else { self = .utf8; return }
        guard let encoding = DataEncoding(rawValue: text) else {
            throw APIError.invalid("\(field) must be one of \(Self.names), not '\(text)'")
        }
        self = encoding
    }

    /// The bytes a string stands for; `field` names it in the error.
    func decode(_ text: String, field: String) throws(APIError) -> ByteBuffer {
        switch self {
        case .utf8:
            return ByteBuffer(string: text)
        case .base64:
            guard let data = Data(base64Encoded: text) else {
                throw APIError.invalid("\(field) is not valid base64")
            }
            return ByteBuffer(bytes: data)
        case .hex:
            let digits = Array(text.utf8)
            guard digits.count % 2 == 0 else { throw APIError.invalid("\(field) has an odd number of hex digits") }
            var buffer = ByteBuffer()
            buffer.reserveCapacity(digits.count / 2)
            var index = 0
            while index < digits.count {
                guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else {
                    throw APIError.invalid("\(field) is not valid hex")
                }
                buffer.writeInteger(high << 4 | low)
                index += 2
            }
            return buffer
        }
    }

    /// The string for some bytes; `nil` asks for UTF-8 when the bytes are valid UTF-8 and base64
    /// otherwise. Asking for UTF-8 on bytes that are not falls back to base64, so nothing is lost.
    static func encode(_ buffer: ByteBuffer, as wanted: DataEncoding?) -> (String, DataEncoding) {
        let bytes = buffer.readableBytesView
        switch wanted {
        case .hex:
            let table = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(bytes.count * 2)
            for byte in bytes {
                out.append(table[Int(byte >> 4)])
                out.append(table[Int(byte & 0xF)])
            }
            return (String(decoding: out, as: UTF8.self), .hex)
        case .base64:
            return (Data(bytes).base64EncodedString(), .base64)
        case .utf8, nil:
            if let text = String(validating: bytes, as: UTF8.self) { return (text, .utf8) }
            return (Data(bytes).base64EncodedString(), .base64)
        }
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
