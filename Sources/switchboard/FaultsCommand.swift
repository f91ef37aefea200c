import ArgumentParser
import Foundation
import SwitchboardClient

/// `switchboard faults ...`: faults on a listener or a session, over `/v1/.../faults`.
struct FaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "List, add, change and remove the faults on a listener or a session.",
        discussion: """
            A fault acts on the bytes of live connections: latency, bandwidth, slow_close, \
            timeout, reset_peer, slicer, limit_data, blackhole, corrupt, connect_delay (the \
            README's Faults section lists their attributes). Example: switchboard faults add \
            --listener web latency -a latency=100 -a jitter=10
            """,
        subcommands: [List.self, Add.self, Change.self, Remove.self],
        defaultSubcommand: List.self
    )

    /// Which faults: a listener's, or a session's (its id, or a reconnecting session's name).
    struct Target: ParsableArguments {
        @Option(help: "The listener whose faults these are (every connection it has and accepts).") var listener: String?
        @Option(help: ArgumentHelp("A live session's id (that connection only), or a reconnecting session's name (every connection it makes).", valueName: "id-or-name"))
        var session: String?

        func validate() throws {
            guard (listener == nil) != (session == nil) else { throw ValidationError("give --listener NAME or --session ID, one of them") }
        }

        var path: String {
            if let listener { return "/v1/listeners/\(Path.segment(listener))/faults" }
            return "/v1/sessions/\(Path.segment(session ?? ""))/faults"
        }
    }

    enum Direction: String, ExpressibleByArgument, CaseIterable { case upstream, downstream }

    /// `-a NAME=VALUE`, repeatable: the fault's attributes, as numbers.
    static func attributes(_ pairs: [String]) throws -> [String: any Sendable] {
        var attributes: [String: any Sendable] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = Double(parts[1]), value.isFinite else {
                throw ValidationError("--attribute takes NAME=NUMBER, e.g. latency=100 (got '\(pair)')")
            }
            attributes[parts[0]] = value.rounded() == value && abs(value) < 1e15 ? Int64(value) as any Sendable : value
        }
        return attributes
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the faults, in the order they were added.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var target: Target

        func run() async throws {
            let answer = try await api.client { try await $0.request(.GET, target.path) }
            switch output.output {
            case .json: Output.json(answer.body)
            case .ndjson: try Output.ndjson(answer.body, items: "faults")
            case .table: Output.line(FaultsCommand.table(RawJSON.elements(of: "faults", in: answer.body) ?? []).render())
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a fault; it reaches live connections at once.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var target: Target
        @Argument(help: "latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, blackhole, corrupt or connect_delay.") var type: String
        @Option(help: "Unique on its target; default TYPE_DIRECTION.") var name: String?
        @Option(help: "upstream (from the side that opened the connection) or downstream (default).") var direction: Direction?
        @Option(help: "The chance, 0.0-1.0, that it applies to a connection (default 1.0).") var toxicity: Double?
        @Option(name: [.customShort("a"), .customLong("attribute")], help: ArgumentHelp("An attribute as NAME=NUMBER, repeatable: -a latency=100 -a jitter=10.", valueName: "name=value"))
        var attributes: [String] = []

        func validate() throws { _ = try FaultsCommand.attributes(attributes) }

        func run() async throws {
            let body = try RequestBody.json([
                "name": name, "type": type, "direction": direction?.rawValue, "toxicity": toxicity,
                "attributes": try FaultsCommand.attributes(attributes),
            ])
            let answer = try await api.client { try await $0.request(.POST, target.path, body: body) }
            try Output.answer(answer, output.output)
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a fault's attributes (merged into its own) or toxicity, on live connections too.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var target: Target
        @Argument(help: "The fault's name.") var fault: String
        @Option(help: "The chance, 0.0-1.0, that it applies to a connection.") var toxicity: Double?
        @Option(name: [.customShort("a"), .customLong("attribute")], help: ArgumentHelp("An attribute as NAME=NUMBER, repeatable.", valueName: "name=value"))
        var attributes: [String] = []

        func validate() throws {
            _ = try FaultsCommand.attributes(attributes)
            guard toxicity != nil || !attributes.isEmpty else { throw ValidationError("give --toxicity or -a NAME=VALUE: what to change") }
        }

        func run() async throws {
            let body = try RequestBody.json([
                "toxicity": toxicity, "attributes": attributes.isEmpty ? nil : try FaultsCommand.attributes(attributes),
            ])
            let answer = try await api.client { try await $0.request(.PATCH, "\(target.path)/\(Path.segment(fault))", body: body) }
            try Output.answer(answer, output.output)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a fault; what it held back is delivered at once, in order.")

        @OptionGroup var api: APIOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var target: Target
        @Argument(help: "The fault's name.") var fault: String

        func run() async throws {
            let answer = try await api.client { try await $0.request(.DELETE, "\(target.path)/\(Path.segment(fault))") }
            switch output.output {
            case .table: Output.line("removed fault \(fault)")
            case .json, .ndjson: Output.json(answer.body)
            }
        }
    }

    /// NAME TYPE DIRECTION TOXICITY ATTRIBUTES, from each fault's JSON.
    static func table(_ faults: [Data]) -> Table {
        var table = Table(
            columns: [
                Table.Column(title: "NAME", flexible: true), Table.Column(title: "TYPE"), Table.Column(title: "DIRECTION"),
                Table.Column(title: "TOXICITY", right: true), Table.Column(title: "ATTRIBUTES", flexible: true),
            ],
            empty: "(no faults)"
        )
        for fault in faults {
            let members = RawJSON.members(fault) ?? []
            func field(_ key: String) -> String { members.first { $0.key == key }.flatMap { RawJSON.plain($0.value) } ?? "-" }
            let attributes = members.first { $0.key == "attributes" }.flatMap { RawJSON.members($0.value) } ?? []
            table.add([
                field("name"), field("type"), field("direction"), field("toxicity"),
                attributes.map { "\($0.key)=\(RawJSON.plain($0.value) ?? "-")" }.joined(separator: " "),
            ])
        }
        return table
    }
}
