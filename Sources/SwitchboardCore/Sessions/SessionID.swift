import Foundation
import Synchronization

/// A session's id: a ULID (48-bit millisecond time, 80 random bits, Crockford base32).
/// Unique across restarts without coordination, and sorts by the time the session opened,
/// which the history uses for stable newest-first pages.
///
/// Held as its 128 bits, not as its 26 characters: every session makes one and the core, the
/// observers and the event ring copy, hash and compare it, and a 26-character `String` is a heap
/// allocation with a reference count (short strings are inline only up to 15 bytes). The text is
/// made where it is written out (`withASCII`, `rawValue`).
public struct SessionID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The time in the top 48 bits, then the first 16 random bits.
    private let high: UInt64
    /// The other 64 random bits.
    private let low: UInt64

    public static let length = 26

    /// The text of an id, in either case. Nil for anything else, also for 26 characters of the
    /// alphabet whose value passes 128 bits (a first character above `7`), which the ULID spec
    /// says to refuse.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    private static func parse(_ utf8: UnsafeBufferPointer<UInt8>) -> SessionID? {
        guard utf8.count == length else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for byte in utf8 {
            let digit = decodeTable[Int(byte)]
            guard digit != 0xFF else { return nil }
            // The 130-bit number shifted left by 5 and the digit added; what leaves the top is lost.
            guard high >> 59 == 0 else { return nil }
            high = high << 5 | low >> 59
            low = low << 5 | UInt64(digit)
        }
        return SessionID(high: high, low: low)
    }

    /// Within one process ids also sort in the order they were made, even within a millisecond
    /// (the ULID spec's monotonic mode), so a history page boundary never skips a later session.
    public static func make(at date: Date = Date()) -> SessionID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let (time, random16, random64) = last.withLock { state -> (UInt64, UInt16, UInt64) in
            if millis == state.millis {
                // Same millisecond: count up from the last id. (After the clock steps back, ids
                // start afresh at the new time: an id always tells when its session opened.)
                let (low, carry) = state.low.addingReportingOverflow(1)
                state.low = low
                if carry { state.high &+= 1 }
            } else {
                state.millis = millis
                state.high = UInt16(truncatingIfNeeded: state.random.next())
                state.low = state.random.next()
            }
            return (state.millis, state.high, state.low)
        }
        return SessionID(high: (time & 0xFFFF_FFFF_FFFF) << 16 | UInt64(random16), low: random64)
    }

    /// The smallest id that could be made at `date`: for range queries on ids.
    public static func lowerBound(at date: Date) -> String {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        return SessionID(high: (millis & 0xFFFF_FFFF_FFFF) << 16, low: 0).rawValue
    }

    private struct State {
        var millis: UInt64 = 0
        var high: UInt16 = 0
        var low: UInt64 = 0
        var random = SplitMix64()
    }
    private static let last = Mutex(State())

    /// The 26 characters, upper case, handed to `body` without a `String` being made.
    public func withASCII<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.length) { chars in
            // 26 characters of 5 bits: the 128 bits from the least significant end, then 2 zero bits.
            var high = high
            var low = low
            for i in stride(from: Self.length - 1, through: 0, by: -1) {
                chars[i] = Self.alphabet[Int(low & 31)]
                low = low >> 5 | high << 59
                high >>= 5
            }
            return try body(UnsafeBufferPointer(chars))
        }
    }

    public var rawValue: String { withASCII { String(decoding: $0, as: UTF8.self) } }
    public var description: String { rawValue }
    public static func < (a: SessionID, b: SessionID) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SessionID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a session id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() {
            table[Int(c)] = UInt8(i)
            table[Int(Character(UnicodeScalar(c)).lowercased().utf8.first!)] = UInt8(i)
        }
        return table
    }()
}

/// The ids' random bits. Ids need to be unique, not secret: a generator seeded once from the
/// system saves the `getrandom` system call that `SystemRandomNumberGenerator` makes for every
/// id (one per session on the churn path).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
