import Logging

extension Switchboard {
    /// Lines that can repeat for every connection or attempt (a down upstream fails each
    /// connection; a session whose connections end at once reconnects again and again): one
    /// line a key every 10 s at info, with how many were not logged, the rest at debug, so the
    /// journal is not flooded (journald drops lines past its rate limit). Each occurrence is
    /// still an event and a metric.
    func logRepeating(_ message: Logger.Message, key: String, metadata: @autoclosure () -> Logger.Metadata) {
        let now = ContinuousClock.now
        let quiet = quietLogs.withLock { logs -> Int? in
            if let last = logs[key], now - last.at < .seconds(10) {
                logs[key]!.quiet += 1
                return nil
            }
            let quiet = logs[key]?.quiet ?? 0
            // Bounded: past 1,024 keys the stale ones go, and if all are fresh, all go (at
            // worst a few more lines at info), so this is not a scan on every call.
            if logs.count >= 1024 {
                logs = logs.filter { now - $0.value.at < .seconds(10) }
                if logs.count >= 1024 { logs.removeAll() }
            }
            logs[key] = (now, 0)
            return quiet
        }
        guard let quiet else {
            logger.debug(message, metadata: metadata())
            return
        }
        var metadata = metadata()
        if quiet > 0 { metadata["not_logged_since"] = "\(quiet)" }
        logger.info(message, metadata: metadata)
    }
}
