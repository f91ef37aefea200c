import Foundation
import NIOCore
import NIOEmbedded
@testable import SwitchboardCore
import XCTest

/// The fault stage on `EmbeddedChannel`: bytes in, bytes out, time moved, never waited for.
final class FaultStageTests: XCTestCase {
    /// What reaches the handlers behind the stage, in order.
    private final class Tail: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var seen: [String] = []
        /// The bytes as they came: a corrupted byte need not be UTF-8.
        var chunks: [[UInt8]] = []
        var writabilityChanges = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            seen.append(String(buffer: buffer))
            chunks.append(Array(buffer.readableBytesView))
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { seen.append("FIN") }
        }
        func channelInactive(context: ChannelHandlerContext) { seen.append("inactive") }
        func channelWritabilityChanged(context: ChannelHandlerContext) { writabilityChanges += 1 }
    }

    private struct Rig {
        let channel: EmbeddedChannel
        let session: Session
        let tail: Tail
        let reads: ReadCounter
        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        func advance(ms: Int64) { loop.advanceTime(by: .milliseconds(ms)) }
        func outbound() -> String? { (try? channel.readOutbound(as: ByteBuffer.self)).flatMap { $0 }.map { String(buffer: $0) } }
        func outboundAll() -> String {
            var all = ""
            while let chunk = outbound() { all += chunk }
            return all
        }
        func stage() -> FaultStage? { try? channel.pipeline.syncOperations.handler(type: FaultStage.self) }
        func set(_ faults: [Fault]) { FaultStage.set(faults, on: channel, session: session, reporter: FaultReporter(observers: [])) }
    }

    /// An accepted connection (bytes it reads flow upstream) with `faults` in front of a tail.
    private func rig(_ faults: [Fault], role: SessionRole = .server) throws -> Rig {
        let channel = EmbeddedChannel()
        let session = Session(id: .make(), role: role, listener: "l", name: nil, channel: channel, behaviour: .echo, capture: nil, openedAt: Date())
        let tail = Tail()
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(tail)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        let rig = Rig(channel: channel, session: session, tail: tail, reads: reads)
        rig.set(faults)
        // Between the socket and the stage: it sees the reads the stage lets through.
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        return rig
    }

    private func fault(_ type: FaultType, _ direction: FaultDirection, _ attributes: [String: Double] = [:]) -> Fault {
        Fault(name: "\(type.name)_\(direction)", type: type, direction: direction, attributes: attributes)
    }

    func testLatencyHoldsEachChunkItsTimeFromWhenItCame() throws {
        let rig = try rig([fault(.latency, .upstream, ["latency": 100])])
        try rig.channel.writeInbound(ByteBuffer(string: "a"))
        rig.advance(ms: 40)
        try rig.channel.writeInbound(ByteBuffer(string: "b"))
        rig.advance(ms: 59)
        XCTAssertEqual(rig.tail.seen, [])
        rig.advance(ms: 1)
        XCTAssertEqual(rig.tail.seen, ["a"])
        rig.advance(ms: 39)
        XCTAssertEqual(rig.tail.seen, ["a"])
        rig.advance(ms: 1)
        XCTAssertEqual(rig.tail.seen, ["a", "b"])
    }

    func testDownstreamIsWhatIsWrittenToTheConnectionThatWasAccepted() throws {
        let rig = try rig([fault(.latency, .downstream, ["latency": 50])])
        try rig.channel.writeInbound(ByteBuffer(string: "in"))
        XCTAssertEqual(rig.tail.seen, ["in"], "upstream has no fault")
        let written = rig.channel.writeAndFlush(ByteBuffer(string: "out"))
        XCTAssertNil(rig.outbound())
        rig.advance(ms: 50)
        XCTAssertEqual(rig.outbound(), "out")
        XCTAssertNoThrow(try written.wait())
    }

    func testOnAConnectionWeOpenedWhatWeWriteIsUpstream() throws {
        let rig = try rig([fault(.latency, .upstream, ["latency": 50])], role: .client)
        try rig.channel.writeInbound(ByteBuffer(string: "in"))
        XCTAssertEqual(rig.tail.seen, ["in"])
        rig.channel.writeAndFlush(ByteBuffer(string: "out"), promise: nil)
        XCTAssertNil(rig.outbound())
        rig.advance(ms: 50)
        XCTAssertEqual(rig.outbound(), "out")
    }

    func testAFinComesAfterTheBytesHeldBeforeIt() throws {
        let rig = try rig([fault(.latency, .upstream, ["latency": 100])])
        try rig.channel.writeInbound(ByteBuffer(string: "last words"))
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertEqual(rig.tail.seen, [])
        rig.advance(ms: 100)
        XCTAssertEqual(rig.tail.seen, ["last words", "FIN"])
    }

    func testBandwidthLetsThroughRateTimesTimeInSmallPieces() throws {
        // 10 KB/s: 100-byte pieces (10 ms of the rate), one every 10 ms.
        let rig = try rig([fault(.bandwidth, .downstream, ["rate": 10])])
        rig.channel.writeAndFlush(ByteBuffer(repeating: 0x61, count: 5_000), promise: nil)
        XCTAssertEqual(rig.outboundAll().count, 100, "the first piece goes at once")
        rig.advance(ms: 250)
        XCTAssertEqual(rig.outboundAll().count, 2_500)
        rig.advance(ms: 10_000)
        XCTAssertEqual(rig.outboundAll().count, 2_400)
    }

    func testLimitDataPassesExactlyItsBytesThenCloses() throws {
        let rig = try rig([fault(.limitData, .upstream, ["bytes": 10])])
        try rig.channel.writeInbound(ByteBuffer(string: "123456"))
        XCTAssertTrue(rig.channel.isActive)
        try rig.channel.writeInbound(ByteBuffer(string: "789abc"))
        XCTAssertEqual(rig.tail.seen, ["123456", "789a", "inactive"])
        XCTAssertFalse(rig.channel.isActive)
        XCTAssertEqual(rig.session.info.closeReason, .fault("limit_data"))
    }

    func testALimitLoweredBelowWhatPassedClosesAtTheNextByte() throws {
        let limit = fault(.limitData, .upstream, ["bytes": 100])
        let rig = try rig([limit])
        try rig.channel.writeInbound(ByteBuffer(string: "0123456789"))
        var lower = limit
        lower.attributes["bytes"] = 4
        rig.set([lower])
        try rig.channel.writeInbound(ByteBuffer(string: "more"))
        XCTAssertEqual(rig.tail.seen, ["0123456789", "inactive"])
        XCTAssertFalse(rig.channel.isActive)
    }

    func testCorruptWithAProbabilityTooSmallForADoubleCorruptsNothingAndDoesNotTrap() throws {
        let rig = try rig([fault(.corrupt, .upstream, ["probability": 1e-300])])
        try rig.channel.writeInbound(ByteBuffer(string: "intact"))
        XCTAssertEqual(rig.tail.seen, ["intact"])
    }

    func testCorruptWithProbabilityOneFlipsABitInEveryByte() throws {
        let rig = try rig([fault(.corrupt, .upstream, ["probability": 1])])
        let sent = Array("every byte".utf8)
        try rig.channel.writeInbound(ByteBuffer(bytes: sent))
        XCTAssertEqual(zip(rig.tail.chunks[0], sent).map { ($0 ^ $1).nonzeroBitCount }, Array(repeating: 1, count: sent.count))
    }

    func testABlackholeSwallowsAndKeepsTheConnectionOpen() throws {
        let rig = try rig([fault(.blackhole, .downstream)])
        let written = rig.channel.writeAndFlush(ByteBuffer(string: "gone"))
        XCTAssertNoThrow(try written.wait(), "the writer is done with what was swallowed")
        rig.advance(ms: 3_600_000)
        XCTAssertNil(rig.outbound())
        XCTAssertTrue(rig.channel.isActive)
        try rig.channel.writeInbound(ByteBuffer(string: "up"))
        XCTAssertEqual(rig.tail.seen, ["up"], "the other direction flows")
    }

    func testTimeoutZeroPassesNothingAndNeverCloses() throws {
        let rig = try rig([fault(.timeout, .upstream, ["timeout": 0])])
        try rig.channel.writeInbound(ByteBuffer(string: "x"))
        rig.advance(ms: 3_600_000)
        XCTAssertEqual(rig.tail.seen, [])
        XCTAssertTrue(rig.channel.isActive)
    }

    func testTimeoutClosesThatLongAfterTheFaultMetTheConnection() throws {
        let rig = try rig([fault(.timeout, .downstream, ["timeout": 500])])
        rig.advance(ms: 499)
        XCTAssertTrue(rig.channel.isActive)
        rig.advance(ms: 1)
        XCTAssertFalse(rig.channel.isActive)
        XCTAssertEqual(rig.session.info.closeReason, .fault("timeout"))
    }

    func testResetPeerResetsThatLongAfterDataFirstArrives() throws {
        let rig = try rig([fault(.resetPeer, .upstream, ["timeout": 200])])
        rig.advance(ms: 1_000)
        XCTAssertTrue(rig.channel.isActive, "the clock starts with the first data")
        try rig.channel.writeInbound(ByteBuffer(string: "x"))
        rig.advance(ms: 199)
        XCTAssertTrue(rig.channel.isActive)
        rig.advance(ms: 1)
        XCTAssertFalse(rig.channel.isActive)
        XCTAssertEqual(rig.tail.seen, ["inactive"], "what came is swallowed, as Toxiproxy does")
        XCTAssertEqual(rig.session.info.closeReason, .fault("reset_peer"))
    }

    func testSlowCloseDelaysTheCloseNotTheBytes() throws {
        let rig = try rig([fault(.slowClose, .downstream, ["delay": 300])])
        rig.channel.writeAndFlush(ByteBuffer(string: "bye"), promise: nil)
        XCTAssertEqual(rig.outbound(), "bye")
        let closed = rig.channel.close()
        rig.advance(ms: 299)
        XCTAssertTrue(rig.channel.isActive)
        rig.advance(ms: 1)
        XCTAssertFalse(rig.channel.isActive)
        XCTAssertNoThrow(try closed.wait())
    }

    func testSlicerSplitsIntoSmallWritesWithItsDelayBetween() throws {
        let rig = try rig([fault(.slicer, .downstream, ["average_size": 3, "size_variation": 0, "delay": 1_000])])
        rig.channel.writeAndFlush(ByteBuffer(string: "abcdefghij"), promise: nil)
        XCTAssertEqual(rig.outbound(), "abc")
        XCTAssertNil(rig.outbound())
        rig.advance(ms: 1)
        XCTAssertEqual(rig.outbound(), "def")
        rig.advance(ms: 2)
        XCTAssertEqual(rig.outbound(), "ghi")
        XCTAssertEqual(rig.outbound(), "j")
    }

    func testCorruptWithACountFlipsOneBitInEachOfThatManyBytes() throws {
        let rig = try rig([fault(.corrupt, .upstream, ["count": 2])])
        let original = Array("hello world".utf8)
        try rig.channel.writeInbound(ByteBuffer(bytes: original))
        try rig.channel.writeInbound(ByteBuffer(bytes: original))
        let seen = rig.tail.chunks
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(seen[1], original, "the count is used up")
        let flipped = zip(seen[0], original).map { ($0 ^ $1).nonzeroBitCount }
        XCTAssertEqual(flipped.filter { $0 == 1 }.count, 2)
        XCTAssertEqual(flipped.reduce(0, +), 2)
    }

    func testRemovingTheLastFaultDeliversWhatWasHeldInOrderAndLeavesNoStage() throws {
        let rig = try rig([fault(.latency, .upstream, ["latency": 10_000]), fault(.latency, .downstream, ["latency": 10_000])])
        for chunk in ["1", "2", "3"] { try rig.channel.writeInbound(ByteBuffer(string: chunk)) }
        rig.channel.write(ByteBuffer(string: "a"), promise: nil)
        rig.channel.writeAndFlush(ByteBuffer(string: "b"), promise: nil)
        XCTAssertEqual(rig.tail.seen, [])
        rig.set([])
        XCTAssertEqual(rig.tail.seen, ["1", "2", "3"])
        XCTAssertEqual(rig.outboundAll(), "ab")
        XCTAssertNil(rig.stage())
        try rig.channel.writeInbound(ByteBuffer(string: "4"))
        XCTAssertEqual(rig.tail.seen.last, "4")
    }

    func testChangingALatencyRetimesWhatIsHeld() throws {
        let slow = fault(.latency, .upstream, ["latency": 10_000])
        let rig = try rig([slow])
        try rig.channel.writeInbound(ByteBuffer(string: "x"))
        rig.advance(ms: 100)
        var fast = slow
        fast.attributes["latency"] = 150
        rig.set([fast])
        XCTAssertEqual(rig.tail.seen, [])
        rig.advance(ms: 50)
        XCTAssertEqual(rig.tail.seen, ["x"], "due 150 ms after it came")
    }

    func testAFaultAddedToALiveConnectionTakesEffectAndNoStageIsLeftWithout() throws {
        let rig = try rig([])
        XCTAssertNil(rig.stage(), "a connection with no fault has no stage")
        try rig.channel.writeInbound(ByteBuffer(string: "before"))
        rig.set([fault(.latency, .upstream, ["latency": 20])])
        XCTAssertNotNil(rig.stage())
        try rig.channel.writeInbound(ByteBuffer(string: "after"))
        XCTAssertEqual(rig.tail.seen, ["before"])
        rig.advance(ms: 20)
        XCTAssertEqual(rig.tail.seen, ["before", "after"])
    }

    func testReadingStopsWhileTheStageHoldsItsLimitAndResumesAsItDrains() throws {
        let rig = try rig([fault(.latency, .upstream, ["latency": 100])])
        let chunk = ByteBuffer(repeating: 0, count: FaultStage.holdLimit)
        try rig.channel.writeInbound(chunk)
        let before = rig.reads.reads
        rig.channel.read()
        XCTAssertEqual(rig.reads.reads, before, "held back while the stage is full")
        rig.advance(ms: 100)
        XCTAssertEqual(rig.reads.reads, before + 1, "the read held back goes once the bytes went")
    }

    func testWritersAreToldToWaitWhileTheStageHoldsItsLimit() throws {
        let rig = try rig([fault(.latency, .downstream, ["latency": 100])])
        rig.channel.writeAndFlush(ByteBuffer(repeating: 0, count: FaultStage.holdLimit), promise: nil)
        XCTAssertTrue(rig.session.faultHoldsWrites.load(ordering: .relaxed))
        XCTAssertEqual(rig.tail.writabilityChanges, 1)
        rig.advance(ms: 100)
        XCTAssertFalse(rig.session.faultHoldsWrites.load(ordering: .relaxed))
        XCTAssertEqual(rig.tail.writabilityChanges, 2)
    }

    func testTheToxicityIsDrawnOnceAndEveryDrawIsLogged() {
        var faults = SessionFaults()
        faults.inherited = [Fault(name: "never", type: .latency, toxicity: 0), Fault(name: "always", type: .latency)]
        var drawn: [SessionFault] = []
        let applying = faults.applying(at: Date()) { drawn.append($0) }
        XCTAssertEqual(applying.map(\.name), ["always"])
        XCTAssertEqual(drawn.map(\.applied), [false, true])
        _ = faults.applying(at: Date()) { drawn.append($0) }
        XCTAssertEqual(drawn.count, 2, "the same faults are not drawn again")
        faults.inherited[0].toxicity = 1
        XCTAssertEqual(faults.applying(at: Date()) { drawn.append($0) }.map(\.name), ["never", "always"], "a changed fault is drawn again")
        XCTAssertEqual(faults.log.count, 3)
    }

    func testAFaultIsRefusedWithTheFieldNamed() {
        func message(_ fault: Fault) -> String? {
            do { try fault.validate(); return nil } catch { return error.message }
        }
        XCTAssertEqual(message(Fault(name: "f", type: .latency, toxicity: 1.5)), "toxicity must be from 0.0 to 1.0")
        XCTAssertEqual(message(Fault(name: "f", type: .latency, attributes: ["rate": 1])), "attributes.rate is not an attribute of latency (known: latency, jitter)")
        XCTAssertEqual(message(Fault(name: "f", type: .latency, attributes: ["latency": -1])), "attributes.latency must be a whole number from 0 to 86400000 (ms)")
        XCTAssertEqual(message(Fault(name: "f", type: .limitData, attributes: ["bytes": 1.5])), "attributes.bytes must be a whole number from 0 to 1125899906842624 (bytes)")
        XCTAssertNotNil(message(Fault(name: "", type: .blackhole)))
        XCTAssertNil(message(Fault(name: "ok", type: .corrupt, attributes: ["probability": 0.01])))
    }
}
