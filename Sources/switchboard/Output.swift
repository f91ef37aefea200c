#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwitchboardClient

/// Writing answers to standard output in each `-o` format, from the bytes the service sent.
enum Output {
    /// A line, flushed at once: a pipe would otherwise hold a stream's lines back.
    static func line(_ text: String) {
        print(text)
        fflush(nil)
    }

    /// Bytes as they are (a session's data with `--raw`), after what `print` holds.
    static func bytes(_ data: Data) {
        fflush(nil)
        FileHandle.standardOutput.write(data)
    }

    /// A line on standard error, after what standard output holds.
    static func error(_ text: String) {
        fflush(nil)
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// One object's answer: its fields a line (table), or the JSON as it came.
    static func answer(_ answer: APIAnswer, _ format: OutputFormat) throws {
        switch format {
        case .table: try fields(answer.body)
        case .json, .ndjson: json(answer.body)
        }
    }

    static func json(_ body: Data) {
        var text = String(decoding: body, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        line(text)
    }

    /// The items under `key` one a line, or, with no key, the one object as it came.
    static func ndjson(_ body: Data, items key: String? = nil) throws {
        guard let key else { return json(body) }
        guard let items = RawJSON.elements(of: key, in: body) else {
            throw CommandFailure("the answer has no list '\(key)': \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        for item in items { json(item) }
    }

    /// An object as `key  value` lines, in the service's order; nested objects flattened into
    /// dotted keys (`options.nodelay`), null as `-`.
    static func fields(_ body: Data) throws {
        guard let members = RawJSON.members(body) else {
            throw CommandFailure("the answer is not a JSON object: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        let flat = flatten(members, prefix: "")
        let width = flat.map(\.0.count).max() ?? 0
        for (key, value) in flat { line(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
    }

    private static func flatten(_ members: [(key: String, value: Data)], prefix: String) -> [(String, String)] {
        members.flatMap { key, value -> [(String, String)] in
            if value.first == UInt8(ascii: "{"), let inner = RawJSON.members(value), !inner.isEmpty {
                return flatten(inner, prefix: prefix + key + ".")
            }
            return [(prefix + key, RawJSON.plain(value) ?? "-")]
        }
    }
}
