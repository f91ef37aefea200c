import ArgumentParser
import Foundation
import SwitchboardClient

extension SessionsCommand {
    /// `sessions send`: `POST /v1/sessions/{id}/send`, from an argument, a flag, a file or
    /// standard input.
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send bytes on an open session.",
            discussion: """
                The bytes are TEXT as UTF-8, or --hex, --base64, the contents of --file, or with \
                none of these standard input to its end. Prints once the socket took every byte. \
                Example: printf 'PING\\r\\n' | switchboard sessions send ID
                """
        )

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The session id.") var id: String
        @Argument(help: "What to send, as UTF-8 text.") var text: String?
        @Option(help: ArgumentHelp("What to send, in hex (0d0a).", valueName: "hex")) var hex: String?
        @Option(help: ArgumentHelp("What to send, in base64.", valueName: "base64")) var base64: String?
        @Option(help: ArgumentHelp("Send this file's contents as they are.", valueName: "path")) var file: String?

        func validate() throws {
            let given = [text != nil, hex != nil, base64 != nil, file != nil].filter { $0 }.count
            guard given <= 1 else { throw ValidationError("give one of TEXT, --hex, --base64 and --file (or standard input)") }
        }

        func run() async throws {
            let body: RequestBody
            if let text {
                body = try .json(["data": text, "encoding": "utf8"])
            } else if let hex {
                body = try .json(["data": hex, "encoding": "hex"])
            } else if let base64 {
                body = try .json(["data": base64, "encoding": "base64"])
            } else if let file {
                guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read the file \(file)") }
                body = .octets(data)
            } else {
                body = .octets(FileHandle.standardInput.readDataToEndOfFile())
            }
            // The answer comes once the peer took every byte, which a slow peer makes long.
            let answer = try await api.client {
                try await $0.request(.POST, "/v1/sessions/\(Path.segment(id))/send", body: body, timeout: .seconds(300))
            }
            switch output.output {
            case .table:
                let result = try answer.decode(APISendResult.self)
                Output.line("sent \(result.bytesSent) bytes to \(result.session.id)")
            case .json, .ndjson: Output.json(answer.body)
            }
        }
    }
}
