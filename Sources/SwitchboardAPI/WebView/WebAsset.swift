import Foundation
import NIOCore

/// One file of the web view as it is served: its bytes, its type and a validator for caches.
struct WebAsset: Sendable {
    let name: String
    let body: ByteBuffer
    let contentType: String
    /// A strong ETag from the bytes, so a browser revalidates with `If-None-Match` and gets a 304
    /// until a new build changes the file (the names carry no version to cache on).
    let etag: String

    init(name: String, text: String) {
        self.name = name
        body = ByteBuffer(string: text)
        contentType = Self.contentType(of: name)
        etag = "\"\(Self.fingerprint(Array(text.utf8)))\""
    }

    /// The files compiled in from `ui/`, by the name a browser asks for.
    static let all: [String: WebAsset] = Dictionary(
        uniqueKeysWithValues: EmbeddedWebView.files.map { ($0.name, WebAsset(name: $0.name, text: $0.text)) }
    )

    static let types = [
        "html": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "svg": "image/svg+xml",
    ]

    /// A file whose kind is not listed goes out as bytes to download, never as something a
    /// browser would run; a test keeps every file of `ui/` listed.
    static func contentType(of name: String) -> String {
        let kind = name.split(separator: ".").last.map(String.init) ?? ""
        return types[kind] ?? "application/octet-stream"
    }

    /// FNV-1a, 64 bits: cheap, and a cache validator needs no collision resistance against an
    /// adversary (the files are public and fixed at build time).
    static func fingerprint(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + "-" + String(bytes.count, radix: 16)
    }

    /// Whether an `If-None-Match` value names this file as the client has it.
    func matches(ifNoneMatch value: String) -> Bool {
        value.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            // Weak comparison, as RFC 9110 §13.1.2 asks for If-None-Match.
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }
}
