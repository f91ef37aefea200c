import HTTPTypes
import Hummingbird
import NIOCore

/// The JSON Toxiproxy writes, key for key in the order its Go structs declare them (and map
/// keys sorted, as Go's encoder sorts them), with `<`, `>` and `&` escaped as Go escapes them.
/// A value type of its own rather than an `Encoder`: the order is the contract here.
indirect enum ToxiproxyJSON: Sendable, Equatable {
    case object([(String, ToxiproxyJSON)])
    case array([ToxiproxyJSON])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    static func == (a: ToxiproxyJSON, b: ToxiproxyJSON) -> Bool { a.bytes == b.bytes }

    static func error(_ message: String, status: Int) -> ToxiproxyJSON {
        .object([("error", .string(message)), ("status", .number(Double(status)))])
    }

    static func response(_ value: ToxiproxyJSON, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(value.bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text):
            Self.writeString(text, into: &out)
        case .number(let value):
            // Whole numbers as integers, as Go writes its int64 attributes and a toxicity of 1.
            if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
                out.append(contentsOf: String(Int64(value)).utf8)
            } else if value.isFinite {
                out.append(contentsOf: "\(value)".utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .bool(let value):
            out.append(contentsOf: (value ? "true" : "false").utf8)
        case .null:
            out.append(contentsOf: "null".utf8)
        }
    }

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: #"\""#.utf8)
            case "\\": out.append(contentsOf: #"\\"#.utf8)
            case "\n": out.append(contentsOf: #"\n"#.utf8)
            case "\r": out.append(contentsOf: #"\r"#.utf8)
            case "\t": out.append(contentsOf: #"\t"#.utf8)
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out.append(contentsOf: Self.escaped(scalar).utf8)
            default:
                if scalar.value < 0x20 {
                    out.append(contentsOf: Self.escaped(scalar).utf8)
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
