import ArgumentParser
import Foundation
import SwitchboardClient

extension SessionsCommand {
    /// `sessions read`: `GET /v1/sessions/{id}/messages`, once or, with `--follow`, long-polling
    /// on until nothing more can come.
    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read what a session received and sent.",
            discussion: """
                Prints the messages after --after (0: all still kept), one a line: time, <- in \
                or -> out, size, the bytes. --follow waits for more until the session closes \
                or its peer finished sending (a hold session whose client shut its side), and \
                then exits 0. Data counts as read once printed: the service then keeps it \
                only for look-back.
                """
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The session id.") var id: String
        @Option(help: ArgumentHelp("Only messages after this sequence number (the 'next' of an earlier read).", valueName: "seq")) var after: UInt64 = 0
        @Option(help: ArgumentHelp("When nothing is there yet, wait up to this long for something to arrive (0-60).", valueName: "seconds")) var wait: Int = 0
        @Flag(help: "Keep reading until the session closes or its peer finished sending.") var follow = false
        @Flag(help: "Write only the received bytes, as they are, for a pipe or a file.") var raw = false
        @Option(help: "How the service writes data in -o json and ndjson: utf8, base64 or hex (default: utf8 when it is).") var encoding: ListenersCommand.Encoding?

        /// A follow's long-poll: under the service's 60 s ceiling.
        static let followWait = 30

        func validate() throws {
            guard (0...60).contains(wait) else { throw ValidationError("--wait must be from 0 to 60 seconds") }
            if raw, output.output != .table { throw ValidationError("--raw writes bytes, not -o \(output.output.rawValue)") }
            if raw, encoding != nil { throw ValidationError("--raw writes the bytes themselves; --encoding is for -o json and ndjson") }
        }

        func run() async throws {
            try await api.client { client in
                var after = self.after
                while true {
                    let wait = follow ? Self.followWait : self.wait
                    let query: APIQuery = [
                        "after": String(after), "wait": String(wait),
                        "encoding": raw ? "base64" : encoding?.rawValue,
                    ]
                    let answer = try await client.request(
                        .GET, "/v1/sessions/\(Path.segment(id))/messages", query: query, timeout: .seconds(wait + 15)
                    )
                    let page = try answer.decode(APIMessagePage.self)
                    try show(page, answer)
                    after = page.next
                    let finished = page.sessionState == "closed" || page.peerFinished
                    if !follow || (page.messages.isEmpty && finished) { return }
                }
            }
        }

        private func show(_ page: APIMessagePage, _ answer: APIAnswer) throws {
            if raw {
                for message in page.messages where message.direction == "in" { Output.bytes(message.decoded) }
                return
            }
            switch output.output {
            case .json: Output.json(answer.body)
            case .ndjson: try Output.ndjson(answer.body, items: "messages")
            case .table:
                for message in page.messages {
                    Output.line(MessageLine.format(at: message.at, direction: message.direction, data: message.decoded))
                }
            }
        }
    }
}
