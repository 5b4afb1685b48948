import ArgumentParser
import Nabla

@main
struct NablaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nabla",
        abstract: "Numerics and neural networks in Swift, on OpenBLAS.",
        subcommands: [Report.self],
        defaultSubcommand: Report.self)
}
