import Foundation
import Synchronization

/// A session's id: a ULID (48-bit millisecond time, 80 random bits, Crockford base32).
/// Unique across restarts without coordination, and sorts by the time the session opened,
/// which the history uses for stable newest-first pages.
public struct SessionID: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init?(_ text: String) {
        guard text.utf8.count == 26, text.utf8.allSatisfy({ Self.decodeTable[Int($0)] != 0xFF }) else { return nil }
        rawValue = text.uppercased()
    }

    /// Within one process ids also sort in the order they were made, even within a millisecond
    /// (the ULID spec's monotonic mode), so a history page boundary never skips a later session.
    public static func make(at date: Date = Date()) -> SessionID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let (time, high, low) = last.withLock { state -> (UInt64, UInt16, UInt64) in
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
        var chars = [UInt8](repeating: 0, count: 26)
        // 10 characters of time (50 bits, top 2 zero) then 16 characters of randomness (80 bits).
        for i in 0..<10 { chars[9 - i] = alphabet[Int((time >> (5 * UInt64(i))) & 31)] }
        // 80 random bits = high (16) ++ low (64), taken 5 bits at a time from the least significant end.
        for i in 0..<16 {
            let shift = 5 * i
            let bits: UInt64
            if shift + 5 <= 64 {
                bits = (low >> UInt64(shift)) & 31
            } else if shift >= 64 {
                bits = (UInt64(high) >> UInt64(shift - 64)) & 31
            } else {
                bits = ((low >> UInt64(shift)) | (UInt64(high) << UInt64(64 - shift))) & 31
            }
            chars[25 - i] = alphabet[Int(bits)]
        }
        return SessionID(unchecked: String(decoding: chars, as: UTF8.self))
    }

    /// The smallest id that could be made at `date`: for range queries on ids.
    public static func lowerBound(at date: Date) -> String {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var chars = [UInt8](repeating: alphabet[0], count: 26)
        for i in 0..<10 { chars[9 - i] = alphabet[Int((millis >> (5 * UInt64(i))) & 31)] }
        return String(decoding: chars, as: UTF8.self)
    }

    private struct State {
        var millis: UInt64 = 0
        var high: UInt16 = 0
        var low: UInt64 = 0
        var random = SplitMix64()
    }
    private static let last = Mutex(State())

    private init(unchecked: String) { rawValue = unchecked }

    public var description: String { rawValue }
    public static func < (a: SessionID, b: SessionID) -> Bool { a.rawValue < b.rawValue }

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

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
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
