import Foundation
import SwitchboardCore

/// One record of the session spool: a session's whole state as the core last reported it, so
/// that replaying a record is an upsert and replaying it twice changes nothing.
struct SpoolRecord: Sendable, Equatable {
    var seq: UInt64
    var session: SessionRecord

    /// The record of each session that wins: a closed state over an open one (a close can never
    /// be undone, whatever order two event loops reported in), else the later sequence number.
    ///
    /// Gathered one record at a time as they are read, each moved in: a record holds a dozen
    /// strings, and each copy of it on the way to the store (an array of the chunk, the sort, the
    /// batch) retained and released every one, 86 of each per churned session.
    struct Latest {
        private var slots: [String: Int] = [:]
        private var winners: [(closed: Int, seq: UInt64)] = []
        /// Each session's winner, in the order the sessions first appear.
        private(set) var sessions: [SessionRecord] = []

        init(capacity: Int) {
            slots.reserveCapacity(capacity)
            winners.reserveCapacity(capacity)
            sessions.reserveCapacity(capacity)
        }

        mutating func add(_ record: consuming SpoolRecord) {
            let rank = (closed: record.session.state == "open" ? 0 : 1, seq: record.seq)
            if let at = slots[record.session.id] {
                guard rank > winners[at] else { return }
                winners[at] = rank
                sessions[at] = record.session
            } else {
                slots[record.session.id] = sessions.count
                winners.append(rank)
                sessions.append(record.session)
            }
        }
    }

    /// Each session's winning record of `records`, in the order the sessions first appear.
    static func latest(_ records: [SpoolRecord]) -> [SessionRecord] {
        var latest = Latest(capacity: records.count)
        for record in records { latest.add(record) }
        return latest.sessions
    }
}

/// The bytes of a spool record. Little-endian words at 8-byte-aligned offsets:
///
///     0  u32 length (whole record, a multiple of 8)   4  u32 check
///     8  u64 seq
///     16 u8 role, u8 state, u8 flags, u8 0, u32 0
///     24 f64 opened_at   32 f64 closed_at   40 u64 bytes_in   48 u64 bytes_out
///     56 strings: id, listener, name, local, remote, close_reason, partner_id, faults,
///        each a u16 length (0xFFFF: null) and its UTF-8 bytes; then zeros to the length
///
/// `faults` is the session's fault log, one line per entry (`SpoolFaults`). It came after the
/// first seven: a record written before it reads as one with no log (its padding, or its end,
/// where the eighth length would be), and an older build reading a newer record stops at
/// seven, as the length and check cover the rest anyway.
///
/// The check covers everything after it, salted with the file's salt and the segment's epoch,
/// so a record torn by a kill, an unwritten reservation, or a record left from an earlier
/// use of the segment does not validate and is skipped, never misread.
enum SpoolFormat {
    static let headerBytes = 16
    static let stringsOffset = 56
    static let minimumBytes = stringsOffset + 7 * 2
    /// Longer strings (a close reason's error text) are cut: a record stays far below a segment.
    static let maxStringBytes = 2048
    static let maxRecordBytes = (minimumBytes + 7 * maxStringBytes + 2 + SpoolFaults.maxBytes + 7) & ~7
    private static let null: UInt16 = 0xFFFF

    private enum Flag {
        static let capture: UInt8 = 1
        static let truncated: UInt8 = 2
        static let closed: UInt8 = 4
    }

    /// `faults` is `SpoolFaults.text` of the session's log (never longer than its budget).
    static func length(_ info: SessionInfo, closeReason: String?, faults: String? = nil) -> Int {
        func bytes(_ s: String?) -> Int { 2 + min(s?.utf8.count ?? 0, maxStringBytes) }
        func bytes(_ id: SessionID?) -> Int { 2 + (id == nil ? 0 : SessionID.length) }
        let n = stringsOffset + bytes(info.id) + bytes(info.listener) + bytes(info.name) + bytes(info.localAddress)
            + bytes(info.remoteAddress) + bytes(closeReason) + bytes(info.partnerID) + 2 + (faults?.utf8.count ?? 0)
        return (n + 7) & ~7
    }

    /// Writes a whole record at `p` (8-byte aligned, `length` bytes of room), the length and
    /// check last.
    static func write(
        _ info: SessionInfo, closeReason: String?, faults: String? = nil, seq: UInt64, length: Int, epoch: UInt64, salt: UInt64,
        to p: UnsafeMutableRawPointer
    ) {
        p.storeBytes(of: seq.littleEndian, toByteOffset: 8, as: UInt64.self)
        var flags: UInt8 = 0
        if info.capture { flags |= Flag.capture }
        if info.captureTruncated { flags |= Flag.truncated }
        if info.closedAt != nil { flags |= Flag.closed }
        let kind = UInt64(info.role == .client ? 1 : 0) | UInt64(info.state == .closed ? 1 : 0) << 8 | UInt64(flags) << 16
        p.storeBytes(of: kind.littleEndian, toByteOffset: 16, as: UInt64.self)
        p.storeBytes(of: info.openedAt.timeIntervalSince1970.bitPattern.littleEndian, toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: (info.closedAt?.timeIntervalSince1970 ?? 0).bitPattern.littleEndian, toByteOffset: 32, as: UInt64.self)
        p.storeBytes(of: info.bytesIn.littleEndian, toByteOffset: 40, as: UInt64.self)
        p.storeBytes(of: info.bytesOut.littleEndian, toByteOffset: 48, as: UInt64.self)
        var at = stringsOffset
        func put(_ utf8: UnsafeBufferPointer<UInt8>, max: Int) {
            let n = min(utf8.count, max)
            p.storeBytes(of: UInt16(n).littleEndian, toByteOffset: at, as: UInt16.self)
            if n > 0 { (p + at + 2).copyMemory(from: utf8.baseAddress!, byteCount: n) }
            at += 2 + n
        }
        func putNull() {
            p.storeBytes(of: null.littleEndian, toByteOffset: at, as: UInt16.self)
            at += 2
        }
        func put(_ s: String?, max: Int = maxStringBytes) {
            guard var s else { return putNull() }
            s.withUTF8 { put($0, max: max) }
        }
        // Ids as their characters, with no `String` made on the event loop.
        func put(_ id: SessionID?) {
            guard let id else { return putNull() }
            id.withASCII { put($0, max: maxStringBytes) }
        }
        put(info.id)
        put(info.listener)
        put(info.name)
        put(info.localAddress)
        put(info.remoteAddress)
        put(closeReason)
        put(info.partnerID)
        put(faults, max: SpoolFaults.maxBytes)
        // Padding is zeroed: the segment may hold an older record's bytes here.
        if at < length { (p + at).initializeMemory(as: UInt8.self, repeating: 0, count: length - at) }
        let check = Self.check(UnsafeRawPointer(p), length: length, epoch: epoch, salt: salt)
        p.storeBytes(of: (UInt64(length) | UInt64(check) << 32).littleEndian, as: UInt64.self)
    }

    /// A word-at-a-time mix (not a CRC): cheap on the event loop, and any torn or stale word
    /// changes it with odds of 1 in 2^32 of not noticing.
    static func check(_ p: UnsafeRawPointer, length: Int, epoch: UInt64, salt: UInt64) -> UInt32 {
        var h = salt ^ (epoch &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(length)
        var offset = 8
        while offset < length {
            h = (h ^ UInt64(littleEndian: p.load(fromByteOffset: offset, as: UInt64.self))) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            offset += 8
        }
        h = (h ^ (h >> 29)) &* 0xC4CE_B9FE_1A85_EC53
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// The record at `p` and its length, or nil if no whole, valid record of this epoch is there.
    static func read(_ p: UnsafeRawPointer, available: Int, epoch: UInt64, salt: UInt64) -> (SpoolRecord, Int)? {
        guard available >= minimumBytes else { return nil }
        let word = UInt64(littleEndian: p.load(as: UInt64.self))
        let length = Int(word & 0xFFFF_FFFF)
        guard length >= minimumBytes, length % 8 == 0, length <= available, length <= maxRecordBytes,
              UInt32(word >> 32) == check(p, length: length, epoch: epoch, salt: salt) else { return nil }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: p.load(fromByteOffset: offset, as: UInt64.self)) }
        let kind = u64(16)
        let flags = UInt8(truncatingIfNeeded: kind >> 16)
        var at = stringsOffset
        var malformed = false
        func string() -> String? {
            guard at + 2 <= length else { malformed = true; return nil }
            let n = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt16.self))
            at += 2
            if n == null { return nil }
            guard at + Int(n) <= length else { malformed = true; return nil }
            defer { at += Int(n) }
            return String(decoding: UnsafeRawBufferPointer(start: p + at, count: Int(n)), as: UTF8.self)
        }
        let id = string(), listener = string(), name = string(), local = string(), remote = string()
        let reason = string(), partner = string()
        // Absent from records written before the fault log was spooled.
        let faults = at + 2 <= length ? string() : nil
        guard !malformed, let id else { return nil }
        let closed = flags & Flag.closed != 0
        let session = SessionRecord(
            id: id, role: kind & 0xFF == 1 ? SessionRole.client.rawValue : SessionRole.server.rawValue,
            listener: listener, name: name, localAddress: local, remoteAddress: remote,
            state: (kind >> 8) & 0xFF == 1 ? SessionState.closed.rawValue : SessionState.open.rawValue,
            openedAt: RFC3339.format(Date(timeIntervalSince1970: Double(bitPattern: u64(24)))),
            closedAt: closed ? RFC3339.format(Date(timeIntervalSince1970: Double(bitPattern: u64(32)))) : nil,
            closeReason: reason, bytesIn: SessionRecord.stored(u64(40)), bytesOut: SessionRecord.stored(u64(48)), partnerId: partner,
            capture: flags & Flag.capture != 0, captureTruncated: flags & Flag.truncated != 0,
            faults: SpoolFaults.log(faults)
        )
        return (SpoolRecord(seq: u64(8), session: session), length)
    }
}

/// A session's fault log in a spool record: one line per entry, `APPLIED DIRECTION TYPE MS NAME`
/// (`1 d latency 1764590400123 latency_downstream`), none of whose fields can hold a space or a
/// newline. At most `maxBytes`, in whole entries: a longer log (dozens of faults, or of changes
/// to one while the session was open) is spooled up to there, and the writer queues the whole
/// session in memory as well, so that SQLite gets all of it.
enum SpoolFaults {
    static let maxBytes = 4096

    /// The text, and whether it holds the whole log; nil for a session no fault met.
    static func text(_ log: [SessionFault]) -> (text: String?, complete: Bool) {
        guard !log.isEmpty else { return (nil, true) }
        var text = ""
        for entry in log {
            let millis = Int64((entry.at.timeIntervalSince1970 * 1000).rounded())
            let line = "\(entry.applied ? 1 : 0) \(entry.direction == .upstream ? "u" : "d") \(entry.type.name) \(millis) \(entry.name)\n"
            guard text.utf8.count + line.utf8.count <= maxBytes else { return (text, false) }
            text += line
        }
        return (text, true)
    }

    static func log(_ text: String?) -> [SessionFaultRecord] {
        guard let text, !text.isEmpty else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 5, let millis = Int64(fields[3]) else { return nil }
            return SessionFaultRecord(
                name: String(fields[4]), type: String(fields[2]), direction: fields[1] == "u" ? "upstream" : "downstream",
                applied: fields[0] == "1", at: RFC3339.format(Date(timeIntervalSince1970: Double(millis) / 1000))
            )
        }
    }
}
