import Foundation

// embed-files OUTPUT.swift ENUM [public] MEMBER [--names-under DIR] FILE...: writes the files'
// text into Swift source as raw string literals, members of `enum ENUM`, so the binary carries
// them and needs no resource file beside it.
//
// MEMBER is `NAME` for one file (`static let NAME = "..."`), or `NAME:LABEL` for a list in the
// order given (`static let NAME: [(name: String, LABEL: String)]`, each name the file's without
// its extension, or with `--names-under DIR` its path under DIR as it is: the web view's files
// are looked up by the name a browser asks for). A FILE ending in .json must hold a JSON object:
// a broken document is refused at build time rather than served.
let usage = "usage: embed-files OUTPUT.swift ENUM [public] NAME|NAME:LABEL [--names-under DIR] FILE...\n"
var arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
let output = arguments.removeFirst()
let enumName = arguments.removeFirst()
let access = arguments.first == "public" ? "public " : ""
if !access.isEmpty { arguments.removeFirst() }
guard let member = arguments.first?.split(separator: ":").map(String.init), (1...2).contains(member.count) else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
arguments.removeFirst()
var namesUnder: URL?
if arguments.first == "--names-under", arguments.count >= 2 {
    namesUnder = URL(fileURLWithPath: arguments[1]).standardizedFileURL
    arguments.removeFirst(2)
}
let files = arguments.map { URL(fileURLWithPath: $0) }
guard member.count == 2 || files.count == 1 else {
    FileHandle.standardError.write(Data("embed-files: \(member[0]) holds one file; \(files.count) given\n".utf8))
    exit(2)
}

/// The text as a raw string literal with enough #s that nothing inside can end it or interpolate.
func literal(_ text: String, multiline: Bool) -> String {
    var hashes = "#"
    while text.contains("\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    return multiline ? "\(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes)" : "\(hashes)\"\(text)\"\(hashes)"
}

let texts = try files.map { file in
    let text = try String(contentsOf: file, encoding: .utf8)
    if file.pathExtension == "json", !((try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any]) {
        FileHandle.standardError.write(Data("\(file.path): not a JSON object\n".utf8))
        exit(1)
    }
    guard let namesUnder else { return (name: file.deletingPathExtension().lastPathComponent, text: text) }
    let path = file.standardizedFileURL.path
    guard path.hasPrefix(namesUnder.path + "/") else {
        FileHandle.standardError.write(Data("embed-files: \(file.path) is not under \(namesUnder.path)\n".utf8))
        exit(2)
    }
    return (name: String(path.dropFirst(namesUnder.path.count + 1)), text: text)
}
var swift = "// Generated from \(files.map(\.lastPathComponent).joined(separator: ", ")) by the EmbedFiles plugin. Do not edit.\n\n"
swift += "\(access)enum \(enumName) {\n"
if member.count == 2 {
    swift += "    \(access)static let \(member[0]): [(name: String, \(member[1]): String)] = [\n"
    for (name, text) in texts {
        swift += "        (\(literal(name, multiline: false)), \(literal(text, multiline: true))),\n"
    }
    swift += "    ]\n"
} else {
    swift += "    \(access)static let \(member[0]) = \(literal(texts[0].text, multiline: true))\n"
}
swift += "}\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
