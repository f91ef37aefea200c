import Foundation
import PackagePlugin

/// Compiles files from the top of the package into the target that uses it, so the binary
/// carries them and the file in the repository is the one place each is written: the schema
/// (`migrations/*.sql`) into SwitchboardHistory, the OpenAPI document (`openapi/openapi.json`)
/// into SwitchboardAPI.
@main
struct EmbedFiles: BuildToolPlugin {
    /// What one target embeds and under which Swift names (see Sources/embed-files). Kept here
    /// because a manifest passes a build plugin nothing but the target.
    struct Embedding: Sendable {
        let enumName: String
        let access: [String]
        let member: String
        let files: @Sendable (URL) throws -> [URL]
    }

    static let embeddings: [String: Embedding] = [
        "SwitchboardHistory": Embedding(enumName: "EmbeddedMigrations", access: ["public"], member: "all:sql") { package in
            // Applied in the order of their names.
            try FileManager.default.contentsOfDirectory(at: package.appending(path: "migrations"), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "sql" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        },
        "SwitchboardAPI": Embedding(enumName: "EmbeddedOpenAPI", access: [], member: "json") { package in
            [package.appending(path: "openapi").appending(path: "openapi.json")]
        },
    ]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let embedding = Self.embeddings[target.name] else {
            throw PluginError("EmbedFiles does not know what to embed in \(target.name); add it to EmbedFiles.embeddings")
        }
        let files = try embedding.files(context.package.directoryURL)
        let output = context.pluginWorkDirectoryURL.appending(path: "\(embedding.enumName).swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) file(s) into \(target.name)",
                executable: try context.tool(named: "embed-files").url,
                arguments: [output.path, embedding.enumName] + embedding.access + [embedding.member] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            ),
        ]
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
