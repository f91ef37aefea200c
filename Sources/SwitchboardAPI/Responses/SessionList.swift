import SwitchboardHistory

/// Live sessions have the same shape as the history's rows (`SessionRecord`), so a script reads both alike.
/// With the named reconnecting sessions that match the same filter, whatever their state.
struct SessionList: Encodable {
    let sessions: [SessionRecord]
    let reconnecting: [ReconnectResponse]
}
