import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore

/// `GET /v1/events`: live events as Server-Sent Events.
struct EventsController {
    let hub: EventHub
    /// The sessions and listeners in events carry it, as their REST answers do.
    let instance: String

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get(use: stream)
    }

    @Sendable func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = try Query(request, allowed: ["listener", "session", "data"], answersJSON: false)
        var filter = EventHub.Filter()
        filter.listener = query["listener"]
        if let text = query["session"] {
            guard let id = SessionID(text.uppercased()) else { throw APIError.invalid("query parameter 'session' must be a session id, not '\(text)'") }
            filter.session = id
        }
        let data = try query.bool("data")
        var lastEventID: UInt64?
        if let text = request.headers[.lastEventID] {
            guard let id = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.invalid("header Last-Event-ID must be an event id (a whole number), not '\(text)'")
            }
            lastEventID = id
        }
        let subscription: EventSubscription
        do {
            subscription = try hub.subscribe(filter, data: data, lastEventID: lastEventID)
        } catch .tooManyClients(let limit) {
            throw APIError(.serviceUnavailable, "too_many_clients", "\(limit) clients are reading live events already (--max-event-clients)")
        } catch .shuttingDown {
            throw APIError(.serviceUnavailable, "shutting_down", "the service is stopping")
        }
        let limits = hub.limits
        let body = ResponseBody { writer in
            defer { subscription.close() }
            try await EventStream(subscription: subscription, limits: limits, instance: instance).run(&writer)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body
        )
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}

/// Writes one client's events until the client is dropped, the service stops or the
/// connection goes away.
///
/// Two tasks: one writes, one watches for the end. A client that stops reading leaves the
/// writer suspended in a write; when the hub drops that client (or shutdown's grace runs out)
/// the watcher cancels the writer, which ends the response and closes the connection. So no
/// stream outlives the service's shutdown, however its client behaves.
struct EventStream {
    let subscription: EventSubscription
    let limits: EventHub.Limits
    let instance: String

    /// Hands the body writer to the writing task: only that task uses it until it is done,
    /// then it comes back here (the task group guarantees the order).
    private final class WriterBox: @unchecked Sendable {
        var writer: any ResponseBodyWriter
        init(_ writer: any ResponseBodyWriter) { self.writer = writer }
    }

    private enum Outcome { case written, cut }

    private struct Cut: Error {}

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        let box = WriterBox(writer)
        let subscription = self.subscription
        let limits = self.limits
        let instance = self.instance
        let outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                try await Self.write(subscription, limits: limits, instance: instance, into: box)
                return .written
            }
            group.addTask {
                let end = await subscription.waitForEnd()
                // Shutdown: let the stream write what it has queued first. Dropped: cut now.
                if end == .shutdown { try? await Task.sleep(for: limits.shutdownGrace) }
                return .cut
            }
            let first = try await group.next() ?? .cut
            group.cancelAll()
            // Wait for the writer to let go of the body writer.
            while let _ = try? await group.next() {}
            return first
        }
        writer = box.writer
        guard outcome == .written else { throw Cut() }
        try await writer.finish(nil)
    }

    private static func write(_ subscription: EventSubscription, limits: EventHub.Limits, instance: String, into box: WriterBox) async throws {
        // At once, so a client sees the stream is open (and curl shows something).
        try await box.writer.write(ByteBuffer(string: ": switchboard live events\n\n"))
        var lastWrite = ContinuousClock.now
        while !Task.isCancelled {
            switch await subscription.next(until: lastWrite + limits.keepAlive) {
            case .events(let events):
                // In pieces of about 64 KiB: a resumed client's replay can be the whole ring
                // (10,000 events, megabytes), which as one chunk was held in memory at once and
                // had to be read whole before a client's HTTP library handed over an event.
                var buffer = ByteBuffer()
                for event in events {
                    buffer.writeString(event.render(instance: instance))
                    if buffer.readableBytes >= 64 * 1024 {
                        try await box.writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await box.writer.write(buffer) }
            case .idle:
                guard !Task.isCancelled else { return }
                try await box.writer.write(ByteBuffer(string: ": keep-alive\n\n"))
            case .ended(.shutdown):
                return
            case .ended(.overflow):
                try await box.writer.write(ByteBuffer(string: ": dropped: this client fell \(limits.clientBuffer) events behind\n\n"))
                return
            }
            lastWrite = ContinuousClock.now
        }
        throw CancellationError()
    }
}
