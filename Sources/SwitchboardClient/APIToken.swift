import Foundation

/// The bearer token from the file `--token-file` names, read by the rules the service reads
/// its own copy by: whitespace and newlines around it do not count.
public enum APIToken {
    public static func read(file path: String) throws(ClientError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .local("cannot read the token file \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .local("the token file \(path) is empty") }
        guard token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw .local("the token file \(path) holds more than one token of printable ASCII")
        }
        return token
    }
}
