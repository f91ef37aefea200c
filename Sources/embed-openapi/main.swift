import Foundation

// embed-openapi OUTPUT.swift openapi.json: writes the document as a Swift string literal, so the
// binary serves it without any resource file beside it.
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2, let output = arguments.first, let input = arguments.last else {
    FileHandle.standardError.write(Data("usage: embed-openapi OUTPUT.swift openapi.json\n".utf8))
    exit(2)
}
let json = try String(contentsOf: URL(fileURLWithPath: input), encoding: .utf8)
// Refuse a document that is not JSON at build time rather than serve it.
guard (try? JSONSerialization.jsonObject(with: Data(json.utf8))) is [String: Any] else {
    FileHandle.standardError.write(Data("\(input): not a JSON object\n".utf8))
    exit(1)
}
// Enough #s that no text inside the file can end the raw string or interpolate into it.
var hashes = "#"
while json.contains("\"" + hashes) || json.contains("\\" + hashes) { hashes += "#" }
let swift = """
    // Generated from openapi/openapi.json by the EmbedOpenAPI plugin. Do not edit.

    enum EmbeddedOpenAPI {
        static let json = \(hashes)\"\"\"
    \(json)
    \"\"\"\(hashes)
    }

    """
try swift.write(toFile: output, atomically: true, encoding: .utf8)
