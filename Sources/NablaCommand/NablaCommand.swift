import ArgumentParser
import Nabla

@main
struct NablaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nabla",
        abstract: "Numerics and neural networks in Swift, on OpenBLAS.",
        subcommands: [Compare.self, Train.self, Evaluate.self, GradCheck.self, Report.self, WGANGP.self, Text.self],
        defaultSubcommand: Compare.self)

    static func main() { main(nil) }

    /// Parses `arguments` (the process's, when `nil`) and runs the command. A bad `NABLA_SIMD` is
    /// one line of error before any command runs, not a stop inside a kernel.
    static func main(_ arguments: [String]?) {
        do {
            _ = try SIMDLevel.checkEnvironment()
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
