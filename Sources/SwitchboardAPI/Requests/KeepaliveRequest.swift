import SwitchboardCore

/// `"keepalive": {"idle_s": 60, "interval_s": 10, "count": 5}`; `{}` turns keepalive on with the kernel's timings.
struct KeepaliveRequest: StrictRequest, StrictRequestShape {
    var idleS: WholeNumber?
    var intervalS: WholeNumber?
    var count: WholeNumber?

    typealias Field = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable {
        case count
        case idleS = "idle_s"
        case intervalS = "interval_s"
    }
}

extension KeepaliveRequest {
    var options: ConnectionOptions.Keepalive {
        ConnectionOptions.Keepalive(idle: idleS?.value, interval: intervalS?.value, count: count?.value)
    }
}
