import Foundation

/// The `# HELP` line of each metric, in the README's words. swift-metrics has no place for a
/// help text, and Prometheus's factory registers every metric with an empty one, so the lines
/// are put in at the scrape, before each metric's `# TYPE` line.
enum MetricsHelp {
    static let text: [String: String] = [
        "switchboard_sessions_opened_total": "sessions opened; outbound sessions have listener=\"\"",
        "switchboard_sessions_closed_total": "sessions closed; reason is local, peer, reset, idle, partner, fault, error (never the error's text) or interrupted",
        "switchboard_open_sessions": "sessions open at the scrape",
        "switchboard_listeners": "listeners at the scrape",
        "switchboard_bytes_total": "bytes moved (a forwarded pair's halves carry the same bytes, told apart by role); counted at each scrape for open sessions, so long sessions move it too, and each byte once",
        "switchboard_connections_rejected_total": "connections accepted and closed at once (listener_limit, service_limit, forward_loop)",
        "switchboard_connect_failures_total": "outbound connections that could not be made",
        "switchboard_faults_applied_total": "faults that applied to a session when they met it (the toxicity draw said yes), by type",
        "switchboard_fault_bytes_total": "bytes fault stages held back (delayed), swallowed (dropped) or changed (corrupted), by type and effect",
        "switchboard_history_records_written_total": "session and message records written to SQLite",
        "switchboard_history_records_dropped_total": "records dropped because the session spool or the writer's memory queue was full",
        "switchboard_history_write_failures_total": "batches SQLite refused (they are retried)",
        "switchboard_history_batch_records": "records per transaction",
        "switchboard_history_write_duration_seconds": "time per transaction (the idle once-a-second heartbeat included)",
        "switchboard_history_queue_depth": "records waiting (in the spool and in memory), sampled each batch window",
        "switchboard_http_requests_total": "API requests; route is the template (/v1/sessions/{id}), unmatched for no route",
        "switchboard_http_request_duration_seconds": "time to the response head (for streams, not their length)",
        "switchboard_event_clients": "live event streams open",
        "switchboard_event_clients_dropped_total": "live event clients dropped for falling behind",
    ]

    /// `exposition` with a `# HELP` line before each `# TYPE` line of a metric that has one.
    static func adding(to exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + text.count * 80)
        for line in exposition.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: Array("# TYPE ".utf8)) {
                let name = line.dropFirst(7).prefix { $0 != UInt8(ascii: " ") }
                if let help = text[String(decoding: name, as: UTF8.self)] {
                    out.append(contentsOf: Array("# HELP ".utf8))
                    out.append(contentsOf: name)
                    out.append(UInt8(ascii: " "))
                    out.append(contentsOf: Array(Self.escaped(help).utf8))
                    out.append(UInt8(ascii: "\n"))
                }
            }
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        // split keeps a last empty piece after the final newline: do not add a second one.
        if exposition.last == UInt8(ascii: "\n") { out.removeLast() }
        return out
    }

    /// The exposition format escapes backslashes and newlines in help text.
    private static func escaped(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
