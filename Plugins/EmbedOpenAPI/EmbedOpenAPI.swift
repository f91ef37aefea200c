import Foundation
import PackagePlugin

/// Compiles the top-level `openapi/openapi.json` into the target, so `GET /v1/openapi.json` needs
/// no resource file and the document in the repository is the one the binary serves.
@main
struct EmbedOpenAPI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let document = context.package.directoryURL.appending(path: "openapi").appending(path: "openapi.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedOpenAPI.swift")
        return [
            .buildCommand(
                displayName: "Embedding openapi/openapi.json",
                executable: try context.tool(named: "embed-openapi").url,
                arguments: [output.path, document.path],
                inputFiles: [document],
                outputFiles: [output]
            ),
        ]
    }
}
