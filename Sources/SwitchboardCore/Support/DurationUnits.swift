extension Duration {
    /// Whole milliseconds, rounded down: how the API and the history file spell durations.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a floating-point number, for arithmetic and `Date` offsets.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
