import Foundation
import NIOCore
@testable import SwitchboardAPI
@testable import SwitchboardCore
import SwitchboardHistory
import XCTest

/// The API writes its answers with `StreamingJSONEncoder`; each must mean exactly what
/// Foundation's `JSONEncoder` writes for it, but for the nulls: where Foundation leaves an
/// absent optional out, ours writes the key with null, so members whose value is null are
/// compared apart (`testAnAbsentOptionalIsWrittenAsNullForEveryType`).
final class StreamingJSONEncoderTests: XCTestCase {
    private func assertSameJSON<T: Encodable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let ours = try StreamingJSONEncoder.encode(value)
        let foundation = try JSONEncoder().encode(value)
        // Parsed and written again with sorted keys: the same meaning gives the same bytes.
        func canonical(_ data: Data) throws -> String {
            let value = Self.droppingNullMembers(try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
            return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
        }
        XCTAssertEqual(
            try canonical(Data(ours)), try canonical(foundation),
            String(decoding: ours, as: UTF8.self), file: file, line: line
        )
    }

    /// Object members whose value is null removed, at every depth; nulls in arrays stay (both
    /// encoders write those).
    private static func droppingNullMembers(_ value: Any) -> Any {
        switch value {
        case let object as [String: Any]: object.filter { !($0.value is NSNull) }.mapValues(droppingNullMembers)
        case let array as [Any]: array.map(droppingNullMembers)
        default: value
        }
    }

    private func session(_ name: String?, reason: CloseReason?, partner: SessionID? = nil) -> SessionInfo {
        SessionInfo(
            id: .make(), role: .client, listener: nil, name: name, localAddress: "127.0.0.1:1", remoteAddress: "[::1]:2",
            state: reason == nil ? .open : .closed, openedAt: Date(), closedAt: reason == nil ? nil : Date(), closeReason: reason,
            bytesIn: 12, bytesOut: UInt64(Int64.max), capture: true, captureTruncated: false, partnerID: partner
        )
    }

    func testEveryAnswerShapeMeansTheSameAsWithFoundation() throws {
        let tricky = "quote \" backslash \\ slash / newline \n tab \t bell \u{07} nul \u{0} é 日本 🎉"
        let records = [
            SessionRecord(session(nil, reason: nil)),
            SessionRecord(session(tricky, reason: .error(tricky), partner: .make())),
            SessionRecord(session("plc-1", reason: .partner)),
        ]
        for record in records { try assertSameJSON(record) }
        try assertSameJSON(SessionList(sessions: records, reconnecting: [
            ReconnectResponse(status: ReconnectStatus(name: "plc-1", endpoint: "10.0.0.1:502", state: .waiting, sessionID: nil, failures: 3, nextAttemptAt: Date(), lastError: tricky), session: records[0]),
            ReconnectResponse(status: ReconnectStatus(name: "plc-2", endpoint: "unix:/run/x", state: .connected, sessionID: .make(), failures: 0, nextAttemptAt: nil, lastError: nil), session: nil),
        ]))
        try assertSameJSON(SessionList(sessions: [], reconnecting: []))
        let options = ConnectionOptions(nodelay: false, keepalive: .init(idle: 30, interval: nil, count: 4), idleTimeout: .milliseconds(1500), connectTimeout: nil, backlog: 64)
        let modes: [ListenerMode] = [.echo, .reply(ByteBuffer(bytes: [0, 0xFF, 0x41]), closeAfterReply: true), .forward(to: .unix(path: "/tmp/a\"b"), resetOnFailure: true)]
        let listeners = modes.enumerated().map { index, mode in
            ListenerInfo.failed(
                ListenerSpec(name: "l\(index)", address: .host("127.0.0.1", port: 9000 + index), mode: mode, maxSessions: index == 0 ? nil : 5, capture: index == 1, options: index == 0 ? .init() : options),
                createdAt: Date(), error: tricky
            )
        }
        try assertSameJSON(ListenerList(listeners: listeners.map { ListenerResponse(info: $0, instance: "site-a") }))
        let page = MessagePage(
            messages: [Message(seq: 1, direction: .in, at: Date(), data: ByteBuffer(string: tricky)), Message(seq: 2, direction: .out, at: Date(), data: ByteBuffer(bytes: [0xC3, 0x28]))],
            next: 2, firstRetained: nil
        )
        try assertSameJSON(MessagesResponse(page: page, state: .open, encoding: nil))
        try assertSameJSON(["a": [1.5, 0, -2, 1e-7, 123456789.25], "b": [Double(Int64.max) / 4]])
        try assertSameJSON([String?.none, "x"])
        struct ErrorBody: Encodable {
            struct Detail: Encodable { let code: String; let message: String }
            let error: Detail
        }
        try assertSameJSON(ErrorBody(error: .init(code: "invalid_value", message: tricky)))
    }

    func testEveryNumberTypeAndSuperEncoders() throws {
        struct Numbers: Encodable {
            let a: Int8 = -8, b: Int16 = 16, c: Int32 = -32, d: UInt = 1, e: UInt8 = 8, f: UInt32 = 32, g: Float = 1.5
            let bytes: [UInt8] = [0, 255]
        }
        try assertSameJSON(Numbers())
        class Base: Encodable {
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode("base", forKey: .kind)
            }
            enum Keys: String, CodingKey { case kind }
        }
        final class Derived: Base {
            override func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode("derived", forKey: .kind)
                try super.encode(to: c.superEncoder())
            }
        }
        try assertSameJSON(Derived())
    }

    func testIntegersAreWrittenDigitForDigit() throws {
        func text(_ value: some Encodable) throws -> String { String(decoding: try StreamingJSONEncoder.encode(value), as: UTF8.self) }
        XCTAssertEqual(try text([Int64.min, Int64.max, 0, -1, 10, 1_234_567_890]), "[-9223372036854775808,9223372036854775807,0,-1,10,1234567890]")
        XCTAssertEqual(try text([UInt64.max, 0]), "[18446744073709551615,0]")
        XCTAssertEqual(try text([Int8.min, 0, Int8.max]), "[-128,0,127]")
        XCTAssertEqual(try text(["big": Int128.min, "bigger": Int128.max]).count, #"{"big":-170141183460469231731687303715884105728,"bigger":170141183460469231731687303715884105727}"#.count)
        XCTAssertEqual(try text([UInt128.max]), "[340282366920938463463374607431768211455]")
        XCTAssertEqual(try text(["n": -42.0, "m": 3.25]).count, #"{"n":-42,"m":3.25}"#.count)
    }

    func testNonFiniteNumbersAreRefused() {
        XCTAssertThrowsError(try StreamingJSONEncoder.encode(["x": Double.nan])) { error in
            XCTAssertTrue("\(error)".contains("at x "), "\(error)")
        }
        XCTAssertThrowsError(try StreamingJSONEncoder.encode([Double.infinity]))
    }

    func testTheBytesAreCompactJSONInTheTypesKeyOrder() throws {
        let text = String(decoding: try StreamingJSONEncoder.encode(SessionList(sessions: [], reconnecting: [])), as: UTF8.self)
        XCTAssertEqual(text, #"{"sessions":[],"reconnecting":[]}"#)
    }

    func testAnAbsentOptionalIsWrittenAsNullForEveryType() throws {
        struct Absent: Encodable {
            struct Inner: Encodable { let x: Int }
            var string: String?, bool: Bool?, int: Int?, int64: Int64?, uint64: UInt64?, double: Double?, float: Float?
            var int8: Int8?, int16: Int16?, int32: Int32?, uint: UInt?, uint8: UInt8?, uint16: UInt16?, uint32: UInt32?
            var int128: Int128?, uint128: UInt128?, inner: Inner?, list: [Int]?
        }
        XCTAssertEqual(
            try StreamingJSONEncoder.string(Absent()),
            #"{"string":null,"bool":null,"int":null,"int64":null,"uint64":null,"double":null,"float":null,"int8":null,"int16":null,"int32":null,"uint":null,"uint8":null,"uint16":null,"uint32":null,"int128":null,"uint128":null,"inner":null,"list":null}"#
        )
        let present = Absent(
            string: "s", bool: true, int: -1, int64: 2, uint64: 3, double: 0.5, float: 1.5, int8: 4, int16: 5, int32: 6, uint: 7,
            uint8: 8, uint16: 9, uint32: 10, int128: 11, uint128: 12, inner: .init(x: 13), list: [14]
        )
        XCTAssertEqual(
            try StreamingJSONEncoder.string(present),
            #"{"string":"s","bool":true,"int":-1,"int64":2,"uint64":3,"double":0.5,"float":1.5,"int8":4,"int16":5,"int32":6,"uint":7,"uint8":8,"uint16":9,"uint32":10,"int128":11,"uint128":12,"inner":{"x":13},"list":[14]}"#
        )
    }

    func testKeysComeOutInTheOrderTheCodingKeysDeclare() throws {
        let record = SessionRecord(session(nil, reason: nil))
        let keys = try JSONKeyOrder.topLevelKeys(StreamingJSONEncoder.string(record))
        XCTAssertEqual(keys, SessionRecord.CodingKeys.allCases.map(\.stringValue))
        XCTAssertEqual(SessionRecord.csvHeader, keys.joined(separator: ","), "the JSON keys and the CSV columns agree")
    }
}
