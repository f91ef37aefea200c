import Foundation
import XCTest

/// The binary as a person at a terminal meets it: `--version`, and a runtime error that is no
/// usage error.
final class CommandLineTests: XCTestCase {
    func testVersionIsPrinted() async throws {
        let (status, output) = try await runSwitchboard(["--version"])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
    }

    func testAHistoryFileThatCannotBeReadIsAnErrorNotAUsageError() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).sqlite3").path
        let (status, output) = try await runSwitchboard(["history", "--db", missing])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("cannot read the history file"), output)
        XCTAssertFalse(output.contains("USAGE"), "no usage text after a runtime error: \(output)")
        // A usage error is still one: 2, as for every command (not ArgumentParser's 64).
        let (usage, text) = try await runSwitchboard(["history", "--limit", "0", "--db", missing])
        XCTAssertEqual(usage, 2, text)
    }
}
