/// What an operator asks for when creating a listener.
public struct ListenerSpec: Sendable {
    public var name: String
    public var address: Endpoint
    public var mode: ListenerMode
    public var maxSessions: Int?
    /// Record the bytes of every accepted session into the history.
    public var capture: Bool
    public var options: ConnectionOptions
    /// Created with the listener, atomically; changed later through `Switchboard.addFault` and friends.
    public var faults: [Fault]
    /// A disabled listener is kept (and stored) with its faults but not bound: its port is
    /// closed until it is enabled again (Toxiproxy's `enabled: false`).
    public var enabled: Bool

    public init(
        name: String, address: Endpoint, mode: ListenerMode, maxSessions: Int? = nil, capture: Bool = false, options: ConnectionOptions = .init(),
        faults: [Fault] = [], enabled: Bool = true
    ) {
        self.faults = faults
        self.enabled = enabled
        self.name = name
        self.address = address
        self.mode = mode
        self.maxSessions = maxSessions
        self.capture = capture
        self.options = options
    }

    /// 1-64 characters of `[A-Za-z0-9._-]`, not starting with a dot (names end up in paths and logs).
    public static func validateName(_ name: String) throws(SwitchboardError) {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ $0.isNameByte }),
              name.utf8.first != UInt8(ascii: ".") else {
            throw SwitchboardError(.invalidArgument, "name must be 1-64 characters of A-Z a-z 0-9 . _ - and not start with '.'")
        }
    }
}

extension UInt8 {
    var isNameByte: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
            || self == UInt8(ascii: ".") || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}
