import Foundation
import NIOCore

/// Rows in COPY's text format: fields split by tabs, rows by newlines, `\N` for NULL, and a
/// backslash before what would end a field or a row. Written straight into the buffer that
/// goes to the server, with no per-field allocation for the plain text nearly every field is.
struct CopyText {
    var buffer = ByteBuffer()
    private var fieldsInRow = 0

    init(capacity: Int) {
        buffer.reserveCapacity(capacity)
    }

    mutating func text(_ value: String?) {
        separate()
        guard var value else { return null() }
        value.withUTF8 { bytes in
            if !bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case let c where c < 0x20:
                    // Octal, as COPY reads it: \ooo.
                    buffer.writeString("\\\(String(c >> 6))\(String((c >> 3) & 7))\(String(c & 7))")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    mutating func integer(_ value: Int64) {
        separate()
        buffer.writeString(String(value))
    }

    mutating func bool(_ value: Bool) {
        separate()
        buffer.writeInteger(value ? UInt8(ascii: "t") : UInt8(ascii: "f"))
    }

    /// bytea in hex: `\x` and two digits a byte, the backslash doubled for COPY.
    mutating func bytes(_ value: Data) {
        separate()
        buffer.writeStaticString("\\\\x")
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        buffer.reserveCapacity(minimumWritableBytes: value.count * 2)
        for byte in value {
            buffer.writeInteger(digits[Int(byte >> 4)])
            buffer.writeInteger(digits[Int(byte & 15)])
        }
    }

    mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        fieldsInRow = 0
    }

    private mutating func null() { buffer.writeStaticString("\\N") }

    private mutating func separate() {
        if fieldsInRow > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
        fieldsInRow += 1
    }
}
