#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The human format of the CLI: columns as wide as their widest cell, narrowed until a line
/// fits the terminal (80 columns when the output is not one). Only columns marked flexible
/// give up width, their cells cut with `…`; ids and numbers stay whole.
struct Table {
    struct Column {
        var title: String
        /// May be narrowed (down to `minimum`) to fit.
        var flexible = false
        var minimum = 6
        /// Numbers line up on the right.
        var right = false
        /// Cut at the front, so the end (an address's port, a path's file) stays.
        var keepEnd = false
    }

    var columns: [Column]
    var rows: [[String]] = []
    /// What is printed under the header when there are no rows.
    var empty = "(none)"

    mutating func add(_ cells: [String]) { rows.append(cells) }

    func render(width: Int = Terminal.width) -> String {
        let gap = 2
        var widths = columns.indices.map { column in
            ([columns[column].title] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        while widths.reduce(0, +) + gap * (columns.count - 1) > width {
            let candidates = columns.indices.filter { columns[$0].flexible && widths[$0] > columns[$0].minimum }
            guard let widest = candidates.max(by: { widths[$0] < widths[$1] }) else { break }
            widths[widest] -= 1
        }
        let format = { (cells: [String]) -> String in
            let line = cells.indices.map { column -> String in
                let cell = Self.cut(cells[column], to: widths[column], keepEnd: columns[column].keepEnd)
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return columns[column].right ? pad + cell : cell + pad
            }.joined(separator: String(repeating: " ", count: gap))
            return String(line.reversed().drop(while: { $0 == " " }).reversed())
        }
        let lines = [format(columns.map(\.title))] + rows.map(format)
        return lines.joined(separator: "\n") + (rows.isEmpty ? "\n" + empty : "")
    }

    static func cut(_ text: String, to width: Int, keepEnd: Bool) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(text.prefix(width)) }
        return keepEnd ? "…" + text.suffix(width - 1) : text.prefix(width - 1) + "…"
    }

    /// A byte count in at most five characters: 999, 1.2K, 12K, 3.4M.
    static func bytes(_ count: Int64) -> String {
        guard count >= 1000 else { return String(count) }
        var value = Double(count)
        for unit in ["K", "M", "G", "T", "P"] {
            value /= 1024
            if value < 9.95 { return String(format: "%.1f", value) + unit }
            if value < 999.5 { return String(format: "%.0f", value) + unit }
        }
        return String(format: "%.0f", value / 1024) + "E"
    }
}

enum Terminal {
    /// Standard output's width when it is a terminal; 80 otherwise, so a table written to a
    /// file or a pipe still fits the classic terminal.
    static var width: Int {
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        return 80
    }
}
