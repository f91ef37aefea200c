import NIOCore

/// What the faults of one direction do together. Toxiproxy chains its toxics one behind the
/// other; here they act as one: latencies and jitters add up, the lowest rate wins, the first
/// slicer slices, the smallest limit closes, and any blackhole, timeout or reset swallows.
struct FaultRules {
    var latency: TimeAmount = .zero
    var jitter: TimeAmount = .zero
    /// Bytes a second; nil for no limit (Toxiproxy's rate 0).
    var rate: Int64?
    var slice: (average: Int, variation: Int, delay: TimeAmount)?
    /// Close the connection once this many bytes have passed.
    var limit: Int64?
    /// `blackhole`, `timeout`: nothing passes.
    var swallows = false
    /// `timeout` with a time: the connection is closed that long after the fault met it.
    var closeAfter: TimeAmount?
    /// `reset_peer`: reset that long after data first arrives; nothing passes from then on.
    var resetAfter: TimeAmount?
    var slowClose: TimeAmount = .zero
    var corruptProbability = 0.0
    var corruptCount: Int64 = 0

    init(_ faults: [Fault]) {
        for fault in faults {
            switch fault.type {
            case .latency:
                latency = latency + fault.milliseconds("latency")
                jitter = jitter + fault.milliseconds("jitter")
            case .bandwidth:
                let rate = Int64(fault["rate"]) * 1000
                if rate > 0 { self.rate = min(self.rate ?? .max, rate) }
            case .slowClose:
                slowClose = slowClose + fault.milliseconds("delay")
            case .timeout:
                swallows = true
                let after = fault.milliseconds("timeout")
                if after > .zero { closeAfter = min(closeAfter ?? after, after) }
            case .resetPeer:
                let after = fault.milliseconds("timeout")
                resetAfter = min(resetAfter ?? after, after)
            case .slicer:
                let average = Int(fault["average_size"])
                if slice == nil, average > 0 {
                    slice = (average, Int(fault["size_variation"]), .microseconds(Int64(fault["delay"])))
                }
            case .limitData:
                let bytes = Int64(fault["bytes"])
                limit = min(limit ?? bytes, bytes)
            case .blackhole:
                swallows = true
            case .corrupt:
                corruptProbability = max(corruptProbability, fault["probability"])
                corruptCount += Int64(fault["count"])
            case .connectDelay:
                break
            }
        }
    }

    /// Whether data may be held back for a while (and so must be queued in order).
    var delays: Bool { latency > .zero || jitter > .zero || rate != nil || slice != nil }
    var corrupts: Bool { corruptProbability > 0 }

    /// The type the bytes held back are counted under.
    var delayType: FaultType {
        if latency > .zero || jitter > .zero { return .latency }
        if rate != nil { return .bandwidth }
        return .slicer
    }
}
