import NIOCore
import PostgresNIO

/// A `text[]` bind that may hold NULLs (postgres-nio's `[String]` cannot), written straight into
/// its wire form as the values come: one buffer a column, no array of optionals in between.
struct TextArray: PostgresNonThrowingEncodable {
    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    private var elements = ByteBuffer()
    private var count = 0
    private var hasNull = false

    init(capacity: Int) { elements.reserveCapacity(capacity) }

    mutating func append(_ value: String?) {
        count += 1
        guard let value else {
            hasNull = true
            elements.writeInteger(-1, as: Int32.self)
            return
        }
        let lengthAt = elements.writerIndex
        elements.writeInteger(0, as: Int32.self)
        let written = elements.writeString(value)
        elements.setInteger(Int32(written), at: lengthAt)
    }

    /// The binary array format: dimensions, a has-NULLs flag, the element type, then for the
    /// one dimension its length and lower bound, then each element as a length (-1 for NULL)
    /// and its bytes.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(count == 0 ? 0 : 1, as: Int32.self)
        buffer.writeInteger(hasNull ? 1 : 0, as: Int32.self)
        buffer.writeInteger(PostgresDataType.text.rawValue)
        guard count > 0 else { return }
        buffer.writeInteger(Int32(count))
        buffer.writeInteger(1, as: Int32.self)
        var elements = elements
        buffer.writeBuffer(&elements)
    }
}
