#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwitchboardCore
import Synchronization

/// What happened to sessions, kept where the kernel keeps it when the process dies: a
/// preallocated file beside the history, mapped `MAP_SHARED`, so an append is a copy into
/// memory (no syscall) and a SIGKILL loses nothing that was appended. The writer drains it
/// into SQLite; at start-up whatever it still holds is replayed before anything else.
///
/// Two segments: event loops append to the active one; the writer seals it (the other becomes
/// active), commits the sealed one's records and only then clears it, so the space is freed
/// only once SQLite has the records. While SQLite cannot write, the sealed segment stays and
/// the active one fills; when it is full too, records are refused (the writer counts and logs
/// the drops).
///
/// The file is `<history file>.spool`: not to be mistaken for SQLite's `-journal`, `-wal` and
/// `-shm`, and, like them, it belongs with the history file.
public final class SessionSpool: @unchecked Sendable {
    // @unchecked: the mapping is a raw pointer; every write to it, and the writer's reads of a
    // segment it sealed, are ordered by `state`'s lock.

    public static let defaultBytes = 256 << 20
    /// Every segment holds at least a few hundred records.
    public static let minimumBytes = 2 * 64 << 10

    static let magic: UInt64 = 0x314C_4F4F_5053_4253  // "SBSPOOL1"
    static let fileHeaderBytes = 4096
    /// u64 epoch, u64 end (bytes of the segment in use, this header included).
    static let segmentHeaderBytes = 64

    public struct Failure: Error, CustomStringConvertible {
        public enum Kind: Sendable {
            /// Another process holds the spool: a second service on the same history file.
            case inUse
            /// The file may hold records that could not be read: it must not be replaced.
            case unreadable
            /// No room for the spool; whatever the file held was replayed already.
            case noRoom
        }
        public let description: String
        public let kind: Kind
        init(_ kind: Kind, _ what: String, _ path: String, errno code: Int32) {
            self.kind = kind
            description = "\(what) \(path): \(String(cString: strerror(code)))"
        }
    }

    /// What start-up found in the file.
    public struct Recovery: Sendable {
        /// Whole records, in sequence order.
        let records: [SpoolRecord]
        /// Stretches that held no valid record: writes the kill cut short, reservations never filled.
        public let tornRecords: Int
        public var count: Int { records.count }
        /// Each session's winning record, in the order the sessions first appear: what a replay writes.
        public var sessions: [SessionRecord] { SpoolRecord.latest(records) }
    }

    struct Sealed {
        let segment: Int
        let end: Int
        let count: Int
        let lastSeq: UInt64
    }

    private struct Segment {
        var epoch: UInt64
        var end = SessionSpool.segmentHeaderBytes
        var count = 0
        var lastSeq: UInt64 = 0
    }

    private struct State {
        var segments: [Segment]
        var active = 0
        var sealed: Int?
        var seq: UInt64 = 0
        var committedSeq: UInt64 = 0
    }

    public let path: String
    let segmentBytes: Int
    /// Held open for its lock: a second process must not take over a live spool.
    private let fd: Int32
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int
    private let salt: UInt64
    private let state: Mutex<State>

    /// `<database>.spool`, or nil for a database with no file of its own (`:memory:`).
    public static func path(besideDatabase database: String) -> String? {
        if database.isEmpty || database == ":memory:" || database.hasPrefix("file:") { return nil }
        return database + ".spool"
    }

    /// Locks the file, hands `replay` what an earlier run left in it, and only once that
    /// returned creates the spool afresh in the same file: a replay that throws leaves the
    /// records for the next start.
    public static func open(at path: String, bytes: Int = SessionSpool.defaultBytes, replay: (Recovery) throws -> Void) throws -> SessionSpool {
        let fd = try lockedDescriptor(path)
        do {
            try replay(try recover(fd: fd, path: path))
            return try SessionSpool(fd: fd, path: path, bytes: bytes)
        } catch {
            close(fd)
            throw error
        }
    }

    /// `open(at:bytes:replay:)` for a store that replays asynchronously (PostgreSQL).
    public static func open(at path: String, bytes: Int = SessionSpool.defaultBytes, replay: (Recovery) async throws -> Void) async throws -> SessionSpool {
        let fd = try lockedDescriptor(path)
        do {
            try await replay(try recover(fd: fd, path: path))
            return try SessionSpool(fd: fd, path: path, bytes: bytes)
        } catch {
            close(fd)
            throw error
        }
    }

    /// A spool whose earlier records, if any, are not wanted (tests, benchmarks).
    public convenience init(creatingAt path: String, bytes: Int = SessionSpool.defaultBytes) throws(Failure) {
        let fd = try Self.lockedDescriptor(path)
        do {
            try self.init(fd: fd, path: path, bytes: bytes)
        } catch {
            close(fd)
            throw error
        }
    }

    private static func lockedDescriptor(_ path: String) throws(Failure) -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw Failure([ENOSPC, EDQUOT, EFBIG].contains(code) ? .noRoom : .unreadable, "cannot open", path, errno: code)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw Failure(code == EWOULDBLOCK ? .inUse : .unreadable, "cannot lock (is another switchboard using this history file?)", path, errno: code)
        }
        return fd
    }

    /// Takes over the file (its records must have been replayed already: they become invalid)
    /// with all its blocks allocated, so that writes into the mapping never meet a full disk
    /// (which would be a SIGBUS).
    private init(fd: Int32, path: String, bytes: Int) throws(Failure) {
        self.path = path
        self.fd = fd
        segmentBytes = max(Self.minimumBytes, bytes) / 2 & ~4095
        mappedBytes = Self.fileHeaderBytes + 2 * segmentBytes
        var info = stat()
        if fstat(fd, &info) == 0, Int(info.st_size) > mappedBytes, ftruncate(fd, off_t(mappedBytes)) != 0 {
            throw Failure(.noRoom, "cannot shrink", path, errno: errno)
        }
        let allocated = posix_fallocate(fd, 0, off_t(mappedBytes))
        guard allocated == 0 else { throw Failure(.noRoom, "cannot allocate \(mappedBytes) bytes for", path, errno: allocated) }
        guard let mapped = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw Failure(.noRoom, "cannot map", path, errno: errno)
        }
        base = mapped
        var random = SystemRandomNumberGenerator()
        salt = random.next()
        let segments = [Segment(epoch: random.next()), Segment(epoch: random.next())]
        state = Mutex(State(segments: segments))
        // Segments first: with new epochs, whatever an earlier run left no longer validates.
        for (i, segment) in segments.enumerated() { storeHeader(i, segment) }
        for (offset, word) in [Self.magic, 1, UInt64(segmentBytes), salt].enumerated() {
            base.storeBytes(of: word.littleEndian, toByteOffset: 8 * offset, as: UInt64.self)
        }
    }

    deinit {
        munmap(base, mappedBytes)
        close(fd)
    }

    private func segmentBase(_ i: Int) -> UnsafeMutableRawPointer { base + Self.fileHeaderBytes + i * segmentBytes }

    private func storeHeader(_ i: Int, _ segment: Segment) {
        segmentBase(i).storeBytes(of: segment.epoch.littleEndian, as: UInt64.self)
        segmentBase(i).storeBytes(of: UInt64(segment.end).littleEndian, toByteOffset: 8, as: UInt64.self)
    }

    // MARK: Event loops

    /// Appends a session's state; nil when the spool is full, else how many records wait in the
    /// active segment. A copy of about 150 bytes under a lock, no syscall. `faults` is
    /// `SpoolFaults.text` of its log, made by the caller (who needs to know if it is whole).
    func append(_ info: SessionInfo, faults: String? = nil) -> Int? {
        let reason = info.closeReason?.description
        let length = SpoolFormat.length(info, closeReason: reason, faults: faults)
        return state.withLock { s -> Int? in
            if s.segments[s.active].end + length > segmentBytes {
                // Full before the writer came for it (a burst, or SQLite just back after an
                // outage): hand it to the writer now if the other segment is free.
                guard s.sealed == nil else { return nil }
                s.sealed = s.active
                s.active = 1 - s.active
            }
            let i = s.active
            let offset = s.segments[i].end
            s.seq += 1
            s.segments[i].end += length
            s.segments[i].count += 1
            s.segments[i].lastSeq = s.seq
            // The end moves before the record is written: a record cut short by a kill is then
            // inside the scanned range (and skipped), and one after it is still found.
            segmentBase(i).storeBytes(of: UInt64(s.segments[i].end).littleEndian, toByteOffset: 8, as: UInt64.self)
            SpoolFormat.write(info, closeReason: reason, faults: faults, seq: s.seq, length: length, epoch: s.segments[i].epoch, salt: salt, to: segmentBase(i) + offset)
            return s.segments[i].count
        }
    }

    // MARK: The writer

    /// Records waiting in either segment.
    var pending: Int { state.withLock { $0.segments[0].count + $0.segments[1].count } }

    /// The sequence number of the latest append, and of the latest record SQLite has.
    var progress: (appended: UInt64, committed: UInt64) { state.withLock { ($0.seq, $0.committedSeq) } }

    /// The segment to commit: the one sealed earlier if its commit has not succeeded yet, else
    /// the active one, sealed now (appends go to the other). Nil when there is nothing.
    func seal() -> Sealed? {
        state.withLock { s in
            let i: Int
            if let sealed = s.sealed {
                i = sealed
            } else {
                guard s.segments[s.active].count > 0 else { return nil }
                i = s.active
                s.sealed = i
                s.active = 1 - i
            }
            return Sealed(segment: i, end: s.segments[i].end, count: s.segments[i].count, lastSeq: s.segments[i].lastSeq)
        }
    }

    /// Hands `body` up to `limit` records of a sealed segment from `offset`, in sequence order;
    /// answers how many, and where the next ones start. Nobody writes a sealed segment, so this
    /// reads it without the lock.
    func read(_ sealed: Sealed, from offset: Int = segmentHeaderBytes, limit: Int, _ body: (consuming SpoolRecord) -> Void) -> (count: Int, next: Int) {
        let epoch = state.withLock { $0.segments[sealed.segment].epoch }
        var count = 0
        var torn = 0
        let next = Self.scan(UnsafeRawPointer(segmentBase(sealed.segment)), from: offset, end: sealed.end, epoch: epoch, salt: salt, limit: limit, torn: &torn) {
            count += 1
            body($0)
        }
        return (count, next)
    }

    /// SQLite has the sealed segment's records: its space is free again.
    func release(_ sealed: Sealed) {
        state.withLock { s in
            precondition(s.sealed == sealed.segment, "released a segment that is not the sealed one")
            // A new epoch first: killed between the two stores, the old records no longer validate.
            s.segments[sealed.segment] = Segment(epoch: s.segments[sealed.segment].epoch &+ 1)
            storeHeader(sealed.segment, s.segments[sealed.segment])
            s.sealed = nil
            s.committedSeq = max(s.committedSeq, sealed.lastSeq)
        }
    }

    // MARK: Start-up

    /// Every whole record the file holds, in sequence order; none if there is no file or it is
    /// not a spool. Reads only: the caller replays them, then creates the spool afresh.
    public static func recover(at path: String) throws(Failure) -> Recovery {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return Recovery(records: [], tornRecords: 0) }
            throw Failure(.unreadable, "cannot open", path, errno: errno)
        }
        defer { close(fd) }
        return try recover(fd: fd, path: path)
    }

    /// For a service that runs without a spool: hands `replay` what an earlier run left, then
    /// removes the file, holding its lock all the while, so that a live service's spool is
    /// refused (`inUse`), never read and unlinked under it.
    public static func replayAndRemove(at path: String, replay: (Recovery) throws -> Void) throws {
        guard access(path, F_OK) == 0 else { return }
        let fd = try lockedDescriptor(path)
        defer { close(fd) }
        try replay(try recover(fd: fd, path: path))
        unlink(path)
    }

    /// `replayAndRemove(at:replay:)` for a store that replays asynchronously.
    public static func replayAndRemove(at path: String, replay: (Recovery) async throws -> Void) async throws {
        guard access(path, F_OK) == 0 else { return }
        let fd = try lockedDescriptor(path)
        defer { close(fd) }
        try await replay(try recover(fd: fd, path: path))
        unlink(path)
    }

    private static func recover(fd: Int32, path: String) throws(Failure) -> Recovery {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(.unreadable, "cannot stat", path, errno: errno) }
        let size = Int(info.st_size)
        guard size >= fileHeaderBytes else { return Recovery(records: [], tornRecords: 0) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw Failure(.unreadable, "cannot map", path, errno: errno)
        }
        defer { munmap(mapped, size) }
        let p = UnsafeRawPointer(mapped)
        func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: p.load(fromByteOffset: offset, as: UInt64.self)) }
        let segmentBytes = Int(clamping: word(16))
        // Divided, not multiplied: a damaged header's huge size must not overflow (a trap on every start).
        guard word(0) == magic, word(8) == 1, segmentBytes > segmentHeaderBytes, segmentBytes % 8 == 0,
              segmentBytes <= (size - fileHeaderBytes) / 2 else { return Recovery(records: [], tornRecords: 0) }
        let salt = word(24)
        var records: [SpoolRecord] = []
        var torn = 0
        for i in 0..<2 {
            let segment = p + fileHeaderBytes + i * segmentBytes
            let epoch = UInt64(littleEndian: segment.load(as: UInt64.self))
            let end = min(segmentBytes, Int(clamping: UInt64(littleEndian: segment.load(fromByteOffset: 8, as: UInt64.self))))
            _ = scan(segment, from: segmentHeaderBytes, end: end, epoch: epoch, salt: salt, limit: .max, torn: &torn) { records.append($0) }
        }
        records.sort { $0.seq < $1.seq }
        return Recovery(records: records, tornRecords: torn)
    }

    /// Walks records from `offset`; where none validates, steps a word at a time to the next
    /// one that does (a record another event loop finished after a torn one is still found).
    private static func scan(
        _ segment: UnsafeRawPointer, from offset: Int, end: Int, epoch: UInt64, salt: UInt64, limit: Int, torn: inout Int,
        _ body: (consuming SpoolRecord) -> Void
    ) -> Int {
        var offset = offset
        var found = 0
        var inGap = false
        while offset < end, found < limit {
            if let (record, length) = SpoolFormat.read(segment + offset, available: end - offset, epoch: epoch, salt: salt) {
                body(record)
                found += 1
                offset += length
                inGap = false
            } else {
                if !inGap { torn += 1 }
                inGap = true
                offset += 8
            }
        }
        return offset
    }
}
