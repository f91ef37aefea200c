import Foundation
import Logging
import NIOCore
import NIOPosix
import SwitchboardCore
import SwitchboardTestSupport
import XCTest

/// --allow-connect and --deny-connect: the rules, and every outbound connect going through them.
final class OutboundPolicyTests: XCTestCase {
    private func policy(allow: [String] = [], deny: [String] = []) throws -> OutboundPolicy {
        OutboundPolicy(allow: try allow.map { try ConnectRule(parsing: $0) }, deny: try deny.map { try ConnectRule(parsing: $0) })
    }

    private func refusal(_ policy: OutboundPolicy, _ ip: String, _ port: Int) throws -> String? {
        policy.refusal(for: try SocketAddress(ipAddress: ip, port: port))?.description
    }

    // MARK: Rules

    func testRulesParse() throws {
        for rule in ["10.0.0.0/8", "10.0.0.0/8:502", "192.168.1.7", "192.168.1.7:1-1024", "0.0.0.0/0", "10.0.0.0/8:22,80,8000-8100",
                     "[::1]/128:1-1024", "[::1]:22", "[2001:db8::/32]:443", "::/0", "fe80::/10", "::1", "unix:/run/app"] {
            XCTAssertEqual(try ConnectRule(parsing: rule).description, rule)
        }
    }

    func testBadRulesAreRefusedByName() {
        for rule in ["10.0.0.0/33", "10.0.0.1/8", "10.0.0/8", "10", "host.example:22", "10.0.0.0/8:", "10.0.0.0/8:70000", "10.0.0.0/8:9-3",
                     "10.0.0.0/8:1-2-3", "10.0.0.0/8:a", "[::1]/129", "[::1", "[::1]x", "::1/x", "fe80::1/10", "unix:relative", "", "10.0.0.0/8:1,,2"] {
            XCTAssertThrowsError(try ConnectRule(parsing: rule), rule) { error in
                XCTAssertTrue("\(error)".contains("'\(rule)'"), "\(error) names \(rule)")
            }
        }
        XCTAssertThrowsError(try ConnectRule(parsing: "10.0.0.1/8")) { XCTAssertTrue("\($0)".contains("10.0.0.0/8"), "suggests the network: \($0)") }
    }

    func testEnvironmentListsSplitOnSpacesAndCommasAndKeepPortLists() throws {
        let rules = try OutboundPolicy.parseList("10.0.0.0/8:502,503, 192.168.0.0/16,[::1]/128:1-1024,2000\tunix:/run/x 127.0.0.1")
        XCTAssertEqual(rules.map(\.description), ["10.0.0.0/8:502,503", "192.168.0.0/16", "[::1]/128:1-1024,2000", "unix:/run/x", "127.0.0.1"])
        XCTAssertEqual(try OutboundPolicy.parseList(" "), [])
        XCTAssertThrowsError(try OutboundPolicy.parseList("10.0.0.0/8 nonsense"))
    }

    // MARK: Matching

    func testNoRulesAllowEverything() throws {
        let open = OutboundPolicy.allowAll
        XCTAssertTrue(open.isUnrestricted)
        XCTAssertNil(try refusal(open, "127.0.0.1", 22))
        XCTAssertNil(try refusal(open, "::1", 22))
        XCTAssertNil(open.refusal(forUnixPath: "/run/docker.sock"))
    }

    func testIPv4NetworksAndPorts() throws {
        let p = try policy(deny: ["127.0.0.0/8:22", "10.1.2.3", "172.16.0.0/12:1-1024,3306"])
        XCTAssertEqual(try refusal(p, "127.0.0.1", 22), "127.0.0.1:22 is denied by --deny-connect 127.0.0.0/8:22")
        XCTAssertEqual(try refusal(p, "127.255.0.9", 22), "127.255.0.9:22 is denied by --deny-connect 127.0.0.0/8:22")
        XCTAssertNil(try refusal(p, "127.0.0.1", 23))
        XCTAssertNil(try refusal(p, "128.0.0.1", 22))
        XCTAssertNotNil(try refusal(p, "10.1.2.3", 1))
        XCTAssertNil(try refusal(p, "10.1.2.4", 1))
        XCTAssertNotNil(try refusal(p, "172.31.255.255", 1024))
        XCTAssertNotNil(try refusal(p, "172.16.0.1", 3306))
        XCTAssertNil(try refusal(p, "172.16.0.1", 1025))
        XCTAssertNil(try refusal(p, "172.32.0.1", 80))
    }

    func testIPv6NetworksAndMappedIPv4() throws {
        let p = try policy(deny: ["[::1]/128:1-1024", "fe80::/10", "10.0.0.0/8"])
        XCTAssertEqual(try refusal(p, "::1", 80), "[::1]:80 is denied by --deny-connect [::1]/128:1-1024")
        XCTAssertNil(try refusal(p, "::1", 8080))
        XCTAssertNotNil(try refusal(p, "fe80::1234", 9))
        XCTAssertNotNil(try refusal(p, "febf::1", 9))
        XCTAssertNil(try refusal(p, "fec0::1", 9))
        XCTAssertNil(try refusal(p, "2001:db8::1", 80))
        // An IPv4 address reached over IPv6 is judged by the IPv4 rules.
        XCTAssertNotNil(try refusal(p, "::ffff:10.9.8.7", 80))
        XCTAssertNil(try refusal(p, "::ffff:11.9.8.7", 80))
        // IPv4 rules do not match IPv6 addresses and the other way round.
        XCTAssertNil(try refusal(try policy(deny: ["0.0.0.0/0"]), "::1", 80))
        XCTAssertNil(try refusal(try policy(deny: ["::/0"]), "127.0.0.1", 80))
        XCTAssertNotNil(try refusal(try policy(deny: ["::/0"]), "2001:db8::1", 80))
    }

    func testAnAllowListAdmitsOnlyWhatItNames() throws {
        let p = try policy(allow: ["10.0.0.0/8:502", "[2001:db8::]/32"])
        XCTAssertNil(try refusal(p, "10.0.0.7", 502))
        XCTAssertNil(try refusal(p, "2001:db8::7", 1))
        XCTAssertEqual(try refusal(p, "10.0.0.7", 503), "10.0.0.7:503 is not allowed by any --allow-connect rule")
        XCTAssertNotNil(try refusal(p, "127.0.0.1", 502))
        XCTAssertNotNil(try refusal(p, "::1", 502))
        // With an allow list, unix sockets too need a rule of their own.
        XCTAssertNotNil(p.refusal(forUnixPath: "/run/app.sock"))
    }

    func testDenyWinsOverAllow() throws {
        let p = try policy(allow: ["10.0.0.0/8", "0.0.0.0/0:502"], deny: ["10.0.0.66", "10.0.0.0/8:22"])
        XCTAssertNil(try refusal(p, "10.0.0.65", 80))
        XCTAssertEqual(try refusal(p, "10.0.0.66", 80), "10.0.0.66:80 is denied by --deny-connect 10.0.0.66")
        XCTAssertEqual(try refusal(p, "10.0.0.1", 22), "10.0.0.1:22 is denied by --deny-connect 10.0.0.0/8:22")
        XCTAssertNil(try refusal(p, "8.8.8.8", 502))
        XCTAssertNotNil(try refusal(p, "8.8.8.8", 503))
    }

    func testUnixRulesMatchWholePathComponents() throws {
        let p = try policy(allow: ["unix:/run/app"], deny: ["unix:/run/app/admin.sock"])
        XCTAssertNil(p.refusal(forUnixPath: "/run/app"))
        XCTAssertNil(p.refusal(forUnixPath: "/run/app/a.sock"))
        XCTAssertNotNil(p.refusal(forUnixPath: "/run/application.sock"))
        XCTAssertNotNil(p.refusal(forUnixPath: "/run/app/admin.sock"))
        XCTAssertNotNil(try refusal(p, "127.0.0.1", 80), "an allow list of unix paths admits no TCP address")
    }

    // MARK: Connects

    private func switchboard(allow: [String] = [], deny: [String] = []) throws -> Switchboard {
        var logger = Logger(label: "policy-test")
        logger.logLevel = .warning
        return Switchboard(group: MultiThreadedEventLoopGroup.singleton, logger: logger, outboundPolicy: try policy(allow: allow, deny: deny))
    }

    private func forbidden(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as SwitchboardError where error.kind == .forbidden {
            return error.message
        } catch {
            return "not forbidden: \(error)"
        }
    }

    func testOutboundSessionsAreCheckedAndAllowedOnesConnect() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let board = try switchboard(allow: ["127.0.0.0/8:\(upstream.port)"], deny: ["127.0.0.0/8:22"])
        defer { Task { await board.shutdown() } }
        let denied = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: 22))) }
        XCTAssertEqual(denied, "127.0.0.1:22 is denied by --deny-connect 127.0.0.0/8:22")
        let other = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .host("127.0.0.2", port: upstream.port + 1))) }
        XCTAssertEqual(other, "127.0.0.2:\(upstream.port + 1) is not allowed by any --allow-connect rule")
        XCTAssertEqual(board.counts.openSessions, 0)
        // The allowed address connects, through the checked path, also when given by name.
        let session = try await board.connect(ConnectSpec(endpoint: .host("127.0.0.1", port: upstream.port)))
        XCTAssertEqual(session.remoteAddress, "127.0.0.1:\(upstream.port)")
        let byName = try await board.connect(ConnectSpec(endpoint: .host("localhost", port: upstream.port)))
        XCTAssertEqual(byName.remoteAddress, "127.0.0.1:\(upstream.port)", "localhost's ::1 is not allowed, so 127.0.0.1 is used")
    }

    func testANameIsResolvedAndItsAddressesChecked() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let board = try switchboard(deny: ["127.0.0.0/8", "[::1]/128"])
        defer { Task { await board.shutdown() } }
        let message = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .host("localhost", port: upstream.port))) }
        let text = try XCTUnwrap(message)
        XCTAssertTrue(text.hasPrefix("localhost:\(upstream.port) ("), text)
        XCTAssertTrue(text.contains("is denied by --deny-connect"), text)
        XCTAssertEqual(upstream.accepted, 0)
        let unresolvable = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .host("no-such-host.invalid", port: 80))) }
        XCTAssertTrue(unresolvable?.hasPrefix("not forbidden") == true, "an unknown name is a connect failure: \(unresolvable ?? "")")
    }

    func testForwardTargetsAreCheckedAtCreationAndForEachConnection() async throws {
        let upstream = try await TestUpstream.start(.echo)
        defer { Task { await upstream.stop() } }
        let board = try switchboard(deny: ["127.0.0.1:\(upstream.port)"])
        defer { Task { await board.shutdown() } }
        let spec = ListenerSpec(name: "fwd", address: .host("127.0.0.1", port: 0), mode: .forward(to: .host("127.0.0.1", port: upstream.port), resetOnFailure: false))
        let refused = await forbidden { _ = try await board.createListener(spec) }
        XCTAssertEqual(refused, "127.0.0.1:\(upstream.port) is denied by --deny-connect 127.0.0.1:\(upstream.port)")
        XCTAssertTrue(board.listeners().isEmpty)

        // A saved listener comes back unchecked; each connection it accepts is checked.
        let (restored, _) = await board.restoreListeners([SavedListener(spec: spec, createdAt: Date())])
        XCTAssertEqual(restored, 1)
        let port = Int(try board.listener(named: "fwd").address.split(separator: ":").last!)!
        let client = try await TestConnection.connect(port: port)
        try await client.waitForClose()
        try await eventually("the accepted session closed: \(board.sessions()) \(board.counts)") { board.sessions(.init(state: .closed)).count == 1 }
        XCTAssertEqual(board.sessions()[0].closeReason, .error("upstream: 127.0.0.1:\(upstream.port) is denied by --deny-connect 127.0.0.1:\(upstream.port)"))
        XCTAssertEqual(upstream.accepted, 0)
    }

    func testReconnectingSessionsAreCheckedUpFrontAndOnEveryAttempt() async throws {
        let board = try switchboard(deny: ["10.0.0.0/8"])
        defer { Task { await board.shutdown() } }
        let spec = ConnectSpec(endpoint: .host("10.0.0.7", port: 502), name: "plc", reconnect: ReconnectPolicy(initial: .milliseconds(5), max: .milliseconds(10)))
        let refused = await forbidden { _ = try await board.startReconnecting(spec) }
        XCTAssertEqual(refused, "10.0.0.7:502 is denied by --deny-connect 10.0.0.0/8")
        XCTAssertTrue(board.reconnecting().isEmpty)
        // Restored from an earlier run, with rules that now refuse it: every attempt is refused.
        _ = await board.restoreReconnecting([SavedReconnecting(spec: spec, createdAt: Date())])
        try await eventually("attempts refused by the policy") {
            let status = board.reconnecting(named: "plc").first
            return (status?.failures ?? 0) >= 2 && status?.lastError == "10.0.0.7:502 is denied by --deny-connect 10.0.0.0/8"
        }
    }

    func testUnixTargetsAreCheckedOnTheirResolvedPath() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sb-policy-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder + "/private", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/public", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/public/link", withDestinationPath: folder + "/private")
        let board = try switchboard(deny: ["unix:\(folder)/private"])
        defer { Task { await board.shutdown() } }
        for path in ["\(folder)/private/x.sock", "\(folder)/public/../private/x.sock", "\(folder)/public/link/x.sock"] {
            let message = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .unix(path: path))) }
            XCTAssertTrue(message?.contains("is denied by --deny-connect unix:\(folder)/private") == true, "\(path): \(message ?? "allowed")")
        }
        let allowed = await forbidden { _ = try await board.connect(ConnectSpec(endpoint: .unix(path: "\(folder)/public/x.sock"))) }
        XCTAssertTrue(allowed?.hasPrefix("not forbidden") == true, allowed ?? "")
    }
}
