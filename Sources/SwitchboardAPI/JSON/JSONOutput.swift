/// The bytes being written, shared by every encoder of one value.
///
/// Each method touches `bytes` once (one inout access), and its state is exempt from the
/// runtime's exclusivity checks (`@exclusivity(unchecked)`, as swift-collections' boxes are):
/// the check on each access was a tenth of `GET /v1/listeners`. One encoding runs on one thread
/// and no method hands out its storage, so no two accesses can overlap.
final class JSONOutput {
    @exclusivity(unchecked) var bytes: [UInt8] = []
    /// `.indented`: each element on a line of its own, two spaces deeper per level.
    let style: JSONStyle
    /// Objects and arrays open around the next element.
    @exclusivity(unchecked) private var depth = 0

    init(style: JSONStyle = .compact) {
        self.style = style
    }

    func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `{` or `[`.
    func open(_ bracket: StaticString) {
        append(bracket)
        depth += 1
    }

    /// `}` or `]`; indented, on a line of its own after the last of `elements`.
    func close(_ bracket: StaticString, elements: Int) {
        depth -= 1
        if style == .indented, elements > 0 { Self.newline(&bytes, depth: depth) }
        append(bracket)
    }

    /// `,"key":` (the comma when not first), or just the comma for an array element; indented,
    /// on a new line and with a space after the colon. One branch on the compact path.
    func element(key: String?, comma: Bool) {
        if style == .compact {
            Self.element(&bytes, key: key, comma: comma)
        } else {
            Self.indentedElement(&bytes, key: key, comma: comma, depth: depth)
        }
    }

    private static func element(_ bytes: inout [UInt8], key: String?, comma: Bool) {
        if comma { bytes.append(UInt8(ascii: ",")) }
        guard let key else { return }
        string(&bytes, key)
        bytes.append(UInt8(ascii: ":"))
    }

    private static func indentedElement(_ bytes: inout [UInt8], key: String?, comma: Bool, depth: Int) {
        if comma { bytes.append(UInt8(ascii: ",")) }
        newline(&bytes, depth: depth)
        guard let key else { return }
        string(&bytes, key)
        bytes.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
    }

    private static func newline(_ bytes: inout [UInt8], depth: Int) {
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
    }

    func string(_ text: String) {
        Self.string(&bytes, text)
    }

    private static func string(_ bytes: inout [UInt8], _ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Most keys and values need no escaping: one bulk copy after one tight scan.
            var plain = true
            for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                plain = false
                break
            }
            if plain {
                bytes.append(contentsOf: utf8)
            } else {
                escape(&bytes, utf8)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func escape(_ bytes: inout [UInt8], _ utf8: UnsafeBufferPointer<UInt8>) {
        let hex: StaticString = "0123456789abcdef"
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
            case 0x00..<0x20:
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                hex.withUTF8Buffer { digits in
                    bytes.append(digits[Int(byte >> 4)])
                    bytes.append(digits[Int(byte & 0x0F)])
                }
            default:
                bytes.append(byte)
            }
        }
    }

    func integer<I: BinaryInteger>(_ value: I) {
        Self.integer(&bytes, value)
    }

    /// Digits written straight into the bytes: no String per number.
    private static func integer<I: BinaryInteger>(_ bytes: inout [UInt8], _ value: I) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude as UInt64 covers every integer type the answers use; wider ones take the
        // String path.
        guard let magnitude = UInt64(exactly: value.magnitude) else {
            bytes.append(contentsOf: String(value.magnitude).utf8)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: 20 digits fit
        var count = 0
        var rest = magnitude
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    func number(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func double(_ value: Double, _ path: @autoclosure () -> [any CodingKey]) throws {
        guard value.isFinite else {
            throw StreamingJSONEncoder.NonFiniteNumber(description: "\(value) at \(path().map(\.stringValue).joined(separator: ".")) is not a JSON number")
        }
        if value == value.rounded() && abs(value) < 1e15 {
            integer(Int64(value))
        } else {
            number(value.description)
        }
    }
}
