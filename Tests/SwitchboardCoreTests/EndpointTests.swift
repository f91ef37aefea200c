import Foundation
import NIOCore
import SwitchboardCore
import XCTest

final class EndpointTests: XCTestCase {
    func testParsesEveryAcceptedSpelling() throws {
        XCTAssertEqual(try Endpoint(parsing: "127.0.0.1:9000"), .host("127.0.0.1", port: 9000))
        XCTAssertEqual(try Endpoint(parsing: "localhost:0"), .host("localhost", port: 0))
        XCTAssertEqual(try Endpoint(parsing: "[::1]:65535"), .host("::1", port: 65535))
        XCTAssertEqual(try Endpoint(parsing: "unix:/tmp/x.sock"), .unix(path: "/tmp/x.sock"))
        XCTAssertEqual(try Endpoint(parsing: "[::1]:80").description, "[::1]:80")
        XCTAssertEqual(try Endpoint(parsing: "unix:/tmp/x.sock").description, "unix:/tmp/x.sock")
    }

    func testRefusesWhatIsNotAnAddress() {
        for text in ["", "9000", "host", ":80", "host:", "host:65536", "host:-1", "host:8o", "::1:80", "[::1]80",
                     "[::1", "[host]:80", "unix:", "a b:80", "host:123456", "unix:/" + String(repeating: "x", count: 200)] {
            XCTAssertThrowsError(try Endpoint(parsing: text), "'\(text)' should be refused")
        }
    }
}

final class RFC3339Tests: XCTestCase {
    func testFormatsInUTCWithMillisecondsAndReadsBack() {
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 951_782_400.5)), "2000-02-29T00:00:00.500Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 1_795_663_380.123)), "2026-11-26T03:23:00.123Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: -1)), "1969-12-31T23:59:59.000Z")
        // Against Foundation over a spread of instants.
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        reference.timeZone = TimeZone(identifier: "UTC")
        for seconds in stride(from: 0.0, to: 4_000_000_000.0, by: 7_777_777.777) {
            let date = Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000)
            XCTAssertEqual(RFC3339.format(date), reference.string(from: date))
            XCTAssertEqual(RFC3339.parse(RFC3339.format(date))?.timeIntervalSince1970 ?? 0, date.timeIntervalSince1970, accuracy: 0.001)
        }
        XCTAssertNil(RFC3339.parse("2026-13-01T00:00:00Z"))
        XCTAssertNotNil(RFC3339.parse("2026-11-26T05:00:00+02:00"))
    }
}

final class EndpointDescribeTests: XCTestCase {
    /// The session's addresses are written by hand, not by NIO: the two must agree.
    func testAnIPv4AddressReadsAsNIOWritesIt() throws {
        var random = SystemRandomNumberGenerator()
        let hosts = ["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.200.9", "1.22.133.244"]
            + (0..<500).map { _ in (0..<4).map { _ in String(Int.random(in: 0...255, using: &random)) }.joined(separator: ".") }
        for (i, host) in hosts.enumerated() {
            let port = [0, 1, 9, 10, 65535, 40000][i % 6]
            let address = try SocketAddress(ipAddress: host, port: port)
            XCTAssertEqual(Endpoint.describe(address), "\(address.ipAddress!):\(address.port!)")
            XCTAssertEqual(Endpoint.describe(address), "\(host):\(port)")
        }
        XCTAssertEqual(Endpoint.describe(try SocketAddress(ipAddress: "::1", port: 80)), "[::1]:80")
    }
}

final class SessionIDTests: XCTestCase {
    func testIdsAreValidULIDsInTheOrderTheyWereMade() {
        let ids = (0..<10_000).map { _ in SessionID.make() }
        XCTAssertEqual(ids, ids.sorted(), "monotonic within a millisecond")
        XCTAssertEqual(Set(ids).count, ids.count)
        for id in ids.prefix(100) {
            XCTAssertEqual(id.rawValue.count, 26)
            XCTAssertEqual(SessionID(id.rawValue.lowercased()), id)
        }
        XCTAssertNil(SessionID("not-an-id"))
        XCTAssertNil(SessionID(String(repeating: "U", count: 26)), "U is not in Crockford's alphabet")
    }

    /// Ids are held as 128 bits and written as text: the two must agree on value and order.
    func testTheTextAndTheBitsAgree() throws {
        // The ULID spec's example: its first 10 characters are the time 1469922850259 ms.
        let spec = try XCTUnwrap(SessionID("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
        XCTAssertEqual(spec.rawValue, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        XCTAssertEqual(SessionID.lowerBound(at: Date(timeIntervalSince1970: 1_469_922_850.259_5)), "01ARZ3NDEK0000000000000000")
        XCTAssertEqual(SessionID("01arz3ndektsv4rrffq69g5fav"), spec, "either case")
        XCTAssertEqual(SessionID("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")?.rawValue, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "the largest")
        XCTAssertNil(SessionID("80000000000000000000000000"), "past 128 bits")
        XCTAssertNil(SessionID("01ARZ3NDEKTSV4RRFFQ69G5FA"), "25 characters")
        let at = Date(timeIntervalSince1970: 1_800_000_000.5)
        XCTAssertEqual(SessionID.make(at: at).rawValue.prefix(10), SessionID.lowerBound(at: at).prefix(10))
        // Comparing ids compares their text, also across characters of every weight.
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let texts = (0..<2000).map { _ in
            String(alphabet[Int.random(in: 0..<8, using: &random)]) + String((0..<25).map { _ in alphabet.randomElement(using: &random)! })
        }
        let ids = try texts.map { try XCTUnwrap(SessionID($0)) }
        XCTAssertEqual(ids.map(\.rawValue), texts)
        XCTAssertEqual(ids.sorted().map(\.rawValue), texts.sorted())
    }

    func testEachMillisecondStartsFromFreshRandomBits() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        // Half a millisecond in, so that floating point cannot round two dates into one millisecond.
        let ids = (0..<1000).map { SessionID.make(at: start.addingTimeInterval((Double($0) + 0.5) / 1000)) }
        let randomParts = Set(ids.map { $0.rawValue.suffix(16) })
        XCTAssertEqual(randomParts.count, 1000, "80 random bits per millisecond, never repeated")
        XCTAssertEqual(Set(ids.map { $0.rawValue.prefix(10) }).count, 1000, "one id per millisecond here")
    }
}
