/// How a JSON answer is laid out: on one line (what scripts and the event stream get), or
/// indented for a person at a terminal, which `?pretty` asks for.
public enum JSONStyle: Sendable {
    case compact
    case indented
}
