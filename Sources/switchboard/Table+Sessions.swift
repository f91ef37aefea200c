import SwitchboardClient

extension Table {
    /// Sessions, live or from the history: the id whole (to paste into the next command),
    /// the listener that accepted it or an outbound session's name, the peer, and the bytes.
    static func sessions(_ sessions: [APISession]) -> Table {
        var table = Table(
            columns: [
                Column(title: "ID"), Column(title: "ROLE"), Column(title: "NAME", flexible: true),
                Column(title: "REMOTE", flexible: true, minimum: 10, keepEnd: true), Column(title: "STATE"),
                Column(title: "IN/OUT", right: true),
            ],
            empty: "(no sessions)"
        )
        for session in sessions {
            table.add([
                session.id, session.role, session.listener ?? session.name ?? "-", session.remoteAddress ?? "-",
                session.state, "\(bytes(session.bytesIn))/\(bytes(session.bytesOut))",
            ])
        }
        return table
    }
}
