
extension Switchboard {
    /// What the core refuses past, service-wide.
    public struct Limits: Sendable {
        /// Open sessions (--max-sessions): each holds a file descriptor.
        public var maxSessions: Int
        public var maxListeners: Int
        /// Long-polls waiting on one session's messages at once.
        public var maxLongPollsPerSession: Int
        /// Bytes operators' sends may have waiting for one session's socket to take them; a send
        /// past it is refused (one send alone is always taken: the body limit bounds it).
        public var maxUnsentBytesPerSession: Int

        public static let defaultMaxUnsentBytesPerSession = 4 << 20

        public init(
            maxSessions: Int = .max, maxListeners: Int = 1000, maxLongPollsPerSession: Int = 16,
            maxUnsentBytesPerSession: Int = defaultMaxUnsentBytesPerSession
        ) {
            self.maxSessions = maxSessions
            self.maxListeners = maxListeners
            self.maxLongPollsPerSession = maxLongPollsPerSession
            self.maxUnsentBytesPerSession = maxUnsentBytesPerSession
        }
    }
}
