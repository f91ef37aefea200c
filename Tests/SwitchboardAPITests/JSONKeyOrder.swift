/// The keys of a JSON object's top level, in the order the text writes them: what a reader
/// of the raw answer sees, which parsing into a dictionary would lose.
enum JSONKeyOrder {
    static func topLevelKeys(_ text: String) -> [String] {
        var keys: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var current = ""
        var expectingKey = false
        for character in text {
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                    if expectingKey {
                        keys.append(current)
                        expectingKey = false
                    }
                    continue
                }
                if expectingKey { current.append(character) }
                continue
            }
            switch character {
            case "\"":
                inString = true
                current = ""
            case "{", "[":
                depth += 1
                expectingKey = depth == 1 && character == "{"
            case "}", "]":
                depth -= 1
            case ",":
                expectingKey = depth == 1
            default:
                break
            }
        }
        return keys
    }
}
