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

    /// Parses `arguments` (the process's, when `nil`) and runs the command on the standard console.
    static func main(_ arguments: [String]?) { main(arguments, console: .standard()) }

    /// Parses `arguments` (the process's, when `nil`) and runs the command, writing to `console`
    /// (standard output, redrawing the progress bar only on a terminal). A bad `NABLA_SIMD` is one
    /// line of error before any command runs, not a stop inside a kernel. Errors go to standard
    /// error, as one line.
    static func main(_ arguments: [String]?, console: Console) {
        do {
            _ = try SIMDLevel.checkEnvironment()
            var command = try parseAsRoot(arguments)
            try Console.$current.withValue(console) { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}
