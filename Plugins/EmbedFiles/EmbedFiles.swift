import Foundation
import PackagePlugin

/// Compiles files from the top of the package into the target that uses it, so the binary
/// carries them and the file in the repository is the one place each is written: the schema
/// (`migrations/*.sql`) into SwitchboardHistory, `migrations/postgres/*.sql` into
/// SwitchboardHistoryPostgres; the OpenAPI document (`openapi/openapi.json`)
/// and the web view (`ui/*`) into SwitchboardAPI.
@main
struct EmbedFiles: BuildToolPlugin {
    /// What one target embeds and under which Swift names (see Sources/embed-files). Kept here
    /// because a manifest passes a build plugin nothing but the target.
    struct Embedding: Sendable {
        let enumName: String
        let access: [String]
        let member: String
        /// Names the files by their path under this folder of the package, extension kept.
        var namesUnder: String? = nil
        let files: @Sendable (URL) throws -> [URL]
    }

    static let embeddings: [String: [Embedding]] = [
        "SwitchboardHistory": [
            Embedding(enumName: "EmbeddedMigrations", access: ["public"], member: "all:sql") { package in
                // Applied in the order of their names.
                try FileManager.default.contentsOfDirectory(at: package.appending(path: "migrations"), includingPropertiesForKeys: nil)
                    .filter { $0.pathExtension == "sql" }
                    .sorted { $0.lastPathComponent < $1.lastPathComponent }
            },
        ],
        "SwitchboardHistoryPostgres": [
            Embedding(enumName: "EmbeddedPostgresMigrations", access: [], member: "all:sql") { package in
                try FileManager.default.contentsOfDirectory(at: package.appending(path: "migrations").appending(path: "postgres"), includingPropertiesForKeys: nil)
                    .filter { $0.pathExtension == "sql" }
                    .sorted { $0.lastPathComponent < $1.lastPathComponent }
            },
        ],
        "SwitchboardAPI": [
            Embedding(enumName: "EmbeddedOpenAPI", access: [], member: "json") { package in
                [package.appending(path: "openapi").appending(path: "openapi.json")]
            },
            // One flat folder: the page's modules import each other as ./name.js.
            Embedding(enumName: "EmbeddedWebView", access: [], member: "files:text", namesUnder: "ui") { package in
                try FileManager.default.contentsOfDirectory(at: package.appending(path: "ui"), includingPropertiesForKeys: [.isRegularFileKey])
                    .filter { file in
                        guard !file.lastPathComponent.hasPrefix(".") else { return false }
                        return try file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile ?? false
                    }
                    .sorted { $0.lastPathComponent < $1.lastPathComponent }
            },
        ],
    ]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let embeddings = Self.embeddings[target.name] else {
            throw PluginError("EmbedFiles does not know what to embed in \(target.name); add it to EmbedFiles.embeddings")
        }
        let package = context.package.directoryURL
        let tool = try context.tool(named: "embed-files").url
        return try embeddings.map { embedding in
            let files = try embedding.files(package)
            let output = context.pluginWorkDirectoryURL.appending(path: "\(embedding.enumName).swift")
            let names = embedding.namesUnder.map { ["--names-under", package.appending(path: $0).path] } ?? []
            return .buildCommand(
                displayName: "Embedding \(files.count) file(s) into \(target.name) as \(embedding.enumName)",
                executable: tool,
                arguments: [output.path, embedding.enumName] + embedding.access + [embedding.member] + names + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        }
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
