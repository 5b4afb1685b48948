import ArgumentParser
import Nabla

@main
struct NablaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nabla",
        abstract: "Numerics and neural networks in Swift, on OpenBLAS.",
        subcommands: [Compare.self, Train.self, Evaluate.self, GradCheck.self, Report.self, WGANGP.self, Text.self],
        defaultSubcommand: Compare.self)
}
