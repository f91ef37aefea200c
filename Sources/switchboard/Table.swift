import Foundation
import SwitchboardHistory

/// The human format of the CLI.
enum Table {
    static func render(_ rows: [SessionRecord]) -> String {
        let header = ["ID", "ROLE", "LISTENER/NAME", "REMOTE", "STATE", "OPENED", "CLOSED", "IN", "OUT", "REASON"]
        let lines = rows.map { r in
            [r.id, r.role, r.listener ?? r.name ?? "-", r.remoteAddress ?? "-", r.state, r.openedAt, r.closedAt ?? "-",
             String(r.bytesIn), String(r.bytesOut), r.closeReason ?? "-"]
        }
        let widths = header.indices.map { column in ([header] + lines).map { $0[column].count }.max() ?? 0 }
        let format = { (cells: [String]) in
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([format(header)] + lines.map(format)).joined(separator: "\n") + (rows.isEmpty ? "\n(no sessions)" : "")
    }

    static func fields(_ r: SessionRecord) -> [(String, String)] {
        [("id", r.id), ("role", r.role), ("listener", r.listener ?? "-"), ("name", r.name ?? "-"),
         ("local_address", r.localAddress ?? "-"), ("remote_address", r.remoteAddress ?? "-"), ("state", r.state),
         ("opened_at", r.openedAt), ("closed_at", r.closedAt ?? "-"), ("close_reason", r.closeReason ?? "-"),
         ("bytes_in", String(r.bytesIn)), ("bytes_out", String(r.bytesOut)), ("partner_id", r.partnerId ?? "-"),
         ("capture", r.capture ? "on" + (r.captureTruncated ? " (truncated)" : "") : "off")]
    }
}
