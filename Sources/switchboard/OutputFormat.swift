import ArgumentParser

/// `-o`: for people, or for programs.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Columns that fit the terminal (80 when not a terminal); `show` as one field a line.
    case table
    /// The service's answer as it is.
    case json
    /// One JSON object a line: each item of a list, or the one object.
    case ndjson
}

struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: "table (for people; fits the terminal), json (the service's answer as it is) or ndjson (one object a line).")
    var output: OutputFormat = .table
}
