
public struct SessionFilter: Sendable {
    public var listener: String?
    public var role: SessionRole?
    public var state: SessionState?
    public var name: String?
    public init(listener: String? = nil, role: SessionRole? = nil, state: SessionState? = nil, name: String? = nil) {
        self.listener = listener
        self.role = role
        self.state = state
        self.name = name
    }

    func matches(_ session: Session, open: Bool) -> Bool {
        (listener == nil || session.listener == listener)
            && (role == nil || session.role == role)
            && (name == nil || session.name == name)
            && (state == nil || (state == .open) == open)
    }
}
