import Foundation

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T04:03:00.123Z`: the one spelling of a
/// time in the API, the log and the history file. Fixed width, so text order is time order.
public enum RFC3339 {
    public static func format(_ date: Date) -> String {
        // Hand-rolled: the history formats two of these per session, and String(format:) with
        // gmtime_r cost more than the SQL around them.
        // To the nearest millisecond: a time made from whole milliseconds comes back as it was.
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let msOfDay = Int(millis - days * 86_400_000)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        let fields = (
            year, month, day, msOfDay / 3_600_000, msOfDay / 60_000 % 60, msOfDay / 1000 % 60, msOfDay % 1000
        )
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(fields.0, 4, at: 0); buffer[4] = UInt8(ascii: "-")
            put(fields.1, 2, at: 5); buffer[7] = UInt8(ascii: "-")
            put(fields.2, 2, at: 8); buffer[10] = UInt8(ascii: "T")
            put(fields.3, 2, at: 11); buffer[13] = UInt8(ascii: ":")
            put(fields.4, 2, at: 14); buffer[16] = UInt8(ascii: ":")
            put(fields.5, 2, at: 17); buffer[19] = UInt8(ascii: ".")
            put(fields.6, 3, at: 20); buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Reads any RFC 3339 time (with or without fractions, any offset).
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
