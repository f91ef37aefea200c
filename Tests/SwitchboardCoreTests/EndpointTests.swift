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
