#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwitchboardCore

/// The name a service records its sessions and listeners under (`--instance`): one history can
/// hold a fleet's, and each service restores and marks interrupted only its own.
public enum InstanceName {
    /// The host name: one service per machine needs no flag.
    public static var `default`: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "switchboard" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "switchboard" : name
    }

    /// 1-64 characters of `A-Z a-z 0-9 . _ -`, as for listener names: it is shown in tables,
    /// used in filters and file names.
    public static func problem(_ name: String) -> String? {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
            return "an instance name is 1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.'; '\(name)' is not"
        }
        return nil
    }

    /// Who holds a store, as the service that is refused names it.
    public static func holder(_ instance: String, now: Date = Date()) -> String {
        "instance '\(instance)', pid \(getpid()) on host \(Self.default), since \(RFC3339.format(now))"
    }
}
